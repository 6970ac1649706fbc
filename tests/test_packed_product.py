"""The kernels' float32 per-step product against NumPy, and its row independence."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from rnnlearn import RNNClassifier
from rnnlearn.cells._compiled import kernels as _kernels

DIMS = st.integers(0, 70)
"""Rows, depth and columns: around the panel widths (8, 16, 32 floats) and tile heights."""


def _operand(rng, k, n, trans, col0, extra):
    """A weight matrix whose block [:, col0 : col0 + n] (transposed with trans) is the k x n
    operand, inside a wider array, as W_h's gate blocks are."""
    W = rng.standard_normal((n, col0 + k + extra) if trans else (k, col0 + n + extra))
    W = W.astype(np.float32)
    block = W[:, col0 : col0 + k].T if trans else W[:, col0 : col0 + n]
    return W, np.asarray(block, dtype=np.float64)


@settings(max_examples=60, deadline=None)
@given(
    m=DIMS,
    k=DIMS,
    n=DIMS,
    trans=st.booleans(),
    accumulate=st.booleans(),
    col0=st.integers(0, 5),
    descending=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_packed_product_is_the_matrix_product(m, k, n, trans, accumulate, col0, descending, seed):
    """A @ B (+ C) for any shape, B a column block of a wider matrix or of its transpose,
    its columns walked either way."""
    rng = np.random.default_rng(seed)
    W, B = _operand(rng, k, n, trans, col0, extra=3)
    A = rng.standard_normal((m, k)).astype(np.float32)
    C = rng.standard_normal((m, n)).astype(np.float32)
    expected = A.astype(np.float64) @ B + (C if accumulate else 0)
    packed = _kernels.pack_operand(W, trans, col0, k if trans else n)
    _kernels.packed_matmul(A, packed, C, accumulate, descending)
    assert_allclose(C, expected, rtol=1e-5, atol=1e-5 * max(1, np.sqrt(k)))


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 40),
    k=DIMS,
    n=st.integers(1, 300),
    descending=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_each_row_has_the_same_bits_in_any_product(m, k, n, descending, seed):
    """A row of the product does not depend on the rows beside it, nor on the order in which
    the columns are walked: the properties that let the float32 kernels cut a batch into
    rows by thread, and alternate the order step by step, without changing the result.
    Up to 300 columns: the last rows' chunks of four panels, one or more of them."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, k)).astype(np.float32)
    packed = _kernels.pack_operand(rng.standard_normal((k, n)).astype(np.float32))
    whole = rng.standard_normal((m, n)).astype(np.float32)
    start = whole.copy()
    _kernels.packed_matmul(A, packed, whole, accumulate=True)
    for row in range(m):
        alone = start[row : row + 1].copy()
        _kernels.packed_matmul(A[row : row + 1], packed, alone, True, descending)
        assert_array_equal(alone[0], whole[row])


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(9, 40),
    k=st.integers(2, 70),
    n=st.integers(1, 300),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_matmul_gives_a_few_rows_the_bits_they_have_among_many(m, k, n, with_bias, seed):
    """matmul reads B unpacked for fewer rows than a tile (a prediction's output layer on
    one sequence) and packs it for more: each row has the same bits either way."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, k)).astype(np.float32)
    B = rng.standard_normal((k, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32) if with_bias else None
    many = _kernels.matmul(A, B, bias=bias)
    for rows in (slice(0, 1), slice(2, 7), slice(m - 3, m)):
        assert_array_equal(_kernels.matmul(A[rows], B, bias=bias), many[rows])


def test_float32_passes_pack_and_float64_ones_are_left_to_blas():
    """Every float32 pass packs, however short (one step of one row); float64 never does."""
    assert _kernels.pack_operand(np.ones((3, 4))) is None
    assert _kernels.plan_pass(np.ones((3, 4)), 256, 8, 1, False)[0] is None
    assert _kernels.plan_pass(np.ones((3, 4), np.float32), 1, 1, 1, False)[0] is not None


@pytest.mark.parametrize("cell", ["vanilla", "gru", "lstm"])
@pytest.mark.parametrize("n_features", [1, 3])
def test_a_float32_prediction_does_not_depend_on_its_batch(cell, n_features):
    """Each sequence's prediction has the same bits alone, in a batch, and in any order:
    every float32 product (input projection, recurrence, head) is the packed one."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((21, 12, n_features)).astype(np.float32)
    model = RNNClassifier(cell=cell, hidden_layer_sizes=(24,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, np.arange(21) % 3)
    order = rng.permutation(21)
    together = model.predict_proba(X)
    assert_array_equal(model.predict_proba(X[order]), together[order])
    alone = np.concatenate([model.predict_proba(X[i : i + 1]) for i in range(21)])
    assert_array_equal(alone, together)


def test_a_packed_operand_too_small_for_the_product_is_refused():
    packed = _kernels.pack_operand(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        _kernels.packed_matmul(np.ones((2, 3), np.float32), packed, np.ones((2, 400), np.float32))
