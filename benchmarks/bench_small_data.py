"""Whole-series regression on small data: subsets of Covid3Month's training series.

One command::

    python benchmarks/bench_small_data.py                  # 8 subsets of 70 series
    python benchmarks/bench_small_data.py --size 35 --subsets 4

Each subset draws ``--size`` of the 140 training series (subset ``k`` with
``RandomState(100 + k)``, and seed ``k`` for the networks), standardised as
``bench_real_data.py`` does, and every contender is scored by RMSE on the whole test set:

- ``mean``: the subset's mean target;
- ``ridge``: ``RidgeCV()`` on the flattened series;
- ``defaults``: ``make_pipeline(SequenceScaler(), RNNRegressor())``, on the raw targets;
- ``last, no dropout``: the same with the regressor's earlier defaults,
  ``pooling="last", dropout=0.0``.

It prints one row per subset and the mean and standard deviation of each contender, with
the number of subsets on which it is worse than the mean.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import statistics
import warnings

import numpy as np
from bench_real_data import DATA, fit_reference, load
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import root_mean_squared_error
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from rnnlearn import RNNRegressor
from rnnlearn.preprocessing import SequenceScaler

NETWORKS = {"defaults": {}, "last, no dropout": {"pooling": "last", "dropout": 0.0}}
"""Network contenders: name -> the settings they change from ``RNNRegressor()``."""


def run_subset(data, size, k):
    """RMSE of every contender on subset ``k`` of ``size`` training series."""
    index = np.random.RandomState(100 + k).choice(len(data["y_train"]), size, replace=False)
    X, y = data["X_train"][index], data["y_train"][index]
    predictions = {
        "mean": np.full(len(data["y_test"]), y.mean()),
        "ridge": fit_reference("regression", X, y, data["X_test"]),
    }
    for name, settings in NETWORKS.items():
        model = make_pipeline(SequenceScaler(), RNNRegressor(random_state=k, **settings))
        predictions[name] = model.fit(X, y).predict(data["X_test"])
    return {name: root_mean_squared_error(data["y_test"], p) for name, p in predictions.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=70, help="training series per subset")
    parser.add_argument("--subsets", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    data = load("Covid3Month", DATA)
    rows = []
    with threadpool_limits(args.threads):
        for k in range(args.subsets):
            rows.append(run_subset(data, args.size, k))
            print(f"subset {k}: " + ", ".join(f"{n} {v:.4f}" for n, v in rows[-1].items()))
    for name in rows[0]:
        values = [row[name] for row in rows]
        worse = sum(row[name] > row["mean"] for row in rows)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(
            f"{name:>18}: {statistics.mean(values):.4f} ± {spread:.4f}, "
            f"worse than the mean on {worse} of {len(rows)}"
        )


if __name__ == "__main__":
    main()
