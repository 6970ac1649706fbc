"""The compiled kernels behind the cells against the NumPy reference cells."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _reference_cells import ReferenceGRUCell, ReferenceLSTMCell, ReferenceVanillaCell
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

from rnnlearn import GRUCell, LSTMCell, RNNRegressor, VanillaCell
from rnnlearn.activations import ACTIVATIONS
from rnnlearn.cells import _compiled
from rnnlearn.cells._base import column_sums
from rnnlearn.cells._compiled import ACTIVATION_CODES, runnable_builds
from rnnlearn.cells._compiled import kernels as _kernels
from rnnlearn.cells._threads import _libraries, single_threaded_blas

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
"""The estimator tests here train for two or three epochs on purpose."""

PAIRS = {
    "lstm": (LSTMCell, ReferenceLSTMCell, {}),
    "gru": (GRUCell, ReferenceGRUCell, {}),
    "gru_cho": (GRUCell, ReferenceGRUCell, {"reset_after": False}),
    "vanilla": (VanillaCell, ReferenceVanillaCell, {}),
}
SHAPES = [(1, 1, 1), (1, 3, 5), (7, 1, 3), (5, 4, 1), (6, 5, 7), (9, 13, 17), (3, 33, 65)]
"""(n_timesteps, n_samples, n_hidden): batch 1, hidden 1, odd sizes, one step."""
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
"""Largest deviation from the float64 reference, relative to each array's scale."""


def _problem(cell, n_timesteps, n_samples, n_hidden, dtype, masked, seed):
    rng = np.random.RandomState(seed)
    params = {k: np.empty(s) for k, s in cell.param_shapes(3, n_hidden).items()}
    cell.init_params(params, rng)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}
    XW = rng.standard_normal((n_timesteps, n_samples, cell.n_gates * n_hidden))
    state0 = 0.5 * rng.standard_normal((cell.n_states, n_samples, n_hidden))
    dH = rng.standard_normal((n_timesteps, n_samples, n_hidden))
    mask = None
    if masked:
        lengths = rng.randint(0, n_timesteps + 1, size=n_samples)
        lengths[0] = n_timesteps
        mask = (np.arange(n_timesteps)[:, None] < lengths)[:, :, None].astype(float)
    arrays = (XW, state0, dH, mask)
    return (
        params,
        arrays,
        (
            {k: v.astype(dtype) for k, v in params.items()},
            tuple(None if a is None else a.astype(dtype) for a in arrays),
        ),
    )


def _run(cell, params, XW, state0, dH, mask):
    H, cache = cell.forward(params, XW.copy(), state0, mask)
    states = {k: v.copy() for k, v in cell.states(cache).items()}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dXW, dstate0 = cell.backward(params, cache, dH, grads)
    recurrent = {k: v for k, v in grads.items() if k not in ("W_x", "b")}
    return {"H": H, **states, "dXW": dXW, "dstate0": dstate0, **recurrent}


def _check(kind, activation, shape, dtype, masked, seed=0):
    cell_class, reference_class, options = PAIRS[kind]
    cell = cell_class(activation=activation, **options)
    reference = reference_class(activation=activation, **options)
    params64, arrays64, (params, arrays) = _problem(cell, *shape, dtype, masked, seed)
    want = _run(reference, params64, *arrays64)
    got = _run(cell, params, *arrays)
    XW, state0, _, mask = arrays
    got["predict"], want["predict"] = cell.predict(params, XW.copy(), state0, mask), want["H"]
    assert got.keys() == want.keys()
    for name, value in want.items():
        assert got[name].dtype == dtype, name
        scale = max(1.0, float(np.max(np.abs(value))))
        assert_allclose(got[name], value, rtol=0, atol=TOLERANCE[dtype] * scale, err_msg=name)
    if masked:  # no gradient flows into padded steps
        assert np.all(got["dXW"][np.broadcast_to(arrays[3] == 0, got["dXW"].shape)] == 0)


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_kernels_match_the_reference(kind, dtype, masked, shape):
    _check(kind, "tanh", shape, dtype, masked)


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("masked", [False, True])
def test_kernels_match_the_reference_for_every_activation(kind, activation, dtype, masked):
    _check(kind, activation, (6, 5, 7), dtype, masked, seed=1)


@pytest.mark.parametrize("kind", PAIRS)
@settings(max_examples=20, deadline=None)
@given(
    n_timesteps=st.integers(1, 6),
    n_samples=st.integers(1, 9),
    n_hidden=st.integers(1, 12),
    masked=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 2**31 - 1),
)
def test_kernels_match_the_reference_on_any_shape(
    kind, n_timesteps, n_samples, n_hidden, masked, dtype, seed
):
    _check(kind, "tanh", (n_timesteps, n_samples, n_hidden), dtype, masked, seed)


@pytest.mark.parametrize("masked", [False, True])
def test_lstm_matches_the_reference_with_padded_weight_rows(masked):
    """64 hidden units: W_h's rows are a multiple of the critical stride, and 32 steps of 8
    blocks of rows are enough products for the float64 forward kernel to read a padded
    copy."""
    shape = (32, 8 * _kernels.SEQUENCE_BLOCK, 64)
    W_h = np.zeros((64, 256))
    n_products = shape[0] * 8
    assert _kernels.padded_rows(W_h, n_products).shape[1] > W_h.shape[1]
    assert _kernels.padded_rows(W_h, _kernels.PAD_PRODUCTS - 1) is W_h
    _check("lstm", "tanh", shape, np.float64, masked)


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("n_hidden", [20, 64])
def test_packed_float32_kernels_match_the_reference(kind, masked, n_hidden):
    """32 steps of 8 blocks of rows are enough products for the float32 kernels to pack
    W_h (20 hidden units: panels with zero columns; 64: whole panels), and one thread takes
    the batch as one block."""
    T, B = 32, 8 * _kernels.SEQUENCE_BLOCK
    shape = (T, B, n_hidden)
    W_h = np.zeros((n_hidden, 4 * n_hidden), np.float32)
    packed, n_blocks, threads = _kernels.plan_pass(W_h, T, B, 1, masked)
    assert packed is not None and (n_blocks, threads) == (1, 1)
    _check(kind, "tanh", shape, np.float32, masked)


def test_float32_tanh_is_within_6_ulps():
    """One vanilla step from a zero state is tanh of its input: scan a fine grid (measured:
    at most 5 ulps with FMA, 6 without, on 400 001 points of [-20, 20])."""
    x = np.linspace(-20, 20, 400_001, dtype=np.float32)
    params = {"W_h": np.zeros((1, 1), dtype=np.float32)}
    XW = x.reshape(1, -1, 1).copy()
    H, _ = VanillaCell().forward(params, XW, np.zeros((1, x.size, 1), np.float32))
    want = np.tanh(x.astype(np.float64)).astype(np.float32)
    ulps = np.abs(H.ravel().view(np.int32).astype(np.int64) - want.view(np.int32))
    assert ulps.max() <= 6


def test_a_numpy_cell_written_by_a_user_still_trains():
    """The NumPy reference cells follow the documented Cell contract only."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 6, 2)), rng.normal(size=40)
    kwargs = {"hidden_layer_sizes": 5, "max_iter": 3, "random_state": 0, "dtype": "float64"}
    compiled = RNNRegressor(cell=LSTMCell(), **kwargs).fit(X, y)
    user = RNNRegressor(cell=ReferenceLSTMCell(), **kwargs).fit(X, y)
    assert_allclose(user.predict(X), compiled.predict(X), rtol=1e-10)


def _lstm_forward_backward(n_threads, arrays):
    """The LSTM kernels' outputs over ``arrays`` on ``n_threads`` threads."""
    params, (XW, state0, dH, mask) = arrays
    W_h, (n_timesteps, n_samples, n_fused) = params["W_h"], XW.shape
    gates = XW.copy()
    H = np.empty((n_timesteps + 1, n_samples, n_fused // 4), XW.dtype)
    C, cell_out = np.empty_like(H), np.empty_like(H[1:])
    H[0], C[0] = state0
    code = ACTIVATION_CODES["tanh"]
    _kernels.lstm_forward(gates, W_h, H, C, cell_out, mask, code, n_threads)
    dstate = np.zeros_like(state0)
    _kernels.lstm_backward(gates, C, cell_out, W_h, dH, dstate, mask, code, n_threads)
    H_predict, c = np.empty_like(H), state0[1:].copy()  # inference: c updated in place
    H_predict[0] = state0[0]
    args = (XW.copy(), W_h, H_predict, c, np.empty_like(c), mask, code, n_threads)
    _kernels.lstm_forward(*args, training=False)
    return H, gates, dstate, np.stack([H_predict[-1], c[0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_blocks_agree_across_thread_counts_and_repeat_exactly(dtype):
    """Threads take fixed blocks of rows, so any count gives the reference's results (the
    exact bits: tests/test_thread_determinism.py), and a count repeats its bits."""
    _, _, arrays = _problem(LSTMCell(), 6, 37, 24, dtype, True, 3)
    with threadpool_limits(limits=1, user_api="blas"):
        results = {n: _lstm_forward_backward(n, arrays) for n in (1, 2, 3, 37, 50)}
        again = _lstm_forward_backward(3, arrays)
    for n_threads, result in results.items():
        for got, want in zip(result, results[1], strict=True):
            assert_allclose(got, want, rtol=0, atol=TOLERANCE[dtype], err_msg=str(n_threads))
    for got, want in zip(again, results[3], strict=True):
        assert_array_equal(got, want)


def test_kernels_plan_their_threads_by_the_openmp_limit_blocks_and_work():
    big = 10 * _kernels.MIN_WORK_PER_THREAD
    assert _kernels.plan_threads(3, 10, 1) == 3  # asked for: granted, one block each at most
    assert _kernels.plan_threads(3, 2, 1) == 2
    assert _kernels.plan_threads(0, 1000, big) == 1  # on their own: only under the hold
    with single_threaded_blas():
        with threadpool_limits(limits=1, user_api="openmp"):
            assert _kernels.plan_threads(0, 1000, big) == 1
        with threadpool_limits(limits=2, user_api="openmp"):
            assert _kernels.plan_threads(0, 1000, big) == 2
            assert _kernels.plan_threads(0, 1, big) == 1
            assert _kernels.plan_threads(0, 1000, 1) == 1  # too little work to split


def test_threaded_kernels_restore_the_blas_thread_count():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(64, 5, 2)), rng.normal(size=64)
    before = [library.get_num_threads() for library in _libraries()]
    with single_threaded_blas():
        assert all(library.get_num_threads() == 1 for library in _libraries())
    assert [library.get_num_threads() for library in _libraries()] == before
    with threadpool_limits(limits=2, user_api="openmp"):
        RNNRegressor(hidden_layer_sizes=4, max_iter=2, batch_size=32).fit(X, y).predict(X)
    assert [library.get_num_threads() for library in _libraries()] == before


@pytest.mark.parametrize("n_threads", [1, 2])
def test_blas_hold_sets_and_restores_only_the_counts_it_must(n_threads):
    with threadpool_limits(limits=n_threads, user_api="blas"):
        with single_threaded_blas():
            assert all(library.get_num_threads() == 1 for library in _libraries())
        assert all(library.get_num_threads() == n_threads for library in _libraries())


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(0, 9),
    k=st.integers(0, 9),
    n=st.integers(0, 9),
    transpose_b=st.booleans(),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_kernel_matmul_equals_numpy(m, k, n, transpose_b, dtype):
    rng = np.random.RandomState(m * 100 + k * 10 + n)
    A = rng.normal(size=(m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if transpose_b else (k, n)).astype(dtype)
    product = _kernels.matmul(A, B, transpose_b)
    assert product.dtype == dtype and product.shape == (m, n)
    assert_allclose(product, A @ (B.T if transpose_b else B), rtol=1e-5, atol=1e-5)


def _lstm_problem(dtype="float32"):
    """An LSTM regressor and data large enough that its kernels split rows over threads."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(128, 12, 3)), rng.normal(size=128)
    model = RNNRegressor(hidden_layer_sizes=48, max_iter=2, batch_size=64, random_state=0)
    return model.set_params(dtype=dtype), X, y


def test_one_model_predicts_the_same_from_four_threads():
    model, X, y = _lstm_problem()
    model.fit(X, y)
    serial = [model.predict(X[i::4]) for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda i: model.predict(X[i::4]), range(4)))
    for a, b in zip(serial, parallel, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fits_agree_across_thread_counts_and_repeat_exactly(dtype):
    """Fits on 1 and 2 threads (OpenMP and BLAS alike) agree; the same count repeats."""
    fits = {}
    for n_threads in (1, 2, 2):
        model, X, y = _lstm_problem(dtype)
        with threadpool_limits(limits=n_threads):
            fits.setdefault(n_threads, []).append(model.fit(X, y).predict(X))
    assert np.array_equal(fits[2][0], fits[2][1])
    tolerance = {"float32": 1e-5, "float64": 1e-12}[dtype]
    assert_allclose(fits[1][0], fits[2][0], rtol=tolerance, atol=tolerance)


def test_the_widest_runnable_build_is_loaded():
    builds = runnable_builds()
    assert builds[-1] == "baseline"
    if "RNNLEARN_KERNELS" not in os.environ:
        assert _kernels.__name__.endswith(("_kernels", f"_kernels_{builds[0]}"))
        assert builds[0] == "baseline" or _kernels.__name__.endswith(builds[0])


def test_a_checkout_without_compiled_kernels_says_how_to_build_them(monkeypatch):
    monkeypatch.delenv("RNNLEARN_KERNELS", raising=False)
    monkeypatch.setattr(_compiled, "_runnable", lambda: iter([("baseline", None)]))
    with pytest.raises(ImportError, match="not built.*build_ext --inplace"):
        _compiled._load()


@pytest.mark.skipif("RNNLEARN_KERNELS" in os.environ, reason="already runs one forced build")
@pytest.mark.parametrize("build", [name for name in runnable_builds()[1:]])
def test_every_other_build_matches_the_reference(build):
    """The narrower builds this CPU also runs pass the reference tests, in a subprocess."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__]
    command += ["-k", "reference or ulps or row_blocks"]
    result = subprocess.run(
        command, env={**os.environ, "RNNLEARN_KERNELS": build}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(0, 12), st.integers(1, 6), st.integers(1, 9)),
    ragged=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_max_steps_is_numpys_maximum_and_first_step_holding_it(shape, ragged, dtype, seed):
    """Few distinct values, so ties are common: the first step of the maximum is chosen;
    past a sequence's length nothing counts (none valid: -inf and step 0)."""
    rng = np.random.default_rng(seed)
    H = rng.integers(-2, 3, size=shape).astype(dtype)
    lengths = rng.integers(0, shape[0] + 1, size=shape[1]) if ragged else None
    valid = np.arange(shape[0])[:, None, None] < (shape[0] if lengths is None else lengths[:, None])
    masked = np.where(valid, H, -np.inf)
    expected = masked.max(axis=0, keepdims=True, initial=-np.inf)
    maximum, step = _kernels.max_steps(H, None if lengths is None else lengths.astype(np.intp))
    assert maximum.dtype == dtype
    assert_array_equal(maximum, expected)
    assert_array_equal(step, (masked == expected).argmax(axis=0)[None] if shape[0] else 0 * step)


@settings(max_examples=60, deadline=None)
@given(
    n_rows=st.integers(0, 300),
    n_columns=st.integers(1, 40),
    col0=st.integers(0, 5),
    order=st.sampled_from("CF"),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_column_sums_are_numpys_bit_for_bit(n_rows, n_columns, col0, order, dtype, seed):
    """The bias gradients: NumPy's sum over the rows, in its order (row by row for two
    columns or more of a C-contiguous array, pairwise for one column or another layout),
    signed zeros included, so that training gives the bits it gave with np.sum."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_rows, col0 + n_columns)).astype(dtype)
    D[rng.random(D.shape) < 0.2] = -0.0
    D = np.asarray(D, order=order)
    expected = np.sum(D[:, col0:], axis=0)
    out = np.full(n_columns, np.nan, dtype)
    column_sums(D, out, col0)
    assert_array_equal(out.view(np.uint8), expected.view(np.uint8))


def _assert_weight_grad_close(out, expected, n_rows):
    """float64 to round-off; float32 (the packed gradient's one chain of fused multiply-adds
    over the rows, or BLAS's sum) to float32 round-off grown over n_rows terms."""
    if out.dtype == np.float64:
        assert_allclose(out, expected, atol=1e-12)
    else:
        scale = np.abs(expected).max(initial=1.0) * max(n_rows, 1) ** 0.5
        assert_allclose(out, expected, rtol=0, atol=1e-6 * scale)


@settings(max_examples=40, deadline=None)
@given(
    T=st.integers(0, 40),
    B=st.integers(1, 20),
    K=st.integers(1, 20),
    G=st.integers(1, 70),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_weight_grad_over_each_sequences_own_steps(T, B, K, G, dtype, seed):
    """With lengths, the rows past each sequence's length are skipped (even when they are
    not zero), blocks of sequences sum in one order whatever the threads, and a column
    block of D lands in the same columns of out."""
    rng = np.random.default_rng(seed)
    X, D = rng.standard_normal((T * B, K)), rng.standard_normal((T * B, G + 2))
    lengths = rng.integers(0, T + 1, size=B).astype(np.intp)
    valid = (np.arange(T)[:, None] < lengths).ravel()
    expected = X[valid].T @ D[valid, 1 : G + 1]
    X, D = X.astype(dtype), D.astype(dtype)
    results = []
    for n_threads in (1, 2, 3):
        out = np.full((K, G + 1), np.nan, dtype)
        _kernels.weight_grad(X, D, out, 1, G, 1, n_threads, lengths=lengths)
        _assert_weight_grad_close(out[:, 1:], expected, valid.sum())
        assert np.isnan(out[:, 0]).all()
        results.append(out)
    assert_array_equal(results[0], results[1])
    assert_array_equal(results[0], results[2])
    with pytest.raises(ValueError, match="lengths"):
        _kernels.weight_grad(X, D, np.empty((K, G + 2), dtype), lengths=lengths + T + 1)


@settings(max_examples=25, deadline=None)
@given(
    N=st.integers(0, 4500),
    K=st.integers(1, 20),
    G=st.integers(1, 70),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_weight_grad_sums_blocks_of_rows_alike_on_any_threads(N, K, G, dtype, seed):
    """Without lengths, X^T D over all rows (cut into blocks of rows summed in block order,
    past the packed gradient's depth and GRAD_BLOCK), with the same bits on 1 to 3
    threads."""
    rng = np.random.default_rng(seed)
    X, D = rng.standard_normal((N, K)), rng.standard_normal((N, G))
    expected = X.T @ D
    X, D = X.astype(dtype), D.astype(dtype)
    results = []
    for n_threads in (1, 2, 3):
        out = np.full((K, G), np.nan, dtype)
        _kernels.weight_grad(X, D, out, n_threads=n_threads)
        _assert_weight_grad_close(out, expected, N)
        results.append(out)
    assert_array_equal(results[0], results[1])
    assert_array_equal(results[0], results[2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_kernel_names_the_array_of_the_wrong_shape(dtype):
    """The kernels' entry checks (in C) name the array and both shapes, optional ones too."""
    T, B, n = 3, 2, 4
    XW, W_h = np.zeros((T, B, 4 * n), dtype), np.zeros((n, 4 * n), dtype)
    H, C, cell_out = (np.zeros(shape, dtype) for shape in [(T + 1, B, n), (1, B, n), (1, B, n)])
    _kernels.lstm_forward(XW, W_h, H, C, cell_out, None, training=False)  # the right shapes
    with pytest.raises(ValueError, match=r"^H has shape \(3, 2, 4\), expected \(4, 2, 4\)$"):
        _kernels.lstm_forward(XW, W_h, H[1:], C, cell_out, None, training=False)
    with pytest.raises(ValueError, match=r"^mask has shape \(3, 1, 1\), expected \(3, 2, 1\)$"):
        _kernels.lstm_forward(XW, W_h, H, C, cell_out, np.ones((T, 1, 1), dtype), training=False)
    with pytest.raises(ValueError, match=r"^bias has shape \(3,\), expected \(4,\)$"):
        _kernels.matmul(np.ones((2, 3), dtype), np.ones((3, 4), dtype), False, np.ones(3, dtype))
