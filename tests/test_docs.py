"""Every Python block in the README and the docs runs as written; the API page is complete."""

import inspect
import re
from pathlib import Path

import pytest

import rnnlearn

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
API_PAGE = ROOT / "docs" / "api.rst"

BLOCKS = [
    pytest.param(code, id=f"{path.name}-{number}")
    for path in DOCUMENTS
    for number, code in enumerate(BLOCK.findall(path.read_text()), start=1)
]


def test_documents_have_python_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("code", BLOCKS)
def test_documented_example_runs(code):
    exec(compile(code, "<documentation>", "exec"), {})


def public_names():
    """Every public name as ``api.rst`` spells it: ``rnnlearn.__all__`` and each module's.

    A module's public names are its ``__all__``, or without one the functions and classes
    it defines whose names do not start with an underscore.
    """
    names = set()
    for name in rnnlearn.__all__:
        module = getattr(rnnlearn, name)
        if not inspect.ismodule(module):
            names.add(name)
            continue
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [
                attribute
                for attribute, value in vars(module).items()
                if not attribute.startswith("_")
                and (inspect.isfunction(value) or inspect.isclass(value))
                and value.__module__ == module.__name__
            ]
        names.update(f"{name}.{attribute}" for attribute in exported)
    return names


def test_public_names_are_found():
    names = public_names()
    assert {"RNNRegressor", "optimizers.cut_learning_rate_on_plateau", "cells.CELLS"} <= names


def test_api_page_lists_every_public_name():
    """A module's name also counts as listed as ``rnnlearn``'s when the package exports it."""
    entries = set(re.findall(r"^ {3}([\w.]+)$", API_PAGE.read_text(), re.MULTILINE))
    listed = entries | {
        f"{module}.{name}"
        for module in rnnlearn.__all__
        for name in entries & set(rnnlearn.__all__)
        if getattr(getattr(rnnlearn, module), name, None) is getattr(rnnlearn, name)
    }
    missing = sorted(public_names() - listed)
    assert not missing, f"not in docs/api.rst: {missing}"
