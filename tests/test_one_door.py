"""The one door into a fitted estimator (``rnnlearn._fitted``), enforced on the source.

Outside the estimator classes (``_base.py``, ``_regressor.py``, ``_classifier.py``,
``_forecaster.py``) only ``_fitted.py`` reads or writes an estimator's private attributes and
methods, and only its ``start_state`` builds a ``TrainingState`` or a ``DivergenceGuard``.
"""

import ast
import importlib
import inspect
import pkgutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import rnnlearn
from rnnlearn import RNNClassifier, RNNForecaster, RNNRegressor
from rnnlearn.cells import _compiled

PACKAGE = Path(rnnlearn.__file__).parent
DOOR = "_fitted.py"
ESTIMATOR_MODULES = ("_base.py", "_regressor.py", "_classifier.py", "_forecaster.py")
STATE_CLASSES = ("TrainingState", "DivergenceGuard")
TOOLKIT_MODULES = ("rnnlearn._toolkit", "rnnlearn.aeon", "rnnlearn.sktime")


def _is_private(name):
    return name.startswith("_") and not name.startswith("__")


def _fitted_estimators():
    X = np.random.RandomState(0).normal(size=(12, 4, 2))
    y = X.sum(axis=(1, 2))
    settings = {"hidden_layer_sizes": 2, "max_iter": 1, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [RNNRegressor(**settings).fit(X, y), RNNClassifier(**settings).fit(X, y > 0)]


def _importable(name):
    """The module, or ``None`` for a toolkit adapter whose toolkit is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        if "pip install rnnlearn[" in str(error):
            return None
        raise


def _rnnlearn_classes():
    """Every class defined in an rnnlearn module (of those that import here). The kernel
    builds for instruction sets this CPU lacks are left out: importing one stops the
    interpreter (illegal instruction), and they define no class."""
    unrunnable = {
        f"rnnlearn.cells._kernels_{build}"
        for build in set(_compiled.BUILDS) - set(_compiled.runnable_builds())
    }
    names = [
        info.name
        for info in pkgutil.walk_packages(rnnlearn.__path__, "rnnlearn.")
        if info.name not in unrunnable
    ]
    modules = [rnnlearn] + [module for module in map(_importable, names) if module is not None]
    return {
        cls
        for module in modules
        for cls in vars(module).values()
        if inspect.isclass(cls) and cls.__module__.startswith("rnnlearn")
    }


def _private_class_names(classes):
    return {name for cls in classes for name in vars(cls) if _is_private(name)}


def _estimator_private_names():
    """The private names of rnnlearn's estimators: those their rnnlearn classes define
    (methods, class attributes) and those fitting sets (the learned state), less those
    that other rnnlearn classes define too (a shared protocol such as
    ``_parameter_constraints``, which cells and optimizers declare as well). The aeon and
    sktime adapters' classes do not count: the hooks their toolkits call (``_fit``,
    ``_predict``) must stay guarded in rnnlearn's estimators."""
    estimator_classes = {
        cls
        for estimator_class in (RNNRegressor, RNNClassifier, RNNForecaster)
        for cls in estimator_class.__mro__
        if cls.__module__.startswith("rnnlearn")
    }
    names = _private_class_names(estimator_classes)
    for estimator in _fitted_estimators():
        names.update(name for name in vars(estimator) if _is_private(name))
    others = {
        cls
        for cls in _rnnlearn_classes() - estimator_classes
        if not cls.__module__.startswith(TOOLKIT_MODULES)
    }
    return names - _private_class_names(others)


PRIVATE_NAMES = _estimator_private_names()


def _private_touches(source, names):
    """``(line, what)`` for each place in ``source`` that reads or writes one of ``names``:
    an attribute of anything but ``self`` or ``cls`` (so a class of the module may use the
    same name for its own attribute), or a string naming one (``getattr``, ``vars()[...]``).
    """
    touches = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in names:
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                touches.append((node.lineno, f"{ast.unparse(owner)}.{node.attr}"))
        elif isinstance(node, ast.Constant) and node.value in names:
            touches.append((node.lineno, repr(node.value)))
    return sorted(touches)


def _modules_outside_the_door():
    skipped = {DOOR, *ESTIMATOR_MODULES}
    return [path for path in sorted(PACKAGE.rglob("*.py")) if path.name not in skipped]


def test_the_private_names_include_the_learned_state_and_the_door_methods():
    learned = {"_network", "_params", "_optimizer_state", "_rng", "_no_improvement_count"}
    encoding = {"_output_mode", "_target_kind", "_squeeze_output"}
    methods = {"_prepare", "_commit", "_check_params", "_encoding_attributes", "_fit"}
    assert learned | encoding | methods <= PRIVATE_NAMES


def test_the_scan_finds_what_the_exporters_did_before_the_door():
    """What ``onnx``, ``interop`` and ``persistence`` did at 244e3e7 is found; a class's
    own attributes of the same names are not."""
    before = (
        "network = model._network\n"
        "squeeze = bool(getattr(estimator, '_squeeze_output', False))\n"
        "setup, state = estimator._prepare(X, y, None, incremental=True, classes=classes)\n"
        "for attribute in estimator._encoding_attributes: pass\n"
        "estimator._commit(setup.model, state)\n"
    )
    assert [line for line, _ in _private_touches(before, PRIVATE_NAMES)] == [1, 2, 3, 4, 5]
    unrelated = (
        "class Builder:\n"
        "    def __init__(self):\n"
        "        self._network, self._params = None, []\n"
        "    def _prepare(self):\n"
        "        return self._params\n"
    )
    assert _private_touches(unrelated, PRIVATE_NAMES) == []


@pytest.mark.parametrize("path", _modules_outside_the_door(), ids=lambda path: path.name)
def test_no_module_but_the_door_touches_an_estimators_private_state(path):
    touches = _private_touches(path.read_text(encoding="utf-8"), PRIVATE_NAMES)
    assert touches == [], (
        f"{path.name} reaches into an estimator ({touches}); go through rnnlearn._fitted."
    )


def _constructions(tree):
    """``(enclosing function, class)`` of each call of a ``STATE_CLASSES`` constructor."""
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call):
                called = child.func
                name = (
                    called.attr
                    if isinstance(called, ast.Attribute)
                    else getattr(called, "id", None)
                )
                if name in STATE_CLASSES:
                    found.append((function, name))
            is_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, child.name if is_function else function)

    visit(tree, None)
    return found


def test_only_start_state_builds_a_training_state():
    built = {
        path.name: _constructions(ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    built = {name: calls for name, calls in built.items() if calls}
    assert built == {DOOR: [("start_state", "TrainingState"), ("start_state", "DivergenceGuard")]}


def test_export_tables_have_one_source_and_name_rnnlearns_activations():
    from rnnlearn import _export_tables, interop, onnx
    from rnnlearn.activations import ACTIVATIONS
    from rnnlearn.cells import CELLS

    assert interop.TORCH_LAYERS is onnx.ONNX_LAYERS is _export_tables.RECURRENT_LAYERS
    assert interop.TORCH_ACTIVATIONS is _export_tables.TORCH_ACTIVATIONS
    assert onnx.ONNX_ACTIVATIONS is _export_tables.ONNX_ACTIVATIONS
    torch_names = {name for names in interop.TORCH_ACTIVATIONS.values() for name in names}
    assert torch_names | set(onnx.ONNX_ACTIVATIONS) <= set(ACTIVATIONS)
    assert set(interop.TORCH_ACTIVATIONS) == set(interop.TORCH_LAYERS) <= set(CELLS.values())
