"""Forecasting many steps ahead, with 90 % intervals, on ``../shared/data/forecasting``.

One command::

    python benchmarks/bench_forecasting.py                       # every series, 3 seeds
    python benchmarks/bench_forecasting.py --series elec_equip --seeds 0
    python benchmarks/bench_forecasting.py --quick               # smoke test

Each series of ``bench_real_data.SERIES`` is cut into windows (its window length) whose
targets are the next ``h`` values (``make_windows(..., all_steps=True)``; :data:`HORIZONS`:
one season, 8 for yearly data). The windows whose ``h`` targets all lie in the last 20 %
of the series are the test origins; those whose targets all lie before it train. Scores,
each averaged over the test origins:

- MASE at each step ``1..h`` (mean absolute error over the in-sample mean absolute error
  of the seasonal naive forecast), and its mean over the steps;
- for 90 % intervals, their coverage and the mean scaled interval score (MSIS, the M4
  competition's: width plus ``2 / 0.1`` times any miss, scaled as MASE).

Contenders:

- ``naive``: the seasonal naive forecast, the last season repeated (no interval);
- ``ridge``: ``RidgeCV()`` on the flattened raw windows, one output per step, with
  split-conformal intervals: each step's absolute residuals of a ridge fitted on the first
  80 % of the training windows, on the latest 20 %, give the interval's half-width (their
  ``ceil((n + 1) 0.9) / n`` quantile) around the ridge fitted on all of them;
- ``ets`` and ``arima``: statsmodels' exponential smoothing (as in ``bench_real_data``) and
  an ARIMA(2, 1, 1), seasonal (1, 0, 0) for seasons up to 12, fitted on the training part,
  then forecast ``h`` steps from every test origin with their parameters fixed, with their
  own 90 % intervals; comparisons only, skipped without statsmodels;
- ``torch``: PyTorch's LSTM of ``bench_real_data`` with ``h`` outputs (no interval);
- ``direct``: ``RNNForecaster()`` fitted on the ``h`` targets, intervals from its
  ``predict_interval``;
- ``recursive``: ``RNNForecaster()`` fitted one step ahead and rolled forward
  (univariate series only).

It prints one table: the mean and standard deviation over seeds of mean MASE, MSIS and
coverage, the MASE at the first and last step, and the mean fit time.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import math
import statistics
import time
import warnings
from importlib.util import find_spec

import numpy as np
from bench_real_data import DATA, SERIES, fit_torch, holdout, read_series
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from threadpoolctl import threadpool_limits

from rnnlearn import RNNForecaster
from rnnlearn.preprocessing import SequenceScaler, make_windows

HORIZONS = {"elec_equip": 12, "co2": 52, "macrodata": 4, "sunspots": 8}
"""Steps forecast from each origin: one season, 8 for yearly data."""
CONTENDERS = ["naive", "ridge", "ets", "arima", "torch", "direct", "recursive"]
BASELINES = {"naive", "ridge", "ets", "arima"}
"""Contenders without randomness, fitted once whatever the seeds."""
OPTIONAL = {"torch": "torch", "ets": "statsmodels", "arima": "statsmodels"}
COVERAGE = 0.9


def load(name, horizon):
    """Windows of ``name`` with ``horizon`` targets each, split at the last 20 %."""
    values, target = read_series(name, DATA / "forecasting")
    window, season = SERIES[name]["window"], SERIES[name]["season"]
    X, Y = make_windows(values, window, horizon=horizon, target=target, all_steps=True)
    first = np.arange(len(Y)) + window  # time step of each window's first target
    n_train, series, scale = holdout(values, target, season)
    train, test = first + horizon <= n_train, first >= n_train
    return dict(
        X_train=X[train],
        Y_train=Y[train],
        X_test=X[test],
        Y_test=Y[test],
        origins=first[test] - 1,
        series=series,
        season=season,
        scale=scale,
        target=target,
        n_train=n_train,
    )


def seasonal_naive(data, horizon):
    """The last observed season repeated over the horizon, from every test origin."""
    season, steps = data["season"], np.arange(1, horizon + 1)
    lag = season * np.ceil(steps / season).astype(int)
    return data["series"][data["origins"][:, None] + steps - lag]


def conformal_half_width(residuals, coverage):
    """Split-conformal half-width of each column: the finite-sample corrected quantile."""
    n = len(residuals)
    level = min(1.0, math.ceil((n + 1) * coverage) / n)
    return np.quantile(np.abs(residuals), level, axis=0, method="higher")


def fit_ridge(data):
    """Ridge's forecasts and split-conformal intervals ``(point, lower, upper)``."""
    X, Y = data["X_train"].reshape(len(data["X_train"]), -1), data["Y_train"]
    n_fit = len(X) - round(0.2 * len(X))
    half = conformal_half_width(
        Y[n_fit:] - RidgeCV().fit(X[:n_fit], Y[:n_fit]).predict(X[n_fit:]), COVERAGE
    )
    point = RidgeCV().fit(X, Y).predict(data["X_test"].reshape(len(data["X_test"]), -1))
    return point, point - half, point + half


def fit_statsmodels(name, data, horizon, kind):
    """Forecasts and intervals of ETS or ARIMA from every test origin, parameters fixed."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    series, options, season = data["series"], SERIES[name], data["season"]
    train = series[: data["n_train"]]
    if kind == "ets":
        seasonal = season if options.get("ets_season", season > 1) else None
        model = ExponentialSmoothing(train, trend=options.get("ets_trend", True), seasonal=seasonal)
    else:
        seasonal = (1, 0, 0, season) if 1 < season <= 12 else (0, 0, 0, 0)
        model = SARIMAX(train, order=(2, 1, 1), seasonal_order=seasonal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of the likelihood's optimiser
        applied = model.fit(disp=False).apply(series)
        runs = [
            applied.get_prediction(start=origin + 1, end=origin + horizon, dynamic=True)
            for origin in data["origins"]
        ]
    point = np.array([run.predicted_mean for run in runs])
    bounds = np.array([run.conf_int(alpha=1 - COVERAGE) for run in runs])
    return point, bounds[..., 0], bounds[..., 1]


def fit_rnnlearn(data, kind, horizon, seed):
    """``RNNForecaster()`` direct or rolled forward: ``(point, lower, upper)``."""
    if kind == "direct":
        target = {} if data["target"] is None else {"target_features": [data["target"]] * horizon}
        model = RNNForecaster(random_state=seed, **target).fit(data["X_train"], data["Y_train"])
        lower, upper = model.predict_interval(data["X_test"], coverage=COVERAGE)
        return model.predict(data["X_test"]), lower, upper
    model = RNNForecaster(random_state=seed).fit(data["X_train"], data["Y_train"][:, 0])
    return model.predict_recursive(data["X_test"], horizon), None, None


def run(name, contender, data, horizon, seed):
    """``(point, lower, upper)`` forecasts of one contender for every test origin."""
    if contender == "naive":
        return seasonal_naive(data, horizon), None, None
    if contender == "ridge":
        return fit_ridge(data)
    if contender in ("ets", "arima"):
        return fit_statsmodels(name, data, horizon, contender)
    if contender == "torch":
        scaler = SequenceScaler().fit(data["X_train"])
        X_train, X_test = scaler.transform(data["X_train"]), scaler.transform(data["X_test"])
        return fit_torch("regression", X_train, data["Y_train"], X_test, 100, seed), None, None
    return fit_rnnlearn(data, contender, horizon, seed)


def scores(data, point, lower, upper):
    """MASE per step, and the MSIS and coverage of the intervals (NaN without them)."""
    truth, scale = data["Y_test"], data["scale"]
    mase = np.mean(np.abs(truth - point), axis=0) / scale
    if lower is None:
        return mase, math.nan, math.nan
    alpha = 1 - COVERAGE
    penalty = (2 / alpha) * (np.maximum(lower - truth, 0) + np.maximum(truth - upper, 0))
    msis = float(np.mean(upper - lower + penalty) / scale)
    return mase, msis, float(np.mean((truth >= lower) & (truth <= upper)))


def applicable(contender, data):
    """Whether a contender runs on a series (rolling forward needs a univariate series)."""
    if contender == "recursive" and data["target"] is not None:
        return False
    return contender not in OPTIONAL or find_spec(OPTIONAL[contender]) is not None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", nargs="*", default=list(HORIZONS), choices=list(HORIZONS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--contenders", nargs="*", default=CONTENDERS, choices=CONTENDERS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="the first series, one seed")
    args = parser.parse_args(argv)
    names, seeds = (args.series[:1], args.seeds[:1]) if args.quick else (args.series, args.seeds)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(
        f"{'series':<11}{'contender':<11}{'MASE':>14}{'MSIS':>16}{'coverage':>15}"
        f"{'step 1':>8}{'step h':>8}{'fit s':>8}"
    )
    with threadpool_limits(args.threads):
        for name in names:
            horizon = HORIZONS[name]
            data = load(name, horizon)
            for contender in args.contenders:
                if not applicable(contender, data):
                    continue
                runs = []
                for seed in seeds[:1] if contender in BASELINES else seeds:
                    start = time.perf_counter()
                    forecast = run(name, contender, data, horizon, seed)
                    runs.append((*scores(data, *forecast), time.perf_counter() - start))
                print_row(name, contender, runs)


def _spread(values):
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "–"
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def print_row(name, contender, runs):
    """One line of the table: mean ± std over seeds of each score, mean fit time."""
    mase = [run[0] for run in runs]
    print(
        f"{name:<11}{contender:<11}{_spread([m.mean() for m in mase]):>14}"
        f"{_spread([run[1] for run in runs]):>16}{_spread([run[2] for run in runs]):>15}"
        f"{np.mean([m[0] for m in mase]):>8.3f}{np.mean([m[-1] for m in mase]):>8.3f}"
        f"{np.mean([run[3] for run in runs]):>8.1f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
