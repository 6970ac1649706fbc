"""Seconds per training epoch of the rnnlearn on ``PYTHONPATH``, to compare two versions.

The kernels cut their work into blocks fixed by the batch alone (so that any thread count
gives the same bits); this times what that costs. Run it alternately on the two versions,
for example::

    for round in 1 2; do for v in /work/main .; do
        PYTHONPATH=$v python benchmarks/bench_thread_blocks.py --threads 1 --epochs 3
    done; done

Each case fits one warm-up epoch (``partial_fit``) on random data, then ``--epochs`` timed
ones; it prints one JSON line: case -> [median wall seconds, median CPU seconds
(``time.process_time``, which a busy machine disturbs least at one thread)].
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import json
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlearn import RNNClassifier, RNNRegressor

# case -> (n_samples, n_timesteps, n_features, n_hidden, batch_size, cell, classifier)
CASES = {
    "sine-gru": (1024, 50, 3, 64, 64, "gru", False),
    "sine-lstm": (1024, 50, 3, 64, 64, "lstm", False),
    "classify-gru": (512, 100, 3, 128, 64, "gru", True),
    "classify-lstm": (512, 100, 3, 128, 64, "lstm", True),
    "default-gru": (200, 427, 1, 128, 16, "gru", True),  # OSULeaf's shape, default classifier
}


def epoch_seconds(case, n_epochs):
    """Median ``(wall, cpu)`` seconds of ``n_epochs`` epochs of ``case`` after a warm-up."""
    n, n_timesteps, n_features, n_hidden, batch, cell, classifier = CASES[case]
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, n_timesteps, n_features)).astype(np.float32)
    kwargs = {"hidden_layer_sizes": (n_hidden,), "cell": cell, "batch_size": batch}
    model = (RNNClassifier if classifier else RNNRegressor)(**kwargs, random_state=0)
    y = X[:, :, 0].sum(1)
    y, extra = (y > 0, {"classes": [False, True]}) if classifier else (y, {})
    model.partial_fit(X, y, **extra)
    times = []
    for _ in range(n_epochs):
        time.sleep(0.1)  # let the other version's or process's threads stop spinning
        wall, cpu = time.perf_counter(), time.process_time()
        model.partial_fit(X, y, **extra)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return [round(float(value), 4) for value in np.median(times, axis=0)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="OpenMP and BLAS threads")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per case")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    with threadpool_limits(limits=args.threads):
        print(json.dumps({case: epoch_seconds(case, args.epochs) for case in args.cases}))


if __name__ == "__main__":
    main()
