"""
Binary addition with every cell
===============================

The R package's ``?trainr`` demo. Ten thousand pairs of 7-bit integers are written as
8-bit sequences, least significant bit first, so the carry flows forward in time; the
network reads both bits at each step and emits the bit of the sum (one label per step,
``output_mode="sequence"``). Each cell trains until an epoch's mean log loss drops below
0.01, then is scored on 2 000 fresh pairs: a sum counts as exact when all 8 bits are
right. The figure shows the training loss per epoch of each cell.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it. ``LOSS_THRESHOLD`` is the mean log loss at which training stops.
import os
import sys
import time

import matplotlib.pyplot as plt
import numpy as np

from rnnlearn import RNNClassifier
from rnnlearn.datasets import bin2int, make_binary_addition
from rnnlearn.optimizers import Adam

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
n_train = 3000 if fast else 10_000  # training pairs
n_test = 500 if fast else 2_000  # test pairs
max_epochs = 15 if fast else 20  # most epochs per cell
LOSS_THRESHOLD = 0.01

# %%
# The data
# --------
#
# :func:`~rnnlearn.datasets.make_binary_addition` writes each pair least significant bit first,
# so the carry moves forward in time, the way the network reads: at each of the 8 steps the
# input holds one bit of each number, and the label is the bit of their sum. The test pairs are
# drawn with another seed.
X, y = make_binary_addition(n_train, n_bits=8, random_state=1)
X_test, y_test = make_binary_addition(n_test, n_bits=8, random_state=2)
print(f"training inputs {X.shape}, labels {y.shape}; test inputs {X_test.shape}")


# %%
# Stopping at a loss
# ------------------
#
# After every epoch a callback gets the estimator and the epoch's record of ``history_``;
# returning true stops training. This one is the R package's ``epoch_function`` idiom: train
# until the loss is low enough, not for a fixed number of epochs.
def stop_when_loss_below(threshold):
    """Return a callback (the R package's ``epoch_function``) that stops at a loss."""

    def callback(estimator, record):
        return record["loss"] < threshold

    return callback


# %%
# One network per cell
# --------------------
#
# Every cell gets the same network (16 units, Adam at 0.01) and the same data;
# ``output_mode="sequence"`` makes the classifier emit one bit per step. On the test pairs,
# :func:`~rnnlearn.datasets.bin2int` turns the predicted bits back into integers, and a sum
# counts as exact when all its bits are right.
rows = []
print(f"{'cell':8} {'train time':>10} {'epochs':>6} {'exact sums':>10} {'bits':>7}")
for cell in ("vanilla", "gru", "lstm"):
    model = RNNClassifier(
        hidden_layer_sizes=(16,),
        cell=cell,
        output_mode="sequence",
        optimizer=Adam(learning_rate=0.01),
        max_iter=max_epochs,
        callbacks=[stop_when_loss_below(LOSS_THRESHOLD)],
        random_state=0,
    )
    start = time.perf_counter()
    model.fit(X.astype(np.float32), y)
    seconds = time.perf_counter() - start
    bits = model.predict(X_test.astype(np.float32))
    row = {
        "cell": cell,
        "seconds": seconds,
        "epochs": model.n_iter_,
        "exact": np.mean(bin2int(bits) == bin2int(y_test)),
        "bits": np.mean(bits == y_test),
        "loss_curve": model.loss_curve_,
    }
    rows.append(row)
    print(f"{cell:8} {seconds:9.1f}s {row['epochs']:6d} {row['exact']:10.2%} {row['bits']:7.2%}")

# %%
# The figure
# ----------
#
# The training loss per epoch of each cell, on a log scale, with the stopping threshold; the
# legend gives each cell's share of exact test sums.
figure, ax = plt.subplots(figsize=(6, 4))
for row in rows:
    epochs = np.arange(1, len(row["loss_curve"]) + 1)
    ax.plot(epochs, row["loss_curve"], marker="o", label=f"{row['cell']}: {row['exact']:.1%}")
ax.axhline(LOSS_THRESHOLD, color="grey", linestyle="--", label="stopping threshold")
ax.set(xlabel="epoch", ylabel="training log loss", yscale="log")
ax.set_title("Binary addition: loss per epoch (legend: exact test sums)")
ax.legend()
figure.tight_layout()
figure.savefig(output, dpi=100) if output else plt.show()
