"""Time one GridSearchCV over an LSTM serially, with joblib's processes and on dask.

The same search (4 candidates x 3 folds) runs in each setting, the settings alternating
within each repeat; the script prints the median seconds, the speed-up over ``n_jobs=1``
and how many threads the kernels split a minibatch into where the fits ran::

    python benchmarks/bench_n_jobs.py               # 3 repeats (about 2 minutes on 2 cores)
    python benchmarks/bench_n_jobs.py --repeats 1 --quick

The dask settings need ``dask[distributed]`` (``pip install -e ".[dask]"``).
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import os
import statistics
import time
import warnings
from contextlib import contextmanager, nullcontext

import joblib
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_limits

from rnnlearn import RNNClassifier, make_frequency_classification
from rnnlearn.cells._compiled import kernels
from rnnlearn.cells._threads import single_threaded_blas

GRID = {"hidden_layer_sizes": [(24,), (32,)], "alpha": [0.0, 1e-4]}
PROBLEM = {"n_samples": 1800, "n_timesteps": 50, "n_features": 4, "max_iter": 10}
QUICK = {"n_samples": 120, "n_timesteps": 20, "n_features": 4, "max_iter": 1}


def kernel_threads(estimator, X, y):
    """A scorer: accuracy, and the threads an LSTM kernel splits a minibatch into here.

    ``plan_threads`` is the kernels' own choice for a first-layer pass over one minibatch
    (at most OpenMP's thread limit, fewer for small work); it is 1 when fits oversubscribe
    nothing and several when each fit may use several cores.
    """
    n_hidden, batch = estimator.hidden_layer_sizes[0], estimator.batch_size
    blocks = kernels.count_blocks(batch, kernels.SEQUENCE_BLOCK)
    work = batch * X.shape[1] * n_hidden * 4 * n_hidden / blocks
    with single_threaded_blas():
        threads = kernels.plan_threads(0, blocks, work)
    return {"accuracy": estimator.score(X, y), "threads": threads}


def search(X, y, max_iter, n_jobs):
    """Fit the grid search; return its seconds and the kernels' thread counts."""
    model = RNNClassifier(  # rnnlearn 0.1's defaults, which the figures were measured with
        hidden_layer_sizes=(32,),
        cell="lstm",
        pooling="last",
        batch_size=32,
        max_grad_norm=None,
        learning_rate_schedule="constant",
        max_iter=max_iter,
        random_state=0,
    )
    grid = GridSearchCV(model, GRID, cv=3, scoring=kernel_threads, refit=False, n_jobs=n_jobs)
    start = time.perf_counter()
    grid.fit(X, y)
    seconds = time.perf_counter() - start
    return seconds, sorted(set(grid.cv_results_["mean_test_threads"].astype(int)))


@contextmanager
def dask_backend(processes, trim_memory=True):
    """joblib's dask backend on a local cluster of two single-threaded workers.

    ``trim_memory=False`` unsets the ``MALLOC_TRIM_THRESHOLD_`` that dask's nanny gives
    each worker process, so the workers allocate memory as a plain Python process does.
    The nanny writes its variables into this process's environment too (so that the
    workers inherit them); they are restored afterwards, so as not to leak into the next
    setting's workers.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    key = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    environ = dict(os.environ)
    try:
        with dask.config.set({} if trim_memory else {key: None}):
            cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None
            )
        with cluster, Client(cluster) as client:
            client.run(warnings.simplefilter, "ignore", ConvergenceWarning)
            with joblib.parallel_backend("dask"):
                yield
    finally:
        os.environ.clear()
        os.environ.update(environ)


def settings(with_dask):
    """``(name, n_jobs, context factory)`` for each setting timed."""
    rows = [
        ("n_jobs=1", 1, nullcontext),
        ("n_jobs=1, 1 OpenMP thread", 1, lambda: threadpool_limits(1, user_api="openmp")),
        ("n_jobs=2 (loky processes)", 2, nullcontext),
    ]
    if with_dask:
        rows += [
            ("dask, 2 worker processes", None, lambda: dask_backend(processes=True)),
            (
                "dask, same, no malloc trim",
                None,
                lambda: dask_backend(processes=True, trim_memory=False),
            ),
            ("dask, 2 worker threads", None, lambda: dask_backend(processes=False)),
        ]
    return rows


def run(problem, repeats, with_dask):
    """Time every setting ``repeats`` times; return ``{name: (seconds, threads)}``."""
    X, y = make_frequency_classification(
        problem["n_samples"],
        n_timesteps=problem["n_timesteps"],
        n_features=problem["n_features"],
        n_classes=3,
        noise=0.5,
        random_state=0,
    )
    times = {}
    threads = {}
    for _ in range(repeats):
        for name, n_jobs, context in settings(with_dask):
            with context():
                search(X[:30], y[:30], 1, n_jobs)  # warm-up: start and import in the workers
                seconds, threads[name] = search(X, y, problem["max_iter"], n_jobs)
            times.setdefault(name, []).append(seconds)
    return {name: (times[name], threads[name]) for name in times}


def report(results, problem, repeats):
    """Print the table of medians, speed-ups and kernel threads."""
    print(
        f"GridSearchCV: {len(GRID['alpha']) * len(GRID['hidden_layer_sizes'])} candidates x "
        f"3 folds, LSTM, {problem['n_samples']} sequences x {problem['n_timesteps']} steps x "
        f"{problem['n_features']} features, {problem['max_iter']} epochs, float32; "
        f"median of {repeats}; {os.cpu_count()} CPUs"
    )
    baseline = statistics.median(results["n_jobs=1"][0])
    print(f"{'setting':28s} {'median s':>9s} {'speed-up':>9s} {'threads':>8s}  all runs (s)")
    for name, (times, threads) in results.items():
        median = statistics.median(times)
        runs = " ".join(f"{t:.2f}" for t in times)
        counts = ",".join(map(str, threads))
        print(f"{name:28s} {median:9.2f} {baseline / median:9.2f} {counts:>8s}  {runs}")


def main(argv=None):
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per setting")
    parser.add_argument("--quick", action="store_true", help="a small problem (smoke test)")
    parser.add_argument("--no-dask", action="store_true", help="skip the dask settings")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    problem = QUICK if args.quick else PROBLEM
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    results = run(problem, args.repeats, with_dask=not args.no_dask)
    report(results, problem, args.repeats)
    print("load average at end:   {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
