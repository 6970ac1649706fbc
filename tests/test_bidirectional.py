"""Tests of bidirectional layers: gradients, padding, the reverse direction, estimators."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from test_network import (
    ALL_CELLS,
    HIDDEN,
    LENGTHS,
    N_FEATURES,
    N_SAMPLES,
    PADDED_LENGTHS,
    TANH_CELLS,
    _gradient_errors,
    _padded_vs_one_by_one,
    _projection_objective,
    _record,
    _setup,
)

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn._network import Network, reverse_index, step_mask
from rnnlearn.persistence import load, save

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

OUTPUTS = {
    "sequence": (None, "last"),
    "last": (1, "last"),
    "mean": (1, "mean"),
    "max": (1, "max"),
    "concat": (1, "concat"),
}
GRADCHECK_CASES = [
    pytest.param(cell, *OUTPUTS[output], LENGTHS[padding], id=f"{name}-{output}-{padding}")
    for name, cell in TANH_CELLS
    for output in OUTPUTS
    for padding in LENGTHS
]


def _reversed_sequences(X, lengths):
    """Each sequence's valid steps reversed, its padding left in place."""
    return X[reverse_index(lengths, X.shape[0], X.shape[1]), np.arange(X.shape[1])]


def test_reverse_index_reverses_valid_steps_and_is_its_own_inverse():
    index = reverse_index(np.array([3, 1, 2]), 4, 3)
    assert_array_equal(index, [[2, 0, 1], [1, 1, 0], [0, 2, 2], [3, 3, 3]])
    assert_array_equal(index[index, np.arange(3)], np.broadcast_to(np.arange(4)[:, None], (4, 3)))


def test_bidirectional_layout_names_reverse_weights_and_doubles_widths():
    network = Network(ALL_CELLS[1], N_FEATURES, HIDDEN, 2, bidirectional=True)
    first, second, head = network.unpack(np.zeros(network.n_params))
    names = ["W_x", "W_h", "b", "b_hn"]
    assert list(first) == names + [f"{name}_reverse" for name in names]
    assert first["W_x_reverse"].shape == (N_FEATURES, 3 * HIDDEN[0])
    assert second["W_x"].shape == second["W_x_reverse"].shape == (2 * HIDDEN[0], 3 * HIDDEN[1])
    assert head["W"].shape == (2 * HIDDEN[1], 2)
    assert network.dropout_widths == (2 * HIDDEN[0], 2 * HIDDEN[1])


@pytest.mark.parametrize(("cell", "n_steps_out", "pooling", "lengths"), GRADCHECK_CASES)
def test_bidirectional_gradients_match_finite_differences(
    cell, n_steps_out, pooling, lengths, gradcheck_errors, request
):
    network, params, X, state0, rng = _setup(cell, n_steps_out, pooling=pooling, bidirectional=True)
    objective = _projection_objective(network, n_steps_out, rng)
    errors = _gradient_errors(network, params, X, lengths, state0, objective)
    assert "layer1.W_h_reverse" in errors and "state0[3]" in errors
    _record(gradcheck_errors, request, errors)


@pytest.mark.parametrize(("cell", "n_steps_out", "pooling", "lengths"), GRADCHECK_CASES)
def test_bidirectional_dropout_gradients_match_finite_differences(
    cell, n_steps_out, pooling, lengths, gradcheck_errors, request
):
    """Every cell, output, pooling and padding, stacked, both directions, fixed masks."""
    network, params, X, state0, rng = _setup(
        cell, n_steps_out, pooling=pooling, bidirectional=True, dropout=0.4
    )
    masks = network.dropout_masks(rng, N_SAMPLES)
    assert any(np.any(mask == 0) for mask in masks)
    objective = _projection_objective(network, n_steps_out, rng)
    errors = _gradient_errors(network, params, X, lengths, state0, objective, True, masks)
    _record(gradcheck_errors, request, errors)


@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
@settings(max_examples=10, deadline=None, database=None)
@given(
    lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    extra_padding=st.integers(0, 2),
    seed=st.integers(0, 2**31 - 1),
)
@example(lengths=[3, 1, 2], extra_padding=1, seed=0)
def test_bidirectional_padded_batch_equals_sequences_one_by_one(
    cell, output, lengths, extra_padding, seed
):
    n_steps_out, pooling = OUTPUTS.get(output, (1, output))
    lengths = np.array(lengths)
    n_timesteps = int(lengths.max()) + extra_padding
    network = Network(cell, N_FEATURES, HIDDEN, 2, n_steps_out, pooling=pooling, bidirectional=True)
    rng = np.random.RandomState(seed)
    params = network.init_params(rng) + rng.normal(0.0, 0.3, network.n_params)
    X = rng.normal(size=(n_timesteps, len(lengths), N_FEATURES))
    padding = ~step_mask(lengths, n_timesteps)
    X[padding] = rng.normal(scale=100.0, size=(int(padding.sum()), N_FEATURES))  # garbage
    _padded_vs_one_by_one(network, params, X, lengths, rng)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_backward_direction_is_a_forward_network_on_reversed_sequences(cell):
    X = _setup(cell, None)[2]  # with garbage padding
    network = Network(cell, N_FEATURES, HIDDEN[:1], 2, bidirectional=True)
    params = network.init_params(np.random.RandomState(1))
    layer, head = network.unpack(params)
    states = network.hidden_states(network.forward(params, X, PADDED_LENGTHS)[1])[0]

    forward_only = Network(cell, N_FEATURES, HIDDEN[:1], 2)
    flat = forward_only.init_params(np.random.RandomState(2))
    uni_layer, _ = forward_only.unpack(flat)
    for name in uni_layer:
        uni_layer[name][...] = layer[name + "_reverse"]
    reversed_X = _reversed_sequences(X, PADDED_LENGTHS)
    uni = forward_only.hidden_states(forward_only.forward(flat, reversed_X, PADDED_LENGTHS)[1])[0]
    assert set(states) == set(uni) | {f"{name}_reverse" for name in uni}
    for name, value in uni.items():
        assert_allclose(states[f"{name}_reverse"], _reversed_sequences(value, PADDED_LENGTHS))
    assert not np.allclose(states["h"], states["h_reverse"])


def test_bidirectional_last_state_is_pytorch_h_n():
    network, params, X, _, _ = _setup(ALL_CELLS[0], 1, bidirectional=True)
    cache = network.forward(params, X, PADDED_LENGTHS)[1]
    h = network.hidden_states(cache)[-1]
    samples = np.arange(N_SAMPLES)
    expected = np.concatenate([h["h"][PADDED_LENGTHS - 1, samples], h["h_reverse"][0]], axis=-1)
    assert_allclose(cache.head_input[0], expected)
    assert_allclose(
        network.predict(params, X, PADDED_LENGTHS), network.forward(params, X, PADDED_LENGTHS)[0]
    )


def test_bidirectional_network_refuses_steps_after_the_input():
    with pytest.raises(ValueError, match="bidirectional"):
        Network(ALL_CELLS[0], N_FEATURES, HIDDEN, 2, 3, bidirectional=True)


def _series(n_samples=24, n_timesteps=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_timesteps, 2))
    return X, X[:, :, 0].sum(axis=1)


@pytest.mark.parametrize("output_mode", ["last", "sequence"])
def test_regressor_fits_and_predicts_bidirectional(output_mode):
    X, y = _series()
    y = X[:, :, 0] if output_mode == "sequence" else y
    model = RNNRegressor(
        (4, 3), "gru", output_mode=output_mode, bidirectional=True, max_iter=5, random_state=0
    ).fit(X, y)
    assert model.predict(X).shape == y.shape
    assert model.coefs_[1]["W_x_reverse"].shape == (8, 9)
    states = model.hidden_states(X)
    assert states[0]["h_reverse"].shape == (len(X), X.shape[1], 4)


def test_classifier_fits_and_predicts_bidirectional_variable_length():
    X, y = _series(seed=1)
    X = [x[: 2 + i % 4] for i, x in enumerate(X)]
    labels = np.array(["a", "b"])[(y > 0).astype(int)]
    model = RNNClassifier(4, pooling="mean", bidirectional=True, max_iter=5, random_state=0)
    model.fit(X, labels)
    assert set(model.predict(X)) <= {"a", "b"}
    assert model.predict_proba(X).shape == (len(X), 2)


def test_bidirectional_rejects_output_after_the_input():
    X, _ = _series()
    with pytest.raises(ValueError, match="output_mode='after'"):
        RNNRegressor(4, output_mode="after", bidirectional=True).fit(X, X[:, :2, 0])


def test_bidirectional_must_be_a_bool():
    X, y = _series()
    with pytest.raises(TypeError, match="bidirectional"):
        RNNRegressor(4, bidirectional="yes").fit(X, y)


def test_warm_start_refuses_a_change_of_direction():
    X, y = _series()
    model = RNNRegressor(4, max_iter=2, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="bidirectional"):
        model.set_params(bidirectional=True).fit(X, y)


def test_bidirectional_model_survives_save_and_load(tmp_path):
    X, y = _series()
    model = RNNRegressor(4, "lstm", bidirectional=True, max_iter=3, random_state=0).fit(X, y)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert loaded.bidirectional and loaded._network.bidirectional
    assert_array_equal(loaded.predict(X), model.predict(X))
    assert_array_equal(loaded.partial_fit(X, y).predict(X), model.partial_fit(X, y).predict(X))
