"""Seconds per training epoch of the rnnlearn on ``PYTHONPATH``, to compare two versions.

The kernels cut their work into blocks fixed by the batch alone (so that any thread count
gives the same bits); this times what that costs. Run it alternately on the two versions,
for example::

    for round in 1 2; do for v in /work/main .; do
        PYTHONPATH=$v python benchmarks/bench_thread_blocks.py --threads 1 --epochs 3
    done; done

Each case fits one warm-up epoch (``partial_fit``) on random data, then ``--epochs`` timed
ones; it prints one JSON line: case -> [median wall seconds, median CPU seconds
(``time.process_time``, which a busy machine disturbs least at one thread)]. With
``--kernels`` it times the kernels alone instead, on one thread: the input product, the
cell's forward and backward and the input weights' gradient of one float32 batch, in
milliseconds of thread CPU time, the minimum of ``--epochs`` repeats.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import json
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn.cells import GRUCell, LSTMCell
from rnnlearn.cells._compiled import kernels
from rnnlearn.cells._threads import single_threaded_blas

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


def kernel_milliseconds(case, n_repeats):
    """Minimum thread CPU milliseconds of one batch of ``case`` through the kernels."""
    _, n_timesteps, n_features, n_hidden, batch, cell, _ = CASES[case]
    cell = {"gru": GRUCell, "lstm": LSTMCell}[cell]()
    rng = np.random.RandomState(0)
    shapes = cell.param_shapes(n_features, n_hidden).items()
    params = {name: (0.1 * rng.normal(size=shape)).astype(np.float32) for name, shape in shapes}
    grads = {name: np.empty_like(value) for name, value in params.items()}
    X = rng.normal(size=(n_timesteps * batch, n_features)).astype(np.float32)
    state0 = np.zeros((cell.n_states, batch, n_hidden), np.float32)
    dH = np.full((n_timesteps, batch, n_hidden), 1e-3, np.float32)
    best = np.inf
    with single_threaded_blas(), threadpool_limits(limits=1, user_api="openmp"):
        for _ in range(n_repeats + 1):  # the first is a warm-up
            start = time.thread_time()
            XW = kernels.matmul(X, params["W_x"], False, params["b"])
            _, cache = cell.forward(params, XW.reshape(n_timesteps, batch, -1), state0)
            dXW, _ = cell.backward(params, cache, dH, grads)
            kernels.weight_grad(X, dXW.reshape(len(X), -1), grads["W_x"])
            best = min(best, time.thread_time() - start)
    return round(1e3 * best, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="OpenMP and BLAS threads")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per case")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--kernels", action="store_true", help="time the kernels alone")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    timing = kernel_milliseconds if args.kernels else epoch_seconds
    with threadpool_limits(limits=args.threads):
        print(json.dumps({case: timing(case, args.epochs) for case in args.cases}))


if __name__ == "__main__":
    main()
