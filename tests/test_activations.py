"""Tests of rnnlearn.activations."""

import warnings

import numpy as np
import pytest
from _gradcheck import numerical_gradient
from numpy.testing import assert_allclose, assert_array_equal

from rnnlearn import VanillaCell
from rnnlearn.activations import ACTIVATIONS, DERIVATIVES, check_activation
from rnnlearn.cells._compiled import ACTIVATION_CODES

NAMES = sorted(ACTIVATIONS)

REFERENCE = {
    "identity": lambda x: x,
    "logistic": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "gompertz": lambda x: np.exp(-np.exp(-x)),
    "relu": lambda x: np.where(x > 0, x, 0.0),
}


def _points(seed, size=50):
    """Random points in [-4, 4], kept at least 0.1 away from 0 (the relu kink)."""
    x = np.random.RandomState(seed).uniform(-4, 4, size=size)
    return np.where(np.abs(x) < 0.1, x + 0.5, x)


def test_activations_tables_have_the_same_names():
    assert set(ACTIVATIONS) == set(DERIVATIVES) == set(REFERENCE)


def test_kernels_know_the_activations_by_the_same_names_and_distinct_codes():
    assert set(ACTIVATION_CODES) == set(ACTIVATIONS)
    assert len(set(ACTIVATION_CODES.values())) == len(ACTIVATION_CODES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_code_computes_the_python_activation_and_derivative(name, dtype):
    """One vanilla step from a zero state is the kernels' activation of its input, and its
    backward with ``dH = 1`` their derivative; both match the Python tables."""
    x = np.concatenate([_points(5), [-90.0, -0.05, 0.0, 0.05, 90.0]]).astype(dtype)
    cell, params = VanillaCell(activation=name), {"W_h": np.zeros((1, 1), dtype)}
    H, cache = cell.forward(params, x.reshape(1, -1, 1).copy(), np.zeros((1, x.size, 1), dtype))
    dXW, _ = cell.backward(params, cache, np.ones_like(H), {"W_h": np.empty((1, 1), dtype)})
    tolerance = {np.float64: 1e-14, np.float32: 1e-6}[dtype]
    y = ACTIVATIONS[name](x.astype(np.float64))
    assert_allclose(H.ravel(), y, rtol=tolerance, atol=tolerance)
    derivative = DERIVATIVES[name](H.ravel().astype(np.float64))
    assert_allclose(dXW.ravel(), derivative, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", NAMES)
def test_activation_matches_reference_formula(name):
    x = _points(0)
    assert_allclose(ACTIVATIONS[name](x), REFERENCE[name](x), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_from_output_matches_finite_differences(name):
    x = _points(1)
    numeric = np.empty_like(x)
    for k in range(x.size):
        point = x[k : k + 1].copy()
        numeric[k] = numerical_gradient(lambda p=point: ACTIVATIONS[name](p)[0], point)[0]
    analytic = DERIVATIVES[name](ACTIVATIONS[name](x))
    assert_allclose(analytic, numeric, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_activation_out_argument_writes_in_place(name):
    x = _points(2)
    expected = ACTIVATIONS[name](x)
    buffer = np.full_like(x, np.nan)
    result = ACTIVATIONS[name](x, out=buffer)
    assert result is buffer
    assert_array_equal(buffer, expected)
    same = x.copy()
    result = ACTIVATIONS[name](same, out=same)
    assert result is same
    assert_array_equal(same, expected)


@pytest.mark.parametrize("name", NAMES)
def test_activation_without_out_leaves_input_unchanged(name):
    x = _points(3)
    before = x.copy()
    result = ACTIVATIONS[name](x)
    assert result is not x
    assert_array_equal(x, before)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_and_derivative_keep_dtype(name, dtype):
    x = _points(4).astype(dtype)
    y = ACTIVATIONS[name](x)
    assert y.dtype == dtype
    assert DERIVATIVES[name](y).dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gompertz_is_finite_and_silent_at_extremes(dtype):
    x = np.array([-800.0, -100.0, 100.0, 800.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ACTIVATIONS["gompertz"](x)
        derivative = DERIVATIVES["gompertz"](y)
    assert_array_equal(y, [0.0, 0.0, 1.0, 1.0])
    assert_array_equal(derivative, [0.0, 0.0, 0.0, 0.0])
    assert y.dtype == dtype


def test_logistic_is_finite_at_extremes():
    y = ACTIVATIONS["logistic"](np.array([-1e4, 1e4]))
    assert_array_equal(y, [0.0, 1.0])


@pytest.mark.parametrize("name", ["softmax", "Tanh", None, 1])
def test_check_activation_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="activation must be one of"):
        check_activation(name)


def test_check_activation_respects_allowed_subset():
    assert check_activation("tanh", allowed=("tanh",)) == "tanh"
    with pytest.raises(ValueError):
        check_activation("relu", allowed=("tanh", "logistic"))


def test_check_activation_names_the_parameter():
    message = "cell__activation must be one of ['relu', 'tanh']; got 'foo'."
    with pytest.raises(ValueError) as info:
        check_activation("foo", allowed=("tanh", "relu"), parameter="cell__activation")
    assert str(info.value) == message
