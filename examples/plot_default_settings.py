"""
The default settings on real data: max pooling on long leaf outlines
====================================================================

OSULeaf, from the UCR archive: the outlines of leaves of 6 kinds of tree, each read as one
series of 427 steps, 200 for training and 242 for testing. ``RNNClassifier()`` with its
defaults (a GRU of 128 units, Adam at 3e-3, batch 16, gradients clipped at norm 1, the
learning rate lowered when the loss stops falling) learns them clearly better than
1-nearest-neighbour on the raw series, and better than the same network reading only
its last state.

The difference is the pooling. A recurrent network gives one hidden state per time step,
and the output layer needs one vector per series. ``pooling="last"`` hands it the state
after the last step: whatever the network saw at the start of the series must survive
every later step to count, and over a long series it mostly does not. The classifier's
default, ``pooling="auto"``, is ``"max"`` here: each hidden unit reports the largest value
it took at any step, so a shape seen at the start of the outline counts as much as one
seen at the end, and training sends the error back to every step directly.

The figure shows a few outlines of two kinds of leaf, the training loss of both networks
and the test accuracies. Both networks learn the training leaves, their losses falling
alike; the difference shows on the test leaves. The full run keeps every 2nd step (214
steps) and trains for the default number of epochs, at most 200 (about 40 s per network
on one core): the defaults reach about 0.80 test accuracy, the last state 0.65 and
1-nearest-neighbour 0.52. The fast run keeps every 8th step (54) for 30 epochs: about
0.71, 0.59 and 0.52. The "Default settings" section of the
:doc:`user guide </user-guide>` has the table measured over three seeds on the whole
series. The data come from ``../shared/data`` beside the repository, or from the folder
named by the environment variable ``RNNLEARN_DATA``.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it. The full run keeps the estimator's default number of epochs (at most 200).
# ``data_folder`` holds the ``.ts`` files: ``$RNNLEARN_DATA``, or ``../shared/data`` beside
# the repository.
import os
import sys
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier

from rnnlearn import RNNClassifier, load_ts
from rnnlearn.inspection import TrainingCurveDisplay

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
every = 8 if fast else 2  # keep steps 0, every, 2 * every, ... of the 427
epochs = {"max_iter": 30} if fast else {}  # training epochs at most
# sphinx-gallery runs the script from its folder, without __file__
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_folder = Path(os.environ.get("RNNLEARN_DATA", HERE.parents[1] / "shared" / "data"))
# A short demo stops at max_iter on purpose; do not warn about it.
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# The data
# --------
#
# The UCR archive's own split: 200 training and 242 test outlines of 427 steps. Both parts are
# standardised with the training part's mean and standard deviation, and every ``every``-th step
# is kept to shorten the runs.
X_train, y_train = load_ts(data_folder / "OSULeaf_TRAIN.ts")
X_test, y_test = load_ts(data_folder / "OSULeaf_TEST.ts")
mean, std = X_train.mean(), X_train.std()
X_train = (X_train[:, ::every] - mean) / std
X_test = (X_test[:, ::every] - mean) / std
print(f"training series {X_train.shape}, test series {X_test.shape}")
print(f"classes: {', '.join(np.unique(y_train))}")

# %%
# Three contenders
# ----------------
#
# 1-nearest-neighbour compares the series as flat vectors. The two networks differ in their
# pooling only: ``pooling="last"`` reads the state after the last step, the defaults pool by max
# over all steps. Each is fitted on the training part and scored on the test part, and its fit
# is timed. ``NAMES`` names them in the order of the figure's bars.
NAMES = ("1-NN", 'GRU, pooling="last"', "GRU, defaults")
models = {
    NAMES[0]: KNeighborsClassifier(n_neighbors=1),
    NAMES[1]: RNNClassifier(pooling="last", random_state=0, **epochs),
    NAMES[2]: RNNClassifier(random_state=0, **epochs),
}
accuracy = {}
for name, model in models.items():
    flat = name == NAMES[0]  # 1-NN compares the series as flat vectors
    train, test = (X.reshape(len(X), -1) if flat else X for X in (X_train, X_test))
    start = time.perf_counter()
    model.fit(train, y_train)
    seconds = time.perf_counter() - start
    accuracy[name] = model.score(test, y_test)
    print(f"{name:20} test accuracy {accuracy[name]:.3f}, fit {seconds:.1f} s")

# %%
# The figure
# ----------
#
# Three outlines of each of two kinds of leaf, the training loss of both networks per epoch
# (drawn by :class:`~rnnlearn.inspection.TrainingCurveDisplay`), and the test accuracy of the
# three contenders.
figure = plt.figure(figsize=(14, 4.5), layout="constrained")
grid = figure.add_gridspec(2, 3, width_ratios=[1, 1.2, 1])
series_axes = [figure.add_subplot(grid[0, 0])]
series_axes.append(figure.add_subplot(grid[1, 0], sharex=series_axes[0], sharey=series_axes[0]))
loss_ax, bar_ax = figure.add_subplot(grid[:, 1]), figure.add_subplot(grid[:, 2])
for ax, label, color in zip(series_axes, ("1", "2"), ("tab:green", "tab:purple"), strict=True):
    for row in np.flatnonzero(y_train == label)[:3]:
        ax.plot(X_train[row, :, 0], color=color, linewidth=1)
    ax.set_ylabel(f"class {label}")
series_axes[0].set_title("OSULeaf: 3 outlines each of two classes")
series_axes[0].tick_params(labelbottom=False)
series_axes[1].set_xlabel("time step (standardised values)")

colors = {NAMES[1]: "tab:orange", NAMES[2]: "tab:blue"}
for name in NAMES[1:]:
    TrainingCurveDisplay.from_estimator(
        models[name], ax=loss_ax, name=name, loss_kw={"color": colors[name], "marker": None}
    )
loss_ax.set_yscale("log")
loss_ax.set_title("Training loss (log scale)")

ticks = [name.replace(", ", "\n") for name in NAMES]
heights = [accuracy[name] for name in NAMES]
bars = bar_ax.bar(ticks, heights, color=["tab:grey", colors[NAMES[1]], colors[NAMES[2]]])
bar_ax.bar_label(bars, fmt="%.3f")
bar_ax.set(ylabel="test accuracy", ylim=(0, 1))
bar_ax.set_title("Test accuracy (242 leaves, 6 classes)")
figure.savefig(output, dpi=100) if output else plt.show()
