"""
Training on data larger than memory
===================================

:func:`rnnlearn.streaming.fit_chunks` trains from a source that does not fit in memory, here
a `dask <https://www.dask.org>`_ array of sequences generated lazily on the workers of a local
cluster, one block at a time. Only one chunk is in this process at a time, and each worker
computes one block at a time, so neither comes near the array's size: with the full settings
the array is 2.4 GB and each worker may use 500 MB. Training has ``fit``'s guarantees:
``max_iter`` epochs over the whole stream, chunks and sequences shuffled each epoch from
``random_state``, early stopping on a held-out set with the best weights restored, the
divergence guard, ``verbose`` and callbacks. The example needs ``dask[distributed]``
(``pip install -e ".[dask]"``). The figure shows the validation R² of each epoch and the
peak memory of the training process and of the workers.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it. The array has ``n_chunks`` chunks of ``chunk_size`` sequences of ``N_STEPS``
# steps and ``n_features`` features, in float64.
import os
import sys
import tracemalloc
import warnings

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

from rnnlearn import RNNRegressor
from rnnlearn.streaming import fit_chunks

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
n_chunks = 10 if fast else 60  # chunks of the array, along its sequences
chunk_size = 200 if fast else 500  # sequences per chunk
n_features = 5 if fast else 500  # features per step
memory_limit = 400e6 if fast else 500e6  # bytes each worker may use
max_iter = 4 if fast else 3  # epochs (passes over the whole array)
N_STEPS = 20
MB = 1e6
# A short demo may stop at max_iter: do not warn about it.
warnings.simplefilter("ignore", ConvergenceWarning)


# %%
# The array, generated on the workers
# -----------------------------------
#
# Each block of sequences is drawn by whichever worker computes it, from a generator seeded
# by the block's first row, so the array is the same however it is split among workers and
# never exists whole anywhere. The target of a sequence is the mean of its first feature over
# the first five steps plus a tenth of its second feature at the last step, computed from the
# block on the worker too. The held-out set is a separate draw, made in memory.
def sequences(block_info=None):
    """One block of the array: standard normal sequences, seeded by the block's first row."""
    info = block_info[None]
    rng = np.random.default_rng(info["array-location"][0][0])
    return rng.standard_normal((info["chunk-shape"][0], N_STEPS, n_features))


def target(X):
    """The target of each sequence of ``X`` (a NumPy or dask array)."""
    return X[:, :5, 0].mean(axis=1) + 0.1 * X[:, -1, 1]


X = da.map_blocks(
    sequences,
    chunks=((chunk_size,) * n_chunks, (N_STEPS,), (n_features,)),
    dtype=np.float64,
)
y = target(X)
one_chunk = X.blocks[0].nbytes
X_val = np.random.default_rng(-1 % 2**32).standard_normal((chunk_size, N_STEPS, n_features))
y_val = target(X_val)


# %%
# Memory, measured every epoch
# ----------------------------
#
# A callback, run by the estimator after every epoch, records the peak memory that Python
# allocated in this process during the epoch (``tracemalloc``, which counts NumPy's arrays)
# and the peak resident memory of each worker process so far (on Linux).
def peak_resident_size():
    """The peak resident memory of the process that runs it, in bytes: Linux's ``VmHWM``
    (``getrusage``'s peak would count the memory of the process that spawned a worker); NaN
    elsewhere."""
    try:
        with open("/proc/self/status") as status:
            lines = [line for line in status if line.startswith("VmHWM:")]
    except OSError:
        return float("nan")
    return int(lines[0].split()[1]) * 1024 if lines else float("nan")


class MemoryLog:
    """A callback recording each epoch's peak memory of training and of the workers."""

    def __init__(self, client):
        self.client, self.training, self.workers = client, [], []

    def __call__(self, estimator, record):
        self.training.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.reset_peak()
        self.workers.append(max(self.client.run(peak_resident_size).values()))
        return False


# %%
# Streaming the array through training
# ------------------------------------
#
# The held-out set is in memory (it must fit); ``fit_chunks`` computes the array's blocks one
# at a time on the cluster and trains on each in turn. A first pass over the targets computes
# the target scaling of ``normalize_y``, as ``fit`` does on the whole data. The cluster's code
# runs under ``if __name__ == "__main__":`` so that the worker processes, which import this
# script again, skip it.
if __name__ == "__main__":
    print(f"array {X.nbytes / MB:.0f} MB in {n_chunks} chunks of {one_chunk / MB:.1f} MB")
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit,
        dashboard_address=None,
    )
    with cluster, Client(cluster) as client:
        memory = MemoryLog(client)
        idle = max(client.run(peak_resident_size).values())  # the workers before any task
        model = RNNRegressor(
            hidden_layer_sizes=(8,),
            batch_size=100,
            max_iter=max_iter,
            early_stopping=True,
            random_state=0,
            callbacks=[memory],
        )
        tracemalloc.start()
        fit_chunks(model, X, y, validation_data=(X_val, y_val))
        tracemalloc.stop()
    training_peak, worker_peak = max(memory.training), max(memory.workers)
    print(f"validation R² per epoch: {np.round(model.validation_scores_, 3).tolist()}")
    chunks = training_peak / one_chunk
    print(f"training process peak: {training_peak / MB:.0f} MB ({chunks:.1f} chunks)")
    print(
        f"worker peak resident: {worker_peak / MB:.0f} MB, idle {idle / MB:.0f} MB "
        f"(limit {memory_limit / MB:.0f} MB)"
    )

# %%
# The figure
# ----------
#
# Left, the validation R² after each epoch; right, each epoch's peak memory of the training
# process and the workers' peak so far, against one chunk, an idle worker and a worker's limit.
if __name__ == "__main__":
    epochs = np.arange(1, model.n_iter_ + 1)
    figure, (score_ax, memory_ax) = plt.subplots(1, 2, figsize=(9, 3.8))
    score_ax.plot(epochs, model.validation_scores_, marker="o")
    score_ax.set(xlabel="epoch", ylabel="validation R²", title="Validation score per epoch")
    score_ax.set_xticks(epochs)
    memory_ax.set_xticks(epochs)
    memory_ax.plot(epochs, np.array(memory.training) / MB, marker="o", label="training process")
    memory_ax.plot(epochs, np.array(memory.workers) / MB, marker="s", label="worker (peak RSS)")
    memory_ax.axhline(memory_limit / MB, color="tab:red", linestyle="--", label="worker limit")
    memory_ax.axhline(idle / MB, color="tab:orange", linestyle=":", label="idle worker")
    memory_ax.axhline(one_chunk / MB, color="grey", linestyle=":", label="one chunk")
    memory_ax.set(xlabel="epoch", ylabel="MB", ylim=(0, 1.5 * memory_limit / MB))
    memory_ax.set_title(f"Peak memory; the array is {X.nbytes / MB:.0f} MB")
    memory_ax.legend(fontsize="small", loc="upper center", ncols=2)
    figure.tight_layout()
    figure.savefig(output, dpi=100) if output else plt.show()
