"""Binary addition, the R package's ``?trainr`` demo, with every cell type.

Ten thousand pairs of 7-bit integers are written as 8-bit sequences, least significant bit
first, so the carry flows forward in time; the network reads both bits at each step and
emits the bit of the sum (one label per step, ``output_mode="sequence"``). Each cell
trains until an epoch's mean log loss drops below 0.01, then is scored on 2 000 fresh
pairs: a sum counts as exact when all 8 bits are right.

Run ``python examples/binary_addition.py`` (``--help`` for smaller settings).
"""

import argparse
import time

import numpy as np

from rnnlearn import RNNClassifier
from rnnlearn.datasets import bin2int, make_binary_addition
from rnnlearn.optimizers import Adam


def stop_when_loss_below(threshold):
    """A callback (the R package's ``epoch_function``) that stops training at a loss."""

    def callback(estimator, record):
        return record["loss"] < threshold

    return callback


def run(n_train=10_000, n_test=2_000, max_epochs=20, cells=("vanilla", "gru", "lstm")):
    """Train one network per cell and return a row of results per cell."""
    X, y = make_binary_addition(n_train, n_bits=8, random_state=1)
    X_test, y_test = make_binary_addition(n_test, n_bits=8, random_state=2)
    rows = []
    for cell in cells:
        model = RNNClassifier(
            hidden_layer_sizes=(16,),
            cell=cell,
            output_mode="sequence",
            optimizer=Adam(learning_rate=0.01),
            max_iter=max_epochs,
            callbacks=[stop_when_loss_below(0.01)],
            random_state=0,
        )
        start = time.perf_counter()
        model.fit(X.astype(np.float32), y)
        seconds = time.perf_counter() - start
        bits = model.predict(X_test.astype(np.float32))
        exact = np.mean(bin2int(bits) == bin2int(y_test))
        rows.append((cell, seconds, model.n_iter_, exact, np.mean(bits == y_test)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=2_000)
    parser.add_argument("--max-epochs", type=int, default=20)
    args = parser.parse_args()
    rows = run(args.n_train, args.n_test, args.max_epochs)
    print(f"{'cell':8} {'train time':>10} {'epochs':>6} {'exact sums':>10} {'bits':>7}")
    for cell, seconds, epochs, exact, bit in rows:
        print(f"{cell:8} {seconds:9.1f}s {epochs:6d} {exact:10.2%} {bit:7.2%}")


if __name__ == "__main__":
    main()
