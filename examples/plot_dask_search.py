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

# %%
# Imports and settings
# --------------------
#
# ``FAST`` holds the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); without it the example runs with the defaults
# of ``run``. ``GRID`` holds the candidates: three cells times two sizes.
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


# %%
# The search on a local cluster
# -----------------------------
#
# The search is an ordinary :class:`~sklearn.model_selection.GridSearchCV` of three folds. Only
# where it runs changes: inside ``joblib.parallel_backend("dask")`` its fits go to the cluster's
# workers, here two processes of one thread each, so two fits run at a time. The scheduler
# reports how many workers took part.
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


# %%
# The figure
# ----------
#
# Each candidate's mean fit time against its cross-validated accuracy, labelled with its cell
# and size.
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


# %%
# Running the example
# -------------------
#
# As a script, ``main`` reads ``--fast`` and ``--output``, runs the example, prints its result
# and draws the figure (shown, or saved to the file). The output below comes from the
# documentation build, which runs the fast settings. A dask cluster starts worker processes, so
# a script that creates one runs it under ``if __name__ == "__main__":``, as this one does.
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
