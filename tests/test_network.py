"""Tests of rnnlearn._network: layout, gradient checks over the whole matrix, padding."""

import numpy as np
import pytest
from _gradcheck import max_relative_error, numerical_gradient
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from rnnlearn._network import POOLINGS, LayerCache, Network, NetworkCache, step_mask
from rnnlearn.cells import GRUCell, LSTMCell, VanillaCell
from rnnlearn.losses import AbsoluteError, Huber, LogLoss, SquaredError

N_TIMESTEPS, N_SAMPLES, N_FEATURES, HIDDEN = 4, 3, 2, (3, 2)
PADDED_LENGTHS = np.array([4, 1, 3])  # includes a length-1 sequence

TANH_CELLS = [
    ("vanilla-tanh", VanillaCell(activation="tanh")),
    ("gru_after-tanh", GRUCell(activation="tanh", reset_after=True)),
    ("gru_before-tanh", GRUCell(activation="tanh", reset_after=False)),
    ("lstm-tanh", LSTMCell(activation="tanh")),
]
OTHER_ACTIVATION_CELLS = [
    ("vanilla-logistic", VanillaCell(activation="logistic")),
    ("vanilla-gompertz", VanillaCell(activation="gompertz")),
    ("vanilla-relu", VanillaCell(activation="relu")),
    ("vanilla-identity", VanillaCell(activation="identity")),
    ("gru_after-gompertz", GRUCell(activation="gompertz", reset_after=True)),
    ("gru_before-logistic", GRUCell(activation="logistic", reset_after=False)),
    ("lstm-logistic", LSTMCell(activation="logistic", forget_bias=0.0)),
]
MODES = {"synced": None, "many_to_one": 1, "unsynced3": 3}
LENGTHS = {"full": None, "padded": PADDED_LENGTHS}
# Every tanh cell in every output mode, with and without padding; the other activations
# (which change only the cell's pointwise derivative) in two contrasting configurations.
GRADCHECK_CASES = [
    pytest.param(cell, MODES[mode], LENGTHS[padding], id=f"{name}-{mode}-{padding}")
    for name, cell in TANH_CELLS
    for mode in MODES
    for padding in LENGTHS
] + [
    pytest.param(cell, MODES[mode], LENGTHS[padding], id=f"{name}-{mode}-{padding}")
    for name, cell in OTHER_ACTIVATION_CELLS
    for mode, padding in (("synced", "padded"), ("unsynced3", "full"))
]
ALL_CELLS = [VanillaCell(), GRUCell(), GRUCell(reset_after=False), LSTMCell()]
ALL_LOSSES = [
    SquaredError(),
    AbsoluteError(),
    Huber(delta=0.5),
    LogLoss(link_function="logistic"),
    LogLoss(link_function="softmax"),
]


def _setup(cell, n_steps_out, n_outputs=2, seed=0, **options):
    """Network, perturbed parameters, input with garbage padding, random initial states.

    ``options`` go to :class:`Network` (``pooling``, ``dropout``, ``bidirectional``); there
    is one initial state per layer and direction.
    """
    network = Network(cell, N_FEATURES, HIDDEN, n_outputs, n_steps_out, **options)
    rng = np.random.RandomState(seed)
    params = network.init_params(rng) + rng.normal(0.0, 0.3, network.n_params)
    X = rng.normal(size=(N_TIMESTEPS, N_SAMPLES, N_FEATURES))
    X[~step_mask(PADDED_LENGTHS, N_TIMESTEPS)] = rng.normal(scale=10.0, size=(4, N_FEATURES))
    state0 = [
        rng.normal(scale=0.5, size=(cell.n_states, N_SAMPLES, n))
        for n in HIDDEN
        for _ in range(network.n_directions)
    ]
    return network, params, X, state0, rng


def _gradient_errors(
    network, params, X, lengths, state0, objective, inputs=True, dropout_masks=None
):
    """Max relative error of every parameter block and (``inputs``) of ``X`` and each state0.

    ``objective(raw)`` returns ``(scalar, d scalar / d raw)``; ``dropout_masks`` stay fixed.
    """

    def value():
        return objective(network.forward(params, X, lengths, state0, dropout_masks)[0])[0]

    raw, cache = network.forward(params, X, lengths, state0, dropout_masks)
    grads, dX, dstate0 = network.backward(params, cache, objective(raw)[1], input_gradient=True)
    assert grads.shape == params.shape and dX.shape == X.shape
    numeric = numerical_gradient(value, params)
    errors = {}
    blocks = [f"layer{k}" for k in range(len(network.hidden_layer_sizes))] + ["head"]
    pairs = zip(blocks, network.unpack(grads), network.unpack(numeric), strict=True)
    for where, analytic, finite in pairs:
        for name in analytic:
            errors[f"{where}.{name}"] = max_relative_error(analytic[name], finite[name])
    if not inputs:
        return errors
    errors["X"] = max_relative_error(dX, numerical_gradient(value, X))
    for k, state in enumerate(state0):
        errors[f"state0[{k}]"] = max_relative_error(dstate0[k], numerical_gradient(value, state))
    return errors


def _record(gradcheck_errors, request, errors):
    worst = max(errors.values())
    gradcheck_errors[request.node.name] = worst
    assert worst <= 1e-6, errors


# --- gradient checks ------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "n_steps_out", "lengths"), GRADCHECK_CASES)
def test_network_gradients_match_finite_differences(
    cell, n_steps_out, lengths, gradcheck_errors, request
):
    network, params, X, state0, rng = _setup(cell, n_steps_out)
    n_out = N_TIMESTEPS if n_steps_out is None else n_steps_out
    projection = rng.normal(size=(n_out, N_SAMPLES, network.n_outputs))

    def objective(raw):
        return float(np.sum(projection * raw)), projection

    errors = _gradient_errors(network, params, X, lengths, state0, objective)
    _record(gradcheck_errors, request, errors)


def _projection_objective(network, n_steps_out, rng):
    """``objective(raw) = sum(projection * raw)`` with a random fixed ``projection``."""
    n_out = N_TIMESTEPS if n_steps_out is None else n_steps_out
    projection = rng.normal(size=(n_out, N_SAMPLES, network.n_outputs))

    def objective(raw):
        return float(np.sum(projection * raw)), projection

    return objective


def _fixed_masks(network, n_samples, rng, rate=0.4):
    """Dropout masks drawn once (with some zeros and some ``1 / (1 - rate)``)."""
    return Network(network.cell, **{**network.architecture, "dropout": rate}).dropout_masks(
        rng, n_samples
    )


POOLING_CASES = [
    pytest.param(cell, pooling, LENGTHS[padding], id=f"{name}-{pooling}-{padding}")
    for name, cell in TANH_CELLS
    for pooling in POOLINGS
    for padding in LENGTHS
]


@pytest.mark.parametrize(("cell", "pooling", "lengths"), POOLING_CASES)
def test_network_pooling_gradients_match_finite_differences(
    cell, pooling, lengths, gradcheck_errors, request
):
    network, params, X, state0, rng = _setup(cell, 1, pooling=pooling)
    objective = _projection_objective(network, 1, rng)
    errors = _gradient_errors(network, params, X, lengths, state0, objective)
    _record(gradcheck_errors, request, errors)


DROPOUT_CASES = [
    pytest.param(cell, MODES[mode], pooling, LENGTHS[padding], id=f"{name}-{label}-{padding}")
    for name, cell in TANH_CELLS
    for label, mode, pooling in (
        ("synced", "synced", "last"),
        ("last", "many_to_one", "last"),
        ("unsynced3", "unsynced3", "last"),
        ("mean", "many_to_one", "mean"),
        ("max", "many_to_one", "max"),
        ("concat", "many_to_one", "concat"),
    )
    for padding in LENGTHS
]


@pytest.mark.parametrize(("cell", "n_steps_out", "pooling", "lengths"), DROPOUT_CASES)
def test_network_dropout_gradients_match_finite_differences(
    cell, n_steps_out, pooling, lengths, gradcheck_errors, request
):
    """With fixed masks, dropout is a fixed product: backward must use the same masks."""
    network, params, X, state0, rng = _setup(cell, n_steps_out, pooling=pooling)
    masks = _fixed_masks(network, N_SAMPLES, rng)
    assert any(np.any(mask == 0) for mask in masks)
    objective = _projection_objective(network, n_steps_out, rng)
    errors = _gradient_errors(network, params, X, lengths, state0, objective, True, masks)
    _record(gradcheck_errors, request, errors)


def _loss_targets(loss, raw, rng):
    """Targets for ``loss`` near ``raw`` with no kink within reach of the stencil."""
    if isinstance(loss, LogLoss) and loss.link_function == "softmax":
        return np.eye(raw.shape[-1])[rng.randint(raw.shape[-1], size=raw.shape[:-1])]
    if isinstance(loss, LogLoss):
        return rng.randint(2, size=raw.shape).astype(float)
    if isinstance(loss, AbsoluteError):
        return raw + rng.choice([-1.0, 1.0], size=raw.shape) * rng.uniform(1, 3, raw.shape)
    if isinstance(loss, Huber):  # residuals 0.2 / -0.15 (quadratic) and 1.0 / -1.5 (linear)
        return raw - rng.choice([0.2, -0.15, 1.0, -1.5], size=raw.shape)
    return raw + rng.normal(size=raw.shape)


LOSS_CASES = [
    pytest.param(loss, VanillaCell(), n_steps_out, id=f"{loss!r}-vanilla-{mode}")
    for loss in ALL_LOSSES
    for mode, n_steps_out in (("synced", None), ("many_to_one", 1), ("unsynced2", 2))
] + [pytest.param(loss, LSTMCell(), None, id=f"{loss!r}-lstm-synced") for loss in ALL_LOSSES]


@pytest.mark.parametrize(("loss", "cell", "n_steps_out"), LOSS_CASES)
def test_network_loss_gradients_match_finite_differences(
    loss, cell, n_steps_out, gradcheck_errors, request
):
    """Scalar = weighted loss of the padded batch's output (padded steps weigh 0)."""
    network, params, X, state0, rng = _setup(cell, n_steps_out, n_outputs=3, seed=1)
    raw, _ = network.forward(params, X, PADDED_LENGTHS, state0)
    y = _loss_targets(loss, raw, rng)
    sample_weight = np.array([0.5, 2.0, 1.5])
    if n_steps_out is None:
        weights = sample_weight * step_mask(PADDED_LENGTHS, N_TIMESTEPS)
        assert weights[2, 1] == 0.0 and weights[3, 2] == 0.0
    else:
        weights = np.broadcast_to(sample_weight, raw.shape[:2])

    def objective(raw):
        return loss.loss_gradient(y, raw, weights)

    errors = _gradient_errors(network, params, X, PADDED_LENGTHS, state0, objective, False)
    _record(gradcheck_errors, request, errors)


# --- padding -------------------------------------------------------------------------------


def _padded_vs_one_by_one(network, params, X, lengths, rng, dropout_masks=None):
    """Run a padded batch and each sequence alone with the same per-sequence ``d_raw``.

    Each sequence alone gets its own column of ``dropout_masks`` (``None``: no dropout).
    """
    n_outputs, n_steps_out = network.n_outputs, network.n_steps_out
    n_emitted = [length if n_steps_out is None else n_steps_out for length in lengths]
    d_seq = [rng.normal(size=(k, 1, n_outputs)) for k in n_emitted]
    if n_steps_out is None:
        d_raw = np.zeros((X.shape[0], len(lengths), n_outputs))  # zero on padded steps
        for b, d in enumerate(d_seq):
            d_raw[: lengths[b], b] = d[:, 0]
    else:
        d_raw = np.concatenate(d_seq, axis=1)
    raw, cache = network.forward(params, X, lengths, dropout_masks=dropout_masks)
    grads, dX, dstate0 = network.backward(params, cache, d_raw, input_gradient=True)
    grads_sum = np.zeros_like(grads)
    for b, length in enumerate(lengths):
        masks_b = None if dropout_masks is None else [m[:, b : b + 1] for m in dropout_masks]
        raw_b, cache_b = network.forward(params, X[:length, b : b + 1], dropout_masks=masks_b)
        grads_b, dX_b, dstate0_b = network.backward(params, cache_b, d_seq[b], input_gradient=True)
        grads_sum += grads_b
        assert_allclose(raw[: n_emitted[b], b], raw_b[:, 0], rtol=1e-12, atol=1e-12)
        assert_allclose(dX[:length, b], dX_b[:, 0], rtol=1e-12, atol=1e-12)
        assert_array_equal(dX[length:, b], 0.0)
        for k in range(len(dstate0)):
            assert_allclose(dstate0[k][:, b], dstate0_b[k][:, 0], rtol=1e-12, atol=1e-12)
    assert_allclose(grads, grads_sum, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_steps_out", [None, 1, 2], ids=["synced", "many_to_one", "unsynced2"])
@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
@settings(max_examples=15, deadline=None, database=None)
@given(
    lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    extra_padding=st.integers(0, 2),
    seed=st.integers(0, 2**31 - 1),
)
@example(lengths=[3, 1, 2], extra_padding=1, seed=0)
def test_network_padded_batch_equals_sequences_one_by_one(
    cell, n_steps_out, lengths, extra_padding, seed
):
    lengths = np.array(lengths)
    n_timesteps = int(lengths.max()) + extra_padding
    network = Network(cell, N_FEATURES, HIDDEN, 2, n_steps_out)
    rng = np.random.RandomState(seed)
    params = network.init_params(rng) + rng.normal(0.0, 0.3, network.n_params)
    X = rng.normal(size=(n_timesteps, len(lengths), N_FEATURES))
    padding = ~step_mask(lengths, n_timesteps)
    X[padding] = rng.normal(scale=100.0, size=(int(padding.sum()), N_FEATURES))  # garbage
    _padded_vs_one_by_one(network, params, X, lengths, rng)


@pytest.mark.parametrize("pooling", ["last", *POOLINGS])
@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
@settings(max_examples=15, deadline=None, database=None)
@given(
    lengths=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    extra_padding=st.integers(0, 2),
    seed=st.integers(0, 2**31 - 1),
    dropout=st.sampled_from([0.0, 0.5]),
)
@example(lengths=[3, 1, 2], extra_padding=1, seed=0, dropout=0.5)
def test_network_pooled_padded_batch_equals_sequences_one_by_one(
    cell, pooling, lengths, extra_padding, seed, dropout
):
    """Pooling reads valid steps only and dropout masks act per sequence: padding is inert."""
    lengths = np.array(lengths)
    n_timesteps = int(lengths.max()) + extra_padding
    network = Network(cell, N_FEATURES, HIDDEN, 2, 1, pooling=pooling, dropout=dropout)
    rng = np.random.RandomState(seed)
    params = network.init_params(rng) + rng.normal(0.0, 0.3, network.n_params)
    X = rng.normal(size=(n_timesteps, len(lengths), N_FEATURES))
    padding = ~step_mask(lengths, n_timesteps)
    X[padding] = rng.normal(scale=100.0, size=(int(padding.sum()), N_FEATURES))  # garbage
    masks = network.dropout_masks(rng, len(lengths))
    _padded_vs_one_by_one(network, params, X, lengths, rng, masks)


@pytest.mark.parametrize("pooling", list(POOLINGS))
def test_network_pooling_by_hand(pooling):
    """The head reads the mean or max of the top states over each sequence's valid steps,
    or ``[last, mean, max]`` of them."""
    network, params, X, state0, _ = _setup(LSTMCell(), 1, pooling=pooling)
    raw, cache = network.forward(params, X, PADDED_LENGTHS, state0)
    h_top = network.hidden_states(cache)[-1]["h"]
    head = network.unpack(params)[-1]
    reduce = {
        "mean": lambda h: np.mean(h, axis=0),
        "max": lambda h: np.max(h, axis=0),
        "concat": lambda h: np.concatenate([h[-1], np.mean(h, axis=0), np.max(h, axis=0)]),
    }[pooling]
    for b, length in enumerate(PADDED_LENGTHS):
        expected = reduce(h_top[:length, b]) @ head["W"] + head["b"]
        assert_allclose(raw[0, b], expected, rtol=1e-13)
    from_zero_state = network.forward(params, X, PADDED_LENGTHS)[0]
    assert_allclose(network.predict(params, X, PADDED_LENGTHS), from_zero_state, rtol=1e-12)


def test_network_max_pooling_routes_ties_to_the_first_step():
    H = np.array([[[1.0, 2.0]], [[1.0, 5.0]], [[0.5, 5.0]]])  # (3 steps, 1 sample, 2 units)
    weights = POOLINGS["max"](H, np.ones((3, 1, 1), dtype=bool), None)
    assert_array_equal(weights[:, 0], [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    padded = POOLINGS["max"](H, np.array([[[True]], [[False]], [[False]]]), None)
    assert_array_equal(padded[:, 0], [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("n_steps_out", [None, 3])
@pytest.mark.parametrize("pooling", [*POOLINGS, "sum"])
def test_network_rejects_pooling_without_one_output_step(pooling, n_steps_out):
    with pytest.raises(ValueError, match="pooling"):
        Network(LSTMCell(), N_FEATURES, HIDDEN, 2, n_steps_out, pooling=pooling)


def test_network_dropout_masks_are_inverted_and_reproducible():
    network = Network(GRUCell(), N_FEATURES, (3, 5), 2, dropout=0.25)
    masks = network.dropout_masks(np.random.RandomState(0), 400, np.float32)
    again = network.dropout_masks(np.random.RandomState(0), 400, np.float32)
    assert [m.shape for m in masks] == [(1, 400, 3), (1, 400, 5)]
    for mask, same in zip(masks, again, strict=True):
        assert mask.dtype == np.float32
        assert_array_equal(mask, same)
        assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.75)}
        assert abs(mask.mean() - 1.0) < 0.1
    rng = np.random.RandomState(0)
    assert Network(GRUCell(), N_FEATURES, (3,), 2).dropout_masks(rng, 4) is None
    assert_array_equal(rng.get_state()[1], np.random.RandomState(0).get_state()[1])


def test_network_dropout_acts_on_upper_inputs_and_head_only():
    network, params, X, state0, rng = _setup(GRUCell(), None)
    masks = _fixed_masks(network, N_SAMPLES, rng)
    raw, cache = network.forward(params, X, PADDED_LENGTHS, state0, masks)
    plain_raw, plain = network.forward(params, X, PADDED_LENGTHS, state0)
    assert_array_equal(cache.layers[0].inputs, plain.layers[0].inputs)  # not the input
    assert_allclose(cache.layers[1].inputs, plain.layers[1].inputs * masks[0], rtol=1e-15)
    assert_allclose(cache.head_input, network.hidden_states(cache)[-1]["h"] * masks[1])
    ones = [np.ones_like(mask) for mask in masks]
    assert_array_equal(network.forward(params, X, PADDED_LENGTHS, state0, ones)[0], plain_raw)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_unsynced_output_ignores_padded_inputs(cell):
    """Past a short sequence's end the unsynced head must see zeros, not the padding."""
    network = Network(cell, N_FEATURES, (3,), 1, n_steps_out=2)
    rng = np.random.RandomState(0)
    params = network.init_params(rng)
    X = rng.normal(size=(4, 2, N_FEATURES))
    lengths = np.array([4, 2])
    X_zero_padded = X.copy()
    X_zero_padded[2:, 1] = 0.0
    X[2:, 1] = 5.0
    raw, _ = network.forward(params, X, lengths)
    raw_zero_padded, _ = network.forward(params, X_zero_padded, lengths)
    raw_alone, _ = network.forward(params, X[:2, 1:])
    assert_allclose(raw_zero_padded[:, 1], raw_alone[:, 0], rtol=1e-12)
    assert_allclose(raw[:, 1], raw_alone[:, 0], rtol=1e-12)


def test_network_many_to_one_reads_last_valid_step():
    network = Network(LSTMCell(), N_FEATURES, HIDDEN, 2, n_steps_out=1)
    _, params, X, state0, _ = _setup(network.cell, 1)
    raw, cache = network.forward(params, X, PADDED_LENGTHS, state0)
    h_top = network.hidden_states(cache)[-1]["h"]
    head = network.unpack(params)[-1]
    for b, length in enumerate(PADDED_LENGTHS):
        expected = h_top[length - 1, b] @ head["W"] + head["b"]
        assert_allclose(raw[0, b], expected, rtol=1e-13)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_unsynced_equals_synced_on_zero_extended_input(cell):
    unsynced = Network(cell, N_FEATURES, HIDDEN, 2, n_steps_out=3)
    synced = Network(cell, N_FEATURES, HIDDEN, 2)
    _, params, X, state0, _ = _setup(cell, 3)
    raw, _ = unsynced.forward(params, X, None, state0)
    X_extended = np.concatenate([X, np.zeros((2, N_SAMPLES, N_FEATURES))])
    raw_synced, _ = synced.forward(params, X_extended, None, state0)
    assert raw.shape == (3, N_SAMPLES, 2)
    assert_allclose(raw, raw_synced[N_TIMESTEPS - 1 :], rtol=1e-13)


# --- dtypes --------------------------------------------------------------------------------


@pytest.mark.parametrize("n_steps_out", [None, 1, 3], ids=["synced", "many_to_one", "unsynced3"])
@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_float32_keeps_dtype_and_agrees_with_float64(cell, n_steps_out):
    network, params, X, state0, rng = _setup(cell, n_steps_out)
    results = {}
    for dtype in (np.float64, np.float32):
        raw, cache = network.forward(
            params.astype(dtype), X.astype(dtype), PADDED_LENGTHS, [s.astype(dtype) for s in state0]
        )
        d_raw = np.cos(np.arange(raw.size)).reshape(raw.shape).astype(dtype)
        grads, dX, dstate0 = network.backward(params.astype(dtype), cache, d_raw, True)
        results[dtype] = raw, grads, dX, *dstate0
        for layer in network.hidden_states(cache):
            assert all(value.dtype == dtype for value in layer.values())
    for single, double in zip(results[np.float32], results[np.float64], strict=True):
        assert single.dtype == np.float32
        assert_allclose(single, double, rtol=1e-4, atol=1e-4 * np.max(np.abs(double)))


def test_network_init_params_dtype():
    network = Network(LSTMCell(), N_FEATURES, HIDDEN, 2)
    params = network.init_params(np.random.RandomState(0), dtype=np.float32)
    assert params.dtype == np.float32 and params.shape == (network.n_params,)
    assert np.all(np.isfinite(params))


# --- layout --------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_layout_covers_flat_vector(cell):
    network = Network(cell, N_FEATURES, HIDDEN, 2)
    expected = [cell.param_shapes(2, 3), cell.param_shapes(3, 2), {"W": (2, 2), "b": (2,)}]
    unpacked = network.unpack(np.zeros(network.n_params))
    assert [{name: view.shape for name, view in layer.items()} for layer in unpacked] == expected
    assert network.n_params == sum(view.size for layer in unpacked for view in layer.values())


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_gate_widths(cell):
    network = Network(cell, N_FEATURES, (3, 5, 2), 2)
    assert network.gate_widths == tuple(cell.n_gates * n for n in (3, 5, 2))
    *layers, _ = network.unpack(np.zeros(network.n_params))
    assert network.gate_widths == tuple(layer["W_h"].shape[1] for layer in layers)
    with pytest.raises(AttributeError):
        network.gate_widths = (1, 1, 1)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_unpack_views_write_through(cell):
    network = Network(cell, N_FEATURES, HIDDEN, 2)
    flat = np.zeros(network.n_params)
    views = [view for layer in network.unpack(flat) for view in layer.values()]
    for k, view in enumerate(views, start=1):
        assert np.shares_memory(view, flat)
        view[...] = k
    counts = np.bincount(flat.astype(int), minlength=len(views) + 1)
    assert counts[0] == 0  # every entry belongs to some view
    assert_array_equal(counts[1:], [view.size for view in views])  # and to one only
    network.unpack(flat)[0]["W_h"][1, 0] = -7.0
    assert -7.0 in flat


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_init_params_reproducible(cell):
    network = Network(cell, N_FEATURES, HIDDEN, 2)
    first = network.init_params(np.random.RandomState(42))
    second = network.init_params(np.random.RandomState(42))
    other = network.init_params(np.random.RandomState(43))
    assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    head = network.unpack(first)[-1]
    assert_array_equal(head["b"], 0.0)
    assert np.all(head["W"] != 0.0)


def test_network_lstm_forget_bias_in_f_block():
    network = Network(LSTMCell(forget_bias=1.5), N_FEATURES, HIDDEN, 2)
    params = network.init_params(np.random.RandomState(0))
    *layers, head = network.unpack(params)
    for layer, n_hidden in zip(layers, HIDDEN, strict=True):
        i, f, g, o = np.split(layer["b"], 4)
        assert f.shape == (n_hidden,)
        assert_array_equal(f, 1.5)
        assert_array_equal(np.concatenate([i, g, o]), 0.0)
    assert_array_equal(head["b"], 0.0)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_weight_mask_covers_weights_only(cell):
    network = Network(cell, N_FEATURES, HIDDEN, 2)
    mask = network.weight_mask()
    assert mask.dtype == bool and mask.shape == (network.n_params,)
    flat = np.arange(network.n_params)
    for layer in network.unpack(flat):
        for name, view in layer.items():
            assert np.all(mask[view.ravel()]) == name.startswith("W"), name
            assert np.all(mask[view.ravel()]) or not np.any(mask[view.ravel()]), name
    layers = network.unpack(flat)
    n_weights = sum(v.size for layer in layers for n, v in layer.items() if n.startswith("W"))
    assert mask.sum() == n_weights


@pytest.mark.parametrize(
    ("cell", "names"),
    [
        (VanillaCell(), {"h"}),
        (GRUCell(), {"h", "r", "z", "n"}),
        (GRUCell(reset_after=False), {"h", "r", "z", "n"}),
        (LSTMCell(), {"h", "c", "i", "f", "g", "o"}),
    ],
    ids=repr,
)
def test_network_hidden_states_names_and_shapes(cell, names):
    network, params, X, _, _ = _setup(cell, None)
    raw, cache = network.forward(params, X, PADDED_LENGTHS)
    states = network.hidden_states(cache)
    assert len(states) == len(HIDDEN)
    for layer, n_hidden in zip(states, HIDDEN, strict=True):
        assert set(layer) == names
        for value in layer.values():
            assert value.shape == (N_TIMESTEPS, N_SAMPLES, n_hidden)
    head = network.unpack(params)[-1]
    assert_allclose(raw, states[-1]["h"] @ head["W"] + head["b"], rtol=1e-13)


@pytest.mark.parametrize("n_steps_out", [None, 3], ids=["synced", "unsynced3"])
def test_network_cache_is_named(n_steps_out):
    network, params, X, state0, _ = _setup(GRUCell(), n_steps_out)
    raw, cache = network.forward(params, X, PADDED_LENGTHS, state0)
    assert isinstance(cache, NetworkCache)
    assert len(cache.layers) == len(HIDDEN)
    assert all(isinstance(layer, LayerCache) for layer in cache.layers)
    assert_array_equal(cache.layers[0].inputs[:N_TIMESTEPS, 0], X[:, 0])  # full length
    assert np.shares_memory(cache.layers[1].inputs, cache.layers[0].cells[0].H)  # layer 0's output
    assert cache.n_timesteps == N_TIMESTEPS
    n_steps = N_TIMESTEPS + (0 if n_steps_out is None else n_steps_out - 1)
    assert cache.top_shape == (n_steps, N_SAMPLES, HIDDEN[-1])
    assert cache.head_input.shape == raw.shape[:2] + (HIDDEN[-1],)
    if n_steps_out is None:
        assert cache.emitted is None and cache.valid_input is None
    else:
        assert_array_equal(cache.valid_input[..., 0], step_mask(PADDED_LENGTHS, N_TIMESTEPS))
        top = network.hidden_states(cache)[-1]["h"]
        assert_array_equal(cache.head_input, top[cache.emitted])


@pytest.mark.parametrize("n_steps_out", [None, 1, 3], ids=["synced", "many_to_one", "unsynced3"])
def test_network_output_shapes(n_steps_out):
    network, params, X, state0, _ = _setup(GRUCell(), n_steps_out)
    raw, cache = network.forward(params, X, PADDED_LENGTHS, state0)
    n_out = N_TIMESTEPS if n_steps_out is None else n_steps_out
    assert raw.shape == (n_out, N_SAMPLES, 2)
    grads, dX, dstate0 = network.backward(params, cache, np.ones_like(raw))
    assert dX is None
    assert [s.shape for s in dstate0] == [(1, N_SAMPLES, n) for n in HIDDEN]
    n_steps = N_TIMESTEPS + (0 if n_steps_out is None else n_steps_out - 1)
    assert all(layer["h"].shape[0] == n_steps for layer in network.hidden_states(cache))


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_forward_backward_leave_inputs_unchanged(cell):
    network, params, X, state0, _ = _setup(cell, None)
    before = params.copy(), X.copy(), [s.copy() for s in state0]
    raw, cache = network.forward(params, X, PADDED_LENGTHS, state0)
    network.backward(params, cache, np.ones_like(raw), input_gradient=True)
    assert_array_equal(params, before[0])
    assert_array_equal(X, before[1])
    for state, saved in zip(state0, before[2], strict=True):
        assert_array_equal(state, saved)


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_network_default_state0_is_zeros(cell):
    network, params, X, state0, _ = _setup(cell, None)
    raw, _ = network.forward(params, X)
    zeros = [np.zeros_like(s) for s in state0]
    raw_zeros, _ = network.forward(params, X, None, zeros)
    raw_random, _ = network.forward(params, X, None, state0)
    assert_array_equal(raw, raw_zeros)
    assert not np.allclose(raw, raw_random)


def test_network_all_full_lengths_equal_no_lengths():
    network, params, X, _, _ = _setup(LSTMCell(), None)
    raw, _ = network.forward(params, X)
    raw_full, _ = network.forward(params, X, np.full(N_SAMPLES, N_TIMESTEPS))
    assert_array_equal(raw, raw_full)


def test_step_mask_by_hand():
    assert_array_equal(
        step_mask(np.array([3, 1, 2]), 3),
        [[True, True, True], [True, False, True], [True, False, False]],
    )


@pytest.mark.parametrize("n_steps_out", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
@settings(max_examples=10, deadline=None, database=None)
@given(
    lengths=st.lists(st.integers(1, 9), min_size=1, max_size=40),
    seed=st.integers(0, 2**31 - 1),
)
def test_network_predict_in_sorted_chunks_equals_forward(cell, n_steps_out, lengths, seed):
    """Sorting by length, chunking and cutting each chunk's padding change no output."""
    lengths = np.array(lengths)
    network = Network(cell, N_FEATURES, HIDDEN, 2, n_steps_out)
    rng = np.random.RandomState(seed)
    params = network.init_params(rng) + rng.normal(0.0, 0.3, network.n_params)
    X = rng.normal(size=(int(lengths.max()) + 1, len(lengths), N_FEATURES))
    expected = network.forward(params, X, lengths)[0]
    one_chunk = network.predict(params, X, lengths)
    sixteen_per_chunk = network.predict(params, X, lengths, max_chunk_bytes=1)
    if n_steps_out is None:  # predict leaves padded steps at zero
        expected = expected * step_mask(lengths, X.shape[0])[:, :, None]
    assert_allclose(one_chunk, expected, rtol=1e-12, atol=1e-12)
    assert_allclose(sixteen_per_chunk, expected, rtol=1e-12, atol=1e-12)
