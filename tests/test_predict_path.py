"""Tests of the prediction path's shortcuts: the ready-array check, the cached weight views,
the BLAS hold skipped for small passes and the single pass over equal lengths."""

import copy
import pickle
from contextlib import nullcontext

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_limits

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn import _validation as validation
from rnnlearn._network import Network
from rnnlearn.cells import LSTMCell
from rnnlearn.cells._base import kernel_array
from rnnlearn.persistence import load, save

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::rnnlearn.exceptions.CollapseWarning"),
]

ESTIMATORS = [RNNRegressor, RNNClassifier]


def _fitted(estimator, n_features=2, seed=0, **params):
    """``(model, X, y)``: a small model fitted 2 epochs on float32 sequences."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(24, 7, n_features)).astype(np.float32)
    y = X.sum(axis=(1, 2))
    y = y if estimator is RNNRegressor else (y > 0).astype(int)
    params = {"hidden_layer_sizes": (5,), "max_iter": 2, "random_state": 0, **params}
    return estimator(**params).fit(X, y), X, y


def _uncached(model, X):
    """What ``model`` predicts from a deep copy, whose network has no cached views."""
    fresh = copy.deepcopy(model)
    assert getattr(fresh._network, "_views", None) is None
    return fresh.predict(X)


def _outcome(call):
    """The result of ``call()``, or the type and message of the error it raised."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 -- the error itself is what is compared
        return type(error), str(error)


def _full_checks_only(patch):
    """Send every input through the full checks, as before the ready-array path."""
    patch.setattr(validation, "ready_time_major", lambda X, n_features, dtype: None)


def _read_only(X):
    X = X.copy()
    X.flags.writeable = False
    return X


INPUTS = {
    # ready arrays: no full checks
    "float32": lambda X: X,
    "float64": lambda X: X.astype(np.float64),
    "2-D": lambda X: X[:, :, 0],
    "Fortran": np.asfortranarray,
    "strided": lambda X: X[::2, ::-1],
    "read-only": _read_only,
    "one": lambda X: X[:1],
    "largest": lambda X: np.where(X > 0, np.finfo(X.dtype).max, X),  # finite, sums overflow
    # the full checks: their errors, or their conversions
    "nan": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X),
    "inf": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, -np.inf, X),
    "features": lambda X: np.concatenate([X, X], axis=-1),
    "no samples": lambda X: X[:0],
    "no steps": lambda X: X[:, :0],
    "4-D": lambda X: X[..., None],
    "1-D": lambda X: X[0, :, 0],
    "too large": lambda X: np.where(X > 1, 1e300, X),
    "big-endian": lambda X: X.astype(">f4"),
    "object": lambda X: X.astype(object),
    "complex": lambda X: X.astype(np.complex64),
    "int": lambda X: np.round(X).astype(np.int64),
    "list": list,
}
READY = ["float32", "float64", "2-D", "Fortran", "strided", "read-only", "one", "largest"]


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("case", INPUTS)
def test_ready_array_path_keeps_the_full_checks_results_and_errors(estimator, case):
    """Whatever the input, predict returns (or raises) what the full checks give."""
    model = _fitted(estimator, n_features=1 if case == "2-D" else 2)[0]
    X = INPUTS[case](_fitted(estimator, n_features=model.n_features_in_, seed=1)[1])
    ready = validation.ready_time_major(X, model.n_features_in_, model._params.dtype)
    assert (ready is not None) == (case in READY)
    fast = _outcome(lambda: model.predict(X))
    with pytest.MonkeyPatch.context() as patch:
        _full_checks_only(patch)
        full = _outcome(lambda: model.predict(X))
    if isinstance(full, tuple):
        assert fast == full
    else:
        assert_array_equal(fast, full)
        assert fast.dtype == full.dtype


def test_ready_array_is_time_major_contiguous_in_the_model_dtype():
    X = np.random.RandomState(0).normal(size=(3, 4, 2))[:, ::-1]
    ready = validation.ready_time_major(X, 2, np.dtype(np.float32))
    assert ready.shape == (4, 3, 2) and ready.dtype == np.float32 and ready.flags.c_contiguous
    assert_array_equal(ready, X.transpose(1, 0, 2).astype(np.float32))
    assert validation.ready_time_major(X, 3, np.dtype(np.float32)) is None


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_cached_weights_follow_partial_fit_warm_start_and_refit(estimator):
    model, X, y = _fitted(estimator)
    before = model.predict(X)
    model.partial_fit(X, y)
    after = model.predict(X)
    assert_array_equal(after, _uncached(model, X))
    if estimator is RNNRegressor:
        assert not np.array_equal(before, after)  # the test would see stale weights
    model.set_params(warm_start=True, max_iter=1).fit(X[::-1], y[::-1])
    assert_array_equal(model.predict(X), _uncached(model, X))
    model.set_params(warm_start=False, random_state=3, hidden_layer_sizes=(4,)).fit(X, y)
    assert model._network.hidden_layer_sizes == (4,)
    assert_array_equal(model.predict(X), _uncached(model, X))


def test_cached_weights_follow_in_place_changes_and_other_arrays():
    model, X, _ = _fitted(RNNRegressor)
    first = model.predict(X)
    model._params *= 0.5  # views into the same array see the change
    halved = model.predict(X)
    assert not np.array_equal(first, halved)
    assert_array_equal(halved, _uncached(model, X))
    twin = copy.copy(model)  # shares the network (and its cache), not the parameters
    twin._params = model._params * 2
    assert_array_equal(twin.predict(X), first)
    assert_array_equal(model.predict(X), halved)


def test_cached_weights_are_not_pickled_and_loaded_models_predict_alike(tmp_path):
    model, X, _ = _fitted(RNNClassifier)
    expected = model.predict_proba(X)
    assert getattr(model._network, "_views", None) is not None
    assert getattr(model._network, "_widths", None) is not None
    unpickled = pickle.loads(pickle.dumps(model._network)).__dict__
    assert "_views" not in unpickled and "_widths" not in unpickled
    assert_array_equal(pickle.loads(pickle.dumps(model)).predict_proba(X), expected)
    save(model, tmp_path / "model.npz")
    assert_array_equal(load(tmp_path / "model.npz").predict_proba(X), expected)


def test_read_only_parameters_predict_and_give_states_alike():
    """The kernels refuse read-only buffers: the weights of read-only parameters (a model
    loaded from a memory map) are copied once, for prediction and for the states alike."""
    model, X, _ = _fitted(RNNRegressor)
    frozen = copy.deepcopy(model)
    frozen._params.flags.writeable = False
    assert_array_equal(frozen.predict(X), model.predict(X))
    assert_array_equal(frozen.predict(X), model.predict(X))  # from the cached copies
    for got, want in zip(frozen.hidden_states(X), model.hidden_states(X), strict=True):
        assert all(np.array_equal(got[name], want[name]) for name in want)


def test_blas_hold_only_for_passes_that_can_split():
    network = Network(LSTMCell(), 1, (64,), 1, n_steps_out=1)
    assert isinstance(network._blas_hold(50, 1), nullcontext)  # one row: nothing to split
    assert not isinstance(network._blas_hold(50, 32), nullcontext)  # 32 rows, 26 M madds
    assert not isinstance(network._blas_hold(20_000, 1), nullcontext)  # a long projection
    wide = Network(LSTMCell(), 1, (512,), 1, n_steps_out=1)
    assert not isinstance(wide._blas_hold(2, 1), nullcontext)  # one step's product is big


@pytest.mark.parametrize("pooling", ["last", "max", "mean", "concat"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_equal_lengths_in_one_pass_match_the_chunked_pass(pooling, bidirectional):
    model, X, _ = _fitted(RNNRegressor, pooling=pooling, bidirectional=bidirectional)
    X_tm = np.ascontiguousarray(X.transpose(1, 0, 2))
    network, params = model._network, model._params
    one_pass = network.predict(params, X_tm)
    chunked = network.predict(params, X_tm, max_chunk_bytes=1)  # chunks of 16 sequences
    assert_array_equal(one_pass, chunked)
    lengths = np.full(len(X), X.shape[1])
    assert_array_equal(one_pass, network.predict(params, X_tm, lengths))


@pytest.mark.parametrize("output_mode", ["sequence", "after"])
def test_equal_lengths_in_one_pass_match_the_chunked_pass_for_sequences(output_mode):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 6, 2)).astype(np.float32)
    y = X.sum(axis=2) if output_mode == "sequence" else X[:, -3:, 0]
    model = RNNRegressor((4,), output_mode=output_mode, max_iter=1, random_state=0).fit(X, y)
    X_tm = np.ascontiguousarray(X.transpose(1, 0, 2))
    one_pass = model._network.predict(model._params, X_tm)
    assert_array_equal(one_pass, model._network.predict(model._params, X_tm, max_chunk_bytes=1))


def test_predictions_do_not_depend_on_the_thread_count_with_or_without_the_hold():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 50, 1)).astype(np.float32)
    model = RNNRegressor((64,), cell="lstm", max_iter=1, random_state=0).fit(X, X.sum(axis=(1, 2)))
    results = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            results.append((model.predict(X[:1]), model.predict(X[:32])))
    assert_array_equal(results[0][0], results[1][0])
    assert_array_equal(results[0][1], results[1][1])


def test_kernel_array_passes_ready_arrays_and_copies_the_others():
    ready = np.ones((3, 4), dtype=np.float32)
    assert kernel_array(ready) is ready and kernel_array(ready, np.float32) is ready
    for other, dtype in [
        (_read_only(ready), None),
        (np.asfortranarray(ready), None),
        (ready[:, ::2], None),
        (ready, np.float64),
        ([[1.0, 2.0]], np.float32),
    ]:
        array = kernel_array(other, dtype)
        assert array is not other and array.flags.c_contiguous and array.flags.writeable
        assert array.dtype == (np.asarray(other).dtype if dtype is None else dtype)
        assert_array_equal(array, other)
