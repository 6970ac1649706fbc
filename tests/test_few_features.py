"""A layer input of one feature: the forward kernels project it step by step
(ProjectedInput) with the bits of a projection of the whole pass, and the backward pass
takes its weights' and bias's gradients in one pass (input_grads)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlearn import RNNClassifier, RNNRegressor, _network
from rnnlearn.activations import ACTIVATIONS
from rnnlearn.cells import GRUCell, LSTMCell, VanillaCell
from rnnlearn.cells._base import PROJECTED_MAX_FEATURES, ProjectedInput, column_sums
from rnnlearn.cells._compiled import kernels as _kernels

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::rnnlearn.exceptions.CollapseWarning"),  # 3 epochs
]

CELLS = {
    "lstm": LSTMCell(),
    "gru": GRUCell(),
    "gru_cho": GRUCell(reset_after=False),
    "vanilla": VanillaCell(),
}


def _outputs(cell, params, input_projection, state0, mask, dH):
    """Everything a forward pass gives (H, the named states, prediction) and what the
    backward pass computes from its cache; ``input_projection()`` makes a fresh ``XW``
    (the kernels write their gates over it)."""
    H, cache = cell.forward(params, input_projection(), state0, mask)
    states = {name: value.copy() for name, value in cell.states(cache).items()}
    grads = {name: np.zeros_like(value) for name, value in params.items()}
    dXW, dstate0 = cell.backward(params, cache, dH, grads)
    predicted = cell.predict(params, input_projection(), state0, mask)
    recurrent = {name: grads[name] for name in grads if name not in ("W_x", "b")}
    return {"H": H, **states, "predict": predicted, "dXW": dXW, "dstate0": dstate0, **recurrent}


@pytest.mark.parametrize("kind", CELLS)
@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 7), st.integers(1, 12), st.integers(1, 20)),
    n_features=st.integers(1, 8),  # the kernels take any number
    masked=st.booleans(),
    activation=st.sampled_from(sorted(ACTIVATIONS)),
    seed=st.integers(0, 2**31 - 1),
)
def test_a_projected_input_has_the_bits_of_a_projected_pass(
    kind, shape, n_features, masked, activation, seed
):
    n_timesteps, n_samples, n_hidden = shape
    cell = CELLS[kind].set_params(activation=activation)
    rng = np.random.RandomState(seed)
    shapes = cell.param_shapes(n_features, n_hidden)
    params = {name: np.empty(size) for name, size in shapes.items()}
    cell.init_params(params, rng)
    params = {
        name: (v + 0.3 * rng.standard_normal(v.shape)).astype(np.float32)
        for name, v in params.items()
    }
    X = rng.standard_normal((n_timesteps, n_samples, n_features)).astype(np.float32)
    state0 = rng.standard_normal((cell.n_states, n_samples, n_hidden)).astype(np.float32)
    dH = rng.standard_normal((n_timesteps, n_samples, n_hidden)).astype(np.float32)
    mask = None
    if masked:
        lengths = rng.randint(0, n_timesteps + 1, size=n_samples)
        mask = (np.arange(n_timesteps)[:, None] < lengths)[:, :, None].astype(np.float32)
    XW = _network._affine(X.reshape(-1, n_features), params["W_x"], params["b"])
    XW = XW.reshape(n_timesteps, n_samples, -1)
    whole = _outputs(cell, params, XW.copy, state0, mask, dH)
    stepwise = _outputs(
        cell, params, lambda: ProjectedInput(X, params["W_x"], params["b"]), state0, mask, dH
    )
    assert whole.keys() == stepwise.keys()
    for name, value in whole.items():
        assert np.array_equal(stepwise[name], value, equal_nan=True), name


def _ragged(n_samples=24, n_timesteps=9, n_features=PROJECTED_MAX_FEATURES, seed=0):
    """Sequences of 3 to n_timesteps steps (a list of arrays) and their sums."""
    rng = np.random.RandomState(seed)
    lengths = rng.randint(3, n_timesteps + 1, size=n_samples)
    X = [rng.normal(size=(length, n_features)) for length in lengths]
    return X, np.array([x.sum() for x in X])


@pytest.mark.parametrize("cell", ["vanilla", "gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_networks_predict_from_projected_inputs_as_from_projected_passes(
    cell, bidirectional, monkeypatch
):
    """One feature: the kernels project each step (the reverse direction from the reversed
    input); with the limit at 0 the layer projects whole passes. Two layers (the second
    projected whole), ragged sequences: the same predictions, bit for bit."""
    X, y = _ragged()
    labels = (y > np.median(y)).astype(int)
    options = dict(
        cell=cell,
        hidden_layer_sizes=(6, 5),
        bidirectional=bidirectional,
        batch_size=8,
        max_iter=2,
        random_state=0,
    )
    regressor = RNNRegressor(**options).fit(X, y)
    classifier = RNNClassifier(**options).fit(X, labels)
    runs = []
    for limit in (PROJECTED_MAX_FEATURES, 0):
        monkeypatch.setattr(_network, "PROJECTED_MAX_FEATURES", limit)
        runs.append([regressor.predict(X), classifier.predict_proba(X)])
    for stepwise, whole in zip(*runs, strict=True):
        assert np.array_equal(stepwise, whole)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(0, 300), st.integers(0, 8), st.integers(2, 40)),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_input_grads_are_the_weight_gradient_and_the_bias_column_sums(shape, dtype, seed):
    n_rows, n_features, n_columns = shape
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_rows, n_features)).astype(dtype)
    D = rng.standard_normal((n_rows, n_columns)).astype(dtype)
    out_W = np.full((n_features, n_columns), np.nan, dtype)
    out_b = np.full(n_columns, np.nan, dtype)
    _kernels.input_grads(X, D, out_W, out_b)
    bias = np.empty_like(out_b)
    column_sums(D, bias)
    assert np.array_equal(out_b, bias)  # NumPy's sum, bit for bit
    want = X.astype(np.float64).T @ D.astype(np.float64)
    tolerance = {np.float32: 1e-5, np.float64: 1e-12}[dtype] * max(1, n_rows)
    np.testing.assert_allclose(out_W, want, rtol=0, atol=tolerance)
