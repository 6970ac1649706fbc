"""Accuracy on the real series of ``../shared/data``: references, PyTorch and rnnlearn.

One command::

    python benchmarks/bench_real_data.py                        # every set, 3 seeds
    python benchmarks/bench_real_data.py --sets Covid3Month OSULeaf --seeds 0 1 2
    python benchmarks/bench_real_data.py --quick                # smoke test, 2 epochs

For each set (``<name>_TRAIN.ts`` to fit, ``<name>_TEST.ts`` to score), every series is
standardised with the training set's mean and standard deviation, and regression targets
are standardised during training (``TransformedTargetRegressor``), as in the data folder's
README. The contenders:

- ``reference``: 1-NN with Euclidean distance on the zero-padded series (classification)
  or ridge regression with built-in cross-validation on them (regression);
- ``torch``: ``nn.LSTM`` with 64 hidden units and a linear head on the last valid state
  (packed sequences), Adam at 1e-3, batch 16, 100 epochs (50 for PLAID);
- ``same``: rnnlearn with those settings (LSTM 64, Adam 1e-3, batch 16, the same epochs,
  no early stopping);
- ``previous``: the defaults of rnnlearn 0.1 spelled out (LSTM 32, Adam 1e-3, batch 32,
  up to 200 epochs, stopping on the training loss);
- ``defaults``: rnnlearn's estimator as it comes (chosen with this script: a GRU of 128
  units for classification and 64 for regression, max pooling for classification, Adam
  at 3e-3, batch 16, clipping at 1, the plateau schedule, up to 200 epochs).

Each is fitted once per seed; the table shows the mean and standard deviation over seeds of
the test accuracy (classification) or RMSE (regression), and the mean fit time.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from rnnlearn import RNNClassifier, RNNRegressor, load_ts
from rnnlearn.optimizers import Adam
from rnnlearn.preprocessing import pad_sequences

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SETS = {"Covid3Month": "regression", "OSULeaf": "classification", "PLAID": "classification"}
EPOCHS = {"PLAID": 50}
"""Epochs of the fixed-epoch contenders per set (100 unless listed)."""


def load(name, folder):
    """``(X_train, y_train, X_test, y_test)``, standardised with the training statistics."""
    X_train, y_train = load_ts(folder / f"{name}_TRAIN.ts")
    X_test, y_test = load_ts(folder / f"{name}_TEST.ts")
    values = np.concatenate([np.ravel(x) for x in X_train])
    mean, std = values.mean(), values.std()
    return _scaled(X_train, mean, std), y_train, _scaled(X_test, mean, std), y_test


def _scaled(X, mean, std):
    if isinstance(X, list):
        return [(x - mean) / std for x in X]
    return (X - mean) / std


def flat(X, n_timesteps):
    """The series zero-padded (or cut) to ``n_timesteps`` steps, one row each."""
    if isinstance(X, list):
        X = pad_sequences([x[:n_timesteps] for x in X], max_length=n_timesteps)[0]
    return np.asarray(X)[:, :n_timesteps].reshape(len(X), -1)


def fit_reference(task, X_train, y_train, X_test):
    """Predictions of 1-NN (classification) or ridge (regression) on the flat series."""
    n_timesteps = max(len(x) for x in X_train)
    model = KNeighborsClassifier(n_neighbors=1) if task == "classification" else RidgeCV()
    model.fit(flat(X_train, n_timesteps), y_train)
    return model.predict(flat(X_test, n_timesteps))


def rnnlearn_model(task, setting, n_epochs, seed):
    """An rnnlearn estimator for ``setting`` ('same', 'previous' or 'defaults')."""
    estimator = RNNClassifier if task == "classification" else RNNRegressor
    plain = dict(  # what PyTorch's loop and rnnlearn 0.1 do: no pooling, clipping or schedule
        cell="lstm",
        optimizer=Adam(learning_rate=1e-3),
        pooling="last",
        max_grad_norm=None,
        learning_rate_schedule="constant",
    )
    if setting == "same":
        params = dict(
            plain,
            hidden_layer_sizes=(64,),
            batch_size=16,
            max_iter=n_epochs,
            n_iter_no_change=n_epochs,
        )
    elif setting == "previous":
        params = dict(plain, hidden_layer_sizes=(32,), batch_size=32, max_iter=200)
    else:
        params = {}
    model = estimator(random_state=seed, **params)
    if task == "regression":
        return TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
    return model


def fit_torch(task, X_train, y_train, X_test, n_epochs, seed):
    """Predictions of PyTorch's LSTM (64 hidden, Adam 1e-3, batch 16) on packed batches."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(_openmp_threads())
    classes = np.unique(y_train) if task == "classification" else None
    n_out = len(classes) if task == "classification" else 1
    if task == "classification":
        target = torch.from_numpy(np.searchsorted(classes, y_train))
    else:
        center, scale = y_train.mean(), y_train.std()
        target = torch.from_numpy(((y_train - center) / scale).astype(np.float32))[:, None]
    lstm, head = nn.LSTM(_n_features(X_train), 64, batch_first=True), nn.Linear(64, n_out)
    parameters = [*lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    loss_function = nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()

    def forward(X):
        padded, lengths = _padded_tensor(X)
        packed = nn.utils.rnn.pack_padded_sequence(
            padded, lengths, batch_first=True, enforce_sorted=False
        )
        return head(lstm(packed)[1][0][-1])

    generator = np.random.RandomState(seed)
    for _ in range(n_epochs):
        order = generator.permutation(len(X_train))
        for start in range(0, len(order), 16):
            rows = order[start : start + 16]
            optimizer.zero_grad()
            loss = loss_function(forward([X_train[i] for i in rows]), target[rows])
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        out = forward(list(X_test)).numpy()
    if task == "classification":
        return classes[out.argmax(axis=1)]
    return out[:, 0] * scale + center


def _openmp_threads():
    """The OpenMP thread limit in force (what rnnlearn's kernels use), for PyTorch too."""
    from threadpoolctl import threadpool_info

    limits = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"]
    return min(limits, default=os.cpu_count())


def _n_features(X):
    return np.asarray(X[0]).reshape(len(X[0]), -1).shape[1]


def _padded_tensor(X):
    """A batch of sequences as a zero-padded float32 tensor and their lengths."""
    import torch

    sequences = [np.asarray(x, dtype=np.float32).reshape(len(x), -1) for x in X]
    lengths = [len(x) for x in sequences]
    padded = np.zeros((len(X), max(lengths), sequences[0].shape[1]), dtype=np.float32)
    for row, x in zip(padded, sequences, strict=True):
        row[: len(x)] = x
    return torch.from_numpy(padded), lengths


def score(task, y_true, y_pred):
    """Accuracy (classification) or RMSE (regression)."""
    if task == "classification":
        return accuracy_score(y_true, y_pred)
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def run_set(name, folder, seeds, contenders, epoch_scale):
    """``{contender: [(score, seconds) per seed]}`` for one set."""
    task = SETS[name]
    X_train, y_train, X_test, y_test = load(name, folder)
    n_epochs = max(1, round(EPOCHS.get(name, 100) * epoch_scale))
    results = {}
    for contender in contenders:
        for seed in seeds if contender != "reference" else seeds[:1]:
            start = time.perf_counter()
            if contender == "reference":
                predicted = fit_reference(task, X_train, y_train, X_test)
            elif contender == "torch":
                predicted = fit_torch(task, X_train, y_train, X_test, n_epochs, seed)
            else:
                model = rnnlearn_model(task, contender, n_epochs, seed)
                predicted = model.fit(X_train, y_train).predict(X_test)
            seconds = time.perf_counter() - start
            results.setdefault(contender, []).append((score(task, y_test, predicted), seconds))
            print(f"  {name} {contender} seed {seed}: {results[contender][-1][0]:.4f}", flush=True)
    return task, results


def print_table(rows):
    """One line per set and contender: mean ± std over seeds, and the mean fit time."""
    header = ("set", "metric", "contender", "mean", "std", "seeds", "fit s")
    print("\n{:12} {:9} {:10} {:>7} {:>7} {:>5} {:>8}".format(*header))
    for name, task, contender, runs in rows:
        scores = [s for s, _ in runs]
        spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
        metric = "accuracy" if task == "classification" else "RMSE"
        seconds = statistics.mean(t for _, t in runs)
        print(
            f"{name:12} {metric:9} {contender:10} {statistics.mean(scores):7.4f} "
            f"{spread:7.4f} {len(scores):5d} {seconds:8.1f}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--contenders",
        nargs="*",
        default=["reference", "torch", "same", "previous", "defaults"],
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the .ts files")
    parser.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    parser.add_argument("--quick", action="store_true", help="2 %% of the epochs, one seed")
    args = parser.parse_args(argv)
    seeds, scale = (args.seeds[:1], 0.02) if args.quick else (args.seeds, 1.0)
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    with threadpool_limits(args.threads):
        for name in args.sets:
            task, results = run_set(name, args.data, seeds, args.contenders, scale)
            rows += [(name, task, contender, runs) for contender, runs in results.items()]
    print_table(rows)


if __name__ == "__main__":
    main()
