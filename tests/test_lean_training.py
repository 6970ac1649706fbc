"""Lean training data: the same fits, bit for bit, and one epoch's memory.

The fits' loss curves, weights and predictions are compared with those recorded in
``tests/data/lean_training-<machine>.npz`` by the code before the training set stayed batch-first
(gathered and transposed per minibatch) and targets were encoded in the training dtype
(issue 20); any change to the arithmetic of a fit fails here. The bits also depend on the
machine: the kernel build its CPU runs and the kernels OpenBLAS picks for it, so there is
one record per pair, and the test is skipped on a machine without one. After a deliberate
change of the arithmetic, re-record them from the commit that makes it, at that commit, on
each kind of machine at hand: ``PYTHONPATH=. python tests/test_lean_training.py --record``.
An AVX-512 machine also runs the AVX2 machines' arithmetic, and can check or record their
record, when NumPy, rnnlearn and OpenBLAS are all held to AVX2 kernels:
``NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL" RNNLEARN_KERNELS=x86_64_v3
OPENBLAS_CORETYPE=Haswell`` (on an AMD Zen 4 the ``x86_64_v3-Haswell`` record, made on an
AVX2 machine, passed so; without NumPy's setting it did not).
"""

import os
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_info, threadpool_limits

from rnnlearn import RNNClassifier, RNNForecaster, RNNRegressor
from rnnlearn._fitted import prepare_run
from rnnlearn.cells import VanillaCell
from rnnlearn.cells._compiled import kernels
from rnnlearn.optimizers import SGD
from rnnlearn.preprocessing import make_windows


def _arithmetic():
    """What a fit's bits depend on besides the code: the kernel build in use and the
    architecture of the OpenBLAS kernels chosen for this CPU (e.g. ``x86_64_v3-Haswell``)."""
    build = kernels.__name__.rpartition("_kernels")[2].lstrip("_") or "baseline"
    pools = threadpool_info()
    blas = {pool.get("architecture") for pool in pools if pool["internal_api"] == "openblas"}
    return "-".join([build, *sorted(filter(None, blas))])


RECORDED = os.path.join(os.path.dirname(__file__), "data", f"lean_training-{_arithmetic()}.npz")


def _addition(n, n_timesteps=8, seed=0):
    """Bits of two integers and the bits of their sum, least significant first."""
    a, b = np.random.RandomState(seed).randint(0, 128, size=(2, n))
    shifts = np.arange(n_timesteps)
    X = np.stack([(a[:, None] >> shifts) & 1, (b[:, None] >> shifts) & 1], axis=-1)
    return X.astype(np.float32), ((a + b)[:, None] >> shifts) & 1


def _ragged(n, seed, n_features=2):
    """``n`` float64 sequences of 3 to 9 steps and a per-step target of each."""
    rng = np.random.RandomState(seed)
    X = [rng.normal(size=(rng.randint(3, 10), n_features)) for _ in range(n)]
    return X, [x.sum(axis=1).cumsum() for x in X]


def _record(name, model, X, extra):
    """``{name/what: array}``: a fitted model's loss curve, validation scores and weights."""
    scores = model.validation_scores_
    return {
        f"{name}/loss": np.array(model.loss_curve_),
        f"{name}/validation": np.array([] if scores is None else scores, dtype=float),
        f"{name}/params": model._params,
        **{f"{name}/{key}": value for key, value in extra.items()},
    }


def _classifier_sequence():
    X, y = _addition(300)
    model = RNNClassifier(
        hidden_layer_sizes=(8,),
        cell=VanillaCell(),
        output_mode="sequence",
        class_weight="balanced",
        dtype="float32",
        max_iter=3,
        batch_size=32,
        random_state=0,
    )
    model.fit(X, y).partial_fit(X, y)
    return _record("classifier_sequence", model, X, {"proba": model.predict_proba(X)})


def _classifier_weighted():
    X, _ = _ragged(120, seed=1, n_features=3)
    y = np.array([int(x[:, 0].sum() > 0) + int(len(x) > 6) for x in X])
    weight = np.random.RandomState(2).uniform(0.2, 3.0, size=len(X))
    model = RNNClassifier(
        hidden_layer_sizes=(6,),
        cell="lstm",
        class_weight={0: 2.0, 2: 0.5},
        early_stopping=True,
        max_iter=4,
        batch_size=16,
        random_state=1,
    )
    model.fit(X, y, sample_weight=weight)
    return _record("classifier_weighted", model, X, {"proba": model.predict_proba(X)})


def _regressor_ragged(dtype):
    X, y = _ragged(150, seed=3)
    weight = np.random.RandomState(4).uniform(0.0, 2.0, size=len(X))
    model = RNNRegressor(
        hidden_layer_sizes=(7,),
        cell="gru",
        output_mode="sequence",
        early_stopping=True,
        dtype=dtype,
        max_iter=4,
        batch_size=20,
        random_state=2,
    )
    model.fit(X, y, sample_weight=weight)
    name = f"regressor_ragged_{dtype}"
    return _record(name, model, X, {"predict": np.concatenate(model.predict(X))})


def _regressor_last():
    X, y = _ragged(100, seed=5)
    model = RNNRegressor(
        hidden_layer_sizes=(5,),
        optimizer=SGD(learning_rate=0.05),
        dtype="float32",
        max_iter=3,
        batch_size=25,
        random_state=3,
    )
    y = np.array([target[-1] for target in y])
    model.fit(X, y).partial_fit(X, y)
    return _record("regressor_last", model, X, {"predict": model.predict(X)})


def _forecaster():
    t = np.arange(260, dtype=float)
    noise = np.random.RandomState(6).normal(scale=0.5, size=t.size)
    X, y = make_windows(0.4 * t + 6 * np.sin(2 * np.pi * t / 12) + noise, 24)
    model = RNNForecaster(hidden_layer_sizes=(8,), max_iter=6, random_state=4)
    model.fit(X[:200], y[:200])
    low, high = model.predict_interval(X[200:], coverage=0.8)
    extra = {
        "predict": model.predict(X[200:]),
        "interval": np.stack([low, high]),
        "residuals": model.calibration_residuals_,
    }
    return _record("forecaster", model, X, extra)


def _fits():
    """Every fit's record, on one thread (the kernels' sums then run in one order)."""
    records = {}
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fit in (
            _classifier_sequence,
            _classifier_weighted,
            lambda: _regressor_ragged("float64"),
            lambda: _regressor_ragged("float32"),
            _regressor_last,
            _forecaster,
        ):
            records.update(fit())
    return records


@pytest.fixture(scope="module")
def fits():
    return _fits()


@pytest.mark.parametrize(
    "name",
    [
        "classifier_sequence",
        "classifier_weighted",
        "regressor_ragged_float64",
        "regressor_ragged_float32",
        "regressor_last",
        "forecaster",
    ],
)
def test_fits_are_bit_identical_to_the_recorded_ones(fits, name):
    if not os.path.exists(RECORDED):
        pytest.skip(f"no record for this machine's arithmetic ({_arithmetic()})")
    recorded = np.load(RECORDED)
    keys = sorted(key for key in recorded.files if key.startswith(name + "/"))
    assert keys == sorted(key for key in fits if key.startswith(name + "/"))
    for key in keys:
        assert fits[key].dtype == recorded[key].dtype, key
        assert_array_equal(fits[key], recorded[key], err_msg=key, strict=True)


def test_training_set_is_the_input_itself_and_uniform_weights_are_not_stored():
    X, y = _addition(50)
    model = RNNClassifier(hidden_layer_sizes=(4,), output_mode="sequence", random_state=0)
    data = prepare_run(model, X, y)[0].data
    assert data.X is X and data.weights is None and data.y.dtype == np.float32
    batch_X, _, batch_y, weights = data.batch(np.array([3, 1]))
    assert_array_equal(batch_X, X[[3, 1]].transpose(1, 0, 2))
    assert batch_X.flags.c_contiguous and batch_y.flags.c_contiguous
    assert_array_equal(weights, np.ones((8, 2), np.float32))


@pytest.mark.parametrize("target", [False, True])
def test_values_beyond_float32_are_refused_exactly_at_its_range(target):
    """Only the extremes are converted, yet the bound is float32's rounding of them: the
    largest float64 that rounds to float32's largest passes, the next one is refused."""
    halfway = float(np.finfo(np.float32).max) + 2.0**103  # half a float32 step above
    largest = np.nextafter(halfway, 0)
    X, y = np.ones((4, 3, 1)), np.ones(4)
    (y if target else X[1:2, 1:2])[...] = largest
    model = RNNRegressor(normalize_y=False, dtype="float32")
    prepare_run(model, X, y)
    (y if target else X[1:2, 1:2])[...] = halfway  # rounds to infinity
    with pytest.raises(ValueError, match=f"{'y' if target else 'X'} has values too large"):
        prepare_run(model, X, y)


def test_partial_fit_epoch_needs_little_beyond_its_input():
    """One ``partial_fit`` epoch on 10 000 sequences of 8 steps (float32 X 0.61 MiB, int64
    labels 0.61 MiB) peaks below 1.5 times ``X``'s size beyond the input (it copied its
    data twice, to 3.07 MiB, before the training set stayed batch-first)."""
    X, y = _addition(10_000)
    model = RNNClassifier(
        hidden_layer_sizes=(16,),
        cell=VanillaCell(),
        output_mode="sequence",
        optimizer=SGD(learning_rate=0.1, momentum=0.9),
        batch_size=32,
        random_state=0,
    )
    model.partial_fit(X[:64], y[:64], classes=[0, 1])  # first-call set-up out of the way
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        model.partial_fit(X, y)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * X.nbytes, f"peak {peak / 2**20:.2f} MiB"


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    np.savez_compressed(RECORDED, **_fits())
