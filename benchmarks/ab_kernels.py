"""The recurrent kernels of two builds, timed in one process, call by call in turn.

One command::

    python benchmarks/ab_kernels.py /path/to/checkout_a /path/to/checkout_b
    python benchmarks/ab_kernels.py A B --cells gru --shapes 100x64x128 427x16x128 --threads 2
    python benchmarks/ab_kernels.py A B --features 1     # forward from a one-feature input

Each checkout must have its kernels built (``python setup.py build_ext --inplace``). The
script loads the kernel build this CPU would use from each, then for every cell and shape
``(T, batch, hidden)`` runs the float32 training forward and backward kernels of A and of B
in turn on the same random data, ``--repeats`` times, and prints the best time of each and
the ratio B/A. On a machine shared with other jobs, alternating in one process is what
keeps two builds comparable: the machine's speed drifts by tens of percent between runs.
With ``--features F`` the forward time includes the input projection of an input of F
features: step by step inside the kernel for a build whose forward kernels take the
layer's input (``X``, ``W_x``, ``b``), else the build's ``matmul`` over the whole pass first;
and the backward time includes the gradients of ``W_x`` and ``b``: ``input_grads`` where
the build has it, else ``weight_grad`` and ``column_sums``.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import functools
import glob
import importlib.util
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

GATES = {"lstm": 4, "gru": 3, "vanilla": 1}


def load_kernels(checkout, name):
    """The compiled kernel module ``name`` (e.g. ``_kernels_x86_64_v4``) of ``checkout``."""
    path = glob.glob(os.path.join(checkout, "rnnlearn", "cells", f"{name}.cpython*"))[0]
    spec = importlib.util.spec_from_file_location(f"rnnlearn.cells.{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def takes_input(kernels):
    """Whether the forward kernels of ``kernels`` take the layer's input and project it."""
    try:
        kernels.vanilla_forward(
            np.zeros((1, 1, 1), np.float32),
            np.zeros((1, 1), np.float32),
            np.zeros((2, 1, 1), np.float32),
            X=np.zeros((1, 1, 1), np.float32),
            W_x=np.zeros((1, 1), np.float32),
            b=np.zeros(1, np.float32),
        )
    except TypeError:
        return False
    return True


def run_pass(kernels, cell, XW, W_h, n_hidden, projection=None):
    """One forward and one backward pass on a copy of ``XW``, or with ``projection``
    ``(X, W_x, b)`` on its projection; their seconds."""
    T, B, _ = XW.shape
    H = np.zeros((T + 1, B, n_hidden), np.float32)
    dH = np.full((T, B, n_hidden), 0.01, np.float32)
    inputs = {}
    start = time.perf_counter()
    if projection is None:
        gates = XW.copy()
    elif takes_input(kernels):
        gates, inputs = np.empty_like(XW), dict(zip(("X", "W_x", "b"), projection, strict=True))
    else:
        X, W_x, b = projection
        gates = kernels.matmul(X.reshape(T * B, -1), W_x, False, b).reshape(XW.shape)
    if cell == "lstm":
        C, cell_out = np.zeros_like(H), np.zeros((T, B, n_hidden), np.float32)
        kernels.lstm_forward(gates, W_h, H, C, cell_out, **inputs)
        middle = time.perf_counter()
        kernels.lstm_backward(gates, C, cell_out, W_h, dH, np.zeros((2, B, n_hidden), np.float32))
    elif cell == "gru":
        b_hn, reset_term = np.zeros(n_hidden, np.float32), np.zeros((T, B, n_hidden), np.float32)
        kernels.gru_forward(gates, W_h, b_hn, H, reset_term, **inputs)
        middle = time.perf_counter()
        dstate, dn = np.zeros((B, n_hidden), np.float32), np.zeros((T, B, n_hidden), np.float32)
        kernels.gru_backward(gates, H, reset_term, W_h, dH, dstate, dn)
    else:
        kernels.vanilla_forward(gates, W_h, H, **inputs)
        middle = time.perf_counter()
        kernels.vanilla_backward(H, W_h, dH, gates, np.zeros((B, n_hidden), np.float32))
    if projection is not None:  # the gradients of W_x and b from the gates' (dXW)
        X, W_x, b = projection
        dXW, X = gates.reshape(T * B, -1), X.reshape(T * B, -1)
        dW_x, db = np.empty_like(W_x), np.empty_like(b)
        if hasattr(kernels, "input_grads"):
            kernels.input_grads(X, dXW, dW_x, db)
        else:
            kernels.weight_grad(X, dXW, dW_x)
            kernels.column_sums(dXW, db)
    return middle - start, time.perf_counter() - middle


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="checkout A (the reference)")
    parser.add_argument("b", help="checkout B")
    parser.add_argument("--cells", nargs="*", default=list(GATES))
    parser.add_argument("--shapes", nargs="*", default=["100x64x128", "50x64x64", "100x16x64"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--features", type=int, help="project an input of so many features")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.a)
    from rnnlearn.cells import _compiled
    from rnnlearn.cells._threads import single_threaded_blas

    name = _compiled.kernels.__name__.rsplit(".", 1)[1]
    builds = [load_kernels(checkout, name) for checkout in (args.a, args.b)]
    rng = np.random.default_rng(0)
    load = os.getloadavg()[0]
    print(f"{name}, {args.threads} thread(s), best of {args.repeats}, load {load:.2f}")
    with single_threaded_blas(), threadpool_limits(args.threads, user_api="openmp"):
        for kernels in builds:
            kernels.allow_threads(True)
        for cell in args.cells:
            for shape in args.shapes:
                T, B, n_hidden = map(int, shape.split("x"))
                W_h = (0.1 * rng.standard_normal((n_hidden, GATES[cell] * n_hidden))).astype(
                    np.float32
                )
                XW = rng.standard_normal((T, B, GATES[cell] * n_hidden)).astype(np.float32)
                projection = None
                if args.features:
                    projection = tuple(
                        rng.standard_normal(shape).astype(np.float32)
                        for shape in [(T, B, args.features), (args.features, XW.shape[-1])]
                    ) + (rng.standard_normal(XW.shape[-1]).astype(np.float32),)
                best = np.full((2, 2), np.inf)
                for _ in range(args.repeats):
                    for i, kernels in enumerate(builds):
                        times = run_pass(kernels, cell, XW, W_h, n_hidden, projection)
                        best[i] = np.minimum(best[i], times)
                ms = 1e3 * best
                print(
                    f"{cell:8}{shape:>12}  forward A {ms[0, 0]:8.3f} B {ms[1, 0]:8.3f} ms "
                    f"(B/A {best[1, 0] / best[0, 0]:.2f})  backward A {ms[0, 1]:8.3f} "
                    f"B {ms[1, 1]:8.3f} ms (B/A {best[1, 1] / best[0, 1]:.2f})"
                )


if __name__ == "__main__":
    main()
