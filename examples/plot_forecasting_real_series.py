"""
Forecasting a real series: electrical equipment orders
======================================================

A monthly index of euro-area orders for electrical equipment, 1995 to 2016: a level that
drifts, a strong yearly season and a crash in 2009. Cut into windows of two years by
:func:`~rnnlearn.preprocessing.make_windows`, it becomes a many-to-one problem: read 24
months, forecast the next. The last 20 % of the series is held out in time, and three
one-step forecasts are scored on it with MASE (the mean absolute error divided by that of
the seasonal naive forecast on the training part, so that 1 is as good as "the same month
last year" was in training):

- the seasonal naive forecast, the value 12 months earlier;
- ridge regression on the same windows, flattened (scikit-learn's ``RidgeCV``);
- :class:`~rnnlearn.RNNForecaster` with its defaults, on the raw values.

The forecaster is built for such windows. It expresses each window relative to its last
value, so a level it never saw in training is no harder than one it did; it fits a linear
path (ridge on the window) in closed form and trains a GRU on what that path leaves over;
and it keeps the epoch that forecasts the latest training windows best, where epoch 0 is
the linear path alone, so the network only adds what helps. Its MASE here is about 0.15,
level with ridge's 0.152 and well below the seasonal naive forecast's 0.373; over three
seeds in the benchmark of the "Default settings" section it is 0.147 ± 0.002 (the fast run
caps training at 30 epochs, which changes nothing here, as the fit stops sooner). The
"Regression and forecasting" part of the :doc:`user guide </user-guide>` explains each
piece. The data come
from ``../shared/data/forecasting`` beside the repository, or from the ``forecasting``
folder of the folder named by the environment variable ``RNNLEARN_DATA``.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it. ``data_folder`` holds ``forecasting/elec_equip.csv``: ``$RNNLEARN_DATA``, or
# ``../shared/data`` beside the repository.
import csv
import os
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV

from rnnlearn import RNNForecaster
from rnnlearn.preprocessing import make_windows

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
epochs = {"max_iter": 30} if fast else {}  # training epochs at most (the default: 200)
window, season = 24, 12  # months read per forecast; months per season
# sphinx-gallery runs the script from its folder, without __file__
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_folder = Path(os.environ.get("RNNLEARN_DATA", HERE.parents[1] / "shared" / "data"))
# A short demo may stop at max_iter; do not warn about it.
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# The series
# ----------
#
# 257 months, one value each; the first column is the month.
with open(data_folder / "forecasting" / "elec_equip.csv", newline="") as file:
    rows = list(csv.reader(file))[1:]
months = np.array([datetime.strptime(row[0], "%b-%d-%Y") for row in rows])
series = np.array([float(row[1]) for row in rows])
print(f"{len(series)} months, {months[0]:%b %Y} to {months[-1]:%b %Y}")
print(f"values from {series.min():.1f} to {series.max():.1f}")

# %%
# Windows, split in time
# ----------------------
#
# Each window of 24 months is an input sequence and the month after it its target. The windows
# whose target lies in the last 20 % of the series are held out; the earlier ones train. MASE
# divides by ``scale``, the mean absolute error of the seasonal naive forecast over the training
# months.
X, y = make_windows(series, window)
target_month = np.arange(len(y)) + window  # the index of each window's target
n_train = len(series) - round(0.2 * len(series))
train, test = target_month < n_train, target_month >= n_train
X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
scale = np.mean(np.abs(series[season:n_train] - series[: n_train - season]))
print(f"training windows {X_train.shape}, held-out windows {X_test.shape}")

# %%
# Three forecasts
# ---------------
#
# The seasonal naive forecast needs no fit; ridge reads each window as a flat row of 24 values;
# the forecaster reads the windows as they are, raw values and all. Each forecast of the
# held-out months is scored with MASE.
forecasts = {"seasonal naive": series[target_month[test] - season]}
ridge = RidgeCV().fit(X_train.reshape(len(X_train), -1), y_train)
forecasts["ridge"] = ridge.predict(X_test.reshape(len(X_test), -1))
start = time.perf_counter()
forecaster = RNNForecaster(random_state=0, **epochs).fit(X_train, y_train)
seconds = time.perf_counter() - start
forecasts["RNNForecaster"] = forecaster.predict(X_test)
mase = {name: np.mean(np.abs(y_test - f)) / scale for name, f in forecasts.items()}
for name, value in mase.items():
    print(f"{name:15} MASE {value:.3f}")
print(f"the forecaster's fit took {seconds:.1f} s")

# %%
# The figure
# ----------
#
# Above, the whole series, the held-out part shaded; below, the held-out months: the truth and
# the three one-step forecasts, with their MASE.
figure, (series_ax, ax) = plt.subplots(
    2, 1, figsize=(9, 6.5), height_ratios=[1, 1.6], layout="constrained"
)
series_ax.plot(months, series, color="black", linewidth=1)
series_ax.axvspan(months[n_train], months[-1], color="tab:grey", alpha=0.2)
series_ax.set(ylabel="orders index", title="elec_equip, the held-out 20 % shaded")
held_out = months[target_month[test]]
ax.plot(held_out, y_test, color="black", linewidth=2, label="truth")
styles = {"seasonal naive": ":", "ridge": "--", "RNNForecaster": "-"}
for name, forecast in forecasts.items():
    label = f"{name} (MASE {mase[name]:.3f})"
    ax.plot(held_out, forecast, linestyle=styles[name], label=label)
ax.set(xlabel="month", ylabel="orders index", title="One-step forecasts of the held-out months")
figure.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=4)
figure.savefig(output, dpi=100) if output else plt.show()
