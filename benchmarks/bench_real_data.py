"""Accuracy on the real series of ``../shared/data``: references, PyTorch and rnnlearn.

One command::

    python benchmarks/bench_real_data.py                        # every set, 3 seeds
    python benchmarks/bench_real_data.py --sets Covid3Month OSULeaf --seeds 0 1 2
    python benchmarks/bench_real_data.py --sets elec_equip co2 macrodata sunspots
    python benchmarks/bench_real_data.py --quick                # smoke test, 2 epochs

Classification and whole-series regression (``<name>_TRAIN.ts`` to fit, ``<name>_TEST.ts``
to score; every series standardised with the training set's mean and standard deviation,
as in the data folder's README). The contenders:

- ``reference``: 1-NN with Euclidean distance on the zero-padded series (classification)
  or ridge regression with built-in cross-validation on them (regression);
- ``mean``: the training targets' mean (regression);
- ``torch``: ``nn.LSTM`` with 64 hidden units and a linear head on the last valid state
  (packed sequences), Adam at 1e-3, batch 16, 100 epochs (50 for PLAID), targets
  standardised;
- ``same``: rnnlearn with those settings (LSTM 64, Adam 1e-3, batch 16, the same epochs,
  no early stopping), regression targets standardised by ``TransformedTargetRegressor``;
- ``previous``: the defaults of rnnlearn 0.1 spelled out (LSTM 32, Adam 1e-3, batch 32,
  up to 200 epochs, stopping on the training loss), targets standardised likewise;
- ``defaults``: rnnlearn's estimator as it comes, ``RNNClassifier()`` or
  ``RNNRegressor()``, on the targets as they are.

Forecasting, one step ahead (``forecasting/<name>.csv``, :data:`SERIES`): the series is cut
into windows by ``make_windows``; the windows whose target lies in the last 20 % of the
series are scored, the earlier ones train. The score is MASE: the mean absolute error
divided by the in-sample mean absolute error of the seasonal naive forecast on the training
part (1.0 is as good as that forecast in training). The contenders:

- ``naive``: the seasonal naive forecast (the value one season earlier);
- ``reference``: ``RidgeCV()`` on the flattened raw windows;
- ``ets``: exponential smoothing from statsmodels (state-space form, additive trend and
  season as :data:`SERIES` says) fitted on the training part, then one-step forecasts with
  its parameters fixed; a comparison only, skipped without statsmodels;
- ``torch``: PyTorch's LSTM as above on the same windows, standardised with the training
  windows' mean and standard deviation per feature, targets standardised;
- ``documented``: the path documented before ``RNNForecaster``,
  ``make_pipeline(SequenceScaler(), RNNRegressor())``, on the raw targets;
- ``defaults``: ``RNNForecaster()`` on the raw windows (``target_features`` naming the
  target's column for a multivariate series).

Each is fitted once per seed (once in all for the deterministic ones); the table shows the
mean and standard deviation over seeds of the test accuracy, RMSE or MASE, and the mean fit
time.
"""

# SPDX-License-Identifier: BSD-3-Clause

import argparse
import csv
import os
import statistics
import time
import warnings
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from rnnlearn import RNNClassifier, RNNForecaster, RNNRegressor, load_ts
from rnnlearn.optimizers import Adam
from rnnlearn.preprocessing import SequenceScaler, make_windows, pad_sequences

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SERIES = {
    "elec_equip": dict(target="STS.M.I7.W.TOVT.NS0016.4.000", season=12, window=24),
    "co2": dict(target="co2", season=52, window=52),
    "macrodata": dict(target="realgdp", season=4, window=8, ets_season=False),
    "sunspots": dict(target="SUNACTIVITY", season=1, window=22, ets_trend=False),
}
"""Forecasting series: the target column, the season (of the naive forecast and MASE) and
the window. Exponential smoothing has an additive trend, and a season of that length when
it is above 1, unless ``ets_trend`` or ``ets_season`` is False. Every other numeric column
is an input too (macrodata: all 12 indicators; its ``year`` and ``quarter`` are left out)."""
DROPPED = {"DATE", "date", "YEAR", "year", "quarter"}
SETS = {
    "Covid3Month": "regression",
    "OSULeaf": "classification",
    "PLAID": "classification",
    **dict.fromkeys(SERIES, "forecasting"),
}
CONTENDERS = {
    "classification": ["reference", "torch", "same", "previous", "defaults"],
    "regression": ["mean", "reference", "torch", "same", "previous", "defaults"],
    "forecasting": ["naive", "reference", "ets", "torch", "documented", "defaults"],
}
"""Contenders per task, in the table's order."""
BASELINES = {"reference", "mean", "naive", "ets"}
"""Contenders without randomness, fitted once whatever the seeds."""
OPTIONAL = {"torch": "torch", "ets": "statsmodels"}
"""Contenders that need a package rnnlearn does not: skipped without it."""
METRICS = {"classification": "accuracy", "regression": "RMSE", "forecasting": "MASE"}
EPOCHS = {"PLAID": 50}
"""Epochs of the fixed-epoch contenders per set (100 unless listed)."""


def load(name, folder):
    """The data of a set: ``X_train``, ``y_train``, ``X_test``, ``y_test`` and more.

    A ``.ts`` set is standardised with the training statistics; a forecasting series is
    cut into windows (:func:`load_windows`).
    """
    if SETS[name] == "forecasting":
        return load_windows(name, folder / "forecasting")
    X_train, y_train = load_ts(folder / f"{name}_TRAIN.ts")
    X_test, y_test = load_ts(folder / f"{name}_TEST.ts")
    values = np.concatenate([np.ravel(x) for x in X_train])
    mean, std = values.mean(), values.std()
    return dict(
        X_train=_scaled(X_train, mean, std),
        y_train=y_train,
        X_test=_scaled(X_test, mean, std),
        y_test=y_test,
    )


def _scaled(X, mean, std):
    if isinstance(X, list):
        return [(x - mean) / std for x in X]
    return (X - mean) / std


def read_series(name, folder):
    """``(values, target)``: the numeric columns of ``<name>.csv`` and the target's index.

    ``values`` is 1-D for a single column; missing values are interpolated linearly.
    """
    with open(folder / f"{name}.csv", newline="") as file:
        header, *rows = list(csv.reader(file))
    kept = [i for i, column in enumerate(header) if column not in DROPPED]
    values = np.array([[float(row[i] or "nan") for i in kept] for row in rows])
    steps = np.arange(len(values))
    for column in values.T:
        missing = np.isnan(column)
        column[missing] = np.interp(steps[missing], steps[~missing], column[~missing])
    target = [header[i] for i in kept].index(SERIES[name]["target"])
    return (values[:, 0], None) if len(kept) == 1 else (values, target)


def holdout(values, target, season):
    """``(n_train, series, scale)``: the steps before the last 20 % of ``values``, the
    target column and MASE's denominator (the mean absolute seasonal change before them)."""
    n_train = len(values) - round(0.2 * len(values))
    series = values if target is None else values[:, target]
    history = series[:n_train]
    return n_train, series, np.mean(np.abs(history[season:] - history[:-season]))


def load_windows(name, folder):
    """The windows of a series, split so that the last 20 % of its values are the test targets.

    Besides ``X``/``y``: ``naive`` (the seasonal naive forecast of each test target),
    ``scale`` (MASE's denominator), ``series`` (the target column) and ``target``.
    """
    values, target = read_series(name, folder)
    window, season = SERIES[name]["window"], SERIES[name]["season"]
    X, y = make_windows(values, window, target=target)
    position = np.arange(len(y)) + window  # the time step of each window's target
    n_train, series, scale = holdout(values, target, season)
    train, test = position < n_train, position >= n_train
    return dict(
        X_train=X[train],
        y_train=y[train],
        X_test=X[test],
        y_test=y[test],
        naive=series[position[test] - season],
        scale=scale,
        series=series,
        target=target,
    )


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


def fit_ets(name, data):
    """One-step forecasts of statsmodels' exponential smoothing over the test targets."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    series, n_test, options = data["series"], len(data["y_test"]), SERIES[name]
    train = series[:-n_test]
    seasonal = options["season"] if options.get("ets_season", options["season"] > 1) else None
    model = ExponentialSmoothing(train, trend=options.get("ets_trend", True), seasonal=seasonal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of the likelihood's optimiser
        fitted = model.fit(disp=False).append(series[-n_test:], refit=False)
    return fitted.predict(start=len(train), end=len(series) - 1)


def fit_baseline(name, task, contender, data):
    """Predictions of a contender without randomness (:data:`BASELINES`)."""
    if contender == "mean":
        return np.full(len(data["y_test"]), np.mean(data["y_train"]))
    if contender == "naive":
        return data["naive"]
    if contender == "ets":
        return fit_ets(name, data)
    return fit_reference(task, data["X_train"], data["y_train"], data["X_test"])


def rnnlearn_model(task, setting, seed, data, n_epochs, max_iter=None):
    """An rnnlearn estimator for ``setting`` ('same', 'previous', 'documented', 'defaults').

    ``max_iter`` (``--quick``) caps the epochs of every setting.
    """
    cap = {} if max_iter is None else {"max_iter": max_iter}
    if setting == "documented":
        return make_pipeline(SequenceScaler(), RNNRegressor(random_state=seed, **cap))
    if setting == "defaults" and task == "forecasting":
        if data["target"] is not None:
            cap["target_features"] = data["target"]
        return RNNForecaster(random_state=seed, **cap)
    estimator = RNNClassifier if task == "classification" else RNNRegressor
    if setting == "defaults":
        return estimator(random_state=seed, **cap)
    plain = dict(  # what PyTorch's loop and rnnlearn 0.1 do: no pooling, clipping or schedule
        cell="lstm",
        optimizer=Adam(learning_rate=1e-3),
        pooling="last",
        max_grad_norm=None,
        learning_rate_schedule="constant",
    )
    if setting == "same":
        params = dict(plain, hidden_layer_sizes=(64,), batch_size=16, n_iter_no_change=n_epochs)
        params["max_iter"] = n_epochs
    else:
        params = dict(plain, hidden_layer_sizes=(32,), batch_size=32, max_iter=200, **cap)
    model = estimator(random_state=seed, **params)
    if task == "regression":
        return TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
    return model


def fit_torch(task, X_train, y_train, X_test, n_epochs, seed):
    """Predictions of PyTorch's LSTM (64 hidden, Adam 1e-3, batch 16) on packed batches.

    Regression targets may have several columns (one output each, standardised each).
    """
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(_openmp_threads())
    classes = np.unique(y_train) if task == "classification" else None
    if task == "classification":
        n_out = len(classes)
        target = torch.from_numpy(np.searchsorted(classes, y_train))
    else:
        columns = np.reshape(y_train, (len(y_train), -1))
        n_out, center, scale = columns.shape[1], columns.mean(axis=0), columns.std(axis=0)
        target = torch.from_numpy(((columns - center) / scale).astype(np.float32))
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
    return (out * scale + center).reshape((len(out), *np.shape(y_train)[1:]))


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


def score(task, data, y_pred):
    """Accuracy (classification), RMSE (regression) or MASE (forecasting)."""
    y_true = data["y_test"]
    if task == "classification":
        return accuracy_score(y_true, y_pred)
    if task == "forecasting":
        return float(np.mean(np.abs(y_true - np.ravel(y_pred))) / data["scale"])
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def predict(name, task, contender, data, n_epochs, seed, max_iter=None):
    """Fit one contender on the training part; its predictions for the test part.

    ``n_epochs`` is the fixed-epoch contenders' number; ``max_iter`` caps the others'.
    """
    if contender in BASELINES:
        return fit_baseline(name, task, contender, data)
    X_train, y_train, X_test = data["X_train"], data["y_train"], data["X_test"]
    if contender == "torch":
        if task == "forecasting":  # raw windows: standardise each feature as rnnlearn's scaler
            scaler = SequenceScaler().fit(X_train)
            X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        return fit_torch(task, X_train, y_train, X_test, n_epochs, seed)
    model = rnnlearn_model(task, contender, seed, data, n_epochs, max_iter)
    return model.fit(X_train, y_train).predict(X_test)


def run_set(name, folder, seeds, contenders, epoch_scale):
    """``{contender: [(score, seconds) per seed]}`` for one set."""
    task = SETS[name]
    data = load(name, folder)
    n_epochs = max(1, round(EPOCHS.get(name, 100) * epoch_scale))
    max_iter = n_epochs if epoch_scale < 1 else None
    results = {}
    for contender in contenders:
        if find_spec(OPTIONAL.get(contender, "numpy")) is None:
            print(f"  {name} {contender}: skipped, {OPTIONAL[contender]} is not installed")
            continue
        for seed in seeds[:1] if contender in BASELINES else seeds:
            start = time.perf_counter()
            predicted = predict(name, task, contender, data, n_epochs, seed, max_iter)
            seconds = time.perf_counter() - start
            results.setdefault(contender, []).append((score(task, data, predicted), seconds))
            print(f"  {name} {contender} seed {seed}: {results[contender][-1][0]:.4f}", flush=True)
    return task, results


def print_table(rows):
    """One line per set and contender: mean ± std over seeds, and the mean fit time."""
    header = ("set", "metric", "contender", "mean", "std", "seeds", "fit s")
    print("\n{:12} {:9} {:10} {:>7} {:>7} {:>5} {:>8}".format(*header))
    for name, task, contender, runs in rows:
        scores = [s for s, _ in runs]
        spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
        seconds = statistics.mean(t for _, t in runs)
        print(
            f"{name:12} {METRICS[task]:9} {contender:10} {statistics.mean(scores):7.4f} "
            f"{spread:7.4f} {len(scores):5d} {seconds:8.1f}"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--contenders",
        nargs="*",
        default=None,
        choices=sorted(set().union(*CONTENDERS.values())),
        help="default: all of each set's task (see CONTENDERS); others are ignored for it",
    )
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the data sets")
    parser.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    parser.add_argument("--quick", action="store_true", help="2 %% of the epochs, one seed")
    args = parser.parse_args(argv)
    seeds, scale = (args.seeds[:1], 0.02) if args.quick else (args.seeds, 1.0)
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    with threadpool_limits(args.threads):
        for name in args.sets:
            wanted = CONTENDERS[SETS[name]]
            contenders = [c for c in wanted if args.contenders is None or c in args.contenders]
            task, results = run_set(name, args.data, seeds, contenders, scale)
            rows += [(name, task, contender, runs) for contender, runs in results.items()]
    print_table(rows)


if __name__ == "__main__":
    main()
