"""
Backtesting with sktime: a recurrent forecaster among sktime's
===============================================================

:class:`~rnnlearn.sktime.RNNForecasterSktime` is an sktime forecaster built on the direct
:class:`~rnnlearn.RNNForecaster`, so sktime's own tools take it as they take any of
theirs. Here sktime's ``evaluate`` backtests it over the last five years of a monthly
series, the euro-area orders of electrical equipment (``elec_equip``), with an expanding
window: each year, every contender is fitted on all the months before it and forecasts its
12 months. They are scored with sktime's MASE (the mean absolute error over the 12 steps,
divided by that of the seasonal naive forecast on the fold's training months):

- sktime's ``NaiveForecaster(strategy="last", sp=12)``, the same month a year earlier;
- sktime's ``make_reduction`` of scikit-learn's ``RidgeCV`` on windows of 24 months,
  direct (one ridge regression per step);
- ``RNNForecasterSktime(window_length=24)``: one network for the 12 steps, with its
  conformal 90 % intervals scored by sktime's ``EmpiricalCoverage``.

The figure draws the last fold: the forecast, its 80 % and 95 % intervals
(``predict_interval``) and the seasonal naive forecast over the truth. The full run
(``python examples/sktime_forecasting.py``, seed 0) gave a mean MASE of 0.263 for the
recurrent forecaster, against 0.311 for ridge and 0.392 for the seasonal naive forecast,
and its 90 % intervals covered 98.3 % of the 60 held-out months (the fits took 1.5 s
each). The fast run's two years are a closer call: ridge 0.225, the recurrent
forecaster 0.293 after at most 30 epochs, the seasonal naive forecast 0.375. The "Forecasting with
sktime" section of the :doc:`user guide </user-guide>` explains the mapping of sktime's
forecasting horizon onto the direct model's steps.

This script needs sktime (``pip install rnnlearn[sktime]``), so the documentation build,
which runs the ``plot_*.py`` examples without it, shows it without running it. The data
come from ``../shared/data/forecasting`` beside the repository, or from the
``forecasting`` folder of the folder named by the environment variable ``RNNLEARN_DATA``.
"""

# %%
# Imports and settings
# --------------------
#
# ``--fast`` (or ``RNNLEARN_EXAMPLES_FAST=1``) backtests the last two years only, with at
# most 30 epochs a fit; ``--output FILE`` saves the figure instead of showing it.
import os
import sys
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sktime.forecasting.compose import make_reduction
from sktime.forecasting.model_evaluation import evaluate
from sktime.forecasting.naive import NaiveForecaster
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
from sktime.performance_metrics.forecasting.probabilistic import EmpiricalCoverage
from sktime.split import ExpandingWindowSplitter

from rnnlearn import RNNForecaster
from rnnlearn.sktime import RNNForecasterSktime

fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
epochs = {"max_iter": 30} if fast else {}  # training epochs at most (the default: 200)
n_folds = 2 if fast else 5  # years backtested, the latest
season, window = 12, 24  # months per season (and forecast steps); months read per forecast
fh = np.arange(1, season + 1)  # sktime's relative horizon: the next 12 months
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_folder = Path(os.environ.get("RNNLEARN_DATA", HERE.parents[1] / "shared" / "data"))
warnings.simplefilter("ignore", ConvergenceWarning)  # a short demo may stop at max_iter

# %%
# The series, as sktime takes it
# ------------------------------
#
# A ``pd.Series`` with a monthly ``PeriodIndex``: sktime's absolute horizons, cutoffs and
# plots use it.
table = pd.read_csv(data_folder / "forecasting" / "elec_equip.csv")
dates = pd.to_datetime(table.iloc[:, 0], format="%b-%d-%Y")
y = pd.Series(table.iloc[:, 1].to_numpy(float), index=dates.dt.to_period("M"), name="orders")
print(f"{len(y)} months, {y.index[0]} to {y.index[-1]}")

# %%
# The backtest
# ------------
#
# ``ExpandingWindowSplitter`` starts with every month but the last ``n_folds`` years and
# adds a year at each fold; ``evaluate`` refits each contender on the fold's training
# months and scores its 12-month forecast.
splitter = ExpandingWindowSplitter(
    fh=fh, initial_window=len(y) - n_folds * season, step_length=season
)
contenders = {
    "seasonal naive": NaiveForecaster(strategy="last", sp=season),
    "ridge reduction": make_reduction(RidgeCV(), window_length=window, strategy="direct"),
    "rnnlearn": RNNForecasterSktime(window, RNNForecaster(**epochs), random_state=0),
}
mase, fit_seconds = {}, {}
for name, forecaster in contenders.items():
    scoring = [MeanAbsoluteScaledError(sp=season)]
    if forecaster.get_tag("capability:pred_int"):
        scoring.append(EmpiricalCoverage(coverage=0.9))
    results = evaluate(forecaster, splitter, y, scoring=scoring)
    mase[name] = results["test_MeanAbsoluteScaledError"].mean()
    fit_seconds[name] = results["fit_time"].mean()
    if "test_EmpiricalCoverage" in results:
        print(f"{name}: 90 % intervals covered {results['test_EmpiricalCoverage'].mean():.3f}")
for name in contenders:
    print(f"{name:16} MASE {mase[name]:.3f} over {n_folds} folds ({fit_seconds[name]:.2f} s a fit)")

# %%
# The last fold, with its intervals
# ---------------------------------
#
# The same fit as the backtest's last fold (same months, same seed): the 12 months
# forecast, the 80 % and 95 % conformal intervals, and the seasonal naive forecast.
train = y.iloc[:-season]
model = RNNForecasterSktime(window, RNNForecaster(**epochs), random_state=0).fit(train, fh=fh)
forecast = model.predict()
bands = model.predict_interval(coverage=[0.8, 0.95])["orders"]
naive = contenders["seasonal naive"].clone().fit(train, fh=fh).predict()
shown = y.iloc[-4 * season :]
figure, ax = plt.subplots(figsize=(9, 4), layout="constrained")
ax.plot(shown.index.to_timestamp(), shown.to_numpy(), color="black", label="truth")
steps = forecast.index.to_timestamp()
for coverage, shade in ((0.95, 0.2), (0.8, 0.45)):
    lower, upper = bands[coverage]["lower"], bands[coverage]["upper"]
    label = f"{coverage:.0%} interval"
    ax.fill_between(steps, lower, upper, color="tab:blue", alpha=shade, label=label)
ax.plot(steps, forecast.to_numpy(), color="tab:blue", label="RNNForecasterSktime")
ax.plot(steps, naive.to_numpy(), color="tab:orange", linestyle=":", label="seasonal naive")
ax.set(xlabel="month", ylabel="orders (index)", title="The last year, forecast 12 months ahead")
ax.legend(loc="upper left", fontsize="small")
figure.savefig(output, dpi=100) if output else plt.show()
