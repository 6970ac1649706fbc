"""
Classifying appliances from variable-length current series
==========================================================

PLAID, from the UCR archive: the current drawn by 11 kinds of household appliance, one
series of 100 to 1 344 samples per recording, 537 for training and 537 for testing. The
series keep their own lengths (a list of arrays); to keep the example fast each is cut to
its first 400 samples and averaged over blocks of 4, so the network reads 25 to 100 steps.
A GRU network in a Pipeline with :class:`~rnnlearn.preprocessing.SequenceScaler` learns
the classes, and the confusion matrix shows which appliances it confuses. It is a hard
set for a small network on shortened series: it reaches about 35 % accuracy, where
1-nearest-neighbour on the whole series reaches 59 % (``../shared/data/README.md``). The
data come
from ``../shared/data`` beside the repository, or from the folder named by the
environment variable ``RNNLEARN_DATA``.
"""

# %%
# Imports and settings
# --------------------
#
# ``FAST`` holds the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); without it the example runs with the defaults
# of ``run``.
import argparse
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.pipeline import make_pipeline

from rnnlearn import RNNClassifier
from rnnlearn.datasets import load_ts
from rnnlearn.preprocessing import SequenceScaler

#: Small settings for continuous integration (``--fast`` or ``RNNLEARN_EXAMPLES_FAST=1``).
FAST = {"max_iter": 20}
try:
    HERE = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs the script from its folder, without __file__
    HERE = Path.cwd()


# %%
# The data
# --------
#
# ``data_folder`` finds the ``.ts`` files. The series stay a list of arrays of their own
# lengths, which :func:`~rnnlearn.load_ts` returns when the lengths differ. ``shorten`` keeps
# the first ``max_length`` samples of each and averages blocks of ``block`` samples into one
# step, so the network reads at most 100 steps.
def data_folder():
    """Return the folder of the ``.ts`` files: ``$RNNLEARN_DATA`` or ``../shared/data``."""
    default = HERE.parents[1] / "shared" / "data"
    return Path(os.environ.get("RNNLEARN_DATA", default))


def shorten(series, max_length=400, block=4):
    """Cut each series to ``max_length`` samples and average it over blocks of ``block``.

    Parameters
    ----------
    series : list of ndarray of shape (n_timesteps_i, n_features)
        The series.
    max_length : int, default=400
        Samples kept from the start of each series.
    block : int, default=4
        Samples averaged into one time step; a partial last block is dropped.

    Returns
    -------
    list of ndarray of shape (n_timesteps_i // block, n_features)
        The shortened series, with at most ``max_length // block`` steps.
    """
    shortened = []
    for x in series:
        x = x[: max_length - max_length % block]
        x = x[: len(x) - len(x) % block]
        shortened.append(x.reshape(-1, block, x.shape[1]).mean(axis=1))
    return shortened


# %%
# The classifier
# --------------
#
# A :class:`~rnnlearn.preprocessing.SequenceScaler` standardises the variable-length series
# before a GRU classifier of 32 units, in one pipeline fitted on the training part. The share of
# the most frequent training label among the test labels is the score of always guessing it.
def run(max_iter=100, max_length=400, block=4, folder=None):
    """Train on PLAID's training part and predict its test part.

    Parameters
    ----------
    max_iter : int, default=100
        Training epochs.
    max_length, block : int, default=400, 4
        As for :func:`shorten`.
    folder : path-like, default=None
        Folder of ``PLAID_TRAIN.ts`` and ``PLAID_TEST.ts``; None uses :func:`data_folder`.

    Returns
    -------
    dict
        ``y_test`` and ``y_pred``, the test labels and predictions; ``accuracy``;
        ``majority``, the test share of the most frequent training label.
    """
    folder = data_folder() if folder is None else Path(folder)
    X_train, y_train = load_ts(folder / "PLAID_TRAIN.ts")
    X_test, y_test = load_ts(folder / "PLAID_TEST.ts")
    model = make_pipeline(
        SequenceScaler(),
        RNNClassifier(hidden_layer_sizes=(32,), cell="gru", max_iter=max_iter, random_state=0),
    )
    model.fit(shorten(X_train, max_length, block), y_train)
    y_pred = model.predict(shorten(X_test, max_length, block))
    labels, counts = np.unique(y_train, return_counts=True)
    return {
        "y_test": y_test,
        "y_pred": y_pred,
        "accuracy": np.mean(y_pred == y_test),
        "majority": np.mean(y_test == labels[np.argmax(counts)]),
    }


# %%
# The figure
# ----------
#
# The confusion matrix of the test predictions: each row an appliance, each column the appliance
# predicted.
def plot(result):
    """Plot the confusion matrix of the test predictions; return the figure."""
    figure, ax = plt.subplots(figsize=(6, 5.5))
    labels = sorted(np.unique(result["y_test"]), key=int)
    ConfusionMatrixDisplay.from_predictions(
        result["y_test"], result["y_pred"], labels=labels, ax=ax, colorbar=False
    )
    ax.set_title(f"PLAID test set: accuracy {result['accuracy']:.1%}")
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
    """Run the example from the command line; return its result and its figure."""
    parser = argparse.ArgumentParser(description="Classifying PLAID appliance series.")
    parser.add_argument("--fast", action="store_true", help="the small settings of the tests")
    parser.add_argument("--output", help="save the figure to this file instead of showing it")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
    # A short demo stops at max_iter on purpose; do not warn about it.
    warnings.simplefilter("ignore", ConvergenceWarning)
    result = run(**(FAST if fast else {}))
    print(f"test accuracy {result['accuracy']:.3f} (majority class: {result['majority']:.3f})")
    figure = plot(result)
    if args.output:
        figure.savefig(args.output, dpi=100)
    else:
        plt.show()
    return result, figure


if __name__ == "__main__":
    main()
