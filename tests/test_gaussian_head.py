"""The Gaussian head: GaussianNLL, predict(X, return_std=True), and what only it does.

What every head does (weights, resuming, files, ONNX, PyTorch) is in ``test_heads.py``.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import norm
from sklearn.base import clone
from test_heads import (
    EXACT,
    _calibrated,
    _data,
    _fitted,
    _loss_gradient_error,
    _network_gradient_errors,
    _quiet,
)
from test_network import _setup

from rnnlearn import RNNRegressor
from rnnlearn.cells import GRUCell, LSTMCell
from rnnlearn.losses import GaussianNLL, Pinball

# --- the loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("n_targets", [1, 3])
def test_gaussian_gradient_matches_finite_differences(n_targets, gradcheck_errors):
    loss = GaussianNLL(min_std=0.01)
    rng = np.random.RandomState(4)
    raw = rng.normal(size=(2, 4, 2 * n_targets))
    y = rng.normal(scale=2.0, size=(2, 4, n_targets))
    error = _loss_gradient_error(loss, y, raw, rng)
    gradcheck_errors[f"gaussian[{n_targets}]"] = error
    assert error <= 1e-6


@pytest.mark.parametrize("cell", [GRUCell(), LSTMCell()], ids=repr)
def test_gaussian_gradient_through_the_network(cell, gradcheck_errors, request):
    loss = GaussianNLL()
    setup = _setup(cell, 1, n_outputs=4, seed=2)
    y = setup[-1].normal(size=(1, 3, 2))
    errors = _network_gradient_errors(loss, y, setup)
    gradcheck_errors[request.node.name] = max(errors.values())
    assert max(errors.values()) <= 1e-6, errors


def test_gaussian_value_is_the_normal_negative_log_likelihood():
    loss = GaussianNLL(min_std=0.05)
    rng = np.random.RandomState(0)
    raw = rng.normal(size=(50, 4))
    y = rng.normal(size=(50, 2))
    mean, std = raw[:, 0::2], np.log1p(np.exp(raw[:, 1::2])) + 0.05
    expected = -norm.logpdf(y, mean, std).mean()
    assert loss.loss(y, raw) == pytest.approx(expected, rel=1e-12)
    assert_array_equal(loss.point(raw), mean)
    assert_allclose(loss.std(raw), std, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    raw=arrays(np.float64, (5, 4), elements=st.floats(-1e3, 1e3)),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_std_is_positive_and_finite(raw, dtype):
    std = GaussianNLL().std(raw.astype(dtype))
    assert std.dtype == dtype
    assert np.all(np.isfinite(std)) and np.all(std >= dtype(1e-3))


@pytest.mark.parametrize("min_std", [0.0, -1.0, np.nan, "small"])
def test_bad_min_std_raises_before_anything_changes(min_std):
    model, X, y = _fitted(GaussianNLL())
    before = model.predict(X, return_std=True)
    model.set_params(loss=GaussianNLL(min_std=min_std))
    with pytest.raises((ValueError, TypeError), match="loss__min_std"):
        model.fit(X, y)
    assert_array_equal(model.predict(X, return_std=True), before)


def test_other_losses_are_refused_clearly():
    X, y = _data()
    model = _quiet(RNNRegressor(**dict(EXACT, loss="squared_error")).fit, X, y)
    with pytest.raises(ValueError, match="Gaussian loss"):
        model.predict(X, return_std=True)
    gaussian, X, y = _fitted(GaussianNLL())
    before = gaussian.predict(X, return_std=True)
    gaussian.set_params(loss=Pinball((0.25, 0.5)), warm_start=True)  # 2 outputs as well
    with pytest.raises(ValueError, match="refit with warm_start=False"):
        gaussian.fit(X, y)
    assert_array_equal(gaussian.predict(X, return_std=True), before)


# --- the estimator -----------------------------------------------------------------------


@pytest.mark.parametrize("n_targets", [None, 2])
def test_shapes_and_mean(n_targets):
    model, X, y = _fitted(GaussianNLL(), n_targets)
    mean, std = model.predict(X, return_std=True)
    assert mean.shape == std.shape == np.shape(y)
    assert_array_equal(mean, model.predict(X))
    assert np.all(std > 0)
    assert model.n_outputs_ == (1 if n_targets is None else n_targets)
    mean32, std32 = model.predict(X.astype(np.float32), return_std=True)
    assert mean32.dtype == std32.dtype == np.float32


def test_normalize_y_scales_the_std_and_shifts_only_the_mean():
    model, X, y = _fitted(GaussianNLL(), 2)
    shifted = _quiet(clone(model).fit, X, y * [1e6, 1e-3] + [5.0, -7.0])
    mean, std = model.predict(X, return_std=True)
    new_mean, new_std = shifted.predict(X, return_std=True)
    assert_allclose(new_mean, mean * [1e6, 1e-3] + [5.0, -7.0], rtol=1e-4)
    assert_allclose(new_std, std * [1e6, 1e-3], rtol=1e-4)


def test_the_std_tracks_the_true_heteroscedastic_noise():
    model, X_new, y_new, sd = _calibrated("gaussian_nll")
    mean, std = model.predict(X_new, return_std=True)
    for true in (0.2, 0.6):
        part = sd == true
        assert abs(np.median(std[part]) / true - 1) < 0.25, (true, np.median(std[part]))
    assert np.corrcoef(std, sd)[0, 1] > 0.7
    coverage = np.mean(np.abs(y_new - mean) < norm.ppf(0.9) * std)
    assert abs(coverage - 0.8) <= 0.05, coverage
