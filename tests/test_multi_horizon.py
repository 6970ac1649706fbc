"""Forecasting many steps ahead: direct (one output per step) and recursive (rolled forward)."""

# SPDX-License-Identifier: BSD-3-Clause

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from rnnlearn import RNNForecaster, persistence
from rnnlearn.losses import Pinball
from rnnlearn.optimizers import Adam
from rnnlearn.preprocessing import make_windows

FAST = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0)
DESTRUCTIVE = Adam(learning_rate=50.0)  # every trained epoch is worse than epoch 0
HORIZON = 6


def _series(n=320, seed=0):
    """A trend with a 12-step season and noise, on a grid of 1/64 (exact in float64)."""
    t = np.arange(n, dtype=float)
    noise = np.random.RandomState(seed).normal(scale=0.5, size=n)
    return np.round((0.4 * t + 6 * np.sin(2 * np.pi * t / 12) + noise) * 64) / 64


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def _direct(series=None, window=24, horizon=HORIZON, **params):
    """A direct forecaster fitted on the first 200 windows, and the windows and targets."""
    series = _series() if series is None else series
    X, y = make_windows(series, window, horizon=horizon, all_steps=True)
    return _fit(RNNForecaster(**{**FAST, **params}), X[:200], y[:200]), X, y


def _bivariate(n=200):
    return np.column_stack([_series(n), _series(n, seed=2) / 4])


# ------------------------------------------------------------------ direct


def test_direct_forecaster_outputs_every_step_relative_to_the_level():
    model, X, y = _direct()
    assert y.shape == (len(X), HORIZON)
    np.testing.assert_array_equal(model.target_features_, [0] * HORIZON)
    assert model.linear_coef_.shape == (24, 1, HORIZON) and model.n_outputs_ == HORIZON
    forecast = model.predict(X[200:])
    assert forecast.shape == (len(X) - 200, HORIZON)
    np.testing.assert_allclose(model.predict(X[200:] + 1e3), forecast + 1e3, atol=1e-8)
    scale = np.mean(np.abs(np.diff(_series()[:224], 12)))  # seasonal naive, in sample
    mase = np.abs(forecast - y[200:]).mean(axis=0) / scale
    assert np.all(mase < 0.6), mase  # the noise alone is about 0.3


def test_direct_epoch_zero_is_one_ridge_per_step():
    model, X, y = _direct(optimizer=DESTRUCTIVE)
    assert not model.coefs_[-1]["W"].any()  # no epoch beat the linear path
    flat = lambda W: (W - W[:, -1:]).reshape(len(W), -1)  # noqa: E731
    ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    for step in (0, HORIZON - 1):
        ridge.fit(flat(X[:200]), y[:200, step] - X[:200, -1, 0])
        expected = X[200:, -1, 0] + ridge.predict(flat(X[200:]))
        np.testing.assert_allclose(model.predict(X[200:])[:, step], expected, rtol=1e-9, atol=1e-6)


def test_direct_multivariate_default_target_features_are_step_major():
    series = _bivariate()
    X, y = make_windows(series, 12, horizon=3, all_steps=True)
    model = _fit(RNNForecaster(**FAST), X, y)
    np.testing.assert_array_equal(model.target_features_, [0, 1, 0, 1, 0, 1])
    assert model.predict(X).shape == (len(X), 6)
    X1, y1 = make_windows(series, 12, horizon=3, target=1, all_steps=True)
    with pytest.raises(ValueError, match="target_features"):
        _fit(RNNForecaster(**FAST), X1, y1)  # 3 columns, 2 features: say which
    model = _fit(RNNForecaster(target_features=[1] * 3, **FAST), X1, y1)
    shift = np.array([0.0, 50.0])  # moves feature 1 only
    np.testing.assert_allclose(model.predict(X1 + shift), model.predict(X1) + 50.0, atol=1e-8)


def test_direct_round_trips_save_load_and_skops(tmp_path):
    skops_io = pytest.importorskip("skops.io")
    model, X, _ = _direct()
    windows = [X[200], X[201, 5:]]
    persistence.save(model, tmp_path / "model.npz")
    loaded = persistence.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict(windows), model.predict(windows))
    restored = skops_io.loads(skops_io.dumps(model), trusted=list(persistence.SKOPS_TRUSTED_TYPES))
    np.testing.assert_array_equal(restored.predict(X[200:]), model.predict(X[200:]))


@pytest.mark.parametrize("multivariate", [False, True])
def test_direct_exports_to_onnx_and_torch_forecast_as_predict(multivariate):
    series = _bivariate(260) if multivariate else _series(260)
    model, X, _ = _direct(series, window=12, horizon=4)
    X_test = X[200:].astype(np.float32)
    expected = model.predict(X_test)
    assert expected.shape == (len(X_test), 8 if multivariate else 4)
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from rnnlearn.onnx import to_onnx

    session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString())
    np.testing.assert_allclose(session.run(None, {"X": X_test})[0], expected, rtol=1e-5, atol=1e-3)
    torch = pytest.importorskip("torch")
    from rnnlearn.interop import to_torch

    with torch.no_grad():
        forecasts = to_torch(model)(torch.from_numpy(X_test)).numpy()
    np.testing.assert_allclose(forecasts, expected, rtol=1e-5, atol=1e-3)


def test_global_model_over_series_of_different_lengths():
    series = [_series(n, seed=k) + 1000 * k for k, n in enumerate((150, 220, 300))]
    X, y = make_windows(series, 24, horizon=HORIZON, all_steps=True)
    model = _fit(RNNForecaster(**FAST), X, y)
    # The chronological hold-out (the latest 20 %) holds the end of every series.
    held_out = X[-round(0.2 * len(X)) :]
    assert {int(window[0, 0] // 1000) for window in held_out} == {0, 1, 2}
    for values in series:
        forecast = model.predict(values[-24 - HORIZON : -HORIZON][np.newaxis])
        assert np.abs(forecast[0] - values[-HORIZON:]).mean() < 3.0


# ------------------------------------------------------------------ known-future covariates


def _promotions(n=300, horizon=7):
    """Daily sales with a weekly season that jump by 5 on promotion days, the plan of which
    (0 or 1 per day) is known ``horizon`` days past the sales; and that plan."""
    rng = np.random.RandomState(0)
    plan = (rng.uniform(size=n + horizon) < 0.15).astype(float)
    expected = 20 + 3 * np.sin(2 * np.pi * np.arange(n + horizon) / 7) + 5 * plan
    return expected[:n] + 0.3 * rng.normal(size=n), plan, expected


@settings(deadline=None, max_examples=25)
@given(horizon=st.integers(1, 6), extra=st.integers(0, 6), n=st.integers(20, 40))
def test_known_future_covariate_led_by_the_horizon_lines_up_with_the_targets(horizon, extra, n):
    window = horizon + extra
    sales, plan = np.arange(n, dtype=float), 1000.0 + np.arange(n + horizon)  # value: its day
    stacked = np.column_stack([sales, plan[horizon : n + horizon]])
    X, Y = make_windows(stacked, window, horizon=horizon, target=0, all_steps=True)
    assert Y.shape == (n - window - horizon + 1, horizon)
    # The last rows of each window hold the plan of exactly the days it forecasts ...
    np.testing.assert_array_equal(X[:, -horizon:, 1] - 1000, Y)
    # ... and none of the sales of those days.
    assert np.all(X[:, :, 0].max(axis=1) < Y.min(axis=1))


def test_known_future_covariate_led_by_the_horizon_forecasts_the_promotions():
    horizon, window = 7, 21
    sales, plan, expected = _promotions(horizon=horizon)
    n, errors = len(sales), {}
    for lead in (None, 0, horizon):  # no plan, the plan as a past covariate, the plan led
        stacked = sales if lead is None else np.column_stack([sales, plan[lead : n + lead]])
        X, Y = make_windows(stacked, window, horizon=horizon, target=0, all_steps=True)
        model = _fit(RNNForecaster(target_features=[0] * horizon, **FAST), X[:200], Y[:200])
        errors[lead] = np.abs(model.predict(X[200:]) - Y[200:]).mean()
    assert errors[horizon] <= errors[None] / 2 and errors[horizon] <= errors[0] / 2
    assert errors[horizon] < 0.4  # 0.31; the noise's own MAE is 0.24, led by h - 1 0.45
    # The last window ends with the sales' end and holds the plan of the next week.
    next_week = model.predict(stacked[-window:][np.newaxis])[0]
    assert np.abs(next_week - expected[n:]).mean() < 0.6


# ------------------------------------------------------------------ recursive


def test_recursive_feeds_each_forecast_back_into_the_window():
    X, y = make_windows(_series(), 24)
    model = _fit(RNNForecaster(**FAST), X[:200], y[:200])
    rolled = model.predict_recursive(X[200:], 3)
    assert rolled.shape == (len(X) - 200, 3)
    np.testing.assert_array_equal(rolled[:, 0], model.predict(X[200:]))
    window = np.concatenate([X[200:, 1:, 0], rolled[:, :1]], axis=1)[..., np.newaxis]
    np.testing.assert_allclose(rolled[:, 1], model.predict(window), rtol=1e-12)
    truth = make_windows(_series(), 24, horizon=3, all_steps=True)[1][200:]
    scale = np.mean(np.abs(np.diff(_series()[:224], 12)))
    assert np.abs(rolled[: len(truth)] - truth).mean() / scale < 0.6


@settings(deadline=None, max_examples=10)
@given(lengths=st.lists(st.integers(6, 12), min_size=1, max_size=5), n_steps=st.integers(1, 4))
def test_recursive_windows_of_any_length_and_several_features(lengths, n_steps):
    series = _bivariate()
    X, y = make_windows(series, 12)
    model = _fit(RNNForecaster(target_features=[1, 0], **FAST), X, y[:, ::-1])
    windows = [series[100 - n : 100] for n in lengths]
    rolled = model.predict_recursive(windows, n_steps)
    assert rolled.shape == (len(lengths), 2 * n_steps)
    np.testing.assert_array_equal(rolled[:, :2], model.predict(windows))
    if n_steps > 1:  # the second step reads the first step's forecasts as its newest values
        newest = np.empty((len(lengths), 2))
        newest[:, [1, 0]] = rolled[:, :2]
        second = [np.vstack([w[1:], row]) for w, row in zip(windows, newest, strict=True)]
        np.testing.assert_allclose(rolled[:, 2:4], model.predict(second), rtol=1e-12)


@pytest.mark.parametrize(
    "case, match",
    [
        ("direct", "every feature of X once"),
        ("one of two features", "every feature of X once"),
        ("n_steps=0", "n_steps"),
        ("unfitted", "not fitted"),
    ],
)
def test_recursive_refuses_what_it_cannot_roll(case, match):
    if case == "direct":
        model, X, _ = _direct()
    elif case == "one of two features":
        X, y = make_windows(_bivariate(), 12, target=1)
        model = _fit(RNNForecaster(target_features=1, **FAST), X, y)
    else:
        X, y = make_windows(_series(), 24)
        model = RNNForecaster(**FAST) if case == "unfitted" else _fit(RNNForecaster(**FAST), X, y)
    before = model.predict(X) if case != "unfitted" else None
    with pytest.raises(Exception, match=match):
        model.predict_recursive(X, 0 if case == "n_steps=0" else 3)
    if before is not None:
        np.testing.assert_array_equal(model.predict(X), before)


# ------------------------------------------------------------------ quantile and Gaussian heads

HEADS = ["quantile", "gaussian_nll"]


@pytest.mark.parametrize("loss", HEADS)
@pytest.mark.parametrize("horizon", [1, HORIZON])
def test_heads_epoch_zero_is_the_level_and_linear_path(loss, horizon):
    """The silent head predicts nothing on the targets' scale for every loss (it used to
    set the raw bias to -mean / scale, which crashed with several targets)."""
    model, X, _ = _direct(horizon=horizon, loss=loss, optimizer=DESTRUCTIVE)
    assert not model.coefs_[-1]["W"].any()  # no epoch beat epoch 0
    point, _, _ = _direct(horizon=horizon, optimizer=DESTRUCTIVE)
    np.testing.assert_allclose(model.predict(X[200:]), point.predict(X[200:]), atol=1e-4)


def test_direct_quantiles_are_ordered_and_shift_with_the_level():
    model, X, y = _direct(loss=Pinball(quantiles=(0.1, 0.5, 0.9)))
    quantiles = model.predict_quantiles(X[200:])
    assert quantiles.shape == (len(X) - 200, HORIZON, 3)
    assert np.all(np.diff(quantiles, axis=-1) > 0)
    np.testing.assert_array_equal(quantiles[..., 1], model.predict(X[200:]))
    shifted = model.predict_quantiles(X[200:] + 1e3)  # every quantile gets the level
    np.testing.assert_allclose(shifted, quantiles + 1e3, atol=1e-6)
    assert np.abs(quantiles[..., 1] - y[200:]).mean() < 2.0


def test_direct_gaussian_std_is_beside_the_mean_and_ignores_the_level():
    model, X, y = _direct(loss="gaussian_nll")
    mean, std = model.predict(X[200:], return_std=True)
    assert mean.shape == std.shape == (len(X) - 200, HORIZON) and np.all(std > 0)
    np.testing.assert_array_equal(mean, model.predict(X[200:]))
    mean_shifted, std_shifted = model.predict(X[200:] + 1e3, return_std=True)
    np.testing.assert_allclose(mean_shifted, mean + 1e3, atol=1e-6)
    np.testing.assert_allclose(std_shifted, std, rtol=1e-6)
    point, _, _ = _direct()
    with pytest.raises(ValueError, match="return_std=True needs a model fitted with"):
        point.predict(X[200:], return_std=True)


@pytest.mark.parametrize("loss", HEADS)
def test_heads_intervals_surround_the_point_forecast(loss):
    model, X, _ = _direct(loss=loss)
    lower, upper = model.predict_interval(X[200:], coverage=0.8)
    np.testing.assert_allclose((lower + upper) / 2, model.predict(X[200:]), atol=1e-6)
    assert np.all(upper > lower)


@pytest.mark.parametrize("loss", HEADS)
def test_heads_recursive_rolls_the_point_forecast(loss):
    X, y = make_windows(_series(), 24)
    model = _fit(RNNForecaster(loss=loss, **FAST), X[:200], y[:200])
    rolled = model.predict_recursive(X[200:], 3)
    np.testing.assert_array_equal(rolled[:, 0], model.predict(X[200:]))
    second = np.concatenate([X[200:, 1:], rolled[:, :1, None]], axis=1)
    np.testing.assert_allclose(rolled[:, 1], model.predict(second), rtol=1e-6)


@pytest.mark.parametrize("loss", HEADS)
def test_heads_of_a_direct_model_save_load_and_export_to_onnx(loss, tmp_path):
    skops_io = pytest.importorskip("skops.io")
    model, X, _ = _direct(_bivariate(260), window=12, horizon=3, loss=loss)
    X_test = X[200:].astype(np.float32)
    values = (
        model.predict(X_test, return_std=True)
        if loss == "gaussian_nll"
        else (model.predict(X_test), model.predict_quantiles(X_test))
    )
    persistence.save(model, tmp_path / "model.npz")
    loaded = persistence.load(tmp_path / "model.npz")
    restored = skops_io.loads(skops_io.dumps(model), trusted=list(persistence.SKOPS_TRUSTED_TYPES))
    for other in (loaded, restored):
        np.testing.assert_array_equal(other.predict(X_test), values[0])
        for ends, expected in zip(
            other.predict_interval(X_test), model.predict_interval(X_test), strict=True
        ):
            np.testing.assert_array_equal(ends, expected)
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from rnnlearn.onnx import to_onnx

    session = onnxruntime.InferenceSession(to_onnx(model).SerializeToString())
    outputs = session.run(None, {"X": X_test})
    assert [o.name for o in session.get_outputs()] == [
        "predictions",
        "std" if loss == "gaussian_nll" else "quantiles",
    ]
    for output, expected in zip(outputs, values, strict=True):
        np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-3)
