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
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it. ``data_folder`` holds the ``.ts`` files: ``$RNNLEARN_DATA``, or
# ``../shared/data`` beside the repository.
import os
import sys
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

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
max_iter = 20 if fast else 100  # training epochs
# sphinx-gallery runs the script from its folder, without __file__
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_folder = Path(os.environ.get("RNNLEARN_DATA", HERE.parents[1] / "shared" / "data"))
# A short demo stops at max_iter on purpose; do not warn about it.
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# The data
# --------
#
# The series stay a list of arrays of their own lengths, which :func:`~rnnlearn.load_ts`
# returns when the lengths differ.
X_train, y_train = load_ts(data_folder / "PLAID_TRAIN.ts")
X_test, y_test = load_ts(data_folder / "PLAID_TEST.ts")
lengths = [len(x) for x in X_train]
print(
    f"{len(X_train)} training and {len(X_test)} test series of {min(lengths)} to "
    f"{max(lengths)} samples, {len(np.unique(y_train))} classes"
)


# %%
# Shorter series
# --------------
#
# ``shorten`` keeps the first ``max_length`` samples of each series and averages blocks of
# ``block`` samples into one step, so the network reads at most 100 steps.
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


X_train_short, X_test_short = shorten(X_train), shorten(X_test)
lengths = [len(x) for x in X_train_short]
print(f"shortened training series: {min(lengths)} to {max(lengths)} steps")

# %%
# The classifier
# --------------
#
# A :class:`~rnnlearn.preprocessing.SequenceScaler` standardises the variable-length series
# before a GRU classifier of 32 units, in one pipeline fitted on the training part. The share of
# the most frequent training label among the test labels is the score of always guessing it.
classifier = RNNClassifier(hidden_layer_sizes=(32,), cell="gru", max_iter=max_iter, random_state=0)
model = make_pipeline(SequenceScaler(), classifier).fit(X_train_short, y_train)
y_pred = model.predict(X_test_short)
accuracy = np.mean(y_pred == y_test)
train_labels, counts = np.unique(y_train, return_counts=True)
majority = np.mean(y_test == train_labels[np.argmax(counts)])
print(f"test accuracy {accuracy:.3f} (majority class: {majority:.3f})")

# %%
# The figure
# ----------
#
# The confusion matrix of the test predictions: each row an appliance, each column the appliance
# predicted.
figure, ax = plt.subplots(figsize=(6, 5.5))
ConfusionMatrixDisplay.from_predictions(
    y_test, y_pred, labels=sorted(np.unique(y_test), key=int), ax=ax, colorbar=False
)
ax.set_title(f"PLAID test set: accuracy {accuracy:.1%}")
figure.tight_layout()
figure.savefig(output, dpi=100) if output else plt.show()
