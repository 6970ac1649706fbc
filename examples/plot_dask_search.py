"""
Hyperparameter search on a dask cluster
=======================================

scikit-learn's searches hand their fits to joblib, and joblib's ``"dask"`` backend sends
them to a `dask.distributed <https://distributed.dask.org>`_ cluster, so the same
:class:`~sklearn.model_selection.GridSearchCV` runs on one laptop or on many machines. Here
the cluster is a local one of two single-threaded worker processes; point the
``dask.distributed.Client`` at a scheduler's address to use a real cluster. Each worker's
nanny starts it with ``OMP_NUM_THREADS=1``, so the kernels of a fit run on one thread and
two fits at a time fill the two cores without oversubscribing them (workers that are
threads of this process, ``processes=False``, would each run the kernels on every core).
The example needs ``dask[distributed]`` (``pip install -e ".[dask]"``). The figure shows
each candidate's mean fit time and cross-validated accuracy.
"""

import argparse
import os
import warnings

import joblib
import matplotlib.pyplot as plt
from dask.distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from rnnlearn import CollapseWarning, RNNClassifier, make_frequency_classification

#: Small settings for continuous integration (``--fast`` or ``RNNLEARN_EXAMPLES_FAST=1``).
FAST = {"n_samples": 60, "max_iter": 2}
GRID = {"cell": ["vanilla", "gru", "lstm"], "hidden_layer_sizes": [(8,), (32,)]}


def run(n_samples=600, max_iter=15, n_workers=2):
    """Grid-search a classifier with joblib's dask backend on a local cluster.

    Parameters
    ----------
    n_samples : int, default=600
        Number of sequences.
    max_iter : int, default=15
        Training epochs of every candidate.
    n_workers : int, default=2
        Worker processes of the local cluster, one thread each.

    Returns
    -------
    search : GridSearchCV
        The fitted search over :data:`GRID`.
    workers : int
        Number of workers the cluster ran.
    """
    X, y = make_frequency_classification(
        n_samples, n_timesteps=40, n_features=2, n_classes=3, noise=0.5, random_state=0
    )
    search = GridSearchCV(
        RNNClassifier(max_iter=max_iter, random_state=0), GRID, cv=3, n_jobs=n_workers
    )
    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client, joblib.parallel_backend("dask"):
        search.fit(X, y)
        workers = len(client.scheduler_info()["workers"])
    return search, workers


def plot(search):
    """Plot each candidate's mean fit time against its accuracy; return the figure."""
    results = search.cv_results_
    figure, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(results["mean_fit_time"], results["mean_test_score"])
    for seconds, score, params in zip(
        results["mean_fit_time"], results["mean_test_score"], results["params"], strict=True
    ):
        label = f"{params['cell']} {params['hidden_layer_sizes'][0]}"
        ax.annotate(label, (seconds, score), textcoords="offset points", xytext=(5, 3))
    ax.set(xlabel="mean fit time (s)", ylabel="mean cross-validated accuracy")
    ax.set_title("GridSearchCV on a local dask cluster (cell, hidden units)")
    figure.tight_layout()
    return figure


def main(argv=None):
    """Run the example from the command line; return the search and its figure."""
    parser = argparse.ArgumentParser(description="Hyperparameter search on a dask cluster.")
    parser.add_argument("--fast", action="store_true", help="the small settings of the tests")
    parser.add_argument("--output", help="save the figure to this file instead of showing it")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
    # A short demo stops at max_iter on purpose; do not warn about it, nor about the
    # candidates that learn nothing in so few epochs (CollapseWarning): the search scores
    # them low, which is what it is for.
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", CollapseWarning)
    search, workers = run(**(FAST if fast else {}))
    print(f"{len(search.cv_results_['params'])} candidates on {workers} dask workers")
    print(f"best parameters: {search.best_params_}, accuracy {search.best_score_:.3f}")
    figure = plot(search)
    if args.output:
        figure.savefig(args.output, dpi=100)
    else:
        plt.show()
    return (search, workers), figure


if __name__ == "__main__":
    main()
