"""The dtype policy: networks train in ``dtype``; predictions follow the input's dtype."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from rnnlearn import RNNClassifier, RNNRegressor

pytestmark = [
    pytest.mark.usefixtures("single_blas_thread"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

ESTIMATORS = [RNNRegressor, RNNClassifier]
OUTPUT_MODES = ["last", "sequence", "after"]
N_STEPS_AFTER = 2
FAST = dict(hidden_layer_sizes=(4,), cell="gru", max_iter=2, batch_size=8, random_state=0)
SPELLINGS = [
    pytest.param(spelling, np.dtype(name), id=f"{name}-{kind}")
    for name in ("float32", "float64")
    for kind, spelling in [("str", name), ("type", getattr(np, name)), ("dtype", np.dtype(name))]
]
BAD_DTYPES = ["float16", "int32", "double", "f4", np.float16, np.int64, float, None, 32]
INPUT_DTYPES = {
    np.float32: np.float32,
    np.float64: np.float64,
    np.float16: np.float64,
    np.int64: np.float64,
    np.int32: np.float64,
    np.bool_: np.float64,
}
"""Input dtype -> dtype of the predictions for it, whatever the network's dtype."""


def _data(Estimator, output_mode="last", n_samples=20, n_timesteps=5, seed=0):
    """Integer-valued sequences (so every input dtype holds them exactly) and targets."""
    rng = np.random.RandomState(seed)
    X = rng.randint(-3, 4, size=(n_samples, n_timesteps, 2)).astype(np.float64)
    if output_mode == "last":
        target = X.sum(axis=(1, 2))
    elif output_mode == "sequence":
        target = X.sum(axis=2)
    else:
        target = np.cumsum(X[:, -N_STEPS_AFTER:, 0], axis=1)
    if Estimator is RNNClassifier:
        return X, np.where(target > 0, "up", "down")
    return X, target


def _output(model, X):
    """What the model's floating output method returns for ``X``."""
    return model.predict_proba(X) if isinstance(model, RNNClassifier) else model.predict(X)


def _fitted_state(model):
    """Copies of what fitting changes, to check that a refused fit changed nothing."""
    return model._params.copy(), model.n_iter_, list(model.loss_curve_)


def _assert_same_state(model, state):
    params, n_iter, loss_curve = state
    assert_array_equal(model._params, params)
    assert model._params.dtype == params.dtype
    assert model.n_iter_ == n_iter and model.loss_curve_ == loss_curve


# ---------------------------------------------------------------------------- training dtype


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_default_trains_in_float32_whatever_the_input(Estimator):
    X, y = _data(Estimator)
    assert Estimator().dtype == "float32"
    for X_fit in (X, X.astype(np.float32), X.astype(int), list(X)):
        model = Estimator(**FAST).fit(X_fit, y)
        assert model._params.dtype == np.float32
        assert all(v.dtype == np.float32 for layer in model.coefs_ for v in layer.values())
        moments = [v for v in model._optimizer_state.values() if isinstance(v, np.ndarray)]
        assert moments and all(v.dtype == np.float32 for v in moments)


@pytest.mark.parametrize(("spelling", "expected"), SPELLINGS)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_dtype_hyperparameter_sets_the_training_dtype(Estimator, spelling, expected):
    X, y = _data(Estimator)
    for X_fit in (X, X.astype(np.float32)):
        model = Estimator(**FAST, dtype=spelling).fit(X_fit, y)
        assert model._params.dtype == expected
        assert model.coefs_[0]["W_x"].dtype == expected


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_float32_and_float64_fits_agree_loosely(Estimator):
    """Same data and seed: the same initial weights, so only round-off tells them apart."""
    X, y = _data(Estimator, n_samples=40)
    params = dict(FAST, max_iter=5)
    single = Estimator(**params).fit(X, y)
    double = Estimator(**params, dtype="float64").fit(X, y)
    assert_allclose(single._params, double._params, rtol=1e-4, atol=1e-5)
    assert_allclose(_output(single, X), _output(double, X), rtol=1e-4, atol=1e-5)
    assert single.loss_curve_ == pytest.approx(double.loss_curve_, rel=1e-5)
    if Estimator is RNNClassifier:
        assert np.mean(single.predict(X) == double.predict(X)) >= 0.95


# ---------------------------------------------------------------------------- output dtypes


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output_mode", OUTPUT_MODES)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predictions_come_back_in_the_input_dtype(Estimator, output_mode, dtype):
    X, y = _data(Estimator, output_mode)
    model = Estimator(**FAST, output_mode=output_mode, dtype=dtype).fit(X, y)
    reference = _output(model, X)
    for input_dtype, expected in INPUT_DTYPES.items():
        X_in = X.astype(input_dtype)
        out = _output(model, X_in)
        assert out.dtype == expected, input_dtype
        if input_dtype is not np.bool_:  # the others hold X's small integers exactly
            assert_allclose(out, reference, rtol=1e-6, atol=1e-7)
        assert model.hidden_states(X_in)[0]["h"].dtype == dtype
        assert isinstance(model.score(X_in, y), float)
    if Estimator is RNNClassifier:
        assert model.predict(X.astype(np.float32)).dtype == model.classes_.dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_variable_length_sequence_predictions_follow_the_input_dtype(Estimator, dtype):
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(n, 2)) for n in (3, 6, 2, 5)]
    y = [np.where(x[:, 0] > 0, "up", "down") if Estimator is RNNClassifier else x[:, 0] for x in X]
    model = Estimator(**FAST, output_mode="sequence", dtype=dtype).fit(X, y)
    for input_dtype, expected in [(np.float32, np.float32), (np.float64, np.float64)]:
        out = _output(model, [x.astype(input_dtype) for x in X])
        assert [o.dtype for o in out] == [np.dtype(expected)] * len(X)
    mixed = _output(model, [X[0].astype(np.float32), X[1]])
    assert [o.dtype for o in mixed] == [np.dtype(np.float64)] * 2


@settings(max_examples=20, deadline=None)
@given(
    Estimator=st.sampled_from(ESTIMATORS),
    output_mode=st.sampled_from(OUTPUT_MODES),
    dtype=st.sampled_from([spelling.values[0] for spelling in SPELLINGS]),
    fit_dtype=st.sampled_from(list(INPUT_DTYPES)),
    input_dtype=st.sampled_from(list(INPUT_DTYPES)),
)
def test_dtype_property(Estimator, output_mode, dtype, fit_dtype, input_dtype):
    """Any network dtype and any input dtypes at fit and predict: the policy holds."""
    X, y = _data(Estimator, output_mode, n_samples=8, n_timesteps=3)
    model = Estimator(**dict(FAST, max_iter=1), output_mode=output_mode, dtype=dtype)
    model.fit(X.astype(fit_dtype), y)
    assert model._params.dtype == np.dtype(dtype)
    out = _output(model, X.astype(input_dtype))
    assert out.dtype == INPUT_DTYPES[input_dtype]
    assert np.all(np.isfinite(out))


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("bad", BAD_DTYPES, ids=repr)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_bad_dtype_raises_and_changes_nothing(Estimator, bad):
    X, y = _data(Estimator)
    unfitted = Estimator(**FAST, dtype=bad)
    with pytest.raises(ValueError, match=r"dtype must be one of \['float32', 'float64'\]"):
        unfitted.fit(X, y)
    assert not hasattr(unfitted, "n_iter_")
    model = Estimator(**FAST).fit(X, y)
    state = _fitted_state(model)
    for warm_start in (False, True):
        model.set_params(dtype=bad, warm_start=warm_start)
        with pytest.raises(ValueError, match="dtype must be one of"):
            model.fit(X, y)
        _assert_same_state(model, state)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_resuming_in_another_dtype_raises_and_changes_nothing(Estimator):
    X, y = _data(Estimator)
    model = Estimator(**FAST).fit(X, y)
    state = _fitted_state(model)
    model.set_params(dtype="float64")
    with pytest.raises(ValueError, match=r"dtype='float64' differs from the fitted .* float32"):
        model.partial_fit(X, y)
    _assert_same_state(model, state)
    model.set_params(warm_start=True)
    with pytest.raises(ValueError, match="set dtype='float32' to continue training"):
        model.fit(X, y)
    _assert_same_state(model, state)
    model.set_params(dtype=np.float32).fit(X, y)  # the same dtype, spelled otherwise
    assert model.n_iter_ == state[1] + FAST["max_iter"]
    model.set_params(warm_start=False, dtype="float64").fit(X, y)  # starting over is fine
    assert model._params.dtype == np.float64


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_values_beyond_float32_are_refused_not_turned_into_inf(Estimator):
    X, y = _data(Estimator)
    huge = X * 1e300
    model = Estimator(**FAST)
    with pytest.raises(ValueError, match=r"X has values too large for float32.*dtype='float64'"):
        model.fit(huge, y)
    assert not hasattr(model, "n_iter_")
    model.fit(X, y)
    with pytest.raises(ValueError, match="X has values too large for float32"):
        _output(model, huge)
    assert np.all(np.isfinite(_output(model.set_params(dtype="float64").fit(X, y), huge)))
    if Estimator is RNNRegressor:
        with pytest.raises(ValueError, match="y has values too large for float32"):
            RNNRegressor(**FAST).fit(X, y * 1e300)


# ---------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(("spelling", "expected"), SPELLINGS)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_dtype_survives_clone_get_params_and_set_params(Estimator, spelling, expected):
    X, y = _data(Estimator)
    model = Estimator(**FAST, dtype=spelling)
    assert model.get_params()["dtype"] is spelling
    copy = clone(model)
    assert copy.get_params()["dtype"] == spelling
    assert copy.fit(X, y)._params.dtype == expected
    assert not hasattr(clone(copy), "n_iter_")
    other = "float64" if expected == np.float32 else "float32"
    assert copy.set_params(dtype=other).get_params()["dtype"] == other
    assert copy.fit(X, y)._params.dtype == other
