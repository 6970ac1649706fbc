"""Tests of rnnlearn.interop: weights to and from PyTorch."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone

from rnnlearn import GRUCell, LSTMCell, RNNClassifier, RNNForecaster, RNNRegressor, VanillaCell
from rnnlearn._fitted import read_model
from rnnlearn.interop import from_torch, to_torch, to_torch_state_dict
from rnnlearn.preprocessing import make_windows

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CELLS = [VanillaCell(), VanillaCell(activation="relu"), GRUCell(), LSTMCell()]
UNSUPPORTED = [
    GRUCell(reset_after=False),
    VanillaCell(activation="logistic"),
    VanillaCell(activation="gompertz"),
    GRUCell(activation="relu"),
    LSTMCell(activation="identity"),
]
# output_mode, pooling
MODES = [
    ("last", "last"),
    ("last", "mean"),
    ("last", "max"),
    ("last", "concat"),
    ("sequence", "last"),
    ("after", "last"),
]
LENGTHS = np.array([6, 3, 5, 2, 6, 1, 4, 6, 3, 2])


def make_data(output_mode, seed=0):
    """Padded inputs (padding 7.0), their lengths and targets for ``output_mode``."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(len(LENGTHS), 6, 3))
    y = {"last": X.sum(axis=(1, 2)), "sequence": X.sum(axis=2), "after": X[:, :3, 0]}
    return X, y[output_mode]


def fitted(
    cell,
    output_mode="last",
    pooling="last",
    dtype="float64",
    estimator=RNNRegressor,
    bidirectional=False,
    **params,
):
    X, y = make_data(output_mode)
    if estimator is RNNClassifier:
        y = (y > 0).astype(int)
    model = estimator(
        hidden_layer_sizes=(5, 3),
        cell=cell,
        output_mode=output_mode,
        pooling=pooling,
        max_iter=3,
        dtype=dtype,
        bidirectional=bidirectional,
        random_state=0,
        **params,
    )
    return model.fit(X, y)


def padded(X):
    """``X`` with every step past ``LENGTHS`` set to 7, and the same as a list of arrays."""
    X = X.copy()
    for row, n in zip(X, LENGTHS, strict=True):
        row[n:] = 7.0
    return X, [row[:n] for row, n in zip(X, LENGTHS, strict=True)]


def assert_same_outputs(module, estimator, X, output_mode, atol):
    """The module's outputs equal ``predict``, on full and on padded variable-length input."""
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        out = module(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(out, estimator.predict(X), rtol=0, atol=atol)
    X_pad, X_list = padded(X)
    with torch.no_grad():
        out = module(torch.from_numpy(X_pad), torch.from_numpy(LENGTHS)).numpy()
    expected = estimator.predict(X_list)
    if output_mode == "sequence":
        for row, target, n in zip(out, expected, LENGTHS, strict=True):
            np.testing.assert_allclose(row[:n], target, rtol=0, atol=atol)
            assert not row[n:].any()
    else:
        np.testing.assert_allclose(out, expected, rtol=0, atol=atol)


def test_state_dict_layout():
    model = fitted(GRUCell(), normalize_y=False)  # the head as fitted (no scaling to fold)
    state = to_torch_state_dict(model)
    layers = model.coefs_
    assert list(state) == [
        f"layers.{k}.{name}"
        for k in range(2)
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    ] + ["head.weight", "head.bias"]
    np.testing.assert_array_equal(state["layers.1.weight_ih_l0"], layers[1]["W_x"].T)
    np.testing.assert_array_equal(state["layers.0.weight_hh_l0"], layers[0]["W_h"].T)
    np.testing.assert_array_equal(state["layers.0.bias_ih_l0"], layers[0]["b"])
    np.testing.assert_array_equal(state["layers.0.bias_hh_l0"][:10], 0)
    np.testing.assert_array_equal(state["layers.0.bias_hh_l0"][10:], layers[0]["b_hn"])
    np.testing.assert_array_equal(state["head.weight"], layers[2]["W"].T)
    assert state["head.weight"].shape == (1, 3)


@pytest.mark.parametrize("cell", UNSUPPORTED, ids=repr)
def test_unsupported_cell_raises(cell):
    model = fitted(cell)
    with pytest.raises(ValueError, match="no PyTorch counterpart"):
        to_torch_state_dict(model)
    with pytest.raises(ValueError, match="no PyTorch counterpart"):
        to_torch(model)
    X, y = make_data("last")
    state = to_torch_state_dict(fitted(GRUCell()))
    with pytest.raises(ValueError, match="no PyTorch counterpart"):
        from_torch(state, RNNRegressor(hidden_layer_sizes=(5, 3), cell=cell), X, y)


def test_import_rnnlearn_does_not_import_torch():
    code = "import sys, rnnlearn, rnnlearn.interop; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("cell", CELLS, ids=repr)
@pytest.mark.parametrize(("output_mode", "pooling"), MODES)
def test_to_torch_float64(cell, output_mode, pooling):
    pytest.importorskip("torch")
    model = fitted(cell, output_mode, pooling)
    module = to_torch(model).double()
    assert_same_outputs(module, model, make_data(output_mode)[0], output_mode, 1e-10)


@pytest.mark.parametrize("cell", CELLS, ids=repr)
@pytest.mark.parametrize(("output_mode", "pooling"), MODES[:-1])  # "after" has no backward
def test_bidirectional_to_torch_and_back(cell, output_mode, pooling):
    """PyTorch's bidirectional layers on packed sequences compute what rnnlearn does."""
    pytest.importorskip("torch")
    model = fitted(cell, output_mode, pooling, bidirectional=True)
    module = to_torch(model).double()
    X = make_data(output_mode)[0]
    assert_same_outputs(module, model, X, output_mode, 1e-10)
    assert "layers.1.weight_hh_l0_reverse" in module.state_dict()
    template = clone(model)
    imported = from_torch(module, template, X, make_data(output_mode)[1])
    np.testing.assert_allclose(imported.predict(X), model.predict(X), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS, ids=repr)
@pytest.mark.parametrize("output_mode", ["last", "sequence", "after"])
def test_to_torch_float32(cell, output_mode):
    pytest.importorskip("torch")
    model = fitted(cell, output_mode, dtype="float32")
    module = to_torch(model)
    X = make_data(output_mode)[0].astype(np.float32)
    assert_same_outputs(module, model, X, output_mode, 1e-5)


@pytest.mark.parametrize("output_mode", ["last", "sequence"])
def test_classifier_logits(output_mode):
    torch = pytest.importorskip("torch")
    model = fitted(LSTMCell(), output_mode, estimator=RNNClassifier)
    X = make_data(output_mode)[0]
    with torch.no_grad():
        logits = to_torch(model)(torch.from_numpy(X))
    proba = torch.sigmoid(logits).numpy()[..., 0]
    np.testing.assert_allclose(proba, model.predict_proba(X)[..., 1], rtol=0, atol=1e-10)


def test_multiclass_logits_softmax():
    torch = pytest.importorskip("torch")
    X, y = make_data("last")
    model = RNNClassifier(hidden_layer_sizes=4, max_iter=2, dtype="float64", random_state=0)
    model.fit(X, np.digitize(y, [-1, 1]))
    with torch.no_grad():
        proba = torch.softmax(to_torch(model)(torch.from_numpy(X)), dim=-1).numpy()
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-10)


@pytest.mark.parametrize("cell", CELLS, ids=repr)
@pytest.mark.parametrize("output_mode", ["last", "sequence", "after"])
def test_round_trip_numpy(cell, output_mode):
    model = fitted(cell, output_mode)
    X, y = make_data(output_mode)
    template = RNNRegressor((5, 3), cell=cell, output_mode=output_mode, pooling="last")
    imported = from_torch(to_torch_state_dict(model), template.set_params(dtype="float64"), X, y)
    np.testing.assert_allclose(imported.predict(X), model.predict(X), rtol=0, atol=1e-12)
    assert imported.history_[-1]["status"] == "imported"


def test_from_torch_bad_shapes_raise():
    X, y = make_data("last")
    state = to_torch_state_dict(fitted(GRUCell()))
    with pytest.raises(ValueError, match="has shape"):
        from_torch(state, RNNRegressor(hidden_layer_sizes=(5, 4), cell="gru"), X, y)
    with pytest.raises(ValueError, match="no entry"):
        from_torch(state, RNNRegressor(hidden_layer_sizes=(5, 3, 2), cell="gru"), X, y)
    with pytest.raises(ValueError, match="lacks"):
        from_torch(state, RNNRegressor(hidden_layer_sizes=(5,), cell="gru"), X, y)


@pytest.mark.parametrize("cell", ["vanilla", "gru", "lstm"])
def test_import_module_trained_in_torch(cell):
    torch = pytest.importorskip("torch")
    X, y = make_data("last")
    y = (y > 0).astype(int)
    template = RNNClassifier((5, 3), cell=cell, pooling="last", dtype="float64", random_state=0)
    module = to_torch(fitted(cell, estimator=RNNClassifier))
    torch.manual_seed(0)
    for parameter in module.parameters():  # fresh torch weights, then a little training
        torch.nn.init.uniform_(parameter, -0.5, 0.5)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y).double()[:, None]
    for _ in range(5):
        optimizer.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(module(X_t), y_t).backward()
        optimizer.step()
    imported = from_torch(module, template, X, y)
    with torch.no_grad():
        logits = module(X_t).numpy()[:, 0]
    proba = 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(imported.predict_proba(X)[:, 1], proba, rtol=0, atol=1e-10)
    before = imported.coefs_[0]["W_x"].copy()
    imported.partial_fit(X, y)
    assert imported.n_iter_ == 2
    assert not np.array_equal(imported.coefs_[0]["W_x"], before)


def test_import_refuses_a_module_that_pools_otherwise():
    pytest.importorskip("torch")
    X, y = make_data("last")
    module = to_torch(fitted(GRUCell(), pooling="mean"))
    with pytest.raises(ValueError, match="pools its outputs with 'mean'.*pooling='mean'"):
        from_torch(module, RNNRegressor((5, 3), cell="gru", pooling="max"), X, y)


# ------------------------------------------------------------------ the torch module itself


def _module(
    layer="GRU",
    sizes=(4, 3),
    *,
    activation="tanh",
    n_steps_out=1,
    pooling="last",
    bidirectional=False,
    squeeze_output=False,
):
    """A ``RecurrentModule`` of 3 features and 2 outputs with seeded float64 weights."""
    torch = pytest.importorskip("torch")
    from rnnlearn._torch_module import RecurrentModule

    torch.manual_seed(0)
    module = RecurrentModule(
        layer,
        activation,
        3,
        sizes,
        2,
        n_steps_out=n_steps_out,
        pooling=pooling,
        bidirectional=bidirectional,
        squeeze_output=squeeze_output,
    )
    return module.double().eval()


def _run(module, X, lengths=None):
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        return module(torch.from_numpy(X), lengths).numpy()


def _top_states(module, X):
    """The top layer's states over a batch-first ``X``, every step valid, run by hand."""
    torch = pytest.importorskip("torch")
    H = torch.from_numpy(X)
    with torch.no_grad():
        for layer in module.layers:
            H = layer(H)[0]
    return H


@pytest.mark.parametrize(
    ("layer", "activation"), [("RNN", "relu"), ("GRU", "tanh"), ("LSTM", "tanh")]
)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_module_stacks_one_layer_per_level(layer, activation, bidirectional):
    torch = pytest.importorskip("torch")
    module = _module(layer, (4, 3), activation=activation, bidirectional=bidirectional)
    width = 2 if bidirectional else 1
    assert [type(level).__name__ for level in module.layers] == [layer, layer]
    assert [(level.input_size, level.hidden_size) for level in module.layers] == [
        (3, 4),
        (4 * width, 3),
    ]
    assert all(level.bidirectional is bidirectional for level in module.layers)
    assert all(level.batch_first and level.num_layers == 1 for level in module.layers)
    if layer == "RNN":
        assert module.layers[0].nonlinearity == "relu"
    assert (module.head.in_features, module.head.out_features) == (3 * width, 2)
    assert isinstance(module, torch.nn.Module)


@pytest.mark.parametrize(
    ("n_steps_out", "squeeze_output", "shape"),
    [(1, False, (10, 2)), (None, False, (10, 6, 2)), (3, False, (10, 3, 2)), (None, True, (10, 6))],
)
def test_recurrent_module_output_shapes(n_steps_out, squeeze_output, shape):
    X = make_data("last")[0]
    module = _module(n_steps_out=n_steps_out, squeeze_output=squeeze_output)
    assert _run(module, X).shape == shape
    assert _run(module, X, LENGTHS).shape == shape


def _assert_head_reads(module, X, read):
    """The module's output on ``X`` (every step valid) is its head applied to ``read``."""
    torch = pytest.importorskip("torch")
    with torch.no_grad():
        expected = module.head(read).numpy()
    np.testing.assert_allclose(_run(module, X), expected, rtol=0, atol=1e-12)


def _assert_padding_changes_nothing(module, X):
    """Each sequence's output in a padded batch, given the lengths, is its output alone."""
    X_pad, X_list = padded(X)
    out = _run(module, X_pad, LENGTHS)
    for row, sequence in zip(out, X_list, strict=True):
        np.testing.assert_allclose(row, _run(module, sequence[None])[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_recurrent_module_pools_the_top_states(pooling):
    """The head reads the last step, the mean or the max of the top states."""
    module = _module(pooling=pooling)
    X = make_data("last")[0]
    H = _top_states(module, X)
    _assert_head_reads(
        module, X, {"last": H[:, -1], "mean": H.mean(dim=1), "max": H.amax(dim=1)}[pooling]
    )
    _assert_padding_changes_nothing(module, X)


def test_recurrent_module_bidirectional_last_reads_both_ends():
    """'last' reads the forward state at the last valid step and the backward state at the
    first, as rnnlearn does."""
    torch = pytest.importorskip("torch")
    module = _module(sizes=(3,), bidirectional=True)
    X = make_data("last")[0]
    H = _top_states(module, X)
    _assert_head_reads(module, X, torch.cat([H[:, -1, :3], H[:, 0, 3:]], dim=-1))
    _assert_padding_changes_nothing(module, X)


def test_recurrent_module_sequence_output_is_zero_on_padding():
    module = _module(n_steps_out=None)
    X_pad, X_list = padded(make_data("sequence")[0])
    out = _run(module, X_pad, LENGTHS)
    for row, sequence, n in zip(out, X_list, LENGTHS, strict=True):
        np.testing.assert_allclose(row[:n], _run(module, sequence[None])[0], rtol=0, atol=1e-12)
        assert not row[n:].any()


def test_recurrent_module_after_feeds_zeros_past_each_sequence():
    """``n_steps_out=3``: the outputs at each sequence's last step and two more steps of
    zero input, whatever the padding holds."""
    torch = pytest.importorskip("torch")
    module = _module(n_steps_out=3)
    X_pad, X_list = padded(make_data("after")[0])
    out = _run(module, X_pad, LENGTHS)
    for row, sequence in zip(out, X_list, strict=True):
        H = _top_states(module, np.concatenate([sequence, np.zeros((2, 3))])[None])
        with torch.no_grad():
            expected = module.head(H[0, -3:]).numpy()
        np.testing.assert_allclose(row, expected, rtol=0, atol=1e-12)


def test_torch_module_imports_without_torch():
    """``pytest --doctest-modules`` imports every module, with or without torch."""
    code = (
        "import importlib.abc, sys\n"
        "class NoTorch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import rnnlearn._torch_module\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ target scaling


def scaled_targets(output_mode):
    """Two target columns far from size 1: ``y * 1e4 + 500`` and ``y * 1e-3 - 2``."""
    X, y = make_data(output_mode)
    return X, np.stack([y * 1e4 + 500.0, y * 1e-3 - 2.0], axis=-1)


def fitted_on_scaled_targets(output_mode, dtype="float64"):
    X, Y = scaled_targets(output_mode)
    model = RNNRegressor((5, 3), cell="gru", output_mode=output_mode, pooling="last")
    return model.set_params(max_iter=3, random_state=0, dtype=dtype).fit(X, Y)


@pytest.mark.parametrize("output_mode", ["last", "sequence", "after"])
def test_state_dict_head_has_the_target_scaling_folded_in(output_mode):
    model = fitted_on_scaled_targets(output_mode)
    head = model.coefs_[-1]
    mean, scale = read_model(model).target_scaling
    state = to_torch_state_dict(model)
    np.testing.assert_allclose(state["head.weight"], (head["W"] * scale).T, rtol=1e-15)
    np.testing.assert_allclose(state["head.bias"], head["b"] * scale + mean, rtol=1e-15)
    unscaled = fitted(GRUCell(), output_mode, normalize_y=False)
    np.testing.assert_array_equal(
        to_torch_state_dict(unscaled)["head.bias"], unscaled.coefs_[-1]["b"]
    )


@pytest.mark.parametrize("output_mode", ["last", "sequence", "after"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_to_torch_outputs_predictions_of_scaled_targets(output_mode, dtype):
    pytest.importorskip("torch")
    model = fitted_on_scaled_targets(output_mode, dtype)
    X = scaled_targets(output_mode)[0].astype(dtype)
    # Relative to the targets' size: 1e4 for the first column.
    assert_same_outputs(
        to_torch(model), model, X, output_mode, 1e4 * (1e-10 if dtype == "float64" else 1e-5)
    )


@pytest.mark.parametrize("output_mode", ["last", "sequence", "after"])
def test_from_torch_unfolds_the_scaling_it_fits_on_another_sample(output_mode):
    """The import fits its own target scaling on the sample it gets, and takes it out of
    the head: it predicts what the exported model did, whatever the sample's scale."""
    model = fitted_on_scaled_targets(output_mode)
    X, Y = scaled_targets(output_mode)
    template = clone(model).set_params(dtype="float64")
    for sample_y in (Y, Y[::-1] * 3.0 + 1e5):
        imported = from_torch(to_torch_state_dict(model), template, X, sample_y)
        np.testing.assert_allclose(imported.predict(X), model.predict(X), rtol=1e-10, atol=1e-9)
        assert read_model(imported).target_scaling is not None
    imported.partial_fit(X, Y)
    assert imported.n_iter_ == 2


def test_from_torch_keeps_normalize_y_false_unscaled():
    model = fitted(GRUCell(), normalize_y=False)
    X, y = make_data("last")
    imported = from_torch(to_torch_state_dict(model), clone(model), X, y * 1e3)
    assert read_model(imported).target_scaling is None
    np.testing.assert_allclose(imported.predict(X), model.predict(X), rtol=0, atol=1e-12)


# ------------------------------------------------------------------ forecaster

# What the windows forecast: (series features, target_features, make_windows' target).
FORECASTS = {
    "univariate": (1, None, None),
    "one target of two features": (2, 1, 1),
    "two targets, swapped": (2, [1, 0], [1, 0]),
}
FORECAST_LENGTHS = np.arange(70) % 9 + 2  # 2 to 10 steps, some shorter than k = 10


def forecaster_windows(n_features, target):
    """Windows of 10 steps of a co2-sized series (around 400, a trend and a season)."""
    t = np.arange(80.0)[:, None]
    noise = np.random.RandomState(0).normal(scale=0.3, size=(80, n_features))
    series = 400 + 0.5 * t + 5 * np.sin(t / (2 + np.arange(n_features))) + noise
    return make_windows(series[:, 0] if n_features == 1 else series, 10, target=target)


def fitted_forecaster(forecast, dtype="float64", X=None, **params):
    n_features, target_features, target = FORECASTS[forecast]
    X_train, y = forecaster_windows(n_features, target)
    model = RNNForecaster(
        (5, 3),
        target_features=target_features,
        max_iter=3,
        early_stopping=False,  # trained epochs, so the network adds to the forecast
        random_state=0,
        dtype=dtype,
        **params,
    )
    return model.fit(X_train if X is None else X, y)


def padded_windows(X, dtype):
    """The windows cut to ``FORECAST_LENGTHS`` (their last steps), as a list and padded
    with NaN, which must never reach the forecasts."""
    windows = [
        window[len(window) - n :].astype(dtype)
        for window, n in zip(X, FORECAST_LENGTHS, strict=True)
    ]
    padded = np.full((len(windows), X.shape[1], X.shape[2]), np.nan, dtype=dtype)
    for row, window in zip(padded, windows, strict=True):
        row[: len(window)] = window
    return windows, padded


def assert_forecasts_as_predict(model, X, dtype):
    """``to_torch(model)`` forecasts as ``predict`` does on full and on padded windows of
    different lengths, and its network adds to the forecasts."""
    torch = pytest.importorskip("torch")
    module = to_torch(model)
    windows, padded = padded_windows(X, dtype)
    rtol = 1e-10 if dtype == "float64" else 1e-5
    with torch.no_grad():
        full = module(torch.from_numpy(X.astype(dtype))).numpy()
        short = module(torch.from_numpy(padded), torch.from_numpy(FORECAST_LENGTHS)).numpy()
        module.head.weight.zero_()
        without_network = module(torch.from_numpy(X.astype(dtype))).numpy()
    expected = model.predict(X.astype(dtype))
    size = np.abs(expected).max()
    assert full.dtype == expected.dtype and full.shape == expected.shape
    np.testing.assert_allclose(full, expected, rtol=0, atol=rtol * size)
    np.testing.assert_allclose(short, model.predict(windows), rtol=0, atol=rtol * size)
    assert np.abs(without_network - full).max() > 1e-4 * size


@pytest.mark.parametrize("forecast", list(FORECASTS))
@pytest.mark.parametrize("relative", [True, False])
@pytest.mark.parametrize("linear_path", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_to_torch_forecasts_as_predict(forecast, relative, linear_path, dtype):
    model = fitted_forecaster(forecast, dtype, relative=relative, linear_path=linear_path)
    X = forecaster_windows(*FORECASTS[forecast][::2])[0]
    assert_forecasts_as_predict(model, X, dtype)


@pytest.mark.parametrize(
    "cell, bidirectional, pooling", [("lstm", True, "max"), ("vanilla", False, "mean")]
)
def test_to_torch_forecaster_fitted_on_windows_of_different_lengths(cell, bidirectional, pooling):
    """Fitted on windows of 2 to 10 steps, the linear path reads k = 2."""
    X = forecaster_windows(2, [1, 0])[0]
    model = fitted_forecaster(
        "two targets, swapped",
        X=padded_windows(X, "float64")[0],
        cell=cell,
        bidirectional=bidirectional,
        pooling=pooling,
    )
    assert model.linear_coef_.shape == (2, 2, 2)
    assert_forecasts_as_predict(model, X, "float64")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forecaster_state_dict_has_the_window_encoding(dtype):
    model = fitted_forecaster("two targets, swapped", dtype, relative=False)
    state = to_torch_state_dict(model)
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    network_keys = {f"layers.{k}.{name}" for k in (0, 1) for name in names}
    assert set(state) > network_keys | {"head.weight", "head.bias"}
    window = {key[len("window.") :]: state[key] for key in state if key.startswith("window.")}
    assert len(window) + len(network_keys) + 2 == len(state)
    assert set(window) == {
        "relative",
        "target_features",
        "linear_coef",
        "linear_intercept",
        "input_mean",
        "input_scale",
    }
    assert window["relative"].dtype == bool and not window["relative"]
    assert window["target_features"].dtype == np.int64
    np.testing.assert_array_equal(window["target_features"], [1, 0])
    encoding = read_model(model).encoding
    for name, attribute in [
        ("linear_coef", "linear_coef_"),
        ("linear_intercept", "linear_intercept_"),
        ("input_mean", "_input_mean"),
        ("input_scale", "_input_scale"),
    ]:
        assert window[name].dtype == dtype and window[name].flags.c_contiguous
        np.testing.assert_array_equal(window[name], encoding[attribute].astype(dtype))
    assert window["linear_coef"].shape == (10, 2, 2)
    torch = pytest.importorskip("torch")
    module_state = to_torch(model).state_dict()
    assert set(module_state) == set(state)
    for key, value in state.items():
        np.testing.assert_array_equal(module_state[key].numpy(), value)
    assert module_state["head.weight"].dtype == getattr(torch, dtype)


def test_from_torch_refuses_a_forecaster():
    model = fitted_forecaster("univariate")
    X, y = forecaster_windows(1, None)
    with pytest.raises(ValueError, match="window encoding"):
        from_torch(to_torch_state_dict(model), clone(model), X, y)
