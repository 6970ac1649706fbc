"""Tests of the shared argument checks in rnnlearn._validation."""

from numbers import Integral, Real

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn._validation import (
    Component,
    Flag,
    Interval,
    Options,
    check_dense,
    check_finite_vector,
    check_number,
    check_params,
    check_real_array,
    check_sequence_list,
    check_series,
    right_pad,
)
from rnnlearn.datasets import int2bin, make_binary_addition, make_sine_sequences
from rnnlearn.optimizers import SGD, Adam, Optimizer
from rnnlearn.preprocessing import SlidingWindow, make_windows, pad_sequences

# ---------------------------------------------------------------------------------------------
# check_number

# (value, kind, bounds, expected): expected is the returned value or the exception type
CHECK_NUMBER_CASES = [
    (3, Integral, {"low": 1}, 3),
    (np.int64(3), Integral, {"low": 1}, 3),
    (2**100, Integral, {"low": 1}, 2**100),
    (1, Integral, {"low": 1}, 1),
    (1, Integral, {"low": 1, "open_ends": "low"}, ValueError),
    (0, Integral, {"low": 1}, ValueError),
    (5, Integral, {"low": 1, "high": 5}, 5),
    (5, Integral, {"low": 1, "high": 5, "open_ends": "high"}, ValueError),
    (6, Integral, {"low": 1, "high": 5}, ValueError),
    (1.5, Integral, {"low": 1}, TypeError),
    (2.0, Integral, {}, TypeError),
    (True, Integral, {}, TypeError),
    (np.bool_(True), Integral, {}, TypeError),
    ("3", Integral, {}, TypeError),
    (None, Integral, {}, TypeError),
    (None, Integral, {"low": 1, "allow_none": True}, None),
    (0.5, Real, {"low": 0, "high": 1}, 0.5),
    (0, Real, {"low": 0}, 0.0),
    (0.0, Real, {"low": 0, "open_ends": "low"}, ValueError),
    (1.0, Real, {"low": 0, "high": 1, "open_ends": "low high"}, ValueError),
    (np.float32(0.25), Real, {"low": 0}, 0.25),
    (False, Real, {}, TypeError),
    (np.nan, Real, {}, ValueError),
    (np.inf, Real, {}, ValueError),
    (-np.inf, Real, {"high": 0}, ValueError),
    (np.nan, Real, {"allow_none": True}, ValueError),
]


@pytest.mark.parametrize(("value", "kind", "bounds", "expected"), CHECK_NUMBER_CASES)
def test_check_number_contract(value, kind, bounds, expected):
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected, match="^x must be "):
            check_number("x", value, kind, **bounds)
        return
    result = check_number("x", value, kind, **bounds)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "kind", "bounds", "message"),
    [
        (0, Integral, {"low": 1}, "x must be in [1, inf); got 0."),
        (0, Integral, {"low": 0, "open_ends": "low"}, "x must be in (0, inf); got 0."),
        (9, Integral, {"low": 1, "high": 8}, "x must be in [1, 8]; got 9."),
        (1.0, Real, {"low": 0, "high": 1, "open_ends": "high"}, "x must be in [0, 1); got 1.0."),
        (1.5, Integral, {}, "x must be an int; got 1.5."),
        ("a", Real, {}, "x must be a number; got 'a'."),
    ],
)
def test_check_number_messages(value, kind, bounds, message):
    with pytest.raises((TypeError, ValueError)) as info:
        check_number("x", value, kind, **bounds)
    assert str(info.value) == message


# ---------------------------------------------------------------------------------------------
# the other checks


def test_check_dense_rejects_sparse_only():
    check_dense("X", np.ones((2, 2)))
    with pytest.raises(TypeError, match="Sparse input is not supported: X must be dense"):
        check_dense("X", sparse.csr_matrix(np.ones((2, 2))))


def test_check_real_array():
    assert check_real_array("a", [True, False]).dtype == np.bool_
    assert check_real_array("a", [2**70, 1]).dtype == np.float64
    with pytest.raises(TypeError, match="a must hold real numbers"):
        check_real_array("a", ["x"])


@pytest.mark.parametrize("values", [[], [[1.0]], [1.0, np.inf]])
def test_check_finite_vector_rejects(values):
    with pytest.raises(ValueError, match="f must be a non-empty sequence of finite numbers"):
        check_finite_vector("f", values)


def test_check_sequence_list_keeps_shapes_and_nan():
    arrays = check_sequence_list("s", [[1.0, np.nan], np.ones((3, 1))])
    assert [a.shape for a in arrays] == [(2,), (3, 1)]


def test_check_series_rejects_sparse():
    with pytest.raises(TypeError, match="Sparse"):
        check_series("series", sparse.csr_matrix(np.ones((3, 1))))


# ---------------------------------------------------------------------------------------------
# one style in the public functions: a wrong type is a TypeError, a wrong value a ValueError


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: make_windows(np.ones(9), window=1.5), TypeError, "window must be an int"),
        (lambda: make_windows(np.ones(9), window=0), ValueError, r"window must be in \[1, inf\)"),
        (lambda: make_windows(np.ones(9), 3, step=True), TypeError, "step must be an int"),
        (lambda: SlidingWindow(horizon=2.0).fit(np.ones(9)), TypeError, "horizon must be an int"),
        (lambda: pad_sequences([[1.0]], max_length=2.5), TypeError, "max_length must be an int"),
        (lambda: int2bin(3, length=64), ValueError, r"length must be in \[1, 63\]"),
        (lambda: make_binary_addition(n_samples=1.0), TypeError, "n_samples must be an int"),
        (lambda: make_sine_sequences(noise="0.1"), TypeError, "noise must be a number"),
        (lambda: make_sine_sequences(noise=-1.0), ValueError, r"noise must be in \[0, inf\)"),
    ],
)
def test_public_functions_share_the_error_style(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# parameter tables


def test_check_params_checks_each_parameter_by_its_constraint():
    constraints = {"n": Interval(Integral, 1), "mode": Options("a", "b"), "on": Flag(), "x": None}
    params = {"n": np.int64(2), "mode": "b", "on": np.True_, "x": object(), "rest": 1.5}
    checked = check_params(params, constraints, unlisted=Interval(Real))
    assert checked["n"] == 2 and type(checked["n"]) is int
    assert checked["mode"] == "b" and checked["x"] is params["x"] and checked["rest"] == 1.5
    for bad, error, message in [
        ({"n": 0}, ValueError, r"^p__n must be in \[1, inf\); got 0\.$"),
        ({"mode": "c"}, ValueError, r"^p__mode must be one of \['a', 'b'\]; got 'c'\.$"),
        ({"mode": None}, ValueError, "p__mode must be one of"),
        ({"on": 1}, TypeError, r"^p__on must be a bool; got 1\.$"),
        ({"rest": "1"}, TypeError, "p__rest must be a number"),
    ]:
        with pytest.raises(error, match=message):
            check_params(bad, constraints, prefix="p__", unlisted=Interval(Real))


def test_component_resolves_an_alias_or_clones_and_checks_the_object():
    component = Component({"adam": Adam, "sgd": SGD}, Optimizer)
    given = SGD(learning_rate=0.5)
    resolved = component(given, "optimizer")
    assert resolved is not given and resolved.get_params() == given.get_params()
    assert isinstance(component("adam", "optimizer"), Adam)
    with pytest.raises(ValueError, match=r"optimizer__momentum must be in"):
        component(SGD(momentum=2.0), "optimizer")
    with pytest.raises(ValueError, match=r"must be one of \['adam', 'sgd'\] or a Optimizer"):
        component("lbfgs", "optimizer")
    with pytest.raises(TypeError, match="or a Optimizer instance; got <class"):
        component(SGD, "optimizer")


@pytest.mark.parametrize("estimator", [RNNRegressor(), RNNClassifier()], ids=repr)
def test_every_hyperparameter_of_the_estimators_is_declared_once(estimator):
    assert set(estimator._parameter_constraints) == set(estimator.get_params(deep=False))


def test_right_pad_fills_with_zeros_of_the_type_or_a_value():
    arrays = [np.array([[1], [2]]), np.array([[3]])]
    assert_array_equal(right_pad(arrays)[..., 0], [[1, 2], [3, 0]])
    assert right_pad(arrays).dtype == np.int64
    padded = right_pad(arrays, 3, np.float32, -1.0)
    assert padded.dtype == np.float32
    assert_array_equal(padded[..., 0], [[1, 2, -1], [3, -1, -1]])
    assert_array_equal(right_pad([np.array([["a"], ["b"]]), np.array([["c"]])])[1, 1], [""])
