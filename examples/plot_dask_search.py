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
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it. ``GRID`` holds the candidates: three cells times two sizes.
import os
import sys
import warnings

import joblib
import matplotlib.pyplot as plt
from dask.distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from rnnlearn import CollapseWarning, RNNClassifier, make_frequency_classification

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
n_samples = 60 if fast else 600  # number of sequences
max_iter = 2 if fast else 15  # training epochs of every candidate
n_workers = 2  # worker processes of the local cluster, one thread each
GRID = {"cell": ["vanilla", "gru", "lstm"], "hidden_layer_sizes": [(8,), (32,)]}
# A short demo stops at max_iter on purpose; do not warn about it, nor about the candidates
# that learn nothing in so few epochs (CollapseWarning): the search scores them low, which is
# what it is for.
warnings.simplefilter("ignore", ConvergenceWarning)
warnings.simplefilter("ignore", CollapseWarning)

# %%
# The data and the search
# -----------------------
#
# Three classes of two-channel sequences told apart by their frequency, and an ordinary
# :class:`~sklearn.model_selection.GridSearchCV` of three folds over ``GRID``. Nothing here
# knows about dask.
X, y = make_frequency_classification(
    n_samples, n_timesteps=40, n_features=2, n_classes=3, noise=0.5, random_state=0
)
search = GridSearchCV(
    RNNClassifier(max_iter=max_iter, random_state=0), GRID, cv=3, n_jobs=n_workers
)

# %%
# The search on a local cluster
# -----------------------------
#
# Only where the search runs changes: inside ``joblib.parallel_backend("dask")`` its fits go to
# the cluster's workers, here two processes of one thread each, so two fits run at a time. The
# scheduler reports how many workers took part. Each worker process starts by importing this
# script again, as ``__mp_main__``; the code that starts the cluster, and the code that reads
# its results, run under ``if __name__ == "__main__":`` so that the workers skip them.
if __name__ == "__main__":
    print(f"{len(X)} sequences of shape {X.shape[1:]}")
    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client, joblib.parallel_backend("dask"):
        search.fit(X, y)
        workers = len(client.scheduler_info()["workers"])
    print(f"{len(search.cv_results_['params'])} candidates on {workers} dask workers")
    print(f"best parameters: {search.best_params_}, accuracy {search.best_score_:.3f}")

# %%
# The figure
# ----------
#
# Each candidate's mean fit time against its cross-validated accuracy, labelled with its cell
# and size.
if __name__ == "__main__":
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
    figure.savefig(output, dpi=100) if output else plt.show()
