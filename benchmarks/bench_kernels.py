"""Where a training epoch of ``bench_vs_torch.py``'s cases goes, and at what share of peak.

One command::

    python benchmarks/bench_kernels.py                         # the LSTM at classify, sine
    python benchmarks/bench_kernels.py --cases classify-gru sine-vanilla --threads 2
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_kernels.py   # compare builds

Each case (``<task>-<cell>``, shapes and estimator as in ``bench_vs_torch.py``) trains one
warm-up epoch, then ``--epochs`` epochs under the timers of ``profile_fit.py`` (exclusive:
the rows add up to the epoch). The table gives milliseconds per minibatch of each row and,
for the rows that are matrix products, their GFLOP/s and share of the machine's sgemm peak
(NumPy's float32 product of 2048 x 2048 squares at the same thread count, measured before
the cases): the recurrent kernels forward (products h W_h and the fused gate passes) and
backward (products with W_h^T and the fused passes), the weight gradients (W_h, W_x and the
output layer's) and the other products (input projection, output layer, its input
gradient). GFLOP counts as :func:`bench_vs_torch.training_flops`; the elementwise work of
the recurrent kernels is not counted but is timed with their products, so their GFLOP/s
is what the whole kernel achieves.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import os
import time

import profile_fit
from bench_vs_torch import GATES, TASKS, Case, RnnlearnRunner, case_shape, make_data, sgemm_peak
from threadpoolctl import threadpool_limits

import rnnlearn


def product_flops(case):
    """GFLOP per minibatch of each timed row that is made of matrix products."""
    n_features, n_outputs, output_mode = case_shape(case)
    rows = case.batch_size * case.n_timesteps
    fused = GATES[case.cell] * case.n_hidden
    head = (rows if output_mode == "sequence" else case.batch_size) * 2 * case.n_hidden * n_outputs
    recurrent = 2 * rows * case.n_hidden * fused
    projection = 2 * rows * n_features * fused
    return {
        "forward: recurrent kernel": recurrent / 1e9,
        "backward: recurrent kernel": recurrent / 1e9,
        "backward: weight gradients": (recurrent + projection + head) / 1e9,
        "forward: other products": (projection + head) / 1e9,
        "backward: other products": head / 1e9,
    }


def profile_case(case, n_epochs):
    """Train ``case`` one warm-up epoch, then ``n_epochs`` under timers; ``(timers,
    seconds, n_batches)``."""
    X, y = make_data(case.task, case.n_samples, case.n_timesteps)
    runner = RnnlearnRunner(case, X, y)
    runner.train_epoch()
    timers = profile_fit.Timers()
    originals = timers.install()
    try:
        start = time.perf_counter()
        for _ in range(n_epochs):
            runner.train_epoch()
        seconds = time.perf_counter() - start
    finally:
        profile_fit.uninstall(originals)
    n_batches = -(-case.n_samples // case.batch_size) * n_epochs
    return timers, seconds, n_batches


def report(case, timers, seconds, n_batches, peak):
    """Print one case's rows: ms per minibatch, % of the epoch, GFLOP/s, % of peak."""
    flops = product_flops(case)
    total_flops = sum(flops.values()) * n_batches
    print(
        f"\n{case.name}: T={case.n_timesteps}, {case.n_hidden} hidden, batch "
        f"{case.batch_size}; {1e3 * seconds / n_batches:.2f} ms per minibatch, matrix "
        f"products {total_flops / seconds:.1f} GFLOP/s = {100 * total_flops / seconds / peak:.0f}"
        f" % of peak"
    )
    print(f"{'part':44} {'ms/batch':>9} {'%':>6} {'GFLOP/s':>8} {'% peak':>7}")
    rows = sorted(timers.seconds.items(), key=lambda item: -item[1])
    for row, value in rows:
        per_batch = value / n_batches
        rate = flops[row] / per_batch if row in flops else None
        share = "" if rate is None else f"{rate:8.1f} {100 * rate / peak:7.0f}"
        print(f"{row:44} {1e3 * per_batch:9.3f} {100 * value / seconds:6.1f} {share}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=["classify-lstm", "sine-lstm"])
    parser.add_argument("--threads", type=int, default=1, help="OpenMP/BLAS threads")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per case")
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        peak = sgemm_peak()
        load = os.getloadavg()[0]
        print(
            f"rnnlearn from {os.path.dirname(rnnlearn.__file__)}, {args.threads} thread(s), "
            f"sgemm peak {peak:.1f} GFLOP/s, load {load:.2f}"
        )
        for name in args.cases:
            task, cell = name.split("-")
            case = Case(task, cell, *TASKS[task][0])
            report(case, *profile_case(case, args.epochs), peak)


if __name__ == "__main__":
    main()
