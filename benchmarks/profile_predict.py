"""What each step of a ``predict`` call costs: validation, the BLAS hold, set-up, kernels.

One command::

    python benchmarks/profile_predict.py                  # 1 thread, 300 calls per case
    python benchmarks/profile_predict.py --threads 2 --calls 1000 --cells lstm
    python benchmarks/profile_predict.py --no-recurrence  # the cost around the kernels

For the default ``RNNRegressor`` (64 hidden units) and ``RNNClassifier`` (128) of each
cell, max pooling, fitted 2 epochs on 256 noisy sine windows of 50 steps, and ``predict``
on the first 1 and the first 32 windows (a C-contiguous float32 array, as a service would
pass), it prints:

- ``wall``: the median microseconds per call, uninstrumented (after 20 untimed calls);
- the median microseconds per call of each step, over a second series of calls with
  timers around the functions that make up the steps (each function's own time, without
  the timed functions it calls; the timers cost about half a microsecond per timed call,
  so ``sum`` is above ``wall``), their sum, and ``fixed``: the sum without the kernels
  (``recurrence`` and ``products``), the cost per call around them.

The steps, and the functions whose own time each one sums (those missing from the code
being measured are left out, so the script runs on older and newer versions alike):

- ``is fitted``: scikit-learn's ``check_is_fitted``;
- ``validation``: ``check_sequences`` (scikit-learn's ``check_array``), the feature count
  and ``check_representable`` (time-major copy in the model's dtype), or the fast check of
  a ready array;
- ``model read``: reading the fitted model and its weights for prediction (unpacking the
  flat parameter vector, or its cache);
- ``BLAS hold``: entering and leaving ``single_threaded_blas`` (threadpoolctl's controllers
  set to one thread and back), and deciding whether to;
- ``set-up``: the network's own Python around the kernels (chunks, masks, states, buffers);
- ``cell set-up``: the cell's Python around its kernel (kernel inputs, state buffers);
- ``recurrence``: the compiled recurrent kernel (``*_forward``);
- ``products``: the compiled ``matmul`` (input projection and head);
- ``head``: what the head reads of the top states (last state, or pooling);
- ``decoding``: output link, target scaling, labels, formatting;
- ``rest``: the estimator's ``predict`` itself (attribute reads, dtype casts).
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import contextlib
import statistics
import time
import warnings
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

CALLS = 300
WARMUP = 20
SIZES = (1, 32)
CELLS = ("vanilla", "gru", "lstm")

# step -> (owner path, attribute) of the functions whose own time the step sums
STEPS = {
    "is fitted": [("rnnlearn._base", "check_is_fitted")],
    "validation": [
        ("rnnlearn._base", "check_sequences"),
        ("rnnlearn._base", "check_representable"),
        ("rnnlearn._validation", "check_fitted_sequences"),
        ("rnnlearn._validation", "ready_time_major"),
        ("rnnlearn._validation", "check_sequences"),
        ("rnnlearn._validation", "check_representable"),
        ("rnnlearn._base.BaseRNN", "_check_X"),
    ],
    "model read": [
        ("rnnlearn._network.Network", "unpack"),
        ("rnnlearn._network.Network", "_inference_weights"),
    ],
    "BLAS hold": [
        ("rnnlearn._network.Network", "_blas_hold"),
        ("rnnlearn.cells._threads._BlasHold", "__enter__"),
        ("rnnlearn.cells._threads._BlasHold", "__exit__"),
        ("contextlib._GeneratorContextManager", "__enter__"),
        ("contextlib._GeneratorContextManager", "__exit__"),
    ],
    "set-up": [
        ("rnnlearn._network.Network", "predict"),
        ("rnnlearn._network.Network", "_run"),
        ("rnnlearn._network.Network", "_infer"),
        ("rnnlearn._network.Network", "_pass_input"),
        ("rnnlearn._network.Network", "_run_layer"),
        ("rnnlearn._network.Network", "_predict_chunks"),
    ],
    "cell set-up": [
        ("rnnlearn.cells._base.Cell", "predict"),
        ("rnnlearn.cells.VanillaCell", "predict"),
        ("rnnlearn.cells.GRUCell", "predict"),
        ("rnnlearn.cells.LSTMCell", "predict"),
    ],
    "recurrence": [
        ("rnnlearn.cells._compiled.kernels", "vanilla_forward"),
        ("rnnlearn.cells._compiled.kernels", "gru_forward"),
        ("rnnlearn.cells._compiled.kernels", "lstm_forward"),
    ],
    "products": [("rnnlearn.cells._compiled.kernels", "matmul")],
    "head": [
        ("rnnlearn._network.Network", "_read_top"),
        ("rnnlearn._network.Network", "_read_head"),
    ],
    "decoding": [
        ("rnnlearn._base.BaseRNN", "_format_output"),
        ("rnnlearn._regressor.RNNRegressor", "_unscale"),
        ("rnnlearn._classifier.RNNClassifier", "_labels"),
        ("rnnlearn.losses.SquaredError", "point"),
        ("rnnlearn.losses.Loss", "point"),
    ],
    "rest": [
        ("rnnlearn._regressor.RNNRegressor", "predict"),
        ("rnnlearn._classifier.RNNClassifier", "predict"),
    ],
}


def _resolve(path):
    """The module or class at a dotted ``path`` (``None`` if it does not exist)."""
    import importlib

    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            owner = getattr(owner, name, None)
        return owner
    return None


class StepTimers:
    """Timers around the functions of :data:`STEPS`: each adds its own time to its step."""

    def __init__(self):
        self.totals = defaultdict(float)
        self._children = []  # time spent in timed callees, per open timed call
        self._patched = []

    def _timed(self, step, function):
        totals, children = self.totals, self._children

        def timed(*args, **kwargs):
            start = time.perf_counter()
            children.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                totals[step] += elapsed - children.pop()
                if children:
                    children[-1] += elapsed

        return timed

    def __enter__(self):
        for step, targets in STEPS.items():
            for path, name in targets:
                owner = _resolve(path)
                if owner is None or name not in vars(owner):
                    continue  # not in this version, or inherited (timed on its owner)
                original = vars(owner)[name]
                self._patched.append((owner, name, original))
                setattr(owner, name, self._timed(step, original))
        return self

    def __exit__(self, *exc):
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()


def fitted_models(cell):
    """The default regressor and classifier of ``cell``, fitted 2 epochs on sine windows."""
    from rnnlearn import RNNClassifier, RNNRegressor

    rng = np.random.RandomState(0)
    steps = np.arange(51)
    phase = rng.uniform(0, 2 * np.pi, size=(256, 1))
    series = np.sin(0.3 * steps + phase) + 0.1 * rng.normal(size=(256, 51))
    X = series[:, :50, None].astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        regressor = RNNRegressor(cell=cell, max_iter=2, random_state=0).fit(X, series[:, 50])
        classifier = RNNClassifier(cell=cell, max_iter=2, random_state=0)
        classifier.fit(X, series[:, 50] > 0)
    return X, {"regressor": regressor, "classifier": classifier}


def profile(model, X, n_calls):
    """``(wall, steps)``: the median microseconds of an uninstrumented call, and step ->
    the median microseconds of that step over the instrumented calls."""
    for _ in range(WARMUP):
        model.predict(X)
    seconds = []
    for _ in range(n_calls):
        start = time.perf_counter()
        model.predict(X)
        seconds.append(time.perf_counter() - start)
    steps = defaultdict(list)
    with StepTimers() as timers:
        for _ in range(WARMUP):
            model.predict(X)
        for _ in range(n_calls):
            timers.totals.clear()
            model.predict(X)
            for step in STEPS:
                steps[step].append(timers.totals.get(step, 0.0))
    return 1e6 * statistics.median(seconds), {
        step: 1e6 * statistics.median(values) for step, values in steps.items()
    }


def _skip_recurrence():
    """Make the compiled recurrent kernels no-ops (the outputs are then garbage)."""
    from rnnlearn.cells._compiled import kernels

    for name in ("vanilla_forward", "gru_forward", "lstm_forward"):
        setattr(kernels, name, lambda *args, **kwargs: None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="kernel and BLAS threads")
    parser.add_argument("--calls", type=int, default=CALLS, help="timed calls per series")
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    parser.add_argument(
        "--no-recurrence",
        action="store_true",
        help="replace the recurrent kernels by no-ops after fitting: wall is then the cost "
        "per call around them (far steadier on a shared machine than fixed)",
    )
    args = parser.parse_args(argv)
    import os

    import rnnlearn

    columns, results = [], {}
    with threadpool_limits(args.threads), contextlib.redirect_stderr(None):
        fits = {cell: fitted_models(cell) for cell in args.cells}
        if args.no_recurrence:
            _skip_recurrence()
        for cell, (X, models) in fits.items():
            for kind, model in models.items():
                for size in SIZES:
                    batch = np.ascontiguousarray(X[:size])
                    column = f"{kind[:3]} {cell[:4]} {size}"
                    columns.append(column)
                    results[column] = profile(model, batch, args.calls)
    load = os.getloadavg()
    print(
        f"rnnlearn {rnnlearn.__version__} from {os.path.dirname(rnnlearn.__file__)}; "
        f"{args.threads} thread(s); {args.calls} calls per series; load {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f}"
    )
    print("microseconds per predict call (reg: RNNRegressor, cla: RNNClassifier; 1 or 32 seq)\n")
    width = max(len(c) for c in columns) + 2
    print(f"{'step':<12}" + "".join(f"{c:>{width}}" for c in columns))
    print("-" * (12 + width * len(columns)))
    for step in STEPS:
        row = [results[c][1].get(step, 0.0) for c in columns]
        print(f"{step:<12}" + "".join(f"{v:>{width}.1f}" for v in row))
    print("-" * (12 + width * len(columns)))
    sums = [sum(results[c][1].values()) for c in columns]
    print(f"{'sum':<12}" + "".join(f"{v:>{width}.1f}" for v in sums))
    fixed = [
        s - results[c][1]["recurrence"] - results[c][1]["products"]
        for s, c in zip(sums, columns, strict=True)
    ]
    print(f"{'fixed':<12}" + "".join(f"{v:>{width}.1f}" for v in fixed))
    print(f"{'wall':<12}" + "".join(f"{results[c][0]:>{width}.1f}" for c in columns))
    print(
        "\nsteps: median over the instrumented calls of each step's time (its functions' own "
        "time);\nsum: of those medians; fixed: sum minus recurrence and products (the cost per "
        "call around the\nkernels, timers included); wall: median of the uninstrumented calls."
    )


if __name__ == "__main__":
    main()
