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
# ``FAST`` holds the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); without it the example runs with the defaults
# of ``run``. ``NAMES`` names the three contenders, in the order of the figure's bars.
import argparse
import os
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier

from rnnlearn import RNNClassifier, load_ts
from rnnlearn.inspection import TrainingCurveDisplay

#: Small settings for continuous integration (``--fast`` or ``RNNLEARN_EXAMPLES_FAST=1``).
FAST = {"every": 8, "max_iter": 30}
#: Names of the three models, in the order of the bars.
NAMES = ("1-NN", 'GRU, pooling="last"', "GRU, defaults")
try:
    HERE = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs the script from its folder, without __file__
    HERE = Path.cwd()


# %%
# The data
# --------
#
# The UCR archive's own split: 200 training and 242 test outlines of 427 steps. Both parts are
# standardised with the training part's mean and standard deviation, and every ``every``-th step
# is kept to shorten the runs.
def data_folder():
    """Return the folder of the ``.ts`` files: ``$RNNLEARN_DATA`` or ``../shared/data``."""
    default = HERE.parents[1] / "shared" / "data"
    return Path(os.environ.get("RNNLEARN_DATA", default))


def load_osuleaf(every=2, folder=None):
    """Load OSULeaf, standardised with the training statistics, keeping every n-th step.

    Parameters
    ----------
    every : int, default=2
        Keep steps ``0, every, 2 * every, ...`` of the 427.
    folder : path-like, default=None
        Folder of ``OSULeaf_TRAIN.ts`` and ``OSULeaf_TEST.ts``; None uses
        :func:`data_folder`.

    Returns
    -------
    X_train : ndarray of shape (200, n_timesteps, 1)
    y_train : ndarray of shape (200,)
    X_test : ndarray of shape (242, n_timesteps, 1)
    y_test : ndarray of shape (242,)
    """
    folder = data_folder() if folder is None else Path(folder)
    X_train, y_train = load_ts(folder / "OSULeaf_TRAIN.ts")
    X_test, y_test = load_ts(folder / "OSULeaf_TEST.ts")
    mean, std = X_train.mean(), X_train.std()
    X_train = (X_train[:, ::every] - mean) / std
    X_test = (X_test[:, ::every] - mean) / std
    return X_train, y_train, X_test, y_test


# %%
# Three contenders
# ----------------
#
# 1-nearest-neighbour compares the series as flat vectors. The two networks differ in their
# pooling only: ``pooling="last"`` reads the state after the last step, the defaults pool by max
# over all steps. Each is fitted on the training part and scored on the test part, and its fit
# is timed.
def run(every=2, max_iter=None, folder=None):
    """Fit 1-NN, a last-state GRU and the default classifier; score them on the test part.

    Parameters
    ----------
    every : int, default=2
        As for :func:`load_osuleaf`.
    max_iter : int, default=None
        Training epochs at most; None keeps the estimator's default (200).
    folder : path-like, default=None
        As for :func:`load_osuleaf`.

    Returns
    -------
    dict
        ``accuracy`` and ``seconds``, dicts from the names of :data:`NAMES` to the test
        accuracy and the fit time; ``models``, the two fitted networks by name;
        ``X_train`` and ``y_train``, the series the models learned from.
    """
    X_train, y_train, X_test, y_test = load_osuleaf(every, folder)
    epochs = {} if max_iter is None else {"max_iter": max_iter}
    models = {
        NAMES[0]: KNeighborsClassifier(n_neighbors=1),
        NAMES[1]: RNNClassifier(pooling="last", random_state=0, **epochs),
        NAMES[2]: RNNClassifier(random_state=0, **epochs),
    }
    accuracy, seconds = {}, {}
    for name, model in models.items():
        flat = name == NAMES[0]  # 1-NN compares the series as flat vectors
        train, test = (X.reshape(len(X), -1) if flat else X for X in (X_train, X_test))
        start = time.perf_counter()
        model.fit(train, y_train)
        seconds[name] = time.perf_counter() - start
        accuracy[name] = model.score(test, y_test)
    return {
        "accuracy": accuracy,
        "seconds": seconds,
        "models": {name: models[name] for name in NAMES[1:]},
        "X_train": X_train,
        "y_train": y_train,
    }


# %%
# The figure
# ----------
#
# Three outlines of each of two kinds of leaf, the training loss of both networks per epoch
# (drawn by :class:`~rnnlearn.inspection.TrainingCurveDisplay`), and the test accuracy of the
# three contenders.
def plot(result, classes=("1", "2"), n_series=3):
    """Plot example series, the networks' training loss and the test accuracies.

    Parameters
    ----------
    result : dict
        The output of ``run``.
    classes : tuple of str, default=("1", "2")
        The two classes whose series are drawn.
    n_series : int, default=3
        Series drawn per class.

    Returns
    -------
    matplotlib Figure
    """
    figure = plt.figure(figsize=(14, 4.5), layout="constrained")
    grid = figure.add_gridspec(2, 3, width_ratios=[1, 1.2, 1])
    series_axes = [figure.add_subplot(grid[0, 0])]
    series_axes.append(figure.add_subplot(grid[1, 0], sharex=series_axes[0], sharey=series_axes[0]))
    loss_ax, bar_ax = figure.add_subplot(grid[:, 1]), figure.add_subplot(grid[:, 2])
    X, y = result["X_train"], result["y_train"]
    for ax, label, color in zip(series_axes, classes, ("tab:green", "tab:purple"), strict=True):
        for row in np.flatnonzero(y == label)[:n_series]:
            ax.plot(X[row, :, 0], color=color, linewidth=1)
        ax.set_ylabel(f"class {label}")
    series_axes[0].set_title(f"OSULeaf: {n_series} outlines each of two classes")
    series_axes[0].tick_params(labelbottom=False)
    series_axes[1].set_xlabel("time step (standardised values)")

    colors = {NAMES[1]: "tab:orange", NAMES[2]: "tab:blue"}
    for name, model in result["models"].items():
        TrainingCurveDisplay.from_estimator(
            model, ax=loss_ax, name=name, loss_kw={"color": colors[name], "marker": None}
        )
    loss_ax.set_yscale("log")
    loss_ax.set_title("Training loss (log scale)")

    accuracy = [result["accuracy"][name] for name in NAMES]
    ticks = [name.replace(", ", "\n") for name in NAMES]
    bars = bar_ax.bar(ticks, accuracy, color=["tab:grey", colors[NAMES[1]], colors[NAMES[2]]])
    bar_ax.bar_label(bars, fmt="%.3f")
    bar_ax.set(ylabel="test accuracy", ylim=(0, 1))
    bar_ax.set_title("Test accuracy (242 leaves, 6 classes)")
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
    parser = argparse.ArgumentParser(description="The default settings on OSULeaf.")
    parser.add_argument("--fast", action="store_true", help="the small settings of the tests")
    parser.add_argument("--output", help="save the figure to this file instead of showing it")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
    # A short demo stops at max_iter on purpose; do not warn about it.
    warnings.simplefilter("ignore", ConvergenceWarning)
    result = run(**(FAST if fast else {}))
    for name in NAMES:
        seconds = result["seconds"][name]
        print(f"{name:20} test accuracy {result['accuracy'][name]:.3f}, fit {seconds:.1f} s")
    figure = plot(result)
    if args.output:
        figure.savefig(args.output, dpi=100)
    else:
        plt.show()
    return result, figure


if __name__ == "__main__":
    main()
