"""
Deploying a forecaster with ONNX
================================

A Pipeline of :class:`~rnnlearn.preprocessing.SequenceScaler` and a GRU
:class:`~rnnlearn.RNNRegressor` learns to forecast the next value of a noisy sum of sines
from the values before it. A deployed forecaster rarely has a fixed amount of history at
hand, so each window keeps a random number of its last steps, from half the window to all
of it: the model trains on sequences of mixed lengths.
:func:`rnnlearn.onnx.to_onnx` with ``lengths=True`` exports the whole pipeline, scaling
included, with a second input for the number of valid steps of each right-padded
sequence; the model is saved with ``onnx.save`` and loaded in an
``onnxruntime.InferenceSession`` from the file, as a service without rnnlearn would.

The left panel shows both forecasts of the held-out end of the series over the truth:
they overlap, up to float32 round-off, and beat repeating the last observed value. The
right panel shows the time of one predict call for 1 and for 32 sequences (rnnlearn's
``predict`` on the list of histories, onnxruntime on them padded, with their lengths), the
median of repeated calls with one thread each. Those are one machine's timings, to show
the order of magnitude, not a benchmark. The example needs ``onnx`` and ``onnxruntime``:
``pip install rnnlearn[onnx]``.
"""

# %%
# Imports and settings
# --------------------
#
# The example stops at once, with the command that installs them, when ``onnx`` or
# ``onnxruntime`` is missing. ``fast`` selects the small settings that the test suite and the
# documentation build use (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); ``--output FILE``
# saves the figure instead of showing it. ``BATCH_SIZES`` are the timed batch sizes and
# ``SHOWN`` the number of held-out steps the figure draws.
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from rnnlearn import RNNRegressor
from rnnlearn.datasets import make_sine_sequences
from rnnlearn.onnx import to_onnx
from rnnlearn.preprocessing import SequenceScaler, make_windows, pad_sequences

try:
    import onnx
    import onnxruntime
except ImportError as error:
    raise ImportError(
        "This example needs onnx and onnxruntime; install them with `pip install rnnlearn[onnx]`."
    ) from error

# --fast, or RNNLEARN_EXAMPLES_FAST=1: the small settings of the tests; --output FILE: save
# the figure instead of showing it (other arguments, such as a Jupyter kernel's, are ignored)
fast = "--fast" in sys.argv or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
output = sys.argv[sys.argv.index("--output") + 1] if "--output" in sys.argv else None
n_timesteps = 600 if fast else 3000  # length of the series
window = 20 if fast else 40  # longest history the network reads for one forecast
max_iter = 20 if fast else 40  # training epochs
n_calls = 20 if fast else 200  # timed predict calls per library and batch size
BATCH_SIZES = (1, 32)
SHOWN = 120
# A short demo stops at max_iter on purpose; do not warn about it.
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# Histories of mixed lengths
# --------------------------
#
# One series of ``n_timesteps`` values from :func:`~rnnlearn.datasets.make_sine_sequences` (a
# single sample's window and the value after it) is cut into windows by
# :func:`~rnnlearn.preprocessing.make_windows`, and each window keeps only its last
# ``window // 2`` to ``window`` values: the forecaster learns from, and is served, histories of
# any length in that range. The first 80 % train, the rest are held out.
rng = np.random.RandomState(0)
X, y = make_sine_sequences(1, n_timesteps - 1, random_state=rng)
series = np.append(X[0, :, 0], y)
windows, y = make_windows(series, window)
kept = rng.randint(window // 2, window + 1, size=len(windows))
histories = [w[window - n :] for w, n in zip(windows, kept, strict=True)]
split = int(0.8 * len(histories))
train, test = histories[:split], histories[split:]
y_train, y_test = y[:split], y[split:]
print(
    f"{len(train)} training and {len(test)} held-out histories "
    f"of {kept.min()} to {kept.max()} steps"
)

# %%
# Fit
# ---
#
# The pipeline is fitted on the training histories, as they are: a list of arrays of their own
# lengths. The regressor reads each history's last state (``pooling="last"``): the next value
# depends on the latest ones, while its default, max pooling, suits whole-series regression.
regressor = RNNRegressor(
    hidden_layer_sizes=(32,), cell="gru", pooling="last", max_iter=max_iter, random_state=0
)
model = make_pipeline(SequenceScaler(), regressor)
with threadpool_limits(limits=1):  # the machine may be shared; one thread is enough
    model.fit(train, y_train)

# %%
# Export and load
# ---------------
#
# :func:`~rnnlearn.onnx.to_onnx` with ``lengths=True`` exports the pipeline, scaler included;
# the file is loaded in an ``onnxruntime.InferenceSession`` as a service would load it, on one
# thread.
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "forecaster.onnx"
    onnx.save(to_onnx(model, lengths=True), path)
    print(f"ONNX model: {path.stat().st_size} bytes")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def predict_onnx(X, lengths):
    """Forecast right-padded histories of the given lengths with the ONNX model."""
    (predictions,) = session.run(None, {"X": X, "lengths": lengths})
    return predictions


# %%
# Serve
# -----
#
# The held-out histories are padded with :func:`~rnnlearn.preprocessing.pad_sequences`, which
# also returns their lengths, the deployment's own data. Both libraries forecast them; they
# agree up to float32 round-off, and both beat repeating the last observed value.
def rmse(forecast, truth):
    """Root mean squared error."""
    return float(np.sqrt(np.mean((forecast - truth) ** 2)))


X_test, lengths = pad_sequences(test, dtype=np.float32)
with threadpool_limits(limits=1):
    forecast = model.predict(test)
onnx_forecast = predict_onnx(X_test, lengths)
naive = np.array([history[-1, 0] for history in test])
max_difference = float(np.max(np.abs(onnx_forecast - forecast)))
print(f"max |rnnlearn - onnxruntime| over the held-out forecasts: {max_difference:.2e}")
print(
    f"held-out RMSE: {rmse(forecast, y_test):.3f} (last observed value: {rmse(naive, y_test):.3f})"
)


# %%
# Latency
# -------
#
# The median wall time of ``n_calls`` predict calls, after one warm-up, for each library and
# batch size, on one thread: one machine's timings, not a benchmark.
def median_seconds(predict, *args):
    """The median wall time of ``n_calls`` calls of ``predict(*args)``, after one warm-up."""
    predict(*args)
    seconds = []
    for _ in range(n_calls):
        start = time.perf_counter()
        predict(*args)
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


latency = {"rnnlearn": {}, "onnxruntime": {}}
with threadpool_limits(limits=1):
    for n in BATCH_SIZES:
        latency["rnnlearn"][n] = median_seconds(model.predict, test[:n])
        latency["onnxruntime"][n] = median_seconds(predict_onnx, X_test[:n], lengths[:n])
        times = ", ".join(
            f"{library} {1e3 * seconds[n]:.3f} ms" for library, seconds in latency.items()
        )
        print(f"median predict time for {n} sequence(s): {times}")
print("(one machine's timings, not a benchmark)")

# %%
# The figure
# ----------
#
# Left: the last ``SHOWN`` held-out steps (at most), the truth under both forecasts, with each
# forecast's RMSE over all held-out steps and that of repeating the last observed value. Right:
# the median time of a predict call for each library and batch size.
colors = {"rnnlearn": "tab:orange", "onnxruntime": "tab:blue"}
figure, (ax, bar_ax) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2.2, 1]})
shown = slice(-SHOWN, None)
step = np.arange(n_timesteps - len(test), n_timesteps)[shown]
ax.plot(step, y_test[shown], color="black", linewidth=1, label="truth")
ax.plot(step, forecast[shown], color=colors["rnnlearn"], linewidth=3, label="rnnlearn")
ax.plot(
    step, onnx_forecast[shown], color=colors["onnxruntime"], linestyle="--", label="onnxruntime"
)
ax.set(xlabel="time step", ylabel="value")
ax.margins(y=0.3)  # room for the legend and the note
ax.set_title(f"One-step forecasts, last {len(step)} held-out steps")
ax.legend(loc="upper left", ncol=3, fontsize="small")
ax.text(
    0.01,
    0.03,
    f"all {len(y_test)} held-out steps: max |rnnlearn − onnxruntime| = {max_difference:.1e}\n"
    f"RMSE {rmse(forecast, y_test):.3f} (repeating the last value: {rmse(naive, y_test):.3f})",
    transform=ax.transAxes,
    fontsize="small",
)

positions = np.arange(len(BATCH_SIZES))
width = 0.38
for offset, library in zip((-width / 2, width / 2), colors, strict=True):
    milliseconds = [1e3 * latency[library][n] for n in BATCH_SIZES]
    bars = bar_ax.bar(positions + offset, milliseconds, width, color=colors[library], label=library)
    bar_ax.bar_label(bars, fmt="%.3g", fontsize="small")
bar_ax.set_xticks(positions, [f"{n} sequence{'s' * (n > 1)}" for n in BATCH_SIZES])
bar_ax.set(ylabel="ms per predict call (median)")
bar_ax.margins(y=0.3)
bar_ax.set_title("Predict latency, one thread")
bar_ax.legend(loc="upper left", fontsize="small")
figure.tight_layout()
figure.savefig(output, dpi=100) if output else plt.show()
