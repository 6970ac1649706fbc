"""
Forecasting a sum of sines
==========================

A noisy sum of three sines, one long series, is cut into sliding windows
(:func:`~rnnlearn.preprocessing.make_windows`); the windows are standardised by
:class:`~rnnlearn.preprocessing.SequenceScaler` inside a Pipeline, and an
:class:`~rnnlearn.RNNRegressor` reads each window and predicts the next value
(many-to-one). The last 20 % of the series is held out in time, and the figure plots the
one-step forecasts over it against the truth.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it.
import os
import sys
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from rnnlearn import RNNRegressor
from rnnlearn.preprocessing import SequenceScaler, make_windows

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
n_timesteps = 500 if fast else 3000  # length of the series
window = 20 if fast else 40  # time steps the network reads for each forecast
max_iter = 8 if fast else 30  # training epochs
# A short demo stops at max_iter on purpose; do not warn about it.
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# The series
# ----------
#
# One long series: three sines of angular frequencies 1, 2.5 and 4, sampled every 0.05 time
# units, plus Gaussian noise of standard deviation 0.05. The sines make the next value
# predictable from the recent past; the noise is not, and bounds the R² that any forecaster
# reaches.
rng = np.random.RandomState(0)
t = np.arange(n_timesteps) * 0.05
series = np.sin(t) + 0.5 * np.sin(2.5 * t) + 0.3 * np.sin(4 * t)
series += 0.05 * rng.normal(size=n_timesteps)
print(f"one series of {len(series)} values, from {series.min():.2f} to {series.max():.2f}")

# %%
# Windows
# -------
#
# :func:`~rnnlearn.preprocessing.make_windows` turns the series into a many-to-one problem: each
# window of ``window`` steps is an input sequence and the value after it its target. The split
# is in time, as a forecaster is used: the first 80 % of the windows train, the last 20 % test.
X, y = make_windows(series, window)
split = int(0.8 * len(X))
X_train, y_train, X_test, y_test = X[:split], y[:split], X[split:], y[split:]
print(f"training windows {X_train.shape}, held-out windows {X_test.shape}")

# %%
# Scaling and the network
# -----------------------
#
# :class:`~rnnlearn.preprocessing.SequenceScaler` learns its mean and scale from the training
# windows only, inside the pipeline; a GRU network of 32 units reads each window and predicts
# the next value from its last state (``pooling="last"``: the next value depends on the latest
# ones, where the regressor's default, max pooling, suits whole-series targets). It is scored
# on the held-out windows, which it never saw. :class:`~rnnlearn.RNNForecaster` does all this
# for windows of real series, trends included (see the real-series forecasting example).
regressor = RNNRegressor(
    hidden_layer_sizes=(32,), cell="gru", pooling="last", max_iter=max_iter, random_state=0
)
model = make_pipeline(SequenceScaler(), regressor)
model.fit(X_train, y_train)
forecast = model.predict(X_test)
score = model.score(X_test, y_test)
print(f"held-out R^2 of the one-step forecast: {score:.3f}")

# %%
# The figure
# ----------
#
# The one-step forecasts over the held-out part, against the truth; the title gives the held-out
# R².
test_time = t[window + split :]
figure, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(test_time, y_test, color="black", linewidth=1, label="truth")
ax.plot(test_time, forecast, color="tab:orange", label="one-step forecast")
ax.set(xlabel="time", ylabel="value")
ax.set_title(f"Held-out one-step forecast (R² = {score:.3f})")
ax.legend(loc="upper right")
figure.tight_layout()
figure.savefig(output, dpi=100) if output else plt.show()
