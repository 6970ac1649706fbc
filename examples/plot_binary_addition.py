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
# ``FAST`` holds the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); without it the example runs with the defaults
# of ``run``. ``LOSS_THRESHOLD`` is the mean log loss at which training stops.
import argparse
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from rnnlearn import RNNClassifier
from rnnlearn.datasets import bin2int, make_binary_addition
from rnnlearn.optimizers import Adam

#: Small settings for continuous integration (``--fast`` or ``RNNLEARN_EXAMPLES_FAST=1``).
FAST = {"n_train": 3000, "n_test": 500, "max_epochs": 15}
LOSS_THRESHOLD = 0.01


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
# :func:`~rnnlearn.datasets.make_binary_addition` writes each pair least significant bit first,
# so the carry moves forward in time, the way the network reads. Every cell gets the same
# network (16 units, Adam at 0.01) and the same data; ``output_mode="sequence"`` makes the
# classifier emit one bit per step. On fresh pairs, :func:`~rnnlearn.datasets.bin2int` turns the
# predicted bits back into integers, and a sum counts as exact when all its bits are right.
def run(n_train=10_000, n_test=2_000, max_epochs=20, cells=("vanilla", "gru", "lstm")):
    """Train one network per cell.

    Parameters
    ----------
    n_train, n_test : int, default=10_000, 2_000
        Number of training and test pairs.
    max_epochs : int, default=20
        Most epochs per cell.
    cells : tuple of str, default=("vanilla", "gru", "lstm")
        The cells to train.

    Returns
    -------
    list of dict
        One dict per cell: ``cell``, ``seconds`` (training time), ``epochs``,
        ``exact`` (share of exact sums), ``bits`` (share of right bits) and
        ``loss_curve`` (training loss per epoch).
    """
    X, y = make_binary_addition(n_train, n_bits=8, random_state=1)
    X_test, y_test = make_binary_addition(n_test, n_bits=8, random_state=2)
    rows = []
    for cell in cells:
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
        rows.append(
            {
                "cell": cell,
                "seconds": seconds,
                "epochs": model.n_iter_,
                "exact": np.mean(bin2int(bits) == bin2int(y_test)),
                "bits": np.mean(bits == y_test),
                "loss_curve": model.loss_curve_,
            }
        )
    return rows


# %%
# The figure
# ----------
#
# The training loss per epoch of each cell, on a log scale, with the stopping threshold; the
# legend gives each cell's share of exact test sums.
def plot(rows):
    """Plot the training loss per epoch of each cell; return the figure."""
    figure, ax = plt.subplots(figsize=(6, 4))
    for row in rows:
        epochs = np.arange(1, len(row["loss_curve"]) + 1)
        ax.plot(epochs, row["loss_curve"], marker="o", label=f"{row['cell']}: {row['exact']:.1%}")
    ax.axhline(LOSS_THRESHOLD, color="grey", linestyle="--", label="stopping threshold")
    ax.set(xlabel="epoch", ylabel="training log loss", yscale="log")
    ax.set_title("Binary addition: loss per epoch (legend: exact test sums)")
    ax.legend()
    figure.tight_layout()
    return figure


# %%
# Running the example
# -------------------
#
# As a script, ``main`` reads ``--fast`` and ``--output``, runs the example, prints its result
# and draws the figure (shown, or saved to the file). The output below comes from the
# documentation build, which runs the fast settings.
def main(argv=None):
    """Run the example from the command line; return its rows and its figure."""
    parser = argparse.ArgumentParser(description="Binary addition with every cell.")
    parser.add_argument("--fast", action="store_true", help="the small settings of the tests")
    parser.add_argument("--output", help="save the figure to this file instead of showing it")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
    rows = run(**(FAST if fast else {}))
    print(f"{'cell':8} {'train time':>10} {'epochs':>6} {'exact sums':>10} {'bits':>7}")
    for row in rows:
        print(
            f"{row['cell']:8} {row['seconds']:9.1f}s {row['epochs']:6d} "
            f"{row['exact']:10.2%} {row['bits']:7.2%}"
        )
    figure = plot(rows)
    if args.output:
        figure.savefig(args.output, dpi=100)
    else:
        plt.show()
    return rows, figure


if __name__ == "__main__":
    main()
