"""Forecast a noisy sum of sines one step ahead, from a single long series.

The series is cut into sliding windows (``make_windows``), the windows are standardised
by ``SequenceScaler`` inside a Pipeline, and an ``RNNRegressor`` reads each window and
predicts the next value (many-to-one). The last 20 % of the series is held out in time.

Run ``python examples/sine_forecast.py`` (``--help`` for smaller settings).
"""

import argparse
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from rnnlearn import RNNRegressor
from rnnlearn.preprocessing import SequenceScaler, make_windows


def run(n_timesteps=3000, window=40, max_iter=30, cell="gru"):
    """Fit on the first 80 % of a series; return the R² on the last 20 %."""
    rng = np.random.RandomState(0)
    t = np.arange(n_timesteps) * 0.05
    series = np.sin(t) + 0.5 * np.sin(2.5 * t) + 0.3 * np.sin(4 * t)
    series += 0.05 * rng.normal(size=n_timesteps)
    X, y = make_windows(series, window)
    split = int(0.8 * len(X))
    model = make_pipeline(
        SequenceScaler(),
        RNNRegressor(hidden_layer_sizes=(32,), cell=cell, max_iter=max_iter, random_state=0),
    )
    model.fit(X[:split], y[:split])
    return model.score(X[split:], y[split:])


def main():
    # A short demo stops at max_iter on purpose; do not warn about it.
    warnings.simplefilter("ignore", ConvergenceWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-timesteps", type=int, default=3000)
    parser.add_argument("--max-iter", type=int, default=30)
    args = parser.parse_args()
    score = run(args.n_timesteps, max_iter=args.max_iter)
    print(f"held-out R^2 of the one-step forecast: {score:.3f}")


if __name__ == "__main__":
    main()
