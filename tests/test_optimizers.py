"""Tests of rnnlearn.optimizers: exact one-step formulas, state handling, helpers."""

import copy

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from rnnlearn.optimizers import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    RMSprop,
    add_l2_penalty,
    clip_by_global_norm,
)

ALL_OPTIMIZERS = [
    SGD(learning_rate=0.1, momentum=0.5),
    SGD(learning_rate=0.1, momentum=0.5, nesterov=True, decay=0.5),
    Adagrad(learning_rate=0.3),
    RMSprop(learning_rate=0.2, rho=0.8),
    Adam(learning_rate=0.05, beta_1=0.8, beta_2=0.9),
]

PARAMS = np.array([1.0, -2.0, 0.5, 3.0])
GRADS = np.array([0.5, 1.0, -2.0, 0.25])


def _hand_step(optimizer, params, grads, state):
    """Expected ``(params, state arrays)`` after one update, from the documented formulas."""
    lr = optimizer.learning_rate * optimizer.decay ** state["epoch"]
    t = state["step"] + 1
    if isinstance(optimizer, SGD):
        velocity = optimizer.momentum * state["velocity"] + grads
        if optimizer.nesterov:
            return params - lr * (grads + optimizer.momentum * velocity), {"velocity": velocity}
        return params - lr * velocity, {"velocity": velocity}
    if isinstance(optimizer, Adagrad):
        squares = state["sum_of_squares"] + grads**2
        step = lr * grads / (np.sqrt(squares) + optimizer.epsilon)
        return params - step, {"sum_of_squares": squares}
    if isinstance(optimizer, RMSprop):
        mean_square = optimizer.rho * state["mean_square"] + (1 - optimizer.rho) * grads**2
        step = lr * grads / (np.sqrt(mean_square) + optimizer.epsilon)
        return params - step, {"mean_square": mean_square}
    b1, b2 = optimizer.beta_1, optimizer.beta_2
    first = b1 * state["first_moment"] + (1 - b1) * grads
    second = b2 * state["second_moment"] + (1 - b2) * grads**2
    first_hat, second_hat = first / (1 - b1**t), second / (1 - b2**t)
    step = lr * first_hat / (np.sqrt(second_hat) + optimizer.epsilon)
    return params - step, {"first_moment": first, "second_moment": second}


def _hand_state(optimizer, params, rng):
    """A state with non-zero arrays and counters, as after some training."""
    state = optimizer.init(params)
    for name, value in state.items():
        if isinstance(value, np.ndarray):
            value[...] = rng.uniform(0.1, 2.0, size=value.shape)
            if name in ("velocity", "first_moment"):
                value *= rng.choice([-1.0, 1.0], size=value.shape)
    state["epoch"], state["step"] = 2, 4
    return state


def _assert_one_step_matches(optimizer, params, grads, state):
    expected_params, expected_arrays = _hand_step(optimizer, params, grads, copy.deepcopy(state))
    arrays = {name: state[name] for name in expected_arrays}
    step_before, epoch_before = state["step"], state["epoch"]
    optimizer.update(params, grads.copy(), state)
    scale = np.max(np.abs(expected_params)) + 1.0
    assert_allclose(params, expected_params, rtol=1e-12, atol=1e-14 * scale)
    for name, expected in expected_arrays.items():
        assert state[name] is arrays[name]  # updated in place
        assert_allclose(state[name], expected, rtol=1e-12, atol=1e-300)
    assert state["step"] == step_before + 1
    assert state["epoch"] == epoch_before


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=repr)
def test_optimizer_one_step_from_nonzero_state_matches_formula(optimizer):
    params = PARAMS.copy()
    state = _hand_state(optimizer, params, np.random.RandomState(0))
    _assert_one_step_matches(optimizer, params, GRADS, state)


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=repr)
def test_optimizer_init_gives_zero_state_like_params(optimizer):
    params = PARAMS.astype(np.float32)
    state = optimizer.init(params)
    assert state["epoch"] == 0 and state["step"] == 0
    arrays = [value for value in state.values() if isinstance(value, np.ndarray)]
    assert len(arrays) == len(type(optimizer)._state_arrays) >= 1
    for value in arrays:
        assert value.dtype == np.float32 and value.shape == params.shape
        assert not np.shares_memory(value, params)
        assert_array_equal(value, 0.0)


def test_sgd_momentum_by_hand():
    sgd = SGD(learning_rate=0.5, momentum=0.25)
    params = np.array([1.0, 2.0])
    state = sgd.init(params)
    state["velocity"][...] = [4.0, -8.0]
    sgd.update(params, np.array([1.0, 2.0]), state)
    # v = 0.25 * [4, -8] + [1, 2] = [2, 0]; w = [1, 2] - 0.5 * [2, 0]
    assert_array_equal(state["velocity"], [2.0, 0.0])
    assert_array_equal(params, [0.0, 2.0])


def test_sgd_nesterov_by_hand():
    sgd = SGD(learning_rate=0.5, momentum=0.25, nesterov=True)
    params = np.array([1.0, 2.0])
    state = sgd.init(params)
    state["velocity"][...] = [4.0, -8.0]
    sgd.update(params, np.array([1.0, 2.0]), state)
    # v = [2, 0]; step = g + 0.25 * v = [1.5, 2]; w = [1, 2] - 0.5 * [1.5, 2]
    assert_array_equal(state["velocity"], [2.0, 0.0])
    assert_array_equal(params, [0.25, 1.0])


def test_sgd_without_momentum_is_plain_gradient_descent():
    sgd = SGD(learning_rate=0.25, momentum=0.0)
    params = np.array([1.0, -1.0])
    state = sgd.init(params)
    for _ in range(2):
        sgd.update(params, np.array([2.0, 4.0]), state)
    assert_array_equal(params, [0.0, -3.0])


def test_sgd_decay_after_two_epochs():
    sgd = SGD(learning_rate=0.8, momentum=0.0, decay=0.5)
    params = np.array([1.0])
    state = sgd.init(params)
    assert sgd.learning_rate_at(state) == 0.8
    sgd.end_epoch(state)
    sgd.end_epoch(state)
    assert state["epoch"] == 2
    assert sgd.learning_rate_at(state) == pytest.approx(0.8 * 0.5**2, rel=1e-15)
    sgd.update(params, np.array([1.0]), state)
    assert_allclose(params, [1.0 - 0.2], rtol=1e-15)


@pytest.mark.parametrize("t", [1, 3])
def test_adam_bias_correction_by_hand(t):
    adam = Adam(learning_rate=0.1, beta_1=0.5, beta_2=0.75, epsilon=1e-3)
    params = np.array([1.0, -1.0])
    state = adam.init(params)
    state["first_moment"][...] = [0.5, 0.25]
    state["second_moment"][...] = [1.0, 4.0]
    state["step"] = t - 1
    adam.update(params, np.array([2.0, -4.0]), state)
    m = np.array([0.5 * 0.5 + 0.5 * 2.0, 0.5 * 0.25 - 0.5 * 4.0])  # [1.25, -1.875]
    v = np.array([0.75 * 1.0 + 0.25 * 4.0, 0.75 * 4.0 + 0.25 * 16.0])  # [1.75, 7.0]
    m_hat, v_hat = m / (1 - 0.5**t), v / (1 - 0.75**t)
    assert state["step"] == t
    assert_allclose(state["first_moment"], m, rtol=1e-15)
    assert_allclose(state["second_moment"], v, rtol=1e-15)
    expected = np.array([1.0, -1.0]) - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-3)
    assert_allclose(params, expected, rtol=1e-12)


def test_adam_first_step_from_zero_state_is_learning_rate_sized():
    adam = Adam(learning_rate=0.1, epsilon=0.0)
    params = np.array([1.0, 1.0])
    state = adam.init(params)
    adam.update(params, np.array([3.0, -0.001]), state)
    assert_allclose(params, [0.9, 1.1], rtol=1e-12)


def test_adagrad_by_hand():
    opt = Adagrad(learning_rate=0.5, epsilon=0.0)
    params = np.array([1.0, 2.0])
    state = opt.init(params)
    state["sum_of_squares"][...] = [7.0, 0.0]
    opt.update(params, np.array([3.0, -2.0]), state)
    # G = [16, 4]; w = [1, 2] - 0.5 * [3/4, -2/2]
    assert_array_equal(state["sum_of_squares"], [16.0, 4.0])
    assert_array_equal(params, [0.625, 2.5])


def test_rmsprop_by_hand():
    opt = RMSprop(learning_rate=0.5, rho=0.75, epsilon=0.0)
    params = np.array([1.0, 2.0])
    state = opt.init(params)
    state["mean_square"][...] = [4.0, 12.0]
    opt.update(params, np.array([4.0, -2.0]), state)
    # s = 0.75 * [4, 12] + 0.25 * [16, 4] = [7, 10]
    assert_allclose(state["mean_square"], [7.0, 10.0], rtol=1e-15)
    assert_allclose(params, [1.0 - 0.5 * 4 / np.sqrt(7), 2.0 + 0.5 * 2 / np.sqrt(10)], rtol=1e-15)


@st.composite
def _optimizer_and_state(draw):
    unit = st.floats(0.0, 0.999)
    positive = st.floats(1e-4, 1.0)
    kind = draw(st.sampled_from(sorted(OPTIMIZERS)))
    common = {"learning_rate": draw(positive), "decay": draw(st.floats(0.1, 1.0))}
    if kind == "sgd":
        optimizer = SGD(momentum=draw(unit), nesterov=draw(st.booleans()), **common)
    elif kind == "adagrad":
        optimizer = Adagrad(epsilon=draw(st.floats(0.0, 1e-3)), **common)
    elif kind == "rmsprop":
        optimizer = RMSprop(rho=draw(unit), epsilon=draw(st.floats(1e-8, 1e-3)), **common)
    else:
        optimizer = Adam(
            beta_1=draw(unit),
            beta_2=draw(unit),
            epsilon=draw(st.floats(1e-8, 1e-3)),
            **common,
        )
    seed = draw(st.integers(0, 2**31 - 1))
    epoch, step = draw(st.integers(0, 5)), draw(st.integers(0, 50))
    return optimizer, seed, epoch, step


@settings(max_examples=60, deadline=None, database=None)
@given(_optimizer_and_state())
def test_optimizer_update_matches_formula_and_leaves_object_unchanged(case):
    optimizer, seed, epoch, step = case
    rng = np.random.RandomState(seed)
    params = rng.normal(size=6)
    grads = rng.normal(size=6)
    state = _hand_state(optimizer, params, rng)
    state["epoch"], state["step"] = epoch, step
    params_before, hash_before = optimizer.get_params(), joblib.hash(optimizer)
    dict_before = copy.deepcopy(vars(optimizer))
    _assert_one_step_matches(optimizer, params, grads, state)
    optimizer.end_epoch(state)
    optimizer.learning_rate_at(state)
    assert optimizer.get_params() == params_before
    assert joblib.hash(optimizer) == hash_before
    assert vars(optimizer) == dict_before


@pytest.mark.parametrize(
    "optimizer",
    [
        SGD(learning_rate=-0.1),
        SGD(learning_rate=0.0),
        SGD(learning_rate=np.nan),
        SGD(learning_rate=np.inf),
        SGD(momentum=1.0),
        SGD(momentum=-0.1),
        SGD(momentum=np.nan),
        SGD(decay=0.0),
        SGD(decay=1.5),
        SGD(decay=np.nan),
        Adagrad(learning_rate=-1.0),
        Adagrad(epsilon=np.nan),
        Adagrad(decay=0.0),
        RMSprop(rho=1.0),
        RMSprop(learning_rate=np.nan),
        Adam(beta_1=1.0),
        Adam(beta_2=1.0),
        Adam(beta_1=-0.5),
        Adam(learning_rate=-0.001),
        Adam(epsilon=np.nan),
        Adam(decay=0.0),
    ],
    ids=repr,
)
def test_optimizer_rejects_invalid_hyperparameters(optimizer):
    with pytest.raises(ValueError, match=r"optimizer__\w+ must be in"):
        optimizer.validate_hyperparameters(prefix="optimizer__")


@pytest.mark.parametrize(
    "optimizer", [SGD(nesterov="yes"), SGD(momentum="0.9"), Adam(beta_1=None)], ids=repr
)
def test_optimizer_rejects_hyperparameters_of_the_wrong_type(optimizer):
    with pytest.raises(TypeError, match="must be a"):
        optimizer.validate_hyperparameters()


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=repr)
def test_optimizer_accepts_its_defaults(optimizer):
    optimizer.validate_hyperparameters()


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=repr)
def test_optimizer_clone_keeps_parameters(optimizer):
    copy_ = clone(optimizer)
    assert type(copy_) is type(optimizer)
    assert copy_.get_params() == optimizer.get_params()


def test_optimizers_table_names_classes():
    assert {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam} == OPTIMIZERS


def test_clip_by_global_norm_by_hand():
    grads = np.array([3.0, 0.0, -4.0])
    assert clip_by_global_norm(grads, 1.0) == 5.0
    assert_allclose(grads, [0.6, 0.0, -0.8], rtol=1e-15)
    assert np.linalg.norm(grads) == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("max_norm", [5.0, 10.0, None])
def test_clip_by_global_norm_leaves_short_gradients(max_norm):
    grads = np.array([3.0, 0.0, -4.0])
    assert clip_by_global_norm(grads, max_norm) == 5.0
    assert_array_equal(grads, [3.0, 0.0, -4.0])


def test_add_l2_penalty_by_hand():
    params = np.array([1.0, -2.0, 3.0, 4.0])
    grads = np.array([0.5, 0.5, 0.5, 0.5])
    mask = np.array([True, True, False, True])
    value = add_l2_penalty(grads, params, 0.1, mask)
    assert value == pytest.approx(0.5 * 0.1 * (1 + 4 + 16), rel=1e-15)
    assert_allclose(grads, [0.6, 0.3, 0.5, 0.9], rtol=1e-15)
    assert_array_equal(params, [1.0, -2.0, 3.0, 4.0])


def test_add_l2_penalty_zero_alpha_does_nothing():
    grads = np.array([0.5, -0.5])
    assert add_l2_penalty(grads, np.array([1.0, 2.0]), 0.0, np.ones(2, dtype=bool)) == 0.0
    assert_array_equal(grads, [0.5, -0.5])
