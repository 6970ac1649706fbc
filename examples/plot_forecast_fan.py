"""
A forecast fan with calibrated intervals: a year of CO2 ahead
==============================================================

Weekly CO2 concentrations measured at Mauna Loa from 1958 to 2001, averaged to 526
monthly values: a steady rise, a yearly season of a few parts per million and little
noise, the textbook series for a forecast that must follow a trend and a season a whole
year ahead. (Monthly means give the clean 12-month season that 52.18-week years lack,
and a series small enough for the fast settings.) Cut by
:func:`~rnnlearn.preprocessing.make_windows` with ``horizon=12, all_steps=True``, each
window of two years has the 12 months after it as its target, and one direct
:class:`~rnnlearn.RNNForecaster` forecasts the whole year at once. The last 20 % of the
series is held out in time: 94 forecast origins whose 12 months all lie in it.

Around the forecast, :meth:`~rnnlearn.RNNForecaster.predict_interval` gives 80 % and 95 %
split-conformal intervals, calibrated on the errors of the windows that the fit held out
for early stopping. The figure draws them as fans over the last three held-out years, with
the seasonal naive forecast (the window's last 12 months again) for reference. Over all
held-out origins and steps, the bands covered 82.9 % and 94.9 % of the truth and the
forecast's MASE, averaged over the 12 steps, was 0.39, against 1.41 for the seasonal naive
forecast (above 1 because the rise quickened after the training years); the full settings
give the same as the fast ones (early stopping ends the fits before 30 epochs). A second
panel draws the fans of a quantile forecaster,
``loss=Pinball(quantiles=(0.025, 0.1, 0.5, 0.9, 0.975))``: its median is as good (MASE
0.40), but the quantiles it fits to the training windows are too narrow, and their 80 % and
95 % bands covered 46.7 % and 77.5 %. Its ``predict_interval`` calibrates them on the
held-out windows (conformalised quantile regression: each pair of levels widened by what
it missed there), and the calibrated bands drawn covered 80.6 % and 93.2 %. The
"Forecasting many steps ahead" part of the :doc:`user guide </user-guide>` explains both.

The data come from ``../shared/data/forecasting`` beside the repository, or from the
``forecasting`` folder of the folder named by the environment variable ``RNNLEARN_DATA``.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it. ``data_folder`` holds ``forecasting/co2.csv``: ``$RNNLEARN_DATA``, or
# ``../shared/data`` beside the repository.
import csv
import os
import sys
import warnings
from datetime import date
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from rnnlearn import RNNForecaster
from rnnlearn.losses import Pinball
from rnnlearn.preprocessing import make_windows

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
epochs = {"max_iter": 30} if fast else {}  # training epochs at most (the default: 200)
window, horizon = 24, 12  # months read per forecast; months forecast, one season
COVERAGES = (0.8, 0.95)  # the fan's bands
QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)  # the same bands and the median, as quantiles
# sphinx-gallery runs the script from its folder, without __file__
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_folder = Path(os.environ.get("RNNLEARN_DATA", HERE.parents[1] / "shared" / "data"))
# A short demo may stop at max_iter; do not warn about it.
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# The series
# ----------
#
# The file has one row per week (``YYYYMMDD``, parts per million), 59 of them empty. Each
# month is the mean of its measured weeks; the 5 months without any are interpolated
# linearly between their neighbours.
with open(data_folder / "forecasting" / "co2.csv", newline="") as file:
    rows = list(csv.reader(file))[1:]
month_keys, month_of_week = np.unique([row[0][:6] for row in rows], return_inverse=True)
weekly = np.array([float(row[1] or "nan") for row in rows])
measured = ~np.isnan(weekly)
counts = np.bincount(month_of_week, measured)
series = np.bincount(month_of_week, np.where(measured, weekly, 0.0)) / np.maximum(counts, 1)
empty = counts == 0
series[empty] = np.interp(np.flatnonzero(empty), np.flatnonzero(~empty), series[~empty])
months = np.array([date(int(key[:4]), int(key[4:]), 1) for key in month_keys])
print(f"{len(series)} months, {months[0]:%b %Y} to {months[-1]:%b %Y}, {empty.sum()} filled in")

# %%
# Windows, split in time
# ----------------------
#
# Window ``i`` reads months ``i`` to ``i + 23`` and its targets are the 12 months after it.
# The last 20 % of the months are held out: the windows whose 12 targets all lie before
# them train, those whose 12 targets all lie in them test, and the windows between are
# left out. MASE divides each error by ``scale``, the mean absolute error of the seasonal
# naive forecast over the training months.
X, Y = make_windows(series, window, horizon=horizon, all_steps=True)  # Y: (n_windows, 12)
first_target = np.arange(len(Y)) + window  # the month of each window's first target
n_train = len(series) - round(0.2 * len(series))
train = first_target + horizon <= n_train
test = first_target >= n_train
X_train, Y_train, X_test, Y_test = X[train], Y[train], X[test], Y[test]
scale = np.mean(np.abs(series[horizon:n_train] - series[: n_train - horizon]))
print(f"training windows {X_train.shape}, held-out windows {X_test.shape}")

# %%
# The direct forecaster and its conformal intervals
# -------------------------------------------------
#
# One network forecasts the 12 months. ``predict_interval(X, coverage=c)`` returns the
# ``(lower, upper)`` ends of an interval around ``predict`` for each of them, from the
# errors on the latest 20 % of the training windows, which the fit held out. ``covered``
# is the share of held-out targets inside each band, over every origin and step.
forecaster = RNNForecaster(random_state=0, **epochs).fit(X_train, Y_train)
forecast = forecaster.predict(X_test)
bands = {c: forecaster.predict_interval(X_test, coverage=c) for c in COVERAGES}
naive = X_test[:, -horizon:, 0]  # the seasonal naive forecast: the window's last year


def mase(prediction):
    """Mean absolute error over every held-out origin and step, divided by ``scale``."""
    return np.mean(np.abs(Y_test - prediction)) / scale


def share_covered(lower, upper):
    """Share of the held-out targets between ``lower`` and ``upper``."""
    return np.mean((lower <= Y_test) & (Y_test <= upper))


scores = {"seasonal naive": mase(naive), "RNNForecaster": mase(forecast)}
covered = {c: share_covered(*bands[c]) for c in COVERAGES}
print(f"held out for calibration: {len(forecaster.calibration_residuals_)} windows")
for name, value in scores.items():
    print(f"{name:15} MASE {value:.3f}")
for c, share in covered.items():
    print(f"{c:.0%} conformal band covers {share:.3f} of the held-out targets")

# %%
# A quantile forecaster, calibrated
# ---------------------------------
#
# The pinball loss fits the 2.5, 10, 50, 90 and 97.5 % quantiles of each of the 12 months;
# ``predict_quantiles`` returns them as ``(n_windows, 12, 5)``, increasing along the last
# axis, and ``predict`` their median. The network learns them on training windows that
# the linear path already fits well, so they are too narrow for the future. Their levels
# hold the pairs 10/90 % and 2.5/97.5 %, so ``predict_interval(X, coverage=0.8)`` and
# ``0.95`` calibrate those pairs (conformalised quantile regression): it widens each by
# what the fitted quantiles missed on the held-out windows, scaled like the conformal
# intervals above.
quantile_forecaster = RNNForecaster(loss=Pinball(quantiles=QUANTILES), random_state=0, **epochs)
quantiles = quantile_forecaster.fit(X_train, Y_train).predict_quantiles(X_test)
scores["quantile median"] = mase(quantiles[..., 2])
fitted_bands = {0.8: (quantiles[..., 1], quantiles[..., 3])}
fitted_bands[0.95] = (quantiles[..., 0], quantiles[..., 4])
fitted_covered = {c: share_covered(*fitted_bands[c]) for c in COVERAGES}
quantile_bands = {c: quantile_forecaster.predict_interval(X_test, coverage=c) for c in COVERAGES}
quantile_covered = {c: share_covered(*quantile_bands[c]) for c in COVERAGES}
print(f"quantile median MASE {scores['quantile median']:.3f}")
for c in COVERAGES:
    print(f"{c:.0%} fitted quantile band covers {fitted_covered[c]:.3f} of the held-out targets")
    print(f"{c:.0%} calibrated quantile band covers {quantile_covered[c]:.3f}")

# %%
# The fans
# --------
#
# The last three held-out years, each forecast a year ahead from its origin (every 12th
# held-out window): the point forecast or median, the 80 % band (darker) inside the 95 %
# one and the seasonal naive forecast (dotted), over the truth (black). Above, the direct
# forecaster's conformal intervals; below, the quantile forecaster's calibrated quantiles.
origins = np.arange(0, len(X_test), horizon)[-3:]  # the held-out windows whose fans are drawn
figure, axes = plt.subplots(2, 1, figsize=(9, 7), sharex=True, layout="constrained")
fans = {  # title: (middle line and its name, its name in scores, bands, their coverage)
    "conformal": (forecast, "forecast", "RNNForecaster", bands, covered),
    "calibrated quantile": (
        quantiles[..., 2],
        "median",
        "quantile median",
        quantile_bands,
        quantile_covered,
    ),
}
shown = slice(first_target[test][origins[0]] - horizon, len(series))  # a year before the fans
for ax, (name, (middle, middle_name, scored, fan, share)) in zip(axes, fans.items(), strict=True):
    ax.plot(months[shown], series[shown], color="black", linewidth=1.5, label="truth")
    for k, origin in enumerate(origins):
        steps = months[first_target[test][origin] + np.arange(horizon)]
        first = k == 0  # label each kind of artist once
        for c, alpha in zip(COVERAGES, (0.45, 0.2), strict=True):
            lower, upper = fan[c][0][origin], fan[c][1][origin]
            label = f"{c:.0%} band (covers {share[c]:.1%})" if first else None
            ax.fill_between(steps, lower, upper, color="tab:blue", alpha=alpha, label=label)
        label = f"{middle_name} (MASE {scores[scored]:.2f})" if first else None
        ax.plot(steps, middle[origin], color="tab:blue", label=label)
        label = f"seasonal naive (MASE {scores['seasonal naive']:.2f})" if first else None
        ax.plot(steps, naive[origin], color="tab:orange", linestyle=":", label=label)
    ax.set(ylabel="CO2 (ppm)", title=f"{name} fans over the held-out truth, a year ahead")
    ax.legend(loc="upper left", fontsize="small")
axes[1].set(xlabel="month")
figure.savefig(output, dpi=100) if output else plt.show()
