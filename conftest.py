"""Collection of the doctests in rnnlearn/: the toolkit adapters need their toolkit."""

import importlib.util

# rnnlearn.sktime imports sktime, an optional extra; without it, its doctests are not collected.
collect_ignore = [] if importlib.util.find_spec("sktime") else ["rnnlearn/sktime"]
