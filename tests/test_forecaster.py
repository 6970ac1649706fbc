"""RNNForecaster: window-relative scaling, the linear path, chronological early stopping."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rnnlearn import RNNForecaster, RNNRegressor, persistence
from rnnlearn.losses import Pinball
from rnnlearn.optimizers import Adam
from rnnlearn.preprocessing import make_windows

skops_io = pytest.importorskip("skops.io")

FAST = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)
DESTRUCTIVE = Adam(learning_rate=50.0)  # every trained epoch is worse than epoch 0


def _series(n=320, seed=0):
    """A trend with a 12-step season and noise, on a grid of 1/64 (exact in float64)."""
    t = np.arange(n, dtype=float)
    noise = np.random.RandomState(seed).normal(scale=0.5, size=n)
    return np.round((0.4 * t + 6 * np.sin(2 * np.pi * t / 12) + noise) * 64) / 64


def _windows(n=320, window=24):
    X, y = make_windows(_series(n), window)
    return X[:200], y[:200], X[200:], y[200:]


def _fit(model, X, y, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y, **fit_params)


def _ridge_path(X_train, y_train, X):
    """The linear path as the forecaster documents it: ridge on the relative windows."""
    flat = lambda W: (W - W[:, -1:]).reshape(len(W), -1)  # noqa: E731
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    ridge.fit(flat(X_train), y_train - X_train[:, -1, 0])
    return X[:, -1, 0] + ridge.predict(flat(X))


def _mase(y_test, pred, y_train, m=12):
    return np.mean(np.abs(y_test - pred)) / np.mean(np.abs(y_train[m:] - y_train[:-m]))


def test_defaults_and_clone():
    model = RNNForecaster()
    params = model.get_params()
    assert params["hidden_layer_sizes"] == (32,) and params["cell"] == "gru"
    assert params["dropout"] == 0.2 and params["alpha"] == 0 and params["pooling"] == "auto"
    assert params["relative"] and params["linear_path"] and params["early_stopping"]
    assert params["validation_fraction"] == 0.2 and params["normalize_y"]
    other = clone(RNNForecaster(target_features=[1, 0], relative=False))
    assert other.get_params()["target_features"] == [1, 0] and not other.relative


def test_extrapolates_a_trend_beyond_the_training_range():
    X_train, y_train, X_test, y_test = _windows()
    assert np.mean(y_test > y_train.max()) > 0.8  # the test targets leave the training range
    forecaster = _fit(RNNForecaster(max_iter=60, random_state=0), X_train, y_train)
    plain = _fit(
        RNNRegressor(hidden_layer_sizes=(32,), max_iter=60, random_state=0), X_train, y_train
    )
    ridge = _ridge_path(X_train, y_train, X_test)
    scores = {
        name: _mase(y_test, pred, y_train)
        for name, pred in [
            ("forecaster", forecaster.predict(X_test)),
            ("plain", plain.predict(X_test)),
            ("ridge", ridge),
        ]
    }
    assert scores["forecaster"] < 0.25 * scores["plain"], scores
    assert scores["forecaster"] < 1.1 * scores["ridge"], scores


def test_epoch_zero_is_the_ridge_path_and_is_restored_when_no_epoch_beats_it():
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(optimizer=DESTRUCTIVE, **FAST), X_train, y_train)
    assert model.linear_coef_.shape == (24, 1, 1)
    assert model.n_iter_ >= 1
    assert not model.coefs_[-1]["W"].any()
    assert model.best_validation_score_ > max(model.validation_scores_)
    np.testing.assert_allclose(
        model.predict(X_test), _ridge_path(X_train, y_train, X_test), rtol=1e-9, atol=1e-6
    )


def test_relative_scaling_is_exact_for_shifted_series():
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    shift = 1000.0
    np.testing.assert_allclose(
        model.predict(X_test + shift), model.predict(X_test) + shift, rtol=0, atol=1e-9
    )
    shifted = _fit(RNNForecaster(**FAST), X_train + shift, y_train + shift)
    np.testing.assert_allclose(
        shifted.predict(X_test + shift), model.predict(X_test) + shift, rtol=0, atol=1e-9
    )


def test_chronological_hold_out_is_the_latest_windows():
    X_train, y_train, _, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    held = slice(160, None)  # 0.2 of 200 windows, the latest
    network = model.predict(X_train) - _ridge_path(X_train, y_train, X_train)
    # The network learns what a linear path fitted on the windows before the hold-out leaves.
    residual = y_train - _ridge_path(X_train[:160], y_train[:160], X_train)
    latest = r2_score(residual[held], network[held])
    earliest = r2_score(residual[:40], network[:40])
    assert latest == pytest.approx(model.best_validation_score_, abs=1e-4)
    assert earliest != pytest.approx(model.best_validation_score_, abs=1e-4)


def test_too_few_windows_train_on_all():
    X, y = make_windows(_series(60), 12)  # 48 windows: 10 would be held out, 9.6 rounds up
    assert _fit(RNNForecaster(**FAST), X, y).validation_scores_ is not None
    X, y = X[:45], y[:45]  # 9 held out: fewer than 10
    model = _fit(RNNForecaster(**FAST), X, y)
    assert model.validation_scores_ is None and model.best_loss_ is not None


def test_reproducible_with_random_state():
    X_train, y_train, X_test, _ = _windows()
    params = dict(FAST, early_stopping=False)  # the network's part, not epoch 0, is kept
    first = _fit(RNNForecaster(**params), X_train, y_train).predict(X_test)
    second = _fit(RNNForecaster(**params), X_train, y_train).predict(X_test)
    np.testing.assert_array_equal(first, second)
    other = _fit(RNNForecaster(**{**params, "random_state": 1}), X_train, y_train)
    assert not np.array_equal(first, other.predict(X_test))


def test_multivariate_targets_and_target_features():
    series = np.column_stack([_series(200), _series(200, seed=1)[::-1]])
    X, y = make_windows(series, 12)
    model = _fit(RNNForecaster(**FAST), X, y)
    np.testing.assert_array_equal(model.target_features_, [0, 1])
    assert model.predict(X).shape == y.shape
    X1, y1 = make_windows(series, 12, target=1)
    model = _fit(RNNForecaster(target_features=1, **FAST), X1, y1)
    assert model.predict(X1).shape == y1.shape
    with pytest.raises(ValueError, match="target_features"):
        _fit(RNNForecaster(**FAST), X1, y1)


@pytest.mark.parametrize(
    "params, target, match",
    [
        (dict(target_features=3), "single", "below 1"),
        (dict(target_features=(0, 0)), "single", "per target column"),
        (dict(target_features=-1), "single", "ints >= 0"),
        (dict(), "triple", "target_features"),
        (dict(output_mode="sequence"), "single", "output_mode must be 'last'"),
    ],
)
def test_bad_input_raises_before_any_state_change(params, target, match):
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    before, n_iter = model.predict(X_test), model.n_iter_
    y = y_train if target == "single" else np.column_stack([y_train] * 3)
    X = X_train if target == "single" else np.concatenate([X_train] * 2, axis=2)
    with pytest.raises((TypeError, ValueError), match=match):
        _fit(model.set_params(**params), X, y)
    model.set_params(**{name: RNNForecaster().get_params()[name] for name in params})
    np.testing.assert_array_equal(model.predict(X_test), before)
    assert model.n_iter_ == n_iter


def test_warm_start_and_partial_fit_keep_the_linear_path():
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    coef, intercept = model.linear_coef_.copy(), model.linear_intercept_.copy()
    n_iter = model.n_iter_
    model.partial_fit(X_train[:50] + 5.0, y_train[:50] + 7.0)
    _fit(model.set_params(warm_start=True), X_train[::2], y_train[::2])
    np.testing.assert_array_equal(model.linear_coef_, coef)
    np.testing.assert_array_equal(model.linear_intercept_, intercept)
    assert model.n_iter_ > n_iter + 1
    with pytest.raises(ValueError, match="fitted with 1"):
        model.partial_fit(X_train, np.column_stack([y_train, y_train]))


def test_variable_length_histories_read_the_last_k_steps():
    series = _series(200)
    X = [series[start : 120 + start // 2] for start in range(0, 80)]  # lengths 120 down to 80
    y = np.array([series[120 + start // 2] for start in range(0, 80)])
    model = _fit(RNNForecaster(optimizer=DESTRUCTIVE, **FAST), X, y)
    assert not model.coefs_[-1]["W"].any()  # epoch 0: the linear path alone
    assert len(model.linear_coef_) == 80  # the shortest history
    short = series[150:170]
    padded = np.concatenate([np.full(80 - len(short), short[-1]), short])
    np.testing.assert_allclose(model.predict([short]), model.predict([padded]), rtol=1e-9)
    assert model.predict([series[100:190], short]).shape == (2,)


@pytest.mark.parametrize("multi", [False, True])
def test_save_load_and_skops_round_trip_exactly(tmp_path, multi):
    if multi:
        X, y = make_windows(np.column_stack([_series(150), _series(150, seed=2)]), 12)
        X_test = [X[0, 3:], X[1]]
    else:
        X, y, X_test, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X, y)
    persistence.save(model, tmp_path / "model.npz")
    loaded = persistence.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    assert loaded.get_params() == model.get_params()
    data = skops_io.dumps(model)
    restored = skops_io.loads(data, trusted=list(persistence.SKOPS_TRUSTED_TYPES))
    np.testing.assert_array_equal(restored.predict(X_test), model.predict(X_test))


def test_score_and_hidden_states_read_the_forecasts():
    X_train, y_train, X_test, y_test = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    assert model.score(X_test, y_test) == pytest.approx(r2_score(y_test, model.predict(X_test)))
    states = model.hidden_states(X_test)
    assert states[0]["h"].shape == (len(X_test), 24, 8)
    np.testing.assert_allclose(
        model.hidden_states(X_test + 100.0)[0]["h"], states[0]["h"], atol=1e-5
    )


@pytest.mark.parametrize("relative, linear_path", [(False, True), (True, False), (False, False)])
def test_options_off(tmp_path, relative, linear_path):
    X_train, y_train, X_test, _ = _windows()
    params = dict(FAST, relative=relative, linear_path=linear_path)
    model = _fit(RNNForecaster(**params), X_train, y_train)
    assert len(model.linear_coef_) == (24 if linear_path else 0)
    assert model.relative_ is relative
    shift = model.predict(X_test + 100.0) - model.predict(X_test)
    assert np.allclose(shift, 100.0) is relative
    persistence.save(model, tmp_path / "model.npz")
    loaded = persistence.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))


def test_the_linear_path_weighs_windows_by_sample_weight():
    X_train, y_train, _, _ = _windows()
    weights = np.r_[np.zeros(80), np.ones(120)]
    weighted = _fit(RNNForecaster(**FAST), X_train, y_train, sample_weight=weights)
    dropped = _fit(RNNForecaster(**FAST), X_train[80:], y_train[80:])
    np.testing.assert_allclose(weighted.linear_coef_, dropped.linear_coef_, rtol=1e-6, atol=1e-9)
    unweighted = _fit(RNNForecaster(**FAST), X_train, y_train)
    assert not np.allclose(weighted.linear_coef_, unweighted.linear_coef_, rtol=1e-3)


@pytest.mark.parametrize(
    "params",
    [{}, {"relative": False}, {"linear_path": False}, {"pooling": "concat"}],
    ids=["default", "raw", "no-linear", "concat"],
)
def test_onnx_export_equals_predict(params):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from rnnlearn.onnx import to_onnx

    X, y = make_windows(np.column_stack([_series(150), _series(150, seed=2) / 4]), 12)
    model = _fit(RNNForecaster(**FAST, **params), X, y)
    session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString())
    (predictions,) = session.run(None, {"X": X.astype(np.float32)})
    np.testing.assert_allclose(predictions, model.predict(X), rtol=1e-5, atol=1e-3)
    # Padded windows of mixed lengths, some shorter than the linear path's 12 steps.
    windows = [X[i, i % 8 :] for i in range(30)]
    padded = np.zeros((30, 12, 2), dtype=np.float32)
    for i, window in enumerate(windows):
        padded[i, : len(window)] = window
    session = onnxruntime.InferenceSession(to_onnx(model, lengths=True).SerializeToString())
    lengths = np.array([len(window) for window in windows], dtype=np.int64)
    (predictions,) = session.run(None, {"X": padded, "lengths": lengths})
    np.testing.assert_allclose(predictions, model.predict(windows), rtol=1e-5, atol=1e-3)


def test_pytorch_export_forecasts_as_predict():
    """The whole forecast (tests/test_interop.py checks every option)."""
    torch = pytest.importorskip("torch")
    from rnnlearn.interop import to_torch

    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    with torch.no_grad():
        forecasts = to_torch(model)(torch.from_numpy(X_test.astype(np.float32))).numpy()
    np.testing.assert_allclose(forecasts, model.predict(X_test), rtol=1e-5)


# ------------------------------------------------------------------ conformal intervals


def _noisy_windows(horizon=1, seed=0):
    """Windows of a trend and season with standard normal noise, 3000 steps (known noise)."""
    t = np.arange(3000.0)
    noise = np.random.RandomState(seed).normal(size=3000)
    series = 0.05 * t + 6 * np.sin(2 * np.pi * t / 12) + noise
    return make_windows(series, 24, horizon=horizon, all_steps=horizon > 1)


@pytest.mark.parametrize("coverage, z", [(0.8, 1.2816), (0.95, 1.96)])
def test_conformal_intervals_cover_fresh_data_at_their_level(coverage, z):
    X, y = _noisy_windows()
    model = _fit(RNNForecaster(**FAST), X[:1500], y[:1500])
    assert model.calibration_residuals_.shape == (300, 1)  # the latest 20 %
    lower, upper = model.predict_interval(X[1600:], coverage=coverage)
    assert lower.shape == upper.shape == y[1600:].shape
    covered = np.mean((lower <= y[1600:]) & (y[1600:] <= upper))
    assert abs(covered - coverage) < 0.03, covered
    # About z times the noise's standard deviation (1) wide: calibrated, not merely wide.
    assert 1.0 < np.mean(upper - lower) / (2 * z) < 1.2
    np.testing.assert_allclose((lower + upper) / 2, model.predict(X[1600:]), atol=1e-9)


def test_conformal_intervals_of_a_direct_model_cover_every_step():
    X, Y = _noisy_windows(horizon=3)
    model = _fit(RNNForecaster(**FAST), X[:1500], Y[:1500])
    # The first 2 held-out windows' targets were targets of the last training windows.
    assert model.calibration_residuals_.shape == model.calibration_scales_.shape == (298, 3)
    lower, upper = model.predict_interval(X[1600:], coverage=0.9)
    assert lower.shape == Y[1600:].shape
    covered = np.mean((lower <= Y[1600:]) & (Y[1600:] <= upper), axis=0)
    assert np.all(np.abs(covered - 0.9) < 0.03), covered


def test_calibration_residuals_are_the_held_out_errors_of_the_earlier_linear_path():
    X_train, y_train, _, _ = _windows()
    model = _fit(RNNForecaster(optimizer=DESTRUCTIVE, **FAST), X_train, y_train)
    assert not model.coefs_[-1]["W"].any()  # epoch 0: the forecast is the linear path
    errors = y_train[160:] - _ridge_path(X_train[:160], y_train[:160], X_train[160:])
    np.testing.assert_allclose(
        model.calibration_residuals_[:, 0], np.sort(np.abs(errors)), rtol=1e-6, atol=1e-6
    )
    # Each error's window scale: the standard deviation of the window's one-step changes.
    scale = lambda W: np.std(np.diff(W[:, :, 0], axis=1), axis=1)  # noqa: E731
    scores = np.abs(errors) / scale(X_train[160:])
    np.testing.assert_allclose(
        np.sort(model.calibration_residuals_ / model.calibration_scales_, axis=0)[:, 0],
        np.sort(scores),
        rtol=1e-5,
    )
    # 40 held out: the half-width is the ceil(41 * 0.9) = 37th smallest score, times the
    # window's scale ...
    lower, upper = model.predict_interval(X_train[:5], coverage=0.9)
    expected = 2 * np.sort(scores)[36] * scale(X_train[:5])
    np.testing.assert_allclose(upper - lower, expected, rtol=1e-5)
    lower, upper = model.predict_interval(X_train[:5], coverage=0.975)
    np.testing.assert_allclose(upper - lower, 2 * scores.max() * scale(X_train[:5]), rtol=1e-5)
    with pytest.raises(ValueError, match="needs at least 41 held-out windows"):
        model.predict_interval(X_train[:5], coverage=0.98)  # ... and above 40 / 41 none is


def test_interval_widths_follow_how_irregularly_each_window_moves():
    """Noise of standard deviation 0.5 and 2 in turns of 150 steps: the intervals of the
    windows of the noisier stretches are wider (with one width for all they were not)."""
    t = np.arange(3000.0)
    noise_std = np.where(t // 150 % 2 == 0, 0.5, 2.0)
    noise = noise_std * np.random.RandomState(0).normal(size=3000)
    X, y = make_windows(0.05 * t + 6 * np.sin(2 * np.pi * t / 12) + noise, 24)
    model = _fit(RNNForecaster(**FAST), X[:1500], y[:1500])
    lower, upper = model.predict_interval(X[1600:], coverage=0.9)
    start = np.arange(1600, len(X))  # each window's first step; its target is 24 later
    inside = start // 150 == (start + 24) // 150
    noisy, calm = inside & (noise_std[start] > 1), inside & (noise_std[start] < 1)
    assert np.mean(upper - lower, where=noisy) > 1.3 * np.mean(upper - lower, where=calm)
    assert 0.85 < np.mean((lower <= y[1600:]) & (y[1600:] <= upper)) < 0.95


@pytest.mark.parametrize("slope", [-3.0, 0.5, 40.0])
def test_a_steady_trend_does_not_widen_the_intervals(slope):
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    lower, upper = model.predict_interval(X_test, coverage=0.8)
    ramp = slope * np.arange(X_test.shape[1])[:, None]
    lower_ramp, upper_ramp = model.predict_interval(X_test + ramp, coverage=0.8)
    np.testing.assert_allclose(upper_ramp - lower_ramp, upper - lower, rtol=1e-6, atol=1e-9)


def test_windows_that_do_not_move_get_the_floored_scale():
    X_train, y_train, _, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    flat = np.full((2, 24, 1), 5.0)  # no change: scale 0, floored
    lower, upper = model.predict_interval(flat, coverage=0.9)
    scores = np.sort(model.calibration_residuals_ / model.calibration_scales_, axis=0)
    floor = 1e-3 * model.calibration_scales_.mean()
    np.testing.assert_allclose(upper - lower, 2 * scores[36, 0] * floor, rtol=1e-6)
    assert np.all(upper > lower)
    # A model saved before the window scales had one width for all windows.
    model.calibration_scales_ = None
    lower, upper = model.predict_interval(flat, coverage=0.9)
    np.testing.assert_allclose(upper - lower, 2 * model.calibration_residuals_[36, 0], rtol=1e-6)


def test_calibration_survives_saving_and_resuming(tmp_path):
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(**FAST), X_train, y_train)
    residuals = model.calibration_residuals_.copy()
    scales = model.calibration_scales_.copy()
    persistence.save(model, tmp_path / "model.npz")
    loaded = persistence.load(tmp_path / "model.npz")
    restored = skops_io.loads(skops_io.dumps(model), trusted=list(persistence.SKOPS_TRUSTED_TYPES))
    for other in (loaded, restored):
        for ends, expected in zip(
            other.predict_interval(X_test, 0.8), model.predict_interval(X_test, 0.8), strict=True
        ):
            np.testing.assert_array_equal(ends, expected)
    model.partial_fit(X_train[:50], y_train[:50])  # the calibration is the first fit's
    _fit(model.set_params(warm_start=True), X_train, y_train)
    np.testing.assert_array_equal(model.calibration_residuals_, residuals)
    np.testing.assert_array_equal(model.calibration_scales_, scales)


@pytest.mark.parametrize(
    "coverage, params, error, match",
    [
        (0.0, {}, ValueError, "coverage"),
        (1.0, {}, ValueError, "coverage"),
        ("0.9", {}, TypeError, "coverage"),
        (0.9, {"early_stopping": False}, ValueError, "held out 0"),
    ],
)
def test_predict_interval_refuses_bad_coverage_and_no_hold_out(coverage, params, error, match):
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(**FAST, **params), X_train, y_train)
    with pytest.raises(error, match=match):
        model.predict_interval(X_test, coverage=coverage)
    with pytest.raises(NotFittedError):
        RNNForecaster().predict_interval(X_test)


# ------------------------------------------------------------------ conformalised quantiles

LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)  # the 80 % and 95 % pairs and the median
PAIRS = {0.8: (1, 3), 0.95: (0, 4)}  # coverage: the indices of its levels in LEVELS


def _heteroscedastic_windows(seed, horizon=1):
    """A trend and season whose noise is 5 times larger in the rising half of each season
    (standard deviation 1.5 against 0.3), 3000 steps."""
    t = np.arange(3000.0)
    noise_std = np.where(np.sin(2 * np.pi * t / 12) > 0, 1.5, 0.3)
    noise = noise_std * np.random.RandomState(seed).normal(size=3000)
    series = 0.05 * t + 6 * np.sin(2 * np.pi * t / 12) + noise
    return make_windows(series, 24, horizon=horizon, all_steps=horizon > 1)


def test_conformalised_quantiles_cover_fresh_data_where_the_fitted_ones_undercover():
    """Means over 4 seeds, fresh data (measured: 80 % 0.795 and 95 % 0.957 against the
    fitted quantiles' 0.696 and 0.858); every interval ordered, the 80 % inside the 95 %."""
    fitted, calibrated = {0.8: [], 0.95: []}, {0.8: [], 0.95: []}
    for seed in range(4):
        X, y = _heteroscedastic_windows(seed)
        model = _fit(RNNForecaster(loss=Pinball(quantiles=LEVELS), **FAST), X[:1500], y[:1500])
        y_test, quantiles = y[1600:], model.predict_quantiles(X[1600:])
        bands = {c: model.predict_interval(X[1600:], coverage=c) for c in (0.8, 0.95)}
        for c, (low, high) in bands.items():
            q_low, q_high = (quantiles[:, k] for k in PAIRS[c])
            fitted[c].append(np.mean((q_low <= y_test) & (y_test <= q_high)))
            calibrated[c].append(np.mean((low <= y_test) & (y_test <= high)))
        (low80, high80), (low95, high95) = bands[0.8], bands[0.95]
        assert np.all(low95 <= low80) and np.all(low80 < high80) and np.all(high80 <= high95)
    for c in (0.8, 0.95):
        assert abs(np.mean(calibrated[c]) - c) < 0.03, calibrated[c]
        assert np.mean(fitted[c]) < c - 0.05, fitted[c]


def _window_scale(X):
    """The standard deviation of each window's one-step changes (none here is floored)."""
    return np.std(np.diff(X[:, :, 0], axis=1), axis=1)


def test_conformalised_quantiles_widen_the_fitted_pair_by_their_scored_misses():
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(loss=Pinball(quantiles=LEVELS), **FAST), X_train, y_train)
    errors = model.calibration_quantile_errors_  # quantiles less targets, (40, 1, 5)
    assert errors.shape == (40, 1, 5) and np.all(np.diff(errors, axis=-1) >= 0)
    # the rows follow calibration_residuals_: the median's absolute errors, sorted
    np.testing.assert_allclose(np.abs(errors[:, 0, 2]), model.calibration_residuals_[:, 0])
    quantiles = model.predict_quantiles(X_test)
    for coverage, rank in ((0.8, 33), (0.95, 39), (0.95 + 1e-12, 39)):  # ceil(41 * coverage)
        low, high = PAIRS[round(coverage, 2)]
        misses = np.maximum(errors[:, 0, low], -errors[:, 0, high])
        q = np.sort(misses / model.calibration_scales_[:, 0])[rank - 1]
        lower, upper = model.predict_interval(X_test, coverage=coverage)
        np.testing.assert_allclose(lower, quantiles[:, low] - q * _window_scale(X_test), rtol=1e-6)
        np.testing.assert_allclose(upper, quantiles[:, high] + q * _window_scale(X_test), rtol=1e-6)
    # Without the pair of levels (0.05 and 0.95 for 90 %): split-conformal around the median.
    lower, upper = model.predict_interval(X_test, coverage=0.9)
    np.testing.assert_allclose((lower + upper) / 2, model.predict(X_test), rtol=1e-6)
    scores = np.sort(model.calibration_residuals_[:, 0] / model.calibration_scales_[:, 0])
    np.testing.assert_allclose(upper - lower, 2 * scores[36] * _window_scale(X_test), rtol=1e-5)
    point = _fit(RNNForecaster(**FAST), X_train, y_train)
    assert point.calibration_quantile_errors_ is None


def test_conformalised_pairs_nest_a_wider_band_holds_each_narrower_one():
    """The pairs are calibrated apart: where the 80 % pair missed far more on the
    calibration windows than the 95 % pair, its band alone would reach past the 95 % one;
    the 95 % band then holds it, and the 80 % band ignores the 95 % pair."""
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(loss=Pinball(quantiles=LEVELS), **FAST), X_train, y_train)
    quantiles, scale = model.predict_quantiles(X_test), _window_scale(X_test)
    errors = np.zeros_like(model.calibration_quantile_errors_)
    errors[..., 1], errors[..., 3] = 5.0, -5.0  # every target 5 outside the 80 % pair
    model.calibration_quantile_errors_ = errors  # and exactly on the 95 % pair's ends
    misses = np.sort(5.0 / model.calibration_scales_[:, 0])
    lower80, upper80 = model.predict_interval(X_test, coverage=0.8)
    np.testing.assert_allclose(lower80, quantiles[:, 1] - misses[32] * scale, rtol=1e-6)
    np.testing.assert_allclose(upper80, quantiles[:, 3] + misses[32] * scale, rtol=1e-6)
    lower95, upper95 = model.predict_interval(X_test, coverage=0.95)
    np.testing.assert_array_equal(lower95, np.minimum(lower80, quantiles[:, 0]))
    np.testing.assert_array_equal(upper95, np.maximum(upper80, quantiles[:, 4]))
    assert np.any(lower80 < quantiles[:, 0])  # the 80 % pair's band did reach past


def test_conformalised_quantiles_narrowed_past_each_other_meet_in_the_middle():
    """Calibration targets deep inside the fitted band give a negative ``Q``; a band
    narrowed by more than its half-width ends as one point, its middle, never crossed."""
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(loss=Pinball(quantiles=LEVELS), **FAST), X_train, y_train)
    low, high = PAIRS[0.8]
    quantiles = model.predict_quantiles(X_test)
    model.calibration_quantile_errors_ = np.zeros_like(model.calibration_quantile_errors_)
    model.calibration_quantile_errors_[..., low] = -1e6  # q_lo far below every target
    model.calibration_quantile_errors_[..., high] = 1e6  # q_hi far above
    lower, upper = model.predict_interval(X_test, coverage=0.8)
    middle = (quantiles[:, low] + quantiles[:, high]) / 2
    np.testing.assert_allclose(lower, middle, rtol=1e-6)
    np.testing.assert_allclose(upper, middle, rtol=1e-6)


def test_conformalised_quantiles_of_a_direct_model_are_per_step():
    X, Y = _heteroscedastic_windows(0, horizon=3)
    model = _fit(RNNForecaster(loss=Pinball(quantiles=LEVELS), **FAST), X[:600], Y[:600])
    assert model.calibration_quantile_errors_.shape == (118, 3, 5)  # 120 held out, 2 left out
    lower, upper = model.predict_interval(X[600:], coverage=0.8)
    quantiles = model.predict_quantiles(X[600:])  # (n, 3, 5)
    assert lower.shape == upper.shape == Y[600:].shape
    assert np.all(lower < upper)
    # each step its own score: the margins differ from step to step
    margins = (quantiles[..., 1] - lower) / _window_scale(X[600:])[:, None]
    np.testing.assert_allclose(margins, margins[:1].repeat(len(margins), axis=0), rtol=1e-5)
    assert len(np.unique(margins[0].round(6))) == 3


def test_conformalised_quantiles_survive_saving_and_old_files_fall_back(tmp_path):
    X_train, y_train, X_test, _ = _windows()
    model = _fit(RNNForecaster(loss=Pinball(quantiles=LEVELS), **FAST), X_train, y_train)
    expected = model.predict_interval(X_test, 0.8)
    persistence.save(model, tmp_path / "model.npz")
    loaded = persistence.load(tmp_path / "model.npz")
    restored = skops_io.loads(skops_io.dumps(model), trusted=list(persistence.SKOPS_TRUSTED_TYPES))
    for other in (loaded, restored):
        np.testing.assert_array_equal(
            other.calibration_quantile_errors_, model.calibration_quantile_errors_
        )
        for ends, wanted in zip(other.predict_interval(X_test, 0.8), expected, strict=True):
            np.testing.assert_array_equal(ends, wanted)
    # A file from before the quantile calibration loads without it: split-conformal intervals.
    with np.load(tmp_path / "model.npz") as arrays:
        kept = {k: v for k, v in arrays.items() if k != "encoding__calibration_quantile_errors_"}
        assert len(kept) == len(arrays.files) - 1
    np.savez(tmp_path / "old.npz", **kept)
    old = persistence.load(tmp_path / "old.npz")
    assert old.calibration_quantile_errors_ is None
    lower, upper = old.predict_interval(X_test, 0.8)
    np.testing.assert_allclose((lower + upper) / 2, model.predict(X_test), rtol=1e-6)
    assert not np.allclose(lower, expected[0])
