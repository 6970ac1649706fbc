"""The size limits the project keeps: short functions, and a base class that stays small."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnnlearn"
MAX_FUNCTION_LINES = 60
"""Longest function or method, from its ``def`` (decorators included) to its last line."""
MAX_BASE_LINES = 500
"""Longest ``rnnlearn/_base.py``: what every estimator shares must stay readable at once."""


def long_functions(source, limit=MAX_FUNCTION_LINES):
    """``(name, lines)`` of each function in ``source`` longer than ``limit`` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if node.end_lineno - first + 1 > limit:
                found.append((node.name, node.end_lineno - first + 1))
    return found


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_functions_are_at_most_60_lines(path):
    assert long_functions(path.read_text(encoding="utf-8")) == []


def test_the_check_finds_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"@decorated\ndef f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 2)]
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]


def test_base_module_is_at_most_500_lines():
    assert len((PACKAGE / "_base.py").read_text(encoding="utf-8").splitlines()) <= MAX_BASE_LINES
