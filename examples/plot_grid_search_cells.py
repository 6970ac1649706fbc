"""
Searching cells and optimizers with GridSearchCV
================================================

Cells and optimizers are hyperparameters like any other, so
:class:`~sklearn.model_selection.GridSearchCV` searches them with scikit-learn's nested
parameter names. The grid below is the one users write first: the cell by its alias, the
optimizer by its alias, and ``optimizer__learning_rate`` over the optimizer that the
string names. The figure shows the cross-validated accuracy of every candidate.
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
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from rnnlearn import CollapseWarning, RNNClassifier, make_frequency_classification

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
n_samples = 60 if fast else 600  # number of sequences
max_iter = 2 if fast else 15  # training epochs of every candidate
n_jobs = 1 if fast else 2  # candidates trained in parallel
# A short demo stops at max_iter on purpose; do not warn about it. Nor about the candidates
# that learn nothing in so few epochs (CollapseWarning): finding them, by their low scores in
# the figure, is what the search is for.
warnings.simplefilter("ignore", ConvergenceWarning)
warnings.simplefilter("ignore", CollapseWarning)

# %%
# The data
# --------
#
# Three classes of four-channel sequences told apart by their frequency
# (:func:`~rnnlearn.datasets.make_frequency_classification`).
X, y = make_frequency_classification(
    n_samples, n_timesteps=40, n_features=4, n_classes=3, noise=0.5, random_state=0
)
print(f"sequences {X.shape}, classes {np.unique(y)}")

# %%
# The search
# ----------
#
# ``GRID`` holds three cells, two optimizers by their aliases, and three learning rates of
# whichever optimizer the alias names (``optimizer__learning_rate``): eighteen candidates for a
# classifier of 16 units, each scored by a :class:`~sklearn.model_selection.GridSearchCV` of
# three folds. Nothing in the search is specific to rnnlearn: the cell and the optimizer are
# parameters like any other.
GRID = {
    "cell": ["vanilla", "gru", "lstm"],
    "optimizer": ["adam", "sgd"],
    "optimizer__learning_rate": [0.001, 0.01, 0.1],
}
search = GridSearchCV(
    RNNClassifier(hidden_layer_sizes=(16,), max_iter=max_iter, random_state=0),
    GRID,
    cv=3,
    n_jobs=n_jobs,
)
search.fit(X, y)
print(f"best parameters: {search.best_params_}")
print(f"best cross-validated accuracy: {search.best_score_:.3f}")

# %%
# The figure
# ----------
#
# One panel per optimizer: the mean cross-validated accuracy of each cell, with its standard
# deviation over the folds, against the learning rate.
results = search.cv_results_
figure, axes = plt.subplots(1, len(GRID["optimizer"]), figsize=(8, 3.5), sharey=True)
for ax, optimizer in zip(axes, GRID["optimizer"], strict=True):
    for cell in GRID["cell"]:
        chosen = (results["param_cell"] == cell) & (results["param_optimizer"] == optimizer)
        rates = np.asarray(results["param_optimizer__learning_rate"][chosen], dtype=float)
        ax.errorbar(
            rates,
            results["mean_test_score"][chosen],
            yerr=results["std_test_score"][chosen],
            marker="o",
            capsize=3,
            label=cell,
        )
    ax.set(xscale="log", xlabel="learning rate", title=f"optimizer={optimizer!r}")
axes[0].set_ylabel("mean cross-validated accuracy")
axes[0].legend(title="cell")
figure.tight_layout()
figure.savefig(output, dpi=100) if output else plt.show()
