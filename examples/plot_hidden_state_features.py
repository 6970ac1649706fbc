"""
Hidden states as features for a linear model
============================================

A recurrent network can serve as a feature extractor: its last hidden state summarises a
sequence in a fixed-length vector. The small transformer below fits an
:class:`~rnnlearn.RNNClassifier` and returns the top layer's last hidden state from
:meth:`~rnnlearn.RNNClassifier.hidden_states`, so a
:class:`~sklearn.linear_model.LogisticRegression` can follow it in a
:class:`~sklearn.pipeline.Pipeline`. On sequences told apart by their frequency, with
random phases, a logistic regression on the raw values is near chance, and the same model
on the hidden states is not. The figure shows the test sequences in the first two
principal components of their hidden states.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it.
import os
import sys
import warnings

import matplotlib.pyplot as plt
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

from rnnlearn import RNNClassifier, make_frequency_classification
from rnnlearn.preprocessing import SequenceScaler

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
n_samples = 300 if fast else 600  # number of sequences, a quarter of them held out
max_iter = 10 if fast else 30  # training epochs of the network
# A short demo stops at max_iter on purpose; do not warn about it.
warnings.simplefilter("ignore", ConvergenceWarning)


# %%
# A transformer of hidden states
# ------------------------------
#
# ``fit`` trains a clone of the network on the labels; ``transform`` runs
# :meth:`~rnnlearn.RNNClassifier.hidden_states` and keeps the top layer's state at the last
# step, ``n_hidden`` numbers per sequence. A pipeline can put any scikit-learn model after it.
class HiddenStates(TransformerMixin, BaseEstimator):
    """The last hidden state of a fitted recurrent network, as features.

    Parameters
    ----------
    network : RNNClassifier or RNNRegressor
        The network to fit (cloned) on the training data.

    Attributes
    ----------
    network_ : RNNClassifier or RNNRegressor
        The fitted network.
    """

    def __init__(self, network):
        self.network = network

    def fit(self, X, y):
        """Fit a clone of the network on ``X`` and ``y``; return self."""
        self.network_ = clone(self.network).fit(X, y)
        return self

    def transform(self, X):
        """Return the top layer's last hidden state, shape (n_samples, n_hidden)."""
        check_is_fitted(self)
        return self.network_.hidden_states(X)[-1]["h"][:, -1]


# %%
# The data
# --------
#
# Three classes of two-channel sequences told apart by their frequency, with random phases, a
# quarter held out.
X, y = make_frequency_classification(
    n_samples, n_timesteps=30, n_features=2, n_classes=3, noise=0.3, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
print(f"training sequences {X_train.shape}, test sequences {X_test.shape}")

# %%
# Raw values
# ----------
#
# A logistic regression on the flattened raw values: with random phases there is no class mean
# to separate, and it stays near chance (one in three).
raw = LogisticRegression(max_iter=1000).fit(X_train.reshape(len(X_train), -1), y_train)
raw_score = raw.score(X_test.reshape(len(X_test), -1), y_test)
print(f"accuracy on raw values: {raw_score:.3f}")

# %%
# Hidden states
# -------------
#
# The same model after the recurrent network reads the network's summary of each sequence: 16
# numbers, the last hidden state of a GRU of 16 units.
network = RNNClassifier(hidden_layer_sizes=(16,), cell="gru", max_iter=max_iter, random_state=0)
model = make_pipeline(SequenceScaler(), HiddenStates(network), LogisticRegression())
model.fit(X_train, y_train)
hidden_score = model.score(X_test, y_test)
features = model[:-1].transform(X_test)
print(f"hidden states of the test sequences {features.shape}")
print(f"accuracy on hidden states: {hidden_score:.3f}")

# %%
# The figure
# ----------
#
# The held-out sequences in the first two principal components of their hidden states, coloured
# by class.
points = PCA(n_components=2).fit_transform(features)
figure, ax = plt.subplots(figsize=(5.5, 4.5))
scatter = ax.scatter(points[:, 0], points[:, 1], c=y_test, cmap="viridis", s=15)
ax.legend(*scatter.legend_elements(), title="class")
ax.set(xlabel="first principal component", ylabel="second principal component")
ax.set_title(
    f"Logistic regression accuracy: {hidden_score:.1%} on hidden states,\n"
    f"{raw_score:.1%} on raw values"
)
figure.tight_layout()
figure.savefig(output, dpi=100) if output else plt.show()
