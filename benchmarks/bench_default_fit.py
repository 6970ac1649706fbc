"""How long a default fit takes, here and in another checkout, on the sets of ``../shared/data``.

One command::

    python benchmarks/bench_default_fit.py --against /path/to/old/checkout --seeds 0
    python benchmarks/bench_default_fit.py --sets OSULeaf --seeds 0 1 2 3 4
    python benchmarks/bench_default_fit.py --sets OSULeaf --threads 2 --against /path/to/old

``RNNClassifier()`` (OSULeaf, PLAID) or ``RNNRegressor()`` (Covid3Month) is fitted as it
comes on each set, read and standardised once, by this checkout, as ``bench_real_data.py``
reads it, so that every checkout fits the same arrays. Each fit runs in a process of its
own on one thread (OpenMP and BLAS; ``--threads`` sets another count), with ``PYTHONPATH``
on the checkout that fits; with ``--against`` the two checkouts alternate, set by set and
seed by seed. Each line gives the process's CPU seconds (steadier than wall time on a
shared machine, and equal to it on an idle one at one thread), the wall seconds, the epochs
run and the test score (accuracy, or RMSE on Covid3Month). A summary follows: per set and
checkout, the seconds of all the seeds (CPU seconds on one thread, wall seconds on more),
the milliseconds per epoch and the score's mean and standard deviation, and with
``--against`` how much faster this checkout is, in all and per epoch. The other checkout
needs its compiled kernels built in place.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from bench_real_data import DATA, load

SETS = ("Covid3Month", "OSULeaf", "PLAID")
HERE = Path(__file__).resolve().parents[1]

FIT = """
import pickle, sys, time, warnings
import numpy as np
from rnnlearn import RNNClassifier, RNNRegressor
warnings.simplefilter("ignore")
data = pickle.load(open(sys.argv[1], "rb"))
estimator = RNNRegressor if sys.argv[2] == "Covid3Month" else RNNClassifier
model = estimator(random_state=int(sys.argv[3]))
wall, cpu = time.perf_counter(), time.process_time()
model.fit(data["X_train"], data["y_train"])
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
predicted = model.predict(data["X_test"])
if sys.argv[2] == "Covid3Month":
    score = float(np.sqrt(np.mean((predicted - data["y_test"]) ** 2)))
else:
    score = float(np.mean(predicted == data["y_test"]))
print(f"{cpu:.1f} {wall:.1f} {model.n_iter_} {score:.4f}")
"""


def fit(checkout, data_file, name, seed, threads=1):
    """``(cpu_s, wall_s, epochs, score)`` of one default fit by ``checkout``'s rnnlearn on
    ``threads`` threads."""
    limits = {var: str(threads) for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env = {**os.environ, **limits, "PYTHONPATH": str(checkout)}
    command = [sys.executable, "-c", FIT, data_file, name, str(seed)]
    # run in the checkout: `python -c` puts the working directory first on the path, before
    # PYTHONPATH, so from another checkout's root it would import that one's rnnlearn
    output = subprocess.run(
        command, env=env, cwd=checkout, capture_output=True, text=True, check=True
    )
    cpu, wall, epochs, score = output.stdout.split()
    return float(cpu), float(wall), int(epochs), float(score)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--against", type=Path, help="another checkout to time alike")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP and BLAS threads")
    args = parser.parse_args(argv)
    checkouts = [HERE] + ([args.against.resolve()] if args.against else [])
    print(f"{'checkout':<40} {'set':<12} seed  cpu s  wall s  epochs   score")
    runs = {}  # (set, checkout) -> [(cpu, wall, epochs, score) of each seed]
    with tempfile.TemporaryDirectory() as folder:
        for name in args.sets:
            data_file = os.path.join(folder, f"{name}.pkl")
            with open(data_file, "wb") as file:
                pickle.dump(load(name, DATA), file)
            for seed in args.seeds:
                for checkout in checkouts:
                    cpu, wall, epochs, score = fit(checkout, data_file, name, seed, args.threads)
                    runs.setdefault((name, checkout), []).append((cpu, wall, epochs, score))
                    print(
                        f"{str(checkout):<40} {name:<12} {seed:>4} {cpu:>6.1f} {wall:>7.1f} "
                        f"{epochs:>7} {score:>7.4f}",
                        flush=True,
                    )
    print_summary(runs, args.sets, checkouts, wall=args.threads > 1)


def print_summary(runs, sets, checkouts, wall=False):
    """Per set and checkout, over the seeds: CPU seconds (wall seconds with ``wall``) in all,
    milliseconds per epoch and the score's mean and standard deviation; with two checkouts,
    how much faster the first is (in all and per epoch)."""
    unit = "wall s" if wall else " cpu s"
    print(f"\n{'checkout':<40} {'set':<12} seeds {unit}  ms/epoch  score (mean +- std)")
    for name in sets:
        totals = []
        for checkout in checkouts:
            cpu, wall_s, epochs, score = np.array(runs[(name, checkout)]).T
            seconds = (wall_s if wall else cpu).sum()
            totals.append((seconds, 1e3 * seconds / epochs.sum()))
            print(
                f"{str(checkout):<40} {name:<12} {len(cpu):>5} {seconds:>6.1f} "
                f"{totals[-1][1]:>9.1f}  {score.mean():.4f} +- {score.std():.4f}"
            )
        if len(totals) == 2:
            (seconds, per_epoch), (other_seconds, other_per_epoch) = totals
            print(
                f"{'':<40} {name:<12} speed-up {other_seconds / seconds:.2f} in all, "
                f"{other_per_epoch / per_epoch:.2f} per epoch"
            )


if __name__ == "__main__":
    main()
