"""Tests of RNNRegressor(normalize_y=True): targets standardised for training, mapped back."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.metrics import r2_score

from rnnlearn import RNNRegressor
from rnnlearn._fitted import read_model
from rnnlearn.persistence import load

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning", "ignore::rnnlearn.exceptions.CollapseWarning"
)

DATA = Path(__file__).parent / "data"
# Relative agreement of two fits that differ only by the scale of y, by the network's dtype.
RTOL = {"float32": 1e-5, "float64": 1e-10}
LENGTHS = np.array([6, 3, 5, 2, 6, 1, 4, 6, 3, 2, 5, 6])


def make_data(output_mode="last", n_outputs=None, seed=0, n_samples=12):
    """Inputs ``(n_samples, 6, 2)`` and targets of size about 1 for ``output_mode``."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 6, 2))
    y = {"last": X.sum(axis=(1, 2)), "sequence": X.sum(axis=2), "after": X[:, -3:, 0]}
    y = y[output_mode]
    if n_outputs is not None:
        y = np.stack([y * (k + 1) + k for k in range(n_outputs)], axis=-1)
    return X, y


def regressor(**params):
    # No dropout, and the last state (which reads these sums fastest): these fits
    # compare the scaling, not the regularisation or the pooling.
    settings = {
        "pooling": "last",
        "hidden_layer_sizes": 4,
        "max_iter": 8,
        "random_state": 0,
        "batch_size": 4,
        "dropout": 0.0,
    }
    return RNNRegressor(**{**settings, **params})


def predictions(model, X):
    """``predict`` as one float64 array (sequences of different lengths concatenated)."""
    values = model.predict(X)
    return np.concatenate(values) if isinstance(values, list) else np.asarray(values, float)


def scaling(model):
    """The fitted ``(mean, scale)``, or ``None``, as exporters read it."""
    return read_model(model).target_scaling


def assert_equivariant(transform, X, y, dtype, **params):
    """A fit on ``transform(y)`` predicts ``transform`` of a fit on ``y``, up to round-off
    relative to the spread of the transformed targets."""
    reference = predictions(regressor(dtype=dtype, **params).fit(X, y), X)
    transformed = transform(np.concatenate(y) if isinstance(y, list) else y)
    y_new = [transform(v) for v in y] if isinstance(y, list) else transform(y)
    model = regressor(dtype=dtype, **params).fit(X, y_new)
    columns = lambda v: v.reshape(-1, model.n_outputs_)  # noqa: E731
    transformed = columns(transformed)
    # Round-off of the fit, relative to each column's spread, and of the shift itself.
    atol = RTOL[dtype] * np.ptp(transformed, axis=0) + 1e-15 * np.abs(transformed).max(axis=0)
    error = np.abs(columns(predictions(model, X)) - columns(transform(reference)))
    assert np.all(error <= atol), (error.max(axis=0), atol)


TRANSFORMS = {
    "times 1e6": lambda v: v * 1e6,
    "times 1e-6": lambda v: v * 1e-6,
    "plus 1e6": lambda v: v + 1e6,
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("transform", TRANSFORMS.values(), ids=TRANSFORMS.keys())
def test_scaled_targets_train_as_the_originals(transform, dtype):
    X, y = make_data()
    assert_equivariant(transform, X, y, dtype)


@pytest.mark.parametrize("output_mode", ["sequence", "after"])
def test_sequence_outputs_are_equivariant(output_mode):
    X, y = make_data(output_mode, n_outputs=2)
    assert_equivariant(
        lambda v: v * [1e6, 1e-6] + [1e6, -3e-6], X, y, "float64", output_mode=output_mode
    )


def test_variable_length_sequences_scale_over_valid_steps_only():
    X, y = make_data("sequence")
    X_list = [x[:n] for x, n in zip(X, LENGTHS, strict=True)]
    y_list = [v[:n] for v, n in zip(y, LENGTHS, strict=True)]
    model = regressor(output_mode="sequence").fit(X_list, y_list)
    valid = np.concatenate(y_list)
    mean, scale = scaling(model)
    assert_allclose(mean, [valid.mean()], rtol=1e-12)
    assert_allclose(scale, [valid.std()], rtol=1e-12)
    assert_equivariant(lambda v: v * 1e6 + 3e6, X_list, y_list, "float64", output_mode="sequence")


def test_multioutput_columns_are_scaled_each_on_their_own():
    X, y = make_data(n_outputs=3)
    y = y * [1e-6, 1.0, 1e6] + [0.0, -5.0, 1e7]
    model = regressor(max_iter=60).fit(X, y)
    mean, scale = scaling(model)
    assert mean.shape == scale.shape == (3,)
    assert_allclose(mean, y.mean(axis=0), rtol=1e-12)
    assert_allclose(scale, y.std(axis=0), rtol=1e-12)
    # Each column is learned, whatever its size: R² per column, not dominated by the largest.
    per_column = r2_score(y, model.predict(X), multioutput="raw_values")
    assert np.all(per_column > 0.5), per_column


def test_same_as_targets_standardised_by_hand():
    X, y = make_data()
    y = y * 250.0 + 4000.0
    model = regressor().fit(X, y)
    standardised = (y - y.mean()) / y.std()
    by_hand = regressor(normalize_y=False).fit(X, standardised)
    expected = predictions(by_hand, X) * y.std() + y.mean()
    assert_allclose(predictions(model, X), expected, rtol=0, atol=1e-5 * np.ptp(y))
    assert_allclose(model.loss_curve_, by_hand.loss_curve_, rtol=1e-5)


def test_score_is_r2_on_the_original_scale():
    X, y = make_data()
    y = y * 1e4 - 7.0
    model = regressor().fit(X, y)
    assert model.score(X, y) == pytest.approx(r2_score(y, model.predict(X)), abs=1e-6)


def test_sample_weights_weigh_the_mean_and_scale():
    X, y = make_data()
    weights = np.arange(1.0, len(y) + 1)
    model = regressor().fit(X, y, sample_weight=weights)
    mean = np.average(y, weights=weights)
    mean_fitted, scale_fitted = scaling(model)
    assert_allclose(mean_fitted, [mean], rtol=1e-12)
    assert_allclose(scale_fitted, [np.sqrt(np.average((y - mean) ** 2, weights=weights))])
    unweighted = scaling(regressor().fit(X, y))
    assert not np.allclose(unweighted[0], mean_fitted)


def test_a_zero_weight_outlier_changes_nothing():
    X, y = make_data()
    X_out = np.concatenate([X, X[:1]])
    y_out = np.append(y, 1e9)
    weights = np.append(np.ones(len(y)), 0.0)
    params = {"batch_size": 32, "shuffle": False}
    model = regressor(**params).fit(X, y)
    with_outlier = regressor(**params).fit(X_out, y_out, sample_weight=weights)
    assert_array_equal(scaling(with_outlier)[0], scaling(model)[0])
    assert_array_equal(scaling(with_outlier)[1], scaling(model)[1])
    # the outlier adds zero terms to the float32 gradients' sums, which may group them
    # otherwise: the same fit up to rounding
    assert_allclose(predictions(with_outlier, X), predictions(model, X), rtol=1e-6)


@pytest.mark.parametrize("value", [0.0, 5.0, -1e6])
def test_constant_targets_get_scale_one(value):
    X, _ = make_data()
    y = np.full(len(X), value)
    model = regressor(max_iter=40).fit(X, y)
    mean, scale = scaling(model)
    assert_array_equal(scale, [1.0])
    assert_allclose(mean, [value])
    assert_allclose(model.predict(X), value, atol=0.2)


def test_a_constant_column_beside_a_varying_one():
    X, y = make_data()
    Y = np.stack([y * 1e3, np.full(len(y), 2.5)], axis=1)
    mean, scale = scaling(regressor().fit(X, Y))
    assert_allclose(mean, [Y[:, 0].mean(), 2.5])
    assert scale[1] == 1.0 and scale[0] == pytest.approx(Y[:, 0].std())


def test_normalize_y_false_trains_on_raw_targets():
    X, y = make_data()
    model = regressor(normalize_y=False).fit(X, y * 1e3)
    assert scaling(model) is None
    raw = regressor(normalize_y=False).fit(X, y * 1e3).predict(X)
    assert_array_equal(model.predict(X), raw)
    assert scaling(regressor().fit(X, y)) is not None


@pytest.mark.parametrize(
    "name", ["regressor_gru", "regressor_after", "regressor_bidirectional_lstm_mean"]
)
def test_normalize_y_false_fits_as_the_code_before_it_did(name):
    """Refitting an old file's hyperparameters with ``normalize_y=False`` on its data
    predicts what the code before target scaling predicted (tests/data): bit for bit in
    float64, up to float32 rounding in float32 (whose products changed since: stop 27)."""
    old = load(DATA / f"{name}.npz")
    with np.load(DATA / f"{name}.expected.npz") as archive:
        expected = dict(archive)
    X = expected["X"]
    if "lengths" in expected:
        X = [x[:n] for x, n in zip(X, expected["lengths"], strict=True)]
    assert old.get_params()["normalize_y"] is False
    refitted = clone(old).fit(X, expected["y"])
    if old.get_params()["dtype"] == "float64":
        assert_array_equal(np.asarray(refitted.predict(X)), expected["predict"])
    else:
        assert_allclose(np.asarray(refitted.predict(X)), expected["predict"], rtol=1e-4, atol=1e-6)
    scaled = clone(old).set_params(normalize_y=True).fit(X, expected["y"])
    assert not np.array_equal(np.asarray(scaled.predict(X)), expected["predict"])


def test_partial_fit_and_warm_start_keep_the_fitted_scaling():
    X, y = make_data()
    model = regressor().fit(X, y * 100.0)
    mean, scale = scaling(model)
    model.partial_fit(X, y * 1e6 + 1e3)
    assert_array_equal(scaling(model)[0], mean)
    assert_array_equal(scaling(model)[1], scale)
    model.set_params(warm_start=True).fit(X, y)
    assert_array_equal(scaling(model)[0], mean)
    model.set_params(warm_start=False).fit(X, y)
    assert not np.array_equal(scaling(model)[0], mean)


def test_partial_fit_from_scratch_fits_the_scaling_on_its_first_batch():
    X, y = make_data()
    model = regressor().partial_fit(X, y * 10.0 + 3.0)
    assert_allclose(scaling(model)[0], [(y * 10.0 + 3.0).mean()])


def test_loss_curve_is_in_standardised_units():
    X, y = make_data()
    small = regressor().fit(X, y).loss_curve_
    large = regressor().fit(X, y * 1e6).loss_curve_
    assert_allclose(large, small, rtol=1e-5)
    assert large[0] < 10.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_targets_raise_and_change_nothing(bad):
    X, y = make_data()
    model = regressor().fit(X, y * 1e3)
    before = (model.predict(X), *scaling(model), model.n_iter_)
    y_bad = y.copy()
    y_bad[3] = bad
    for call in (model.fit, model.partial_fit):
        with pytest.raises(ValueError, match="y"):
            call(X, y_bad)
    assert_array_equal(model.predict(X), before[0])
    assert_array_equal(scaling(model)[0], before[1])
    assert_array_equal(scaling(model)[1], before[2])
    assert model.n_iter_ == before[3]


def test_targets_beyond_float32_are_refused_as_before():
    X, y = make_data()
    model = regressor().fit(X, y)
    before = (model.predict(X), *scaling(model))
    huge = y * 1e39
    for params in ({"normalize_y": True}, {"normalize_y": False}):
        for call in ("fit", "partial_fit"):
            with pytest.raises(ValueError, match="y has values too large for float32"):
                getattr(clone(model).set_params(**params), call)(X, huge)
    with pytest.raises(ValueError, match="y has values too large for float32"):
        model.fit(X, huge)
    with pytest.raises(ValueError, match="y has values too large for float32"):
        model.partial_fit(X, huge)
    assert_array_equal(model.predict(X), before[0])
    assert_array_equal(scaling(model)[0], before[1])
    # float64 networks take them, and standardised they train as any other targets.
    assert_equivariant(lambda v: v * 1e300, X, y, "float64")


def test_normalize_y_is_a_checked_flag():
    X, y = make_data()
    with pytest.raises((ValueError, TypeError), match="normalize_y"):
        regressor(normalize_y="yes").fit(X, y)
    assert "normalize_y" in RNNRegressor._parameter_constraints
    assert RNNRegressor().normalize_y is True


@settings(max_examples=8, deadline=None)
@given(
    log_scale=st.floats(-6, 6),
    shift=st.floats(-1e6, 1e6, allow_nan=False),
    seed=st.integers(0, 3),
)
def test_predict_is_affine_equivariant_in_y(log_scale, shift, seed):
    """For any ``a > 0`` and ``b``, fitting ``a * y + b`` predicts ``a * f + b`` where
    ``f`` is the prediction of the fit on ``y``."""
    X, y = make_data(seed=seed)
    a = 10.0**log_scale
    assert_equivariant(lambda v: a * v + shift, X, y, "float64", max_iter=3)
