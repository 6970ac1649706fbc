"""Quantile regression: the Pinball loss, predict_quantiles, and what only quantiles do.

What every head does (weights, resuming, files, ONNX, PyTorch) is in ``test_heads.py``.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.metrics import mean_pinball_loss
from test_heads import (
    EXACT,
    LEVELS,
    _calibrated,
    _data,
    _fitted,
    _forecaster,
    _loss_gradient_error,
    _network_gradient_errors,
    _quiet,
)
from test_network import PADDED_LENGTHS, _setup

from rnnlearn import RNNRegressor
from rnnlearn.cells import GRUCell, LSTMCell
from rnnlearn.losses import Pinball, SquaredError
from rnnlearn.persistence import load, save

QUANTILE = Pinball(LEVELS)


def _kink_free_targets(loss, raw, rng):
    """Targets at least 0.05 from every quantile, so the stencil never crosses a kink."""
    quantiles = loss.link(raw).reshape(*raw.shape[:-1], -1, loss.outputs_per_target)
    y = rng.normal(scale=2.0, size=quantiles.shape[:-1])
    near = np.abs(y[..., None] - quantiles).min(axis=-1) < 0.05
    while near.any():
        y[near] = rng.normal(scale=2.0, size=near.sum())
        near = np.abs(y[..., None] - quantiles).min(axis=-1) < 0.05
    return y


# --- the loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [(0.5,), (0.1, 0.5, 0.9), (0.02, 0.25, 0.5, 0.75, 0.98)])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_pinball_gradient_matches_finite_differences(levels, n_targets, gradcheck_errors):
    loss = Pinball(levels)
    rng = np.random.RandomState(3)
    raw = rng.normal(size=(2, 4, n_targets * len(levels)))
    y = _kink_free_targets(loss, raw, rng)
    assert np.abs(y[..., None] - loss.link(raw).reshape(*y.shape, -1)).min() > 1e-3
    error = _loss_gradient_error(loss, y, raw, rng)
    gradcheck_errors[f"pinball[{levels}, {n_targets}]"] = error
    assert error <= 1e-6


@pytest.mark.parametrize("cell", [GRUCell(), LSTMCell()], ids=repr)
def test_pinball_gradient_through_the_network(cell, gradcheck_errors, request):
    loss = Pinball(LEVELS)
    setup = network, params, X, state0, rng = _setup(cell, 1, n_outputs=6, seed=2)
    raw, _ = network.forward(params, X, PADDED_LENGTHS, state0)
    y = _kink_free_targets(loss, raw, rng)
    errors = _network_gradient_errors(loss, y, setup)
    gradcheck_errors[request.node.name] = max(errors.values())
    assert max(errors.values()) <= 1e-6, errors


def test_pinball_value_is_scikit_learns_mean_pinball_loss_over_levels():
    loss = Pinball(LEVELS)
    rng = np.random.RandomState(0)
    raw = rng.normal(size=(50, 6))
    y = rng.normal(size=(50, 2))
    quantiles = loss.link(raw).reshape(50, 2, 3)
    expected = np.mean(
        [
            mean_pinball_loss(y[:, t], quantiles[:, t, k], alpha=tau)
            for t in range(2)
            for k, tau in enumerate(LEVELS)
        ]
    )
    assert loss.loss(y, raw) == pytest.approx(expected, rel=1e-12)
    assert_array_equal(loss.point(raw), quantiles[..., 1])


@settings(max_examples=60, deadline=None)
@given(
    raw=arrays(np.float64, (4, 10), elements=st.floats(-1e3, 1e3)),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_link_never_crosses(raw, dtype):
    quantiles = Pinball((0.05, 0.1, 0.5, 0.9, 0.95)).link(raw.astype(dtype)).reshape(4, 2, 5)
    assert quantiles.dtype == dtype
    assert np.all(np.isfinite(quantiles))
    assert np.all(np.diff(quantiles, axis=-1) >= 0)


BAD_LEVELS = [
    ((0.5, 0.1), ValueError, "increasing"),
    ((0.1, 0.5, 0.5), ValueError, "repeats"),
    ((0.0, 0.5), ValueError, "between 0 and 1"),
    ((0.5, 1.0), ValueError, "between 0 and 1"),
    ((0.5, 1.5), ValueError, "between 0 and 1"),
    ((0.1, 0.9), ValueError, "0.5"),
    ((), ValueError, "between 0 and 1"),
    ("0.5", TypeError, "sequence"),
    ((0.5, None), TypeError, "sequence"),
]


@pytest.mark.parametrize(("levels", "error", "match"), BAD_LEVELS)
def test_bad_levels_raise_before_anything_changes(levels, error, match):
    model, X, y = _fitted(QUANTILE)
    before = (model.predict_quantiles(X), model.coefs_, model.n_iter_)
    model.set_params(loss=Pinball(levels))
    with pytest.raises(error, match=match):
        model.fit(X, y)
    assert_array_equal(model.predict_quantiles(X), before[0])
    assert model.n_iter_ == before[2] and model.loss_function_.quantiles == LEVELS


def test_resuming_with_other_levels_is_refused_before_anything_changes():
    model, X, y = _fitted(QUANTILE)
    before = model.predict_quantiles(X)
    model.set_params(loss=Pinball((0.2, 0.5, 0.8)))
    for resume in (
        lambda: model.partial_fit(X, y),
        lambda: model.set_params(warm_start=True).fit(X, y),
    ):
        with pytest.raises(ValueError, match="refit with warm_start=False"):
            resume()
        assert_array_equal(model.predict_quantiles(X), before)
    model.set_params(loss=SquaredError())
    with pytest.raises(ValueError, match="outputs"):
        model.fit(X, y)


def test_predict_quantiles_needs_a_quantile_model():
    X, y = _data()
    model = _quiet(RNNRegressor(**EXACT).fit, X, y)
    with pytest.raises(ValueError, match="quantile loss"):
        model.predict_quantiles(X)


# --- the estimator -----------------------------------------------------------------------


@pytest.mark.parametrize("n_targets", [None, 1, 2])
def test_shapes_order_and_median(n_targets):
    model, X, y = _fitted(QUANTILE, n_targets)
    quantiles = model.predict_quantiles(X)
    n = 1 if n_targets is None else n_targets
    assert quantiles.shape == (len(X), 3) if n_targets is None else (len(X), n, 3)
    assert model.n_outputs_ == n and model.coefs_[-1]["W"].shape[1] == 3 * n
    assert np.all(np.diff(quantiles, axis=-1) > 0)
    assert_array_equal(model.predict(X), quantiles[..., 1])
    assert model.predict(X).shape == np.shape(y)
    assert model.predict_quantiles(X.astype(np.float32)).dtype == np.float32


def test_string_alias_takes_the_default_levels():
    X, y = _data()
    model = _quiet(RNNRegressor(**dict(EXACT, loss="quantile")).fit, X, y)
    assert model.loss_function_.quantiles == (0.05, 0.5, 0.95)
    assert model.predict_quantiles(X).shape == (len(X), 3)
    assert model.coefs_[-1]["W"].shape == (4, 3)


@pytest.fixture(scope="module")
def two_target_model():
    return _fitted(QUANTILE, 2)[0]


@settings(max_examples=25, deadline=None)
@given(X=arrays(np.float64, (7, 3, 2), elements=st.floats(-100, 100)))
def test_fitted_quantiles_are_ordered_on_any_input(two_target_model, X):
    assert np.all(np.diff(two_target_model.predict_quantiles(X), axis=-1) >= 0)


def test_normalize_y_scales_every_quantile_of_a_target():
    model, X, y = _fitted(QUANTILE, 2)
    shifted = _quiet(clone(model).fit, X, y * [1e6, 1e-3] + [5.0, -7.0])
    expected = model.predict_quantiles(X) * np.array([1e6, 1e-3])[:, None] + [[5.0], [-7.0]]
    assert_allclose(shifted.predict_quantiles(X), expected, rtol=1e-4, atol=1e-9)


# --- calibration on synthetic data with known noise --------------------------------------


def test_the_80_percent_band_covers_80_percent_of_fresh_data_and_follows_the_noise():
    model, X_new, y_new, sd = _calibrated(Pinball(LEVELS))
    low, _, high = model.predict_quantiles(X_new).T
    coverage = np.mean((y_new > low) & (y_new < high))
    assert abs(coverage - 0.8) <= 0.05, coverage
    width = high - low
    noisy = sd > 0.3
    assert width[noisy].mean() > 1.5 * width[~noisy].mean()
    # Each half is covered about as often: the band widens where the noise does.
    for part in (noisy, ~noisy):
        inside = (y_new[part] > low[part]) & (y_new[part] < high[part])
        assert abs(inside.mean() - 0.8) <= 0.08


# --- everywhere a model goes -------------------------------------------------------------


def test_a_file_whose_levels_do_not_fit_the_network_is_refused(tmp_path):
    import json

    model, _, _ = _fitted(QUANTILE)
    save(model, tmp_path / "model.npz")
    arrays = dict(np.load(tmp_path / "model.npz"))
    document = json.loads(arrays["metadata"].tobytes())
    document["loss_function"]["params"]["quantiles"] = {"tuple": [0.25, 0.5]}
    arrays["metadata"] = np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ValueError, match="multiple of 2"):
        load(tmp_path / "tampered.npz")


def test_a_forecasters_quantiles_are_ordered_around_its_prediction():
    model, X = _forecaster(QUANTILE)
    quantiles = model.predict_quantiles(X)
    assert quantiles.shape == (len(X), 3)
    assert np.all(np.diff(quantiles, axis=-1) > 0)
    assert_allclose(model.predict(X), quantiles[:, 1])
