"""Quantile regression: the Pinball loss, predict_quantiles, and everywhere a model goes."""

import warnings

import numpy as np
import pytest
from _gradcheck import max_relative_error, numerical_gradient
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.metrics import mean_pinball_loss
from test_network import PADDED_LENGTHS, _gradient_errors, _setup

from rnnlearn import RNNForecaster, RNNRegressor
from rnnlearn.cells import GRUCell, LSTMCell
from rnnlearn.losses import GaussianNLL, Pinball, SquaredError
from rnnlearn.persistence import load, save
from rnnlearn.preprocessing import make_windows

LEVELS = (0.1, 0.5, 0.9)
EXACT = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=8, random_state=0, dropout=0.0)
EXACT.update(tol=0.0, n_iter_no_change=1000)


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
    settings_ = dict(EXACT, loss=Pinball(LEVELS), **params)
    return _quiet(RNNRegressor(**settings_).fit, X, y), X, y


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
    weights = rng.uniform(0, 2, size=(2, 4))
    weights[1, 2:] = 0.0
    analytic = loss.loss_gradient(y, raw, weights)[1]
    numeric = numerical_gradient(lambda: loss.loss_gradient(y, raw, weights)[0], raw)
    error = max_relative_error(analytic, numeric)
    gradcheck_errors[f"pinball[{levels}, {n_targets}]"] = error
    assert error <= 1e-6


@pytest.mark.parametrize("cell", [GRUCell(), LSTMCell()], ids=repr)
def test_pinball_gradient_through_the_network(cell, gradcheck_errors, request):
    loss = Pinball(LEVELS)
    network, params, X, state0, rng = _setup(cell, 1, n_outputs=6, seed=2)
    raw, _ = network.forward(params, X, PADDED_LENGTHS, state0)
    y = _kink_free_targets(loss, raw, rng)
    weights = np.broadcast_to(np.array([0.5, 2.0, 1.5]), raw.shape[:2])

    def objective(raw):
        return loss.loss_gradient(y, raw, weights)

    errors = _gradient_errors(network, params, X, PADDED_LENGTHS, state0, objective, False)
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
    model, X, y = _fitted()
    before = (model.predict_quantiles(X), model.coefs_, model.n_iter_)
    model.set_params(loss=Pinball(levels))
    with pytest.raises(error, match=match):
        model.fit(X, y)
    assert_array_equal(model.predict_quantiles(X), before[0])
    assert model.n_iter_ == before[2] and model.loss_function_.quantiles == LEVELS


def test_other_output_modes_are_refused_clearly():
    X, y = _data()
    Y = np.repeat(y[:, None], 5, axis=1)
    with pytest.raises(ValueError, match="output_mode='last'"):
        RNNRegressor(loss="quantile", output_mode="sequence").fit(X, Y)


def test_resuming_with_other_levels_is_refused_before_anything_changes():
    model, X, y = _fitted()
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
    model, X, y = _fitted(n_targets)
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
    return _fitted(2)[0]


@settings(max_examples=25, deadline=None)
@given(X=arrays(np.float64, (7, 3, 2), elements=st.floats(-100, 100)))
def test_fitted_quantiles_are_ordered_on_any_input(two_target_model, X):
    assert np.all(np.diff(two_target_model.predict_quantiles(X), axis=-1) >= 0)


def test_normalize_y_scales_every_quantile_of_a_target():
    model, X, y = _fitted(2)
    shifted = _quiet(clone(model).fit, X, y * [1e6, 1e-3] + [5.0, -7.0])
    expected = model.predict_quantiles(X) * np.array([1e6, 1e-3])[:, None] + [[5.0], [-7.0]]
    assert_allclose(shifted.predict_quantiles(X), expected, rtol=1e-4, atol=1e-9)


def test_sample_weight_equals_duplicated_rows():
    X, y = _data(n=24)
    params = dict(EXACT, dtype="float64", batch_size=64, shuffle=False, loss=Pinball(LEVELS))
    weights = np.where(np.arange(24) % 3 == 0, 2.0, 1.0)
    rows = np.repeat(np.arange(24), weights.astype(int))
    weighted = _quiet(RNNRegressor(**params).fit, X, y, sample_weight=weights)
    duplicated = _quiet(RNNRegressor(**params).fit, X[rows], y[rows])
    plain = _quiet(RNNRegressor(**params).fit, X, y)
    assert_allclose(weighted.predict_quantiles(X), duplicated.predict_quantiles(X), rtol=1e-8)
    assert not np.allclose(weighted.predict_quantiles(X), plain.predict_quantiles(X))


def test_warm_start_and_partial_fit_resume_exactly():
    X, y = _data()
    params = dict(EXACT, loss=Pinball(LEVELS))
    once = _quiet(RNNRegressor(**dict(params, max_iter=5)).fit, X, y)
    warm = _quiet(RNNRegressor(**dict(params, max_iter=2)).fit, X, y)
    _quiet(warm.set_params(warm_start=True, max_iter=3).fit, X, y)
    partial = RNNRegressor(**params)
    for _ in range(5):
        _quiet(partial.partial_fit, X, y)
    for model in (warm, partial):
        assert_array_equal(model.predict_quantiles(X), once.predict_quantiles(X))
        assert model.loss_curve_ == once.loss_curve_


# --- calibration on synthetic data with known noise --------------------------------------


def _noisy(n, seed):
    """Sums of random windows plus Gaussian noise of sd 0.6 where the last value is
    positive and 0.2 elsewhere."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 6, 1))
    sd = np.where(X[:, -1, 0] > 0, 0.6, 0.2)
    return X, X.sum(axis=(1, 2)) + rng.normal(size=n) * sd, sd


def test_the_80_percent_band_covers_80_percent_of_fresh_data_and_follows_the_noise():
    X, y, _ = _noisy(1000, 0)
    model = RNNRegressor(
        (16,),
        loss=Pinball(LEVELS),
        pooling="last",
        dropout=0.0,
        batch_size=64,
        learning_rate_schedule="constant",
        max_iter=100,
        random_state=0,
    )
    _quiet(model.fit, X, y)
    X_new, y_new, sd = _noisy(2000, 1)
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


@pytest.mark.parametrize("n_targets", [None, 2])
def test_npz_round_trip(n_targets, tmp_path):
    model, X, y = _fitted(n_targets)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert_array_equal(loaded.predict_quantiles(X), model.predict_quantiles(X))
    assert loaded.loss_function_.quantiles == LEVELS
    _quiet(loaded.partial_fit, X, y)
    _quiet(model.partial_fit, X, y)
    assert_array_equal(loaded.predict_quantiles(X), model.predict_quantiles(X))


def test_skops_round_trip(tmp_path):
    pytest.importorskip("skops")
    from rnnlearn.persistence import load_skops, save_skops

    model, X, _ = _fitted(2)
    save_skops(model, tmp_path / "model.skops")
    loaded = load_skops(tmp_path / "model.skops")
    assert_array_equal(loaded.predict_quantiles(X), model.predict_quantiles(X))


def test_a_file_whose_levels_do_not_fit_the_network_is_refused(tmp_path):
    import json

    model, _, _ = _fitted()
    save(model, tmp_path / "model.npz")
    arrays = dict(np.load(tmp_path / "model.npz"))
    document = json.loads(arrays["metadata"].tobytes())
    document["loss_function"]["params"]["quantiles"] = {"tuple": [0.25, 0.5]}
    arrays["metadata"] = np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ValueError, match="multiple of 2"):
        load(tmp_path / "tampered.npz")


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
def test_onnx_exports_the_median_and_every_quantile(n_targets):
    model, X, _ = _fitted(n_targets)
    outputs = _onnx_outputs(model, X)
    assert list(outputs) == ["predictions", "quantiles"]
    assert_allclose(outputs["quantiles"], model.predict_quantiles(X), rtol=1e-5, atol=1e-5)
    assert_allclose(outputs["predictions"], model.predict(X), rtol=1e-5, atol=1e-5)
    lengths = np.array([5, 3] * (len(X) // 2))
    padded = X.copy()
    padded[lengths == 3, 3:] = 0.0
    sequences = [x[:n] for x, n in zip(X, lengths, strict=True)]
    outputs = _onnx_outputs(model, padded, lengths)
    assert_allclose(outputs["quantiles"], model.predict_quantiles(sequences), atol=1e-5)


def test_a_forecasters_quantiles_add_its_level_to_every_quantile():
    series = np.cumsum(np.random.RandomState(0).normal(size=200)) + 50
    X, y = make_windows(series, 8)
    model = _quiet(RNNForecaster(loss=Pinball(LEVELS), max_iter=3, random_state=0).fit, X, y)
    quantiles = model.predict_quantiles(X)
    assert quantiles.shape == (len(X), 3)
    assert np.all(np.diff(quantiles, axis=-1) > 0)
    assert_allclose(model.predict(X), quantiles[:, 1])
    outputs = _onnx_outputs(model, X)
    assert_allclose(outputs["quantiles"], quantiles, rtol=1e-5)
    from rnnlearn.interop import to_torch

    with pytest.raises(ValueError, match="to_onnx"):
        to_torch(model)


def test_to_torch_returns_raw_outputs_and_from_torch_reads_them_back():
    torch = pytest.importorskip("torch")
    from rnnlearn.interop import from_torch, to_torch

    model, X, y = _fitted(2, dtype="float64")
    raw = to_torch(model)(torch.from_numpy(X)).detach().numpy()
    assert raw.shape == (len(X), 6)
    standardised = model.loss_function_.link(raw).reshape(len(X), 2, 3)
    quantiles = model.predict_quantiles(X)
    # The quantiles are the link's, mapped to the targets' scale target by target.
    scale, mean = model._y_scale[:, None], model._y_mean[:, None]
    assert_allclose(standardised * scale + mean, quantiles, rtol=1e-12)
    template = RNNRegressor(**model.get_params(deep=False))
    imported = _quiet(from_torch, to_torch(model), template, X, y)
    assert_allclose(imported.predict_quantiles(X), quantiles, rtol=1e-12)


@pytest.mark.parametrize(
    "loss", [SquaredError(), Pinball(LEVELS), Pinball((0.5, 0.7)), GaussianNLL()], ids=repr
)
def test_raw_for_point_predicts_the_values(loss):
    values = np.array([-1.5, 0.0, 2.5])
    raw = loss.raw_for_point(values)
    assert raw.shape == (3 * loss.outputs_per_target,)
    assert_allclose(loss.point(raw[None]), values[None], rtol=1e-12, atol=1e-12)
