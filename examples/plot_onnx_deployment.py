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
# ``FAST`` holds the small settings that the test suite and the documentation build use
# (``--fast``, or ``RNNLEARN_EXAMPLES_FAST=1``); without it the example runs with the defaults
# of ``run``. The example stops at once, with the command that installs them, when ``onnx``
# or ``onnxruntime`` is missing. ``BATCH_SIZES`` are the timed batch sizes and ``SHOWN`` the
# number of held-out steps the figure draws.
import argparse
import os
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

#: Small settings for continuous integration (``--fast`` or ``RNNLEARN_EXAMPLES_FAST=1``).
FAST = {"n_timesteps": 600, "window": 20, "max_iter": 20, "n_calls": 20}
#: Numbers of sequences per predict call whose latency is measured.
BATCH_SIZES = (1, 32)
#: The colour of each library's forecast and bars.
COLORS = {"rnnlearn": "tab:orange", "onnxruntime": "tab:blue"}
#: Held-out steps drawn (the differences and errors cover all of them).
SHOWN = 120


# %%
# Histories of mixed lengths
# --------------------------
#
# One series from :func:`~rnnlearn.datasets.make_sine_sequences` is cut into windows by
# :func:`~rnnlearn.preprocessing.make_windows`, and each window keeps only its last ``window //
# 2`` to ``window`` values: the forecaster learns from, and is served, histories of any length
# in that range. A small helper times predict calls.
def make_histories(n_timesteps, window, random_state=0):
    """Cut one noisy sum of sines into histories of mixed lengths and their next values.

    Returns
    -------
    histories : list of ndarray of shape (n_timesteps_i, 1)
        The last ``window // 2`` to ``window`` values before each target.
    y : ndarray of shape (n_histories,)
        The value that follows each history.
    """
    rng = np.random.RandomState(random_state)
    # One series of n_timesteps values: a single sample's window and the value after it.
    X, y = make_sine_sequences(1, n_timesteps - 1, random_state=rng)
    series = np.append(X[0, :, 0], y)
    windows, y = make_windows(series, window)
    lengths = rng.randint(window // 2, window + 1, size=len(windows))
    return [w[window - n :] for w, n in zip(windows, lengths, strict=True)], y


def median_seconds(n_calls, predict, *args):
    """The median wall time of ``n_calls`` calls of ``predict(*args)``, after one warm-up."""
    predict(*args)
    seconds = []
    for _ in range(n_calls):
        start = time.perf_counter()
        predict(*args)
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


# %%
# Fit, export, serve
# ------------------
#
# The pipeline is fitted on the first 80 % of the histories. :func:`~rnnlearn.onnx.to_onnx` with
# ``lengths=True`` exports it, scaler included; the file is loaded in an
# ``onnxruntime.InferenceSession`` as a service would load it. The held-out histories are padded
# with :func:`~rnnlearn.preprocessing.pad_sequences`, which also returns their lengths, and both
# libraries forecast them, on one thread each.
def run(n_timesteps=3000, window=40, max_iter=40, n_calls=200):
    """Fit on the first 80 % of the series, export to ONNX and compare on the rest.

    Parameters
    ----------
    n_timesteps : int, default=3000
        Length of the series.
    window : int, default=40
        Longest history the network reads for one forecast.
    max_iter : int, default=40
        Training epochs.
    n_calls : int, default=200
        Timed predict calls per library and batch size.

    Returns
    -------
    dict
        ``step``, ``truth``, ``lengths`` and ``naive`` (the last observed value) of the
        held-out targets; the forecasts ``rnnlearn`` (``predict``) and ``onnxruntime``
        (the exported model in onnxruntime); their ``max_difference``; ``onnx_bytes``,
        the size of the saved model; ``latency``, the median seconds per call
        ``{library: {n_sequences: seconds}}``.
    """
    histories, y = make_histories(n_timesteps, window)
    split = int(0.8 * len(histories))
    model = make_pipeline(
        SequenceScaler(),
        RNNRegressor(hidden_layer_sizes=(32,), cell="gru", max_iter=max_iter, random_state=0),
    )
    with threadpool_limits(limits=1):  # the machine may be shared; one thread is enough
        model.fit(histories[:split], y[:split])

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "forecaster.onnx"
        onnx.save(to_onnx(model, lengths=True), path)
        onnx_bytes = path.stat().st_size
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def run_onnx(X, lengths):
        (predictions,) = session.run(None, {"X": X, "lengths": lengths})
        return predictions

    test = histories[split:]
    X_test, lengths = pad_sequences(test, dtype=np.float32)  # the deployment's own data
    with threadpool_limits(limits=1):
        forecast = model.predict(test)
        latency = {"rnnlearn": {}, "onnxruntime": {}}
        for n in BATCH_SIZES:
            latency["rnnlearn"][n] = median_seconds(n_calls, model.predict, test[:n])
            latency["onnxruntime"][n] = median_seconds(n_calls, run_onnx, X_test[:n], lengths[:n])
    onnx_forecast = run_onnx(X_test, lengths)
    return {
        "step": np.arange(n_timesteps - len(test), n_timesteps),
        "truth": y[split:],
        "lengths": lengths,
        "naive": np.array([history[-1, 0] for history in test]),
        "rnnlearn": forecast,
        "onnxruntime": onnx_forecast,
        "max_difference": float(np.max(np.abs(onnx_forecast - forecast))),
        "onnx_bytes": onnx_bytes,
        "latency": latency,
    }


# %%
# The figure
# ----------
#
# Left: the last held-out steps, the truth under both forecasts and under repeating the last
# observed value, with each forecast's RMSE. Right: the median time of a predict call for each
# library and batch size.
def rmse(forecast, truth):
    """Root mean squared error."""
    return float(np.sqrt(np.mean((forecast - truth) ** 2)))


def plot(result):
    """Plot both forecasts over the truth and the predict latencies; return the figure."""
    figure, (ax, bar_ax) = plt.subplots(
        1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2.2, 1]}
    )
    shown = slice(-SHOWN, None)
    step, truth = result["step"][shown], result["truth"][shown]
    ax.plot(step, truth, color="black", linewidth=1, label="truth")
    ax.plot(
        step, result["rnnlearn"][shown], color=COLORS["rnnlearn"], linewidth=3, label="rnnlearn"
    )
    ax.plot(
        step,
        result["onnxruntime"][shown],
        color=COLORS["onnxruntime"],
        linestyle="--",
        label="onnxruntime",
    )
    ax.set(xlabel="time step", ylabel="value")
    ax.margins(y=0.3)  # room for the legend and the note
    ax.set_title(f"One-step forecasts, last {len(step)} held-out steps")
    ax.legend(loc="upper left", ncol=3, fontsize="small")
    ax.text(
        0.01,
        0.03,
        f"all {len(result['truth'])} held-out steps: "
        f"max |rnnlearn − onnxruntime| = {result['max_difference']:.1e}\n"
        f"RMSE {rmse(result['rnnlearn'], result['truth']):.3f} "
        f"(repeating the last value: {rmse(result['naive'], result['truth']):.3f})",
        transform=ax.transAxes,
        fontsize="small",
    )

    positions = np.arange(len(BATCH_SIZES))
    width = 0.38
    for offset, library in zip((-width / 2, width / 2), COLORS, strict=True):
        milliseconds = [1e3 * result["latency"][library][n] for n in BATCH_SIZES]
        bars = bar_ax.bar(
            positions + offset, milliseconds, width, color=COLORS[library], label=library
        )
        bar_ax.bar_label(bars, fmt="%.3g", fontsize="small")
    bar_ax.set_xticks(positions, [f"{n} sequence{'s' * (n > 1)}" for n in BATCH_SIZES])
    bar_ax.set(ylabel="ms per predict call (median)")
    bar_ax.margins(y=0.3)
    bar_ax.set_title("Predict latency, one thread")
    bar_ax.legend(loc="upper left", fontsize="small")
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
    parser = argparse.ArgumentParser(description="Deploying a forecaster with ONNX.")
    parser.add_argument("--fast", action="store_true", help="the small settings of the tests")
    parser.add_argument("--output", help="save the figure to this file instead of showing it")
    args = parser.parse_args(argv)
    fast = args.fast or os.environ.get("RNNLEARN_EXAMPLES_FAST") == "1"
    # A short demo stops at max_iter on purpose; do not warn about it.
    warnings.simplefilter("ignore", ConvergenceWarning)
    result = run(**(FAST if fast else {}))
    truth = result["truth"]
    print(f"ONNX model: {result['onnx_bytes']} bytes")
    print(
        f"max |rnnlearn - onnxruntime| over the held-out forecasts: {result['max_difference']:.2e}"
    )
    print(
        f"held-out RMSE: {rmse(result['rnnlearn'], truth):.3f} "
        f"(last observed value: {rmse(result['naive'], truth):.3f})"
    )
    for n in BATCH_SIZES:
        times = ", ".join(
            f"{library} {1e3 * seconds[n]:.3f} ms" for library, seconds in result["latency"].items()
        )
        print(f"median predict time for {n} sequence(s), one thread: {times}")
    print("(one machine's timings, not a benchmark)")
    figure = plot(result)
    if args.output:
        figure.savefig(args.output, dpi=100)
    else:
        plt.show()
    return result, figure


if __name__ == "__main__":
    main()
