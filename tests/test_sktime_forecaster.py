"""rnnlearn.sktime.RNNForecasterSktime: sktime's checks, fh's steps, intervals, evaluate."""

import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sktime = pytest.importorskip("sktime")

import pandas as pd  # noqa: E402  (sktime brings pandas; the default install has none)
from sktime.forecasting.base import ForecastingHorizon  # noqa: E402
from sktime.forecasting.model_evaluation import evaluate  # noqa: E402
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError  # noqa: E402
from sktime.performance_metrics.forecasting.probabilistic import (  # noqa: E402
    EmpiricalCoverage,
)
from sktime.split import ExpandingWindowSplitter  # noqa: E402
from sktime.utils.estimator_checks import check_estimator  # noqa: E402

from rnnlearn import RNNForecaster  # noqa: E402
from rnnlearn.losses import Pinball  # noqa: E402
from rnnlearn.preprocessing import make_windows  # noqa: E402
from rnnlearn.sktime import RNNForecasterSktime  # noqa: E402

pytestmark = [
    pytest.mark.usefixtures("single_blas_thread"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # sktime's remember_data notice
]

SMALL = {"hidden_layer_sizes": 8, "max_iter": 5}
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sktime_forecasting.py"


def _series(n=200, index=None, seed=0):
    """A monthly trend and season with noise of standard deviation 1."""
    t = np.arange(n)
    values = 50 + 0.2 * t + 5 * np.sin(2 * np.pi * t / 12)
    values = values + np.random.RandomState(seed).normal(size=n)
    return pd.Series(values, index=index if index is not None else pd.RangeIndex(n), name="y")


def _forecaster(fh, y=None, window_length=24, **settings):
    model = RNNForecasterSktime(window_length, RNNForecaster(**{**SMALL, **settings}), 0)
    return model.fit(_series() if y is None else y, fh=fh)


def test_sktime_estimator_checks_pass():
    """Every check of ``check_estimator`` passes, with the two ``get_test_params`` sets."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(RNNForecasterSktime, raise_exceptions=False, verbose=False)
    failed = {name: result for name, result in results.items() if result != "PASSED"}
    assert not failed, failed
    assert len(results) > 500  # the forecaster checks ran, not only the generic ones


def test_each_step_of_fh_is_that_step_of_the_full_horizon():
    """A non-contiguous ``fh`` trains on steps 1 to its furthest and returns its own."""
    sparse = _forecaster([1, 3, 12]).predict()
    full = _forecaster(np.arange(1, 13)).predict()
    assert np.array_equal(sparse.to_numpy(), full.to_numpy()[[0, 2, 11]])
    assert list(sparse.index) == [200, 202, 211]
    assert np.array_equal(
        _forecaster([3]).predict().to_numpy(), _forecaster([1, 2, 3]).predict().to_numpy()[2:]
    )


def test_forecasts_are_the_direct_model_on_the_window_ending_at_the_cutoff():
    y = _series()
    windows, targets = make_windows(y.to_numpy(), 24, horizon=12, all_steps=True)
    direct = RNNForecaster(**SMALL, random_state=0).fit(windows, targets)
    expected = direct.predict(y.to_numpy()[-24:].reshape(1, 24, 1))[0, [0, 2, 11]]
    model = _forecaster([1, 3, 12], y)
    assert np.array_equal(model.predict().to_numpy(), expected)
    assert model.horizon_ == 12 and model.forecaster_.n_outputs_ == 12


@pytest.mark.parametrize(
    "index",
    [
        pd.period_range("2000-01", periods=200, freq="M"),
        pd.date_range("2000-01-01", periods=200, freq="MS"),
    ],
    ids=["period", "datetime"],
)
def test_absolute_fh_maps_onto_the_relative_steps(index):
    y = _series(index=index)
    last = index[-1:]
    absolute = last.shift(1).append([last.shift(3), last.shift(12)])  # steps 1, 3 and 12
    model = _forecaster(ForecastingHorizon(absolute, is_relative=False), y)
    forecast = model.predict()
    assert list(forecast.index) == list(absolute)
    assert np.array_equal(forecast.to_numpy(), _forecaster([1, 3, 12], y).predict().to_numpy())
    assert np.all(np.isfinite(model.predict_interval(coverage=0.9).to_numpy()))


@pytest.mark.parametrize(
    "fh, error, match",
    [
        ([0, 1], NotImplementedError, "in-sample"),
        ([-2, 3], NotImplementedError, "in-sample"),
        ([1, 200], ValueError, "need at least 224"),
    ],
)
def test_bad_fh_raises_a_clear_error(fh, error, match):
    with pytest.raises(error, match=match):
        _forecaster(fh)


def test_bad_parameters_raise_before_training():
    with pytest.raises(ValueError, match="window_length must be an int >= 1"):
        RNNForecasterSktime(0).fit(_series(), fh=[1])
    with pytest.raises(TypeError, match="must be an rnnlearn.RNNForecaster"):
        RNNForecasterSktime(24, estimator="gru").fit(_series(), fh=[1])


def test_a_different_fh_in_predict_is_refused():
    with pytest.raises(ValueError, match="different forecasting horizon"):
        _forecaster([1, 2]).predict(fh=[1, 2, 3])


@pytest.mark.parametrize("loss", ["squared_error", Pinball(quantiles=(0.05, 0.1, 0.5, 0.9, 0.95))])
def test_intervals_nest_and_hold_the_point_forecast(loss):
    y = _series(400)
    model = _forecaster([1, 2, 6], y, loss=loss)
    point = model.predict().to_numpy()
    coverages = [0.5, 0.8, 0.9]
    bands = model.predict_interval(coverage=coverages)["y"]
    lower = np.column_stack([bands[c]["lower"] for c in coverages])
    upper = np.column_stack([bands[c]["upper"] for c in coverages])
    assert np.all(lower <= point[:, None]) and np.all(point[:, None] <= upper)
    assert np.all(np.diff(lower, axis=1) <= 0) and np.all(np.diff(upper, axis=1) >= 0)
    assert np.all(upper[:, 0] > lower[:, 0])  # noise of size 1: not a point


def test_the_point_models_intervals_are_the_estimators_own():
    y = _series(400)
    model = _forecaster([1, 2, 6], y)
    lower, upper = model.forecaster_.predict_interval(y.to_numpy()[-24:].reshape(1, 24, 1), 0.8)
    bands = model.predict_interval(coverage=0.8)["y"][0.8]
    assert np.array_equal(bands["lower"].to_numpy(), lower[0, [0, 1, 5]])
    assert np.array_equal(bands["upper"].to_numpy(), upper[0, [0, 1, 5]])


def test_quantiles_are_monotone_and_the_interval_ends():
    model = _forecaster([1, 2, 6], _series(400), loss=Pinball(quantiles=(0.1, 0.5, 0.9)))
    alpha = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]
    quantiles = model.predict_quantiles(alpha=alpha)["y"]
    assert np.all(np.diff(quantiles.to_numpy(), axis=1) >= 0)
    assert np.array_equal(quantiles[0.5].to_numpy(), model.predict().to_numpy())
    bands = model.predict_interval(coverage=[0.5, 0.8, 0.9])["y"]
    assert np.array_equal(quantiles[0.1].to_numpy(), bands[0.8]["lower"].to_numpy())
    assert np.array_equal(quantiles[0.95].to_numpy(), bands[0.9]["upper"].to_numpy())


def test_too_few_calibration_windows_give_an_infinite_interval_and_a_warning():
    model = _forecaster([1, 2], _series(60))  # 35 windows: none held out
    assert model.forecaster_.calibration_residuals_ is None
    with pytest.warns(UserWarning, match="calibrated on 0: the interval is infinite"):
        bands = model.predict_interval(coverage=0.9).to_numpy()
    assert np.all(bands[:, 0] == -np.inf) and np.all(bands[:, 1] == np.inf)


def test_update_moves_the_window_and_refits_on_request():
    y = _series(230)
    model = _forecaster([1, 3], y[:200])
    fitted = model.forecaster_
    model.update(y[200:215], update_params=False)
    assert model.forecaster_ is fitted and model.cutoff[0] == 214
    window = y.to_numpy()[191:215].reshape(1, 24, 1)
    assert np.array_equal(model.predict().to_numpy(), fitted.predict(window)[0, [0, 2]])
    model.update(y[215:], update_params=True)
    assert np.array_equal(model.predict().to_numpy(), _forecaster([1, 3], y).predict().to_numpy())


@pytest.mark.parametrize("strategy", ["refit", "update", "no-update_params"])
def test_evaluate_backtests_with_an_expanding_window(strategy):
    y = _series(240, index=pd.period_range("2000-01", periods=240, freq="M"))
    splitter = ExpandingWindowSplitter(fh=[1, 3, 6], initial_window=180, step_length=24)
    results = evaluate(
        RNNForecasterSktime(24, RNNForecaster(**SMALL), random_state=0),
        splitter,
        y,
        strategy=strategy,
        scoring=[MeanAbsoluteScaledError(sp=12), EmpiricalCoverage(coverage=0.9)],
    )
    assert len(results) == 3
    mase = results["test_MeanAbsoluteScaledError"].to_numpy()
    assert np.all(np.isfinite(mase)) and np.all(mase < 2)
    coverage = results["test_EmpiricalCoverage"].to_numpy()
    assert np.all((coverage >= 0) & (coverage <= 1))


def test_a_multivariate_series_is_forecast_column_by_column():
    y = pd.DataFrame({"a": _series(150).to_numpy(), "b": _series(150, seed=1).to_numpy()})
    model = RNNForecasterSktime(12, RNNForecaster(**SMALL), random_state=0).fit(y, fh=[1, 2])
    forecast = model.predict()
    assert list(forecast.columns) == ["a", "b"] and forecast.shape == (2, 2)
    alone = RNNForecasterSktime(12, RNNForecaster(**SMALL), random_state=0).fit(y["b"], fh=[1, 2])
    assert np.array_equal(forecast["b"].to_numpy(), alone.predict().to_numpy())


def test_the_example_runs_fast(tmp_path, monkeypatch):
    """``examples/sktime_forecasting.py --fast`` backtests, beats the naive forecast, draws."""
    pytest.importorskip("matplotlib").use("Agg")
    output = tmp_path / "sktime.png"
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--fast", "--output", str(output)])
    namespace = runpy.run_path(str(EXAMPLE), run_name="__main__")
    assert output.stat().st_size > 0
    mase = namespace["mase"]
    assert np.isfinite(list(mase.values())).all()
    assert mase["rnnlearn"] < mase["seasonal naive"]


def test_evaluate_by_update_refits_as_evaluate_by_refit():
    """``update(update_params=True)`` refits on every value seen, with the same seed."""
    y = _series(240, index=pd.period_range("2000-01", periods=240, freq="M"))
    splitter = ExpandingWindowSplitter(fh=[1, 2], initial_window=200, step_length=12)
    model = RNNForecasterSktime(24, RNNForecaster(**SMALL), random_state=0)
    scores = {
        strategy: evaluate(model, splitter, y, strategy=strategy)[
            "test_MeanAbsolutePercentageError"
        ].to_numpy()
        for strategy in ("refit", "update", "no-update_params")
    }
    assert np.array_equal(scores["refit"], scores["update"])
    assert scores["refit"][0] == scores["no-update_params"][0]
    assert not np.array_equal(scores["refit"], scores["no-update_params"])  # kept its weights


def _promotions(n=300, horizon=7, seed=0):
    """Daily sales with a weekly season and planned promotions (known ``horizon`` days
    past the sales): ``(sales, promotions)``, the promotions ``horizon`` rows longer."""
    rng = np.random.RandomState(seed)
    promo = (rng.uniform(size=n + horizon) < 0.15).astype(float)
    t = np.arange(n)
    sales = 20 + 0.02 * t + 3 * np.sin(2 * np.pi * t / 7) + 5 * promo[:n]
    index = pd.date_range("2020-01-01", periods=n + horizon, freq="D")
    sales = pd.Series(sales + 0.3 * rng.normal(size=n), index=index[:n], name="sales")
    return sales, pd.DataFrame({"promo": promo}, index=index)


def test_known_future_covariates_are_led_by_the_horizon():
    """The window ending at the cutoff holds the covariates of steps 1 to h: the model is
    the user guide's recipe, ``RNNForecaster`` on the series beside the led covariate."""
    h, window, n = 7, 21, 300
    sales, promo = _promotions(n, h)
    model = RNNForecasterSktime(window, RNNForecaster(**SMALL), random_state=0)
    forecast = model.fit(sales, promo.iloc[:n], fh=[1, 4, 7]).predict(X=promo.iloc[n:])
    stacked = np.column_stack([sales.to_numpy(), promo["promo"].to_numpy()[h : n + h]])
    X, Y = make_windows(stacked, window, horizon=h, target=0, all_steps=True)
    recipe = RNNForecaster(**SMALL, target_features=[0] * h, random_state=0).fit(X, Y)
    expected = recipe.predict(stacked[None, -window:])[0, [0, 3, 6]]
    assert np.array_equal(forecast.to_numpy(), expected)


def test_known_future_covariates_improve_the_forecast():
    h, n = 7, 300
    sales, promo = _promotions(n, h)
    splitter = ExpandingWindowSplitter(fh=np.arange(1, h + 1), initial_window=200, step_length=h)
    errors = {}
    for name, X in {"without": None, "with": promo.iloc[:n]}.items():
        model = RNNForecasterSktime(21, RNNForecaster(8, max_iter=5), random_state=0)
        results = evaluate(model, splitter, sales, X=X, scoring=MeanAbsoluteScaledError(sp=7))
        errors[name] = results["test_MeanAbsoluteScaledError"].mean()
    assert errors["with"] < errors["without"] / 2, errors


def test_a_model_fitted_with_covariates_needs_them_at_every_step():
    sales, promo = _promotions()
    model = RNNForecasterSktime(21, RNNForecaster(**SMALL), random_state=0)
    model.fit(sales, promo.iloc[:300], fh=[1, 7])
    with pytest.raises(ValueError, match="needs X at every step from 1 to 7"):
        model.predict()
    with pytest.raises(ValueError, match="needs X at every step from 1 to 7"):
        model.predict(X=promo.iloc[[300, 306]])  # the steps of fh only
    with pytest.raises(ValueError, match="update needs X"):
        model.update(pd.Series([20.0], index=promo.index[300:301], name="sales"))
