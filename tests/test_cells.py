"""Tests of rnnlearn.cells: formulas by hand, statelessness, cell-level gradient checks."""

import copy
import re

import numpy as np
import pytest
from _gradcheck import max_relative_error, numerical_gradient
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from rnnlearn.cells import (
    CELLS,
    Cell,
    GRUCache,
    GRUCell,
    LSTMCache,
    LSTMCell,
    VanillaCache,
    VanillaCell,
)
from rnnlearn.cells._base import valid_lengths

ALL_CELLS = [
    VanillaCell(),
    VanillaCell(activation="relu"),
    GRUCell(),
    GRUCell(reset_after=False, activation="logistic"),
    LSTMCell(),
    LSTMCell(activation="gompertz", forget_bias=0.0),
]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _layer(cell, n_inputs, n_hidden, seed):
    """Random, non-trivial parameters of one layer, as a dict of arrays."""
    rng = np.random.RandomState(seed)
    shapes = cell.param_shapes(n_inputs, n_hidden)
    params = {name: rng.normal(scale=0.6, size=shape) for name, shape in shapes.items()}
    return params, rng


def _state0(cell, n_samples, n_hidden, rng):
    return rng.normal(scale=0.5, size=(cell.n_states, n_samples, n_hidden))


def _forward(cell, params, X, state0, mask=None):
    XW = X @ params["W_x"] + params["b"]
    return cell.forward(params, XW, state0, mask)


def test_vanilla_step_by_hand():
    cell = VanillaCell(activation="tanh")
    params, rng = _layer(cell, 2, 3, seed=0)
    X, state0 = rng.normal(size=(2, 4, 2)), _state0(cell, 4, 3, rng)
    H, _ = _forward(cell, params, X, state0)
    h = state0[0]
    for t in range(2):
        h = np.tanh(X[t] @ params["W_x"] + params["b"] + h @ params["W_h"])
        assert_allclose(H[t], h, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_step_by_hand(reset_after):
    cell = GRUCell(reset_after=reset_after)
    params, rng = _layer(cell, 2, 3, seed=1)
    X, state0 = rng.normal(size=(2, 4, 2)), _state0(cell, 4, 3, rng)
    H, cache = _forward(cell, params, X, state0)
    states = cell.states(cache)
    W_xr, W_xz, W_xn = np.split(params["W_x"], 3, axis=1)
    W_hr, W_hz, W_hn = np.split(params["W_h"], 3, axis=1)
    b_r, b_z, b_n = np.split(params["b"], 3)
    h = state0[0]
    for t in range(2):
        x = X[t]
        r = _sigmoid(x @ W_xr + b_r + h @ W_hr)
        z = _sigmoid(x @ W_xz + b_z + h @ W_hz)
        if reset_after:  # PyTorch: r multiplies (h W_hn + b_hn)
            n = np.tanh(x @ W_xn + b_n + r * (h @ W_hn + params["b_hn"]))
        else:  # Cho et al.: r multiplies h before the product
            n = np.tanh(x @ W_xn + b_n + (r * h) @ W_hn)
        h = (1 - z) * n + z * h
        for name, expected in (("r", r), ("z", z), ("n", n), ("h", h)):
            assert_allclose(states[name][t], expected, rtol=1e-13, atol=1e-15, err_msg=name)
    assert_allclose(H[-1], h, rtol=1e-13, atol=1e-15)


def test_lstm_step_by_hand():
    cell = LSTMCell()
    params, rng = _layer(cell, 2, 3, seed=2)
    X, state0 = rng.normal(size=(2, 4, 2)), _state0(cell, 4, 3, rng)
    H, cache = _forward(cell, params, X, state0)
    states = cell.states(cache)
    blocks = [np.split(params[name], 4, axis=-1) for name in ("W_x", "W_h", "b")]
    h, c = state0
    for t in range(2):
        pre = [X[t] @ W_x + h @ W_h + b for W_x, W_h, b in zip(*blocks, strict=True)]
        i, f, g, o = _sigmoid(pre[0]), _sigmoid(pre[1]), np.tanh(pre[2]), _sigmoid(pre[3])
        c = f * c + i * g
        h = o * np.tanh(c)
        for name, expected in (("i", i), ("f", f), ("g", g), ("o", o), ("c", c), ("h", h)):
            assert_allclose(states[name][t], expected, rtol=1e-13, atol=1e-15, err_msg=name)
    assert_allclose(H[-1], h, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_cell_padding_carries_state(cell):
    params, rng = _layer(cell, 2, 3, seed=3)
    X, state0 = rng.normal(size=(4, 2, 2)), _state0(cell, 2, 3, rng)
    mask = np.ones((4, 2, 1))
    mask[2:, 1] = 0.0
    H, cache = _forward(cell, params, X, state0, mask)
    H_short, cache_short = _forward(cell, params, X[:2, 1:], state0[:, 1:])
    assert_allclose(H[:2, 1], H_short[:, 0], rtol=1e-13, atol=1e-15)
    assert_array_equal(H[2:, 1], [H[1, 1]] * 2)  # carried exactly
    if "c" in cell.states(cache):
        c, c_short = cell.states(cache)["c"], cell.states(cache_short)["c"]
        assert_allclose(c[1, 1], c_short[-1, 0], rtol=1e-13, atol=1e-15)
        assert_array_equal(c[2:, 1], [c[1, 1]] * 2)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_cell_forward_backward_leave_cell_unchanged(cell):
    params, rng = _layer(cell, 2, 3, seed=4)
    X, state0 = rng.normal(size=(3, 2, 2)), _state0(cell, 2, 3, rng)
    params_before, dict_before = cell.get_params(), copy.deepcopy(vars(cell))
    H, cache = _forward(cell, params, X, state0, np.ones((3, 2, 1)))
    grads = {name: np.empty_like(value) for name, value in params.items()}
    cell.backward(params, cache, np.ones_like(H), grads)
    cell.states(cache)
    assert cell.get_params() == params_before
    assert vars(cell) == dict_before


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_cell_clone_keeps_parameters(cell):
    copy_ = clone(cell)
    assert type(copy_) is type(cell) and copy_ is not cell
    assert copy_.get_params() == cell.get_params()


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_cell_serves_layers_of_different_sizes(cell):
    """One instance runs a 2 -> 3 layer and a 3 -> 5 layer; results match fresh instances."""
    lower, rng = _layer(cell, 2, 3, seed=5)
    upper, _ = _layer(cell, 3, 5, seed=6)
    X = rng.normal(size=(3, 2, 2))
    H1, _ = _forward(cell, lower, X, np.zeros((cell.n_states, 2, 3)))
    H2, _ = _forward(cell, upper, H1, np.zeros((cell.n_states, 2, 5)))
    assert H1.shape == (3, 2, 3) and H2.shape == (3, 2, 5)
    H1_fresh, _ = _forward(clone(cell), lower, X, np.zeros((cell.n_states, 2, 3)))
    assert_array_equal(H1, H1_fresh)


@pytest.mark.parametrize(
    ("cell", "names"),
    [(VanillaCell(), {"h"}), (GRUCell(), {"h", "r", "z", "n"}), (LSTMCell(), set("hcifgo"))],
    ids=repr,
)
def test_cell_states_names_and_shapes(cell, names):
    params, rng = _layer(cell, 2, 3, seed=7)
    _, cache = _forward(cell, params, rng.normal(size=(4, 2, 2)), np.zeros((cell.n_states, 2, 3)))
    states = cell.states(cache)
    assert set(states) == names
    assert all(value.shape == (4, 2, 3) for value in states.values())


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_cell_param_shapes(cell):
    shapes = cell.param_shapes(2, 3)
    expected = {
        "W_x": (2, 3 * cell.n_gates),
        "W_h": (3, 3 * cell.n_gates),
        "b": (3 * cell.n_gates,),
    }
    if isinstance(cell, GRUCell) and cell.reset_after:
        expected["b_hn"] = (3,)
    assert shapes == expected


def test_lstm_init_params_sets_forget_bias_only():
    cell = LSTMCell(forget_bias=2.5)
    params = {name: np.full(shape, np.nan) for name, shape in cell.param_shapes(2, 3).items()}
    cell.init_params(params, np.random.RandomState(0))
    assert_array_equal(params["b"], [0, 0, 0, 2.5, 2.5, 2.5, 0, 0, 0, 0, 0, 0])
    assert np.all(np.isfinite(params["W_x"])) and np.all(np.isfinite(params["W_h"]))


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_cell_init_params_recurrent_blocks_are_orthogonal(cell):
    params = {name: np.full(shape, np.nan) for name, shape in cell.param_shapes(2, 3).items()}
    cell.init_params(params, np.random.RandomState(0))
    for block in np.split(params["W_h"], cell.n_gates, axis=1):
        assert_allclose(block.T @ block, np.eye(3), atol=1e-12)
    limit = np.sqrt(6.0 / (2 + 3))
    assert np.all(np.abs(params["W_x"]) <= limit)


ACTIVATION_CHOICES = "['gompertz', 'identity', 'logistic', 'relu', 'tanh']"


@pytest.mark.parametrize("activation", ["softmax", "Tanh", None, 1])
@pytest.mark.parametrize("cell_class", [VanillaCell, GRUCell, LSTMCell])
def test_validate_hyperparameters_rejects_unknown_activation(cell_class, activation):
    cell = cell_class(activation=activation)
    message = f"cell__activation must be one of {ACTIVATION_CHOICES}; got {activation!r}."
    with pytest.raises(ValueError, match=re.escape(message)):
        cell.validate_hyperparameters(prefix="cell__")
    with pytest.raises(ValueError, match="^activation must be one of"):
        cell.validate_hyperparameters()


@pytest.mark.parametrize("reset_after", ["no", 1, None])
def test_validate_hyperparameters_rejects_non_bool_reset_after(reset_after):
    message = f"cell__reset_after must be a bool; got {reset_after!r}."
    with pytest.raises(TypeError, match=re.escape(message)):
        GRUCell(reset_after=reset_after).validate_hyperparameters(prefix="cell__")


BAD_FORGET_BIASES = [
    ("1", TypeError),
    (None, TypeError),
    (True, TypeError),
    (np.nan, ValueError),
    (np.inf, ValueError),
    (-np.inf, ValueError),
]


@pytest.mark.parametrize(("forget_bias", "exception"), BAD_FORGET_BIASES)
def test_validate_hyperparameters_rejects_bad_forget_bias(forget_bias, exception):
    with pytest.raises(exception, match="^cell__forget_bias "):
        LSTMCell(forget_bias=forget_bias).validate_hyperparameters(prefix="cell__")


VALID_CELLS = ALL_CELLS + [
    VanillaCell(activation="identity"),
    GRUCell(activation="gompertz", reset_after=np.False_),
    LSTMCell(forget_bias=-3),
    LSTMCell(forget_bias=np.float32(2)),
]


@pytest.mark.parametrize("cell", VALID_CELLS, ids=repr)
def test_validate_hyperparameters_accepts_valid_cells_unchanged(cell):
    params_before, dict_before = cell.get_params(), copy.deepcopy(vars(cell))
    assert cell.validate_hyperparameters(prefix="cell__") is None
    assert cell.get_params() == params_before
    assert vars(cell) == dict_before


class _ScaledCell(VanillaCell):
    """A user's cell with its own hyperparameter and no ``validate_hyperparameters``."""

    def __init__(self, activation="tanh", scale=1.0):
        super().__init__(activation)
        self.scale = scale


class _NoActivationCell(Cell):
    """A user's cell without an ``activation`` parameter (identity recurrence)."""

    def forward(self, params, XW, state0, mask=None):
        return XW, None

    def backward(self, params, cache, dH, grads):
        return dH, np.zeros_like(dH[:1])

    def states(self, cache):
        return {}


def test_validate_hyperparameters_serves_user_cells_without_override():
    _NoActivationCell().validate_hyperparameters(prefix="cell__")
    _ScaledCell(scale="anything").validate_hyperparameters(prefix="cell__")
    with pytest.raises(ValueError, match="^cell__activation must be one of"):
        _ScaledCell(activation="foo").validate_hyperparameters(prefix="cell__")


@pytest.mark.parametrize(
    ("cell", "cache_type", "fields"),
    [
        (VanillaCell(), VanillaCache, ("H", "mask")),
        (GRUCell(), GRUCache, ("H", "gates", "reset_term", "mask")),
        (LSTMCell(), LSTMCache, ("H", "C", "gates", "cell_out", "mask")),
    ],
    ids=repr,
)
def test_cell_cache_is_named_with_histories_and_gates(cell, cache_type, fields):
    params, rng = _layer(cell, 2, 3, seed=10)
    state0 = _state0(cell, 2, 3, rng)
    X, mask = rng.normal(size=(4, 2, 2)), np.ones((4, 2, 1))
    XW = X @ params["W_x"] + params["b"]
    H, cache = cell.forward(params, XW, state0, mask)
    assert type(cache) is cache_type and cache._fields == fields
    assert cache.mask is mask
    assert_array_equal(cache.H[0], state0[0])  # the history starts with the initial state
    assert_array_equal(cache.H[1:], H)
    if cell.n_gates > 1:
        assert cache.gates is XW  # the gates are computed in XW's buffer
        names = "rzn" if isinstance(cell, GRUCell) else "ifgo"
        states = cell.states(cache)
        assert_array_equal(cache.gates, np.concatenate([states[k] for k in names], axis=-1))
    if isinstance(cell, LSTMCell):
        assert_array_equal(cache.C[0], state0[1])
        assert_allclose(cache.cell_out, np.tanh(cache.C[1:]), rtol=1e-13)


def test_cells_table_names_classes():
    assert {"vanilla": VanillaCell, "gru": GRUCell, "lstm": LSTMCell} == CELLS


@pytest.mark.parametrize("masked", [False, True], ids=["full", "padded"])
@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_cell_gradients_match_finite_differences(cell, masked, gradcheck_errors):
    """Cell alone: gradients of XW, the recurrent parameters and the initial state."""
    params, rng = _layer(cell, 2, 3, seed=9)
    n_timesteps, n_samples, n_fused = 4, 3, 3 * cell.n_gates
    XW = rng.normal(size=(n_timesteps, n_samples, n_fused))
    state0 = _state0(cell, n_samples, 3, rng)
    mask = None
    if masked:
        mask = (np.arange(n_timesteps)[:, None] < np.array([4, 1, 3])).astype(float)[..., None]
    projection = rng.normal(size=(n_timesteps, n_samples, 3))

    def value():
        return np.sum(projection * cell.forward(params, XW.copy(), state0, mask)[0])

    _, cache = cell.forward(params, XW.copy(), state0, mask)
    grads = {name: np.full_like(array, np.nan) for name, array in params.items()}
    dXW, dstate0 = cell.backward(params, cache, projection, grads)
    recurrent = [name for name in params if name not in ("W_x", "b")]
    errors = {"XW": max_relative_error(dXW, numerical_gradient(value, XW))}
    errors["state0"] = max_relative_error(dstate0, numerical_gradient(value, state0))
    for name in recurrent:
        errors[name] = max_relative_error(grads[name], numerical_gradient(value, params[name]))
    worst = max(errors.values())
    gradcheck_errors[f"cell[{cell!r}-{'padded' if masked else 'full'}]"] = worst
    assert worst <= 1e-6, errors


def test_valid_lengths_reach_each_sequences_last_valid_step():
    """The weight gradients skip the steps after these: with gaps in a mask, the steps
    before the last valid one still count."""
    mask = np.array([[1, 1, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32)[:, :, None]
    assert_array_equal(valid_lengths(mask), [2, 3, 0, 1])
    assert valid_lengths(mask).dtype == np.intp
    assert valid_lengths(None) is None
