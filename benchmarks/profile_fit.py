"""Where the time of a default fit goes, on the sets of ``../shared/data``.

One command::

    python benchmarks/profile_fit.py --threads 1                 # every set, seed 0
    python benchmarks/profile_fit.py --threads 1 --sets PLAID --max-iter 20
    python benchmarks/profile_fit.py --sets OSULeaf --seeds 0 1 2

Each set is read and standardised as ``bench_real_data.py`` does, and ``RNNClassifier()``
(OSULeaf, PLAID) or ``RNNRegressor()`` (Covid3Month) is fitted as it comes (``--max-iter``
caps its epochs, to cut PLAID's six-minute fit). The pieces of the fit run under timers
that wrap them in place, so the profile is of the library as installed, unchanged:

- the compiled kernels (:data:`KERNELS`), charged to the pass that calls them (forward,
  backward or prediction): the recurrences, the other products (input projection, output
  layer, input gradients) and the weight gradients;
- the passes' own Python and NumPy (:data:`PASSES`: masks, dropout, bias sums, copies);
- the Python methods of :data:`METHODS`: pooling over the steps and its gradient with the
  output layer's, the loss, the optimizer step, clipping, minibatch assembly (shuffling,
  slicing each batch to its longest sequence), dropout masks, the epoch policy (tracking
  and copying the best weights), writing the fitted attributes after every epoch, the
  callbacks, validation scoring and the end-of-fit collapse check;
- ``minibatch loop (Python)``: the rest of the epoch loop, the interpreter's own work per
  minibatch between those calls; ``set-up, rest``: the rest of the fit.

Times are exclusive: a piece's time excludes the timed pieces it calls, so the rows add up
to the fit's time. The timers cost about a microsecond a call (a few dozen calls per
minibatch), well below the smallest rows. Each set prints one table per seed: seconds, %
of the fit and milliseconds per epoch, with the epochs run, the epoch whose weights the
fit restored, and the test score.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import functools
import time
import warnings
from pathlib import Path

import numpy as np
from bench_real_data import DATA, SETS, load, score
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import rnnlearn._base as base
import rnnlearn._training as training
from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn._network import Network
from rnnlearn.callbacks import _EpochDispatch
from rnnlearn.cells._compiled import kernels
from rnnlearn.exceptions import CollapseWarning
from rnnlearn.losses import Loss
from rnnlearn.optimizers import Optimizer

KERNELS = {
    "recurrent kernel": tuple(
        f"{cell}_{way}" for cell in ("vanilla", "gru", "lstm") for way in ("forward", "backward")
    ),
    "other products": ("matmul",),
    "weight gradients": ("weight_grad",),
}
"""Row name -> compiled kernels; each is charged to the pass that calls it."""
COLLAPSE = "collapse check (end of fit)"
PASSES = {
    "forward": (Network, "forward", "rest (masks, dropout, copies)"),
    "backward": (Network, "backward", "rest (bias sums, copies)"),
}
"""Pass name -> the method that runs it and what its own (not the kernels') time is."""
SCORING = "validation scoring (prediction)"
"""The row of :meth:`Network.predict` during the fit, unless the collapse check calls it."""
METHODS = {
    "forward: pooling over steps": [(Network, "_read_top")],
    "backward: output layer and pooling": [(Network, "_backward_head")],
    "loss and its gradient": [(Loss, "loss_gradient")],
    "optimizer step": [(Optimizer, "update")],
    "clipping and L2 penalty": [
        (training, "clip_by_global_norm"),
        (training, "add_l2_penalty"),
    ],
    "minibatch assembly (shuffle, slice, cut)": [
        (training, "minibatches"),
        (training.TrainingData, "batch"),
    ],
    "dropout masks": [(Network, "dropout_masks")],
    "epoch policy, best-weights copy": [(training.EpochPolicy, "end_epoch")],
    "fitted attributes per epoch": [(base.BaseRNN, "_commit")],
    "callbacks": [(_EpochDispatch, "begin_epoch"), (_EpochDispatch, "end_epoch")],
    COLLAPSE: [(training.EpochPolicy, "check_collapse")],
    "minibatch loop (Python)": [(training, "run_epoch")],
}
"""Row name -> the ``(owner, attribute)`` functions it times."""
REST = "set-up, rest"
PER_BATCH = (
    *(f"{name}: {rest}" for name, (_, _, rest) in PASSES.items()),
    "forward: pooling over steps",
    "backward: output layer and pooling",
    "loss and its gradient",
    "optimizer step",
    "clipping and L2 penalty",
    "minibatch assembly (shuffle, slice, cut)",
    "dropout masks",
)
"""The rows, besides the loop's own, that every minibatch pays outside the kernels."""
ORDER = [
    *(f"{name}: {row}" for name in PASSES for row in KERNELS),
    *(f"{name}: {rest}" for name, (_, _, rest) in PASSES.items()),
    *METHODS,
    SCORING,
    REST,
]
"""The rows of the table, in order; a row no fit reached (such as forward weight gradients)
is left out."""


class Timers:
    """Exclusive timers: a nested timed call's time is taken off its caller's row."""

    def __init__(self):
        self.seconds, self.calls, self.stack = {}, {}, []

    def wrap(self, owner, attribute, row):
        """Replace ``owner.attribute`` by a timed version charged to ``row``.

        ``row`` may be a callable of the enclosing row (for kernels: charged to the
        pass that calls them).
        """
        function = getattr(owner, attribute)
        if attribute == "minibatches":  # a generator: time the drawing of the batches
            function = _eager(function)

        @functools.wraps(function)
        def timed(*args, **kwargs):
            name = row(self.stack[-1][0] if self.stack else None) if callable(row) else row
            self.stack.append([name, 0.0])
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                _, inner = self.stack.pop()
                self.seconds[name] = self.seconds.get(name, 0.0) + elapsed - inner
                self.calls[name] = self.calls.get(name, 0) + 1
                if self.stack:
                    self.stack[-1][1] += elapsed

        setattr(owner, attribute, timed)
        return function

    def install(self):
        """Wrap every piece; return what :func:`uninstall` puts back."""
        originals = []
        for row, methods in METHODS.items():
            originals += [(o, a, self.wrap(o, a, row)) for o, a in methods]
        for name, (owner, attribute, rest) in PASSES.items():
            originals.append((owner, attribute, self.wrap(owner, attribute, f"{name}: {rest}")))
        originals.append((Network, "predict", self.wrap(Network, "predict", _scoring_row)))
        for row, names in KERNELS.items():
            for name in names:
                charge = functools.partial(_kernel_row, row)
                originals.append((kernels, name, self.wrap(kernels, name, charge)))
        return originals


def _eager(generator_function):
    """``generator_function`` drawing all its items at the call (same draws, same order)."""

    @functools.wraps(generator_function)
    def eager(*args, **kwargs):
        return iter(list(generator_function(*args, **kwargs)))

    return eager


def _scoring_row(caller):
    """The row of a prediction during the fit: the collapse check's, or validation."""
    return COLLAPSE if caller == COLLAPSE else SCORING


def _kernel_row(row, caller):
    """The row of a kernel called from the row ``caller``: its pass's, or a prediction's."""
    for name in PASSES:
        if caller.startswith(name + ":"):
            return f"{name}: {row}"
    return caller


def uninstall(originals):
    """Put back the functions :meth:`Timers.install` replaced."""
    for owner, attribute, function in reversed(originals):
        setattr(owner, attribute, function)


def profile(name, data, seed, max_iter):
    """Fit the default estimator on one set under timers; ``(timers, fit_seconds, model)``."""
    task = SETS[name]
    cap = {} if max_iter is None else {"max_iter": max_iter}
    model = (RNNClassifier if task == "classification" else RNNRegressor)(random_state=seed, **cap)
    timers = Timers()
    originals = timers.install()
    try:
        start = time.perf_counter()
        model.fit(data["X_train"], data["y_train"])
        fit_seconds = time.perf_counter() - start
    finally:
        uninstall(originals)
    return timers, fit_seconds, model


def report(name, seed, timers, fit_seconds, model, test_score):
    """Print one fit's table: seconds, % of the fit and ms per epoch of each row."""
    seconds = dict(timers.seconds)
    seconds[REST] = fit_seconds - sum(seconds.values())
    losses = [record["loss"] for record in model.history_]
    n_epochs, best = len(losses), int(np.nanargmin(losses)) + 1
    n_batches = timers.calls.get(f"backward: {PASSES['backward'][2]}", 0)
    loop = seconds.get("minibatch loop (Python)", 0.0)
    print(
        f"\n{name}, {type(model).__name__}() seed {seed}: fit {fit_seconds:.1f} s, "
        f"{n_epochs} epochs, best (restored) epoch {best} ({n_epochs - best} after it), "
        f"{n_batches / n_epochs:.0f} minibatches per epoch, test score {test_score:.4f}"
    )
    print(f"{'part':44} {'s':>8} {'%':>6} {'ms/epoch':>9}")
    for row in ORDER:
        value = seconds.get(row)
        if row in seconds:
            print(
                f"{row:44} {value:8.2f} {100 * value / fit_seconds:6.1f} "
                f"{1000 * value / n_epochs:9.1f}"
            )
    in_kernels = sum(v for row, v in seconds.items() if row.endswith(tuple(KERNELS)))
    outside = sum(seconds.get(row, 0.0) for row in PER_BATCH) + loop
    print(
        f"per minibatch: {1e3 * in_kernels / n_batches:.2f} ms in the kernels, "
        f"{1e3 * outside / n_batches:.2f} ms of Python and NumPy around them "
        f"({1e3 * loop / n_batches:.2f} ms of it the loop's own)"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="*", default=["OSULeaf", "PLAID", "Covid3Month"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--max-iter", type=int, default=None, help="cap the epochs")
    parser.add_argument("--threads", type=int, default=None, help="OpenMP/BLAS threads")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the data sets")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)  # a cut fit runs out of epochs
    warnings.simplefilter("ignore", CollapseWarning)  # and may not have learned yet
    with threadpool_limits(args.threads):
        for name in args.sets:
            if SETS.get(name) not in ("classification", "regression"):
                parser.error(f"{name} is not a classification or regression set")
            data = load(name, args.data)
            for seed in args.seeds:
                timers, fit_seconds, model = profile(name, data, seed, args.max_iter)
                test_score = score(SETS[name], data, model.predict(data["X_test"]))
                report(name, seed, timers, fit_seconds, model, test_score)


if __name__ == "__main__":
    main()
