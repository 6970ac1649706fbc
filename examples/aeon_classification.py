"""
rnnlearn in aeon: a recurrent classifier beside aeon's own
==========================================================

:class:`rnnlearn.aeon.RNNClassifier` is an aeon classifier: it takes aeon's collections as
they come, ``(n_cases, n_channels, n_timepoints)`` arrays or lists of series of different
lengths, and trains an :class:`rnnlearn.RNNClassifier` on them. Here it classifies
OSULeaf, from the UCR archive (the outlines of leaves of 6 kinds of tree, 427 steps each;
200 for training, 242 for testing), loaded with aeon's own reader,
``aeon.datasets.load_from_ts_file``, beside two of aeon's classifiers: 1-nearest-neighbour
under the Euclidean distance, and the fully convolutional network ``FCNClassifier`` of
aeon's deep-learning module, which needs TensorFlow (``pip install tensorflow-cpu``; the
comparison leaves it out, and says so, where TensorFlow is not installed).

The full run keeps every 2nd step (214 steps), trains the recurrent network for its default
number of epochs (at most 200) and FCN for 200 epochs (aeon's default is 2000, about an
hour here on one core); the fast run keeps every 8th step (54) and trains both 30 epochs.
The user guide's "Using rnnlearn from aeon and sktime" gives the figures measured. The
data come from ``../shared/data`` beside the repository, or from the folder named by the
environment variable ``RNNLEARN_DATA``.

sphinx-gallery shows this script without running it, as the documentation is built
without aeon; CI runs it with aeon installed, in its own environment.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings of the tests (``--fast``, or
# ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of showing it.
import importlib.util
import os
import sys
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier
from aeon.datasets import load_from_ts_file
from sklearn.exceptions import ConvergenceWarning

from rnnlearn.aeon import RNNClassifier

fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
every = 8 if fast else 2  # keep steps 0, every, 2 * every, ... of the 427
rnn_epochs = {"max_iter": 30} if fast else {}  # at most 200 by default
fcn_epochs = 30 if fast else 200
# sphinx-gallery runs a script from its folder, without __file__
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
data_folder = Path(os.environ.get("RNNLEARN_DATA", HERE.parents[1] / "shared" / "data"))
tensorflow = importlib.util.find_spec("tensorflow") is not None
warnings.simplefilter("ignore", ConvergenceWarning)  # a short run stops at max_iter

# %%
# The data, as aeon reads it
# --------------------------
#
# ``load_from_ts_file`` returns aeon's layout, channels before time: here ``(200, 1, 427)``.
# Both parts are standardised with the training part's mean and standard deviation.
X_train, y_train = load_from_ts_file(str(data_folder / "OSULeaf_TRAIN.ts"))
X_test, y_test = load_from_ts_file(str(data_folder / "OSULeaf_TEST.ts"))
mean, std = X_train.mean(), X_train.std()
X_train = (X_train[:, :, ::every] - mean) / std
X_test = (X_test[:, :, ::every] - mean) / std
print(f"training {X_train.shape}, test {X_test.shape} (cases, channels, time points)")

# %%
# The contenders
# --------------
#
# Each is an aeon classifier, fitted and scored the same way, and timed from fitting to
# the test predictions (where 1-nearest-neighbour does its work). ``NAMES`` orders the
# figure.
NAMES = ["1-NN (Euclidean)", "rnnlearn GRU"] + (["FCN (Keras)"] if tensorflow else [])
models = {
    NAMES[0]: KNeighborsTimeSeriesClassifier(distance="euclidean", n_neighbors=1),
    NAMES[1]: RNNClassifier(random_state=0, **rnn_epochs),
}
if tensorflow:
    from aeon.classification.deep_learning import FCNClassifier

    models[NAMES[2]] = FCNClassifier(
        n_epochs=fcn_epochs, random_state=0, verbose=False, save_best_model=False
    )
else:
    print("TensorFlow is not installed: aeon's FCNClassifier is left out.")
accuracy, seconds = {}, {}
for name, model in models.items():
    start = time.perf_counter()
    y_pred = model.fit(X_train, y_train).predict(X_test)
    seconds[name] = time.perf_counter() - start
    accuracy[name] = float(np.mean(y_pred == y_test))
    print(f"{name:18} test accuracy {accuracy[name]:.3f}, fit and predict {seconds[name]:.1f} s")
network = models[NAMES[1]].estimator_  # the fitted rnnlearn.RNNClassifier
print(f"rnnlearn trained {network.n_iter_} epochs on (cases, time, channels) = time first")

# %%
# The figure
# ----------
#
# Test accuracy, and time to fit and predict, of each contender.
figure, (accuracy_ax, time_ax) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
colors = ["tab:grey", "tab:blue", "tab:orange"][: len(NAMES)]
bars = accuracy_ax.bar(NAMES, [accuracy[name] for name in NAMES], color=colors)
accuracy_ax.bar_label(bars, fmt="%.3f")
accuracy_ax.set(ylabel="test accuracy", ylim=(0, 1.08))
accuracy_ax.set_title("OSULeaf: 242 test leaves, 6 classes")
bars = time_ax.bar(NAMES, [seconds[name] for name in NAMES], color=colors)
time_ax.bar_label(bars, fmt="%.1f s")
time_ax.set(ylabel="seconds (log scale)", yscale="log", ylim=(0.1, 4 * max(seconds.values())))
time_ax.set_title("Fit on 200 leaves, predict 242")
figure.savefig(output, dpi=100) if output else plt.show()
