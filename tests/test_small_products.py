"""The kernels' products with one term per sum (an input projection of one feature, a
hidden layer of one unit) run as plain loops, not through BLAS: they must give BLAS's bits,
each product rounded and then added to what C held."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from rnnlearn.cells._compiled import kernels

DTYPES = [np.float32, np.float64]


def _operands(m, n, dtype, seed):
    rng = np.random.RandomState(seed)
    A, B, bias = rng.normal(size=(m, 1)), rng.normal(size=(1, n)), rng.normal(size=n)
    return A.astype(dtype), B.astype(dtype), bias.astype(dtype)


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 300),
    n=st.integers(1, 600),  # more than one chunk of columns
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31 - 1),
)
def test_one_term_products_round_as_blas(m, n, dtype, seed):
    A, B, bias = _operands(m, n, dtype, seed)
    product = A * B  # NumPy rounds each product, then each sum: no fused multiply-add
    assert_array_equal(kernels.matmul(A, B), product)
    assert_array_equal(kernels.matmul(A, B, bias=bias), bias + product)
    # the transposed operand still goes through BLAS: the same bits
    assert_array_equal(kernels.matmul(A, np.ascontiguousarray(B.T), True, bias), bias + product)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_samples", [1, 3, 20])
def test_one_unit_recurrence_rounds_as_blas(dtype, n_samples):
    """A vanilla layer of one unit, identity activation: each step's product h_prev * w
    (one term) is rounded, then added to the input projection, as BLAS did it."""
    rng = np.random.RandomState(n_samples)
    XW = rng.normal(size=(30, n_samples, 1)).astype(dtype)
    W_h = np.array([[0.9]], dtype=dtype)
    H = np.zeros((31, n_samples, 1), dtype=dtype)
    expected = H.copy()
    for t in range(30):
        expected[t + 1] = XW[t] + expected[t] * W_h[0, 0]
    kernels.vanilla_forward(XW.copy(), W_h, H, None, kernels.ACTIVATION_CODES["identity"])
    assert_array_equal(H, expected)
