"""The Gaussian head: GaussianNLL, predict(X, return_std=True), and everywhere it goes."""

import warnings

import numpy as np
import pytest
from _gradcheck import max_relative_error, numerical_gradient
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import norm
from sklearn.base import clone
from test_network import PADDED_LENGTHS, _gradient_errors, _setup

from rnnlearn import RNNForecaster, RNNRegressor
from rnnlearn.cells import GRUCell, LSTMCell
from rnnlearn.losses import GaussianNLL, Pinball
from rnnlearn.persistence import load, save
from rnnlearn.preprocessing import make_windows

EXACT = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=8, random_state=0, dropout=0.0)
EXACT.update(tol=0.0, n_iter_no_change=1000, loss=GaussianNLL())


def _data(n=40, n_targets=None, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5, 2))
    y = X.sum(axis=(1, 2)) + rng.normal(scale=0.3, size=n)
    if n_targets:
        y = np.column_stack([y * (k + 1) + 10 * k for k in range(n_targets)])
    return X, y


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def _fitted(n_targets=None, **params):
    X, y = _data(n_targets=n_targets)
    return _quiet(RNNRegressor(**dict(EXACT, **params)).fit, X, y), X, y


# --- the loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("n_targets", [1, 3])
def test_gaussian_gradient_matches_finite_differences(n_targets, gradcheck_errors):
    loss = GaussianNLL(min_std=0.01)
    rng = np.random.RandomState(4)
    raw = rng.normal(size=(2, 4, 2 * n_targets))
    y = rng.normal(scale=2.0, size=(2, 4, n_targets))
    weights = rng.uniform(0, 2, size=(2, 4))
    weights[1, 2:] = 0.0
    analytic = loss.loss_gradient(y, raw, weights)[1]
    numeric = numerical_gradient(lambda: loss.loss_gradient(y, raw, weights)[0], raw)
    error = max_relative_error(analytic, numeric)
    gradcheck_errors[f"gaussian[{n_targets}]"] = error
    assert error <= 1e-6


@pytest.mark.parametrize("cell", [GRUCell(), LSTMCell()], ids=repr)
def test_gaussian_gradient_through_the_network(cell, gradcheck_errors, request):
    loss = GaussianNLL()
    network, params, X, state0, rng = _setup(cell, 1, n_outputs=4, seed=2)
    y = rng.normal(size=(1, 3, 2))
    weights = np.broadcast_to(np.array([0.5, 2.0, 1.5]), (1, 3))

    def objective(raw):
        return loss.loss_gradient(y, raw, weights)

    errors = _gradient_errors(network, params, X, PADDED_LENGTHS, state0, objective, False)
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
    model, X, y = _fitted()
    before = model.predict(X, return_std=True)
    model.set_params(loss=GaussianNLL(min_std=min_std))
    with pytest.raises((ValueError, TypeError), match="loss__min_std"):
        model.fit(X, y)
    assert_array_equal(model.predict(X, return_std=True), before)


def test_other_output_modes_and_losses_are_refused_clearly():
    X, y = _data()
    with pytest.raises(ValueError, match="output_mode='last'"):
        RNNRegressor(loss="gaussian_nll", output_mode="sequence").fit(
            X, np.repeat(y[:, None], 5, 1)
        )
    model = _quiet(RNNRegressor(**dict(EXACT, loss="squared_error")).fit, X, y)
    with pytest.raises(ValueError, match="Gaussian loss"):
        model.predict(X, return_std=True)
    gaussian, X, y = _fitted()
    before = gaussian.predict(X, return_std=True)
    gaussian.set_params(loss=Pinball((0.25, 0.5)), warm_start=True)  # 2 outputs as well
    with pytest.raises(ValueError, match="refit with warm_start=False"):
        gaussian.fit(X, y)
    assert_array_equal(gaussian.predict(X, return_std=True), before)


# --- the estimator -----------------------------------------------------------------------


@pytest.mark.parametrize("n_targets", [None, 2])
def test_shapes_and_mean(n_targets):
    model, X, y = _fitted(n_targets)
    mean, std = model.predict(X, return_std=True)
    assert mean.shape == std.shape == np.shape(y)
    assert_array_equal(mean, model.predict(X))
    assert np.all(std > 0)
    assert model.n_outputs_ == (1 if n_targets is None else n_targets)
    mean32, std32 = model.predict(X.astype(np.float32), return_std=True)
    assert mean32.dtype == std32.dtype == np.float32


def test_normalize_y_scales_the_std_and_shifts_only_the_mean():
    model, X, y = _fitted(2)
    shifted = _quiet(clone(model).fit, X, y * [1e6, 1e-3] + [5.0, -7.0])
    mean, std = model.predict(X, return_std=True)
    new_mean, new_std = shifted.predict(X, return_std=True)
    assert_allclose(new_mean, mean * [1e6, 1e-3] + [5.0, -7.0], rtol=1e-4)
    assert_allclose(new_std, std * [1e6, 1e-3], rtol=1e-4)


def test_sample_weight_equals_duplicated_rows():
    X, y = _data(n=24)
    params = dict(EXACT, dtype="float64", batch_size=64, shuffle=False)
    weights = np.where(np.arange(24) % 3 == 0, 2.0, 1.0)
    rows = np.repeat(np.arange(24), weights.astype(int))
    weighted = _quiet(RNNRegressor(**params).fit, X, y, sample_weight=weights)
    duplicated = _quiet(RNNRegressor(**params).fit, X[rows], y[rows])
    plain = _quiet(RNNRegressor(**params).fit, X, y)
    result = np.array(weighted.predict(X, return_std=True))
    assert_allclose(result, np.array(duplicated.predict(X, return_std=True)), rtol=1e-8)
    assert not np.allclose(result, np.array(plain.predict(X, return_std=True)))


def test_warm_start_and_partial_fit_resume_exactly():
    X, y = _data()
    once = _quiet(RNNRegressor(**dict(EXACT, max_iter=5)).fit, X, y)
    warm = _quiet(RNNRegressor(**dict(EXACT, max_iter=2)).fit, X, y)
    _quiet(warm.set_params(warm_start=True, max_iter=3).fit, X, y)
    partial = RNNRegressor(**EXACT)
    for _ in range(5):
        _quiet(partial.partial_fit, X, y)
    for model in (warm, partial):
        assert_array_equal(model.predict(X, return_std=True), once.predict(X, return_std=True))
        assert model.loss_curve_ == once.loss_curve_


def _noisy(n, seed):
    """Sums of random windows plus Gaussian noise of sd 0.6 where the last value is
    positive and 0.2 elsewhere."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 6, 1))
    sd = np.where(X[:, -1, 0] > 0, 0.6, 0.2)
    return X, X.sum(axis=(1, 2)) + rng.normal(size=n) * sd, sd


def test_the_std_tracks_the_true_heteroscedastic_noise():
    X, y, _ = _noisy(1000, 0)
    model = RNNRegressor(
        (16,),
        loss="gaussian_nll",
        pooling="last",
        dropout=0.0,
        batch_size=64,
        learning_rate_schedule="constant",
        max_iter=100,
        random_state=0,
    )
    _quiet(model.fit, X, y)
    X_new, y_new, sd = _noisy(2000, 1)
    mean, std = model.predict(X_new, return_std=True)
    for true in (0.2, 0.6):
        part = sd == true
        assert abs(np.median(std[part]) / true - 1) < 0.25, (true, np.median(std[part]))
    assert np.corrcoef(std, sd)[0, 1] > 0.7
    coverage = np.mean(np.abs(y_new - mean) < norm.ppf(0.9) * std)
    assert abs(coverage - 0.8) <= 0.05, coverage


# --- everywhere a model goes -------------------------------------------------------------


@pytest.mark.parametrize("n_targets", [None, 2])
def test_npz_round_trip(n_targets, tmp_path):
    model, X, y = _fitted(n_targets)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert_array_equal(loaded.predict(X, return_std=True), model.predict(X, return_std=True))
    _quiet(loaded.partial_fit, X, y)
    _quiet(model.partial_fit, X, y)
    assert_array_equal(loaded.predict(X, return_std=True), model.predict(X, return_std=True))


def test_skops_round_trip(tmp_path):
    pytest.importorskip("skops")
    from rnnlearn.persistence import load_skops, save_skops

    model, X, _ = _fitted(2)
    save_skops(model, tmp_path / "model.skops")
    loaded = load_skops(tmp_path / "model.skops")
    assert_array_equal(loaded.predict(X, return_std=True), model.predict(X, return_std=True))


def _onnx_outputs(model, X, lengths=None):
    onnxruntime = pytest.importorskip("onnxruntime")
    from rnnlearn.onnx import to_onnx

    onnx_model = to_onnx(model, lengths=lengths is not None)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString())
    feed = {"X": X.astype(np.float32)}
    if lengths is not None:
        feed["lengths"] = lengths
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, feed), strict=True))


@pytest.mark.parametrize("n_targets", [None, 2])
def test_onnx_exports_the_mean_and_the_std(n_targets):
    model, X, _ = _fitted(n_targets)
    outputs = _onnx_outputs(model, X)
    assert list(outputs) == ["predictions", "std"]
    mean, std = model.predict(X, return_std=True)
    assert_allclose(outputs["predictions"], mean, rtol=1e-5, atol=1e-5)
    assert_allclose(outputs["std"], std, rtol=1e-5, atol=1e-6)
    lengths = np.array([5, 3] * (len(X) // 2))
    sequences = [x[:n] for x, n in zip(X, lengths, strict=True)]
    outputs = _onnx_outputs(model, X, lengths)
    assert_allclose(outputs["std"], model.predict(sequences, return_std=True)[1], atol=1e-5)


def test_a_forecasters_level_moves_the_mean_not_the_std():
    series = np.cumsum(np.random.RandomState(0).normal(size=200)) + 50
    X, y = make_windows(series, 8)
    model = _quiet(RNNForecaster(loss=GaussianNLL(), max_iter=3, random_state=0).fit, X, y)
    outputs = _onnx_outputs(model, X)
    assert_allclose(outputs["predictions"], model.predict(X), rtol=1e-5)
    shifted = _onnx_outputs(model, X + 1000.0)
    assert_allclose(shifted["std"], outputs["std"], rtol=1e-4)
    assert_allclose(shifted["predictions"], outputs["predictions"] + 1000.0, rtol=1e-5)
    from rnnlearn.interop import to_torch

    with pytest.raises(ValueError, match="to_onnx"):
        to_torch(model)


def test_to_torch_returns_raw_outputs_and_from_torch_reads_them_back():
    torch = pytest.importorskip("torch")
    from rnnlearn.interop import from_torch, to_torch

    model, X, y = _fitted(2, dtype="float64")
    raw = to_torch(model)(torch.from_numpy(X)).detach().numpy()
    assert raw.shape == (len(X), 4)
    mean, std = model.predict(X, return_std=True)
    assert_allclose(model.loss_function_.std(raw) * model._y_scale, std, rtol=1e-12)
    assert_allclose(raw[:, 0::2] * model._y_scale + model._y_mean, mean, rtol=1e-12)
    template = RNNRegressor(**model.get_params(deep=False))
    imported = _quiet(from_torch, to_torch(model), template, X, y)
    assert_allclose(imported.predict(X, return_std=True), (mean, std), rtol=1e-12)
