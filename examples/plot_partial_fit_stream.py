"""
Training on a stream with partial_fit
=====================================

When data arrive in chunks, or do not fit in memory at once,
:meth:`~rnnlearn.RNNClassifier.partial_fit` trains one epoch on each chunk and keeps the
weights and the optimizer state between calls. The labels of the whole stream are
given on the first call (``classes=``). After every chunk the network is scored on a fixed
held-out set; the figure is the resulting learning curve, accuracy against the number of
sequences seen.
"""

# %%
# Imports and settings
# --------------------
#
# ``fast`` selects the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE`` saves the figure instead of
# showing it. ``N_CLASSES`` is the number of frequencies, so chance is one in four.
import os
import sys

import matplotlib.pyplot as plt
import numpy as np

from rnnlearn import RNNClassifier, make_frequency_classification
from rnnlearn.optimizers import Adam

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
n_chunks = 20 if fast else 40  # number of chunks in the stream
chunk_size = 50 if fast else 100  # sequences per chunk
n_test = 200 if fast else 400  # held-out sequences
N_CLASSES = 4


# %%
# The stream
# ----------
#
# Each chunk is a fresh draw of univariate sequences whose class is their frequency; its seed is
# its position in the stream, and the held-out set is drawn once, with its own seed.
def make_chunk(n_samples, random_state):
    """Return one chunk of the stream: sequences whose class is their frequency."""
    return make_frequency_classification(
        n_samples,
        n_timesteps=30,
        n_features=1,
        n_classes=N_CLASSES,
        noise=0.3,
        random_state=random_state,
    )


X_test, y_test = make_chunk(n_test, random_state=0)
print(f"held-out sequences {X_test.shape}, classes {np.unique(y_test)}")

# %%
# One epoch per chunk
# -------------------
#
# Each :meth:`~rnnlearn.RNNClassifier.partial_fit` runs one epoch on its chunk and keeps the
# weights and Adam's moment estimates for the next. The first call must name every class the
# stream will hold (``classes=``); later calls may repeat it. After each chunk the model is
# scored on the held-out set, and ``loss_`` holds the chunk's training loss.
model = RNNClassifier(
    hidden_layer_sizes=(16,),
    cell="gru",
    optimizer=Adam(learning_rate=0.01),
    batch_size=16,
    random_state=0,
)
scores, losses = [], []
for chunk in range(n_chunks):
    X, y = make_chunk(chunk_size, random_state=chunk + 1)
    model.partial_fit(X, y, classes=np.arange(N_CLASSES))
    scores.append(model.score(X_test, y_test))
    losses.append(model.loss_)
seen = chunk_size * np.arange(1, n_chunks + 1)
accuracy, loss = np.array(scores), np.array(losses)
for index in range(4, n_chunks, 5):
    print(f"after {seen[index]:4d} sequences: held-out accuracy {accuracy[index]:.3f}")

# %%
# The figure
# ----------
#
# The held-out accuracy, with chance as a dashed line, and the training loss of each chunk
# (right axis), against the number of sequences seen.
figure, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(seen, accuracy, marker="o", color="tab:blue")
ax.axhline(1 / N_CLASSES, color="grey", linestyle="--", label="chance")
ax.set(xlabel="sequences seen", ylabel="held-out accuracy", ylim=(0, 1.05))
ax.legend(loc="lower right")
loss_ax = ax.twinx()
loss_ax.plot(seen, loss, color="tab:red", alpha=0.6)
loss_ax.set_ylabel("training loss of the chunk", color="tab:red")
ax.set_title("Learning curve of partial_fit over a stream of chunks")
figure.tight_layout()
figure.savefig(output, dpi=100) if output else plt.show()
