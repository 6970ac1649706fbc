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
# ``FAST`` holds the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); without it the example runs with the defaults
# of ``run``.
import argparse
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from rnnlearn import RNNRegressor
from rnnlearn.preprocessing import SequenceScaler, make_windows

#: Small settings for continuous integration (``--fast`` or ``RNNLEARN_EXAMPLES_FAST=1``).
FAST = {"n_timesteps": 500, "window": 20, "max_iter": 8}


# %%
# The series
# ----------
#
# One long series: three sines of angular frequencies 1, 2.5 and 4, sampled every 0.05 time
# units, plus Gaussian noise of standard deviation 0.05. The sines make the next value
# predictable from the recent past; the noise is not, and bounds the R² that any forecaster
# reaches.
def make_series(n_timesteps, random_state=0):
    """Return the time axis and a noisy sum of three sines on it."""
    rng = np.random.RandomState(random_state)
    t = np.arange(n_timesteps) * 0.05
    series = np.sin(t) + 0.5 * np.sin(2.5 * t) + 0.3 * np.sin(4 * t)
    return t, series + 0.05 * rng.normal(size=n_timesteps)


# %%
# Windows, scaling and the network
# --------------------------------
#
# :func:`~rnnlearn.preprocessing.make_windows` turns the series into a many-to-one problem: each
# window of ``window`` steps is an input sequence and the value after it its target. The split
# is in time, as a forecaster is used: the pipeline is fitted on the first 80 % of the windows
# and scored on the last 20 %, which it never saw.
# :class:`~rnnlearn.preprocessing.SequenceScaler` learns its mean and scale from the training
# windows only, inside the pipeline.
def run(n_timesteps=3000, window=40, max_iter=30, cell="gru"):
    """Fit on the first 80 % of the windows and forecast the rest.

    Parameters
    ----------
    n_timesteps : int, default=3000
        Length of the series.
    window : int, default=40
        Time steps the network reads for each forecast.
    max_iter : int, default=30
        Training epochs.
    cell : {'vanilla', 'gru', 'lstm'}, default='gru'
        The recurrent cell.

    Returns
    -------
    dict
        ``time`` and ``truth`` of the held-out targets, the one-step ``forecast`` of
        each, and ``score``, the held-out R².
    """
    t, series = make_series(n_timesteps)
    X, y = make_windows(series, window)
    split = int(0.8 * len(X))
    model = make_pipeline(
        SequenceScaler(),
        RNNRegressor(hidden_layer_sizes=(32,), cell=cell, max_iter=max_iter, random_state=0),
    )
    model.fit(X[:split], y[:split])
    return {
        "time": t[window + split :],
        "truth": y[split:],
        "forecast": model.predict(X[split:]),
        "score": model.score(X[split:], y[split:]),
    }


# %%
# The figure
# ----------
#
# The one-step forecasts over the held-out part, against the truth; the title gives the held-out
# R².
def plot(result):
    """Plot the held-out forecasts against the truth; return the figure."""
    figure, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(result["time"], result["truth"], color="black", linewidth=1, label="truth")
    ax.plot(result["time"], result["forecast"], color="tab:orange", label="one-step forecast")
    ax.set(xlabel="time", ylabel="value")
    ax.set_title(f"Held-out one-step forecast (R² = {result['score']:.3f})")
    ax.legend(loc="upper right")
    figure.tight_layout()
    return figure


# %%
# Running the example
# -------------------
#
# As a script, ``main`` reads ``--fast`` and ``--output``, runs the example, prints its result
# and draws the figure (shown, or saved to the file). The output below comes from the
# documentation build, which runs the fast settings.
def main(argv=None):
    """Run the example from the command line; return its result and its figure."""
    parser = argparse.ArgumentParser(description="Forecasting a sum of sines.")
    parser.add_argument("--fast", action="store_true", help="the small settings of the tests")
    parser.add_argument("--output", help="save the figure to this file instead of showing it")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
    # A short demo stops at max_iter on purpose; do not warn about it.
    warnings.simplefilter("ignore", ConvergenceWarning)
    result = run(**(FAST if fast else {}))
    print(f"held-out R^2 of the one-step forecast: {result['score']:.3f}")
    figure = plot(result)
    if args.output:
        figure.savefig(args.output, dpi=100)
    else:
        plt.show()
    return result, figure


if __name__ == "__main__":
    main()
