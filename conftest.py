"""pytest's doctest collection of ``rnnlearn/`` leaves out the adapters of a toolkit that is
not installed (they raise ``ImportError`` on import; their own tests skip)."""

import importlib.util

collect_ignore = [
    path
    for toolkit, path in (("aeon", "rnnlearn/aeon.py"), ("sktime", "rnnlearn/sktime"))
    if importlib.util.find_spec(toolkit) is None
]
