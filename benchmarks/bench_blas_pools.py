"""Time an LSTM epoch under each way of limiting the two OpenBLAS thread pools.

NumPy and SciPy each bundle an OpenBLAS with its own threads. rnnlearn runs every product
of a training step through SciPy's (the kernels call ``scipy.linalg.cython_blas``), so
limiting either pool should change little; if a step mixed the two, their idle threads would
spin on each other's cores and "both at 2 threads" would be far slower than the rest::

    python benchmarks/bench_blas_pools.py
"""

# SPDX-License-Identifier: BSD-3-Clause

import time

import numpy as np
from threadpoolctl import ThreadpoolController

from rnnlearn import RNNClassifier
from rnnlearn.optimizers import SGD


def epoch_seconds(X, y, repeats=3):
    """Best time of ``repeats`` one-epoch ``partial_fit`` calls, after a warm-up epoch."""
    model = RNNClassifier(
        hidden_layer_sizes=64,
        cell="lstm",
        pooling="last",
        optimizer=SGD(0.1),
        batch_size=32,
        max_grad_norm=None,
        random_state=0,
    )
    model.partial_fit(X, y, classes=[0, 1])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.partial_fit(X, y)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1024, 100, 3)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    controller = ThreadpoolController()
    blas = controller.select(user_api="blas")
    cases = [("every BLAS pool as it is", blas, None), ("every BLAS pool at 1 thread", blas, 1)]
    for lib in blas.lib_controllers:
        name = lib.filepath.rsplit("/", 1)[-1]
        cases.append((f"{name} at 1 thread", controller.select(filepath=lib.filepath), 1))
    for name, selection, limit in cases:
        with selection.limit(limits=limit):
            seconds = epoch_seconds(X, y)
        print(f"{name:45s} {seconds:.3f} s per epoch (LSTM, 1024 x 100 x 3, 64 hidden)")


if __name__ == "__main__":
    main()
