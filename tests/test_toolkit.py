"""What the aeon and sktime adapters share, tested without either toolkit: the layout
conversion, and that rnnlearn imports neither toolkit unless asked."""

import importlib
import subprocess
import sys

import numpy as np
import pytest

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn._toolkit import (
    ClassifierAdapter,
    RegressorAdapter,
    build_estimator,
    to_sequences,
)


def test_numpy3d_becomes_time_first_channel_by_channel():
    X = np.arange(2 * 3 * 5).reshape(2, 3, 5)  # (n_cases, n_channels, n_timepoints)
    sequences = to_sequences(X)
    assert sequences.shape == (2, 5, 3)
    for case in range(2):
        for channel in range(3):
            assert np.array_equal(sequences[case, :, channel], X[case, channel])


def test_a_list_of_channel_first_arrays_becomes_time_first_arrays():
    X = [np.arange(2 * n).reshape(2, n) for n in (3, 7)]  # aeon's np-list
    sequences = to_sequences(X)
    assert [s.shape for s in sequences] == [(3, 2), (7, 2)]
    assert all(np.array_equal(s[:, 1], x[1]) for s, x in zip(sequences, X, strict=True))


def test_a_list_of_data_frames_keeps_their_rows_as_time():
    pd = pytest.importorskip("pandas")
    X = [pd.DataFrame({"a": np.arange(n), "b": -np.arange(n)}) for n in (4, 6)]  # df-list
    sequences = to_sequences(X)
    assert [s.shape for s in sequences] == [(4, 2), (6, 2)]
    assert np.array_equal(sequences[1][:, 1], -np.arange(6))


def test_a_2d_array_is_refused():
    with pytest.raises(ValueError, match="3-D"):
        to_sequences(np.zeros((4, 5)))


class _Classifier(ClassifierAdapter):
    pass


class _Regressor(RegressorAdapter):
    def get_params(self, deep=False):
        return {name: getattr(self, name) for name in ("cell", "loss", "random_state")}


def test_the_adapters_defaults_are_rnnlearns():
    for adapter, estimator in ((_Classifier(), RNNClassifier()), (_Regressor(), RNNRegressor())):
        mine = vars(adapter)
        theirs = estimator.get_params(deep=False)
        assert mine == {name: theirs[name] for name in mine}
        left_out = set(theirs) - set(mine)
        assert left_out == {"output_mode", "warm_start", "callbacks"}


def test_build_estimator_copies_the_hyperparameter_objects():
    from rnnlearn.losses import Huber

    adapter = _Regressor()
    adapter.cell, adapter.random_state = "lstm", 3
    adapter.loss = loss = Huber(delta=0.5)
    estimator = build_estimator(adapter, RNNRegressor)
    assert isinstance(estimator, RNNRegressor)
    assert (estimator.cell, estimator.random_state) == ("lstm", 3)
    assert estimator.loss is not loss and estimator.loss.delta == 0.5


def test_rnnlearn_imports_no_toolkit():
    code = "import sys, rnnlearn; print(sorted({'aeon', 'sktime'} & set(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


@pytest.mark.parametrize("toolkit", ["aeon", "sktime"])
def test_an_adapter_without_its_toolkit_says_how_to_install_it(toolkit, monkeypatch):
    monkeypatch.setitem(sys.modules, toolkit, None)  # import fails as if not installed
    for name in [name for name in sys.modules if name.startswith(f"rnnlearn.{toolkit}")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match=rf"pip install rnnlearn\[{toolkit}\]"):
        importlib.import_module(f"rnnlearn.{toolkit}")
