"""Tests of rnnlearn.onnx: exported models compute in onnxruntime what predict does."""

import copy
import functools
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from rnnlearn import GRUCell, LSTMCell, RNNClassifier, RNNForecaster, RNNRegressor, VanillaCell
from rnnlearn.losses import Pinball, SquaredError
from rnnlearn.onnx import ONNX_IR_VERSION, ONNX_OPSET, to_onnx
from rnnlearn.preprocessing import SequenceScaler, make_windows

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::rnnlearn.CollapseWarning"),  # a few epochs on tiny data
]

ATOL = 1e-5  # float32 (onnxruntime) against rnnlearn's float32 network
RTOL = 1e-6  # a few float32 ulps, for the large outputs of identity activations
CELLS = [
    VanillaCell(),
    VanillaCell(activation="relu"),
    VanillaCell(activation="logistic"),
    VanillaCell(activation="identity"),
    GRUCell(),
    GRUCell(reset_after=False),
    GRUCell(activation="identity"),
    GRUCell(activation="relu", reset_after=False),
    LSTMCell(),
    LSTMCell(activation="relu"),
    LSTMCell(activation="logistic"),
    LSTMCell(activation="identity"),
]
# output_mode, pooling, bidirectional
MODES = [
    ("last", "last", False),
    ("last", "mean", False),
    ("last", "max", False),
    ("last", "concat", False),
    ("sequence", "last", False),
    ("after", "last", False),
    ("last", "last", True),
    ("last", "mean", True),
    ("last", "max", True),
    ("last", "concat", True),
    ("sequence", "last", True),
]
LENGTHS = np.array([6, 3, 5, 2, 6, 1, 4, 6, 3, 2])  # of make_data()'s 10 samples


class ExpLinkLoss(SquaredError):
    """A regression loss whose link is not the identity."""

    def link(self, raw):
        return np.exp(raw)


class OwnCell(VanillaCell):
    """A cell of the user's own (here computing what VanillaCell does)."""


def make_data(output_mode, seed=0, n_samples=10, n_timesteps=6):
    """float32 inputs with 3 features and regression targets for ``output_mode``."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_timesteps, 3)).astype(np.float32)
    y = {"last": X.sum(axis=(1, 2)), "sequence": X.sum(axis=2), "after": X[:, :3, 0]}
    return X, y[output_mode]


def padded(X, lengths=LENGTHS, value=7.0):
    """``X`` with every step past ``lengths`` set to ``value``, and the sequences as a list."""
    X = X.copy()
    for row, n in zip(X, lengths, strict=True):
        row[n:] = value
    return X, [row[:n] for row, n in zip(X, lengths, strict=True)]


def fitted(cell, output_mode="last", pooling="last", bidirectional=False, **params):
    X, y = make_data(output_mode)
    model = RNNRegressor(
        hidden_layer_sizes=(5, 3),
        cell=cell,
        output_mode=output_mode,
        pooling=pooling,
        bidirectional=bidirectional,
        max_iter=2,
        random_state=0,
        **params,
    )
    return model.fit(X, y)


def session(model, lengths=False, coverages=()):
    """An onnxruntime session of ``to_onnx(model, lengths=lengths, coverages=coverages)``,
    its shapes checked."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    proto = to_onnx(model, lengths=lengths, coverages=coverages)
    onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(sess, X, lengths=None):
    """The session's outputs, by name."""
    feeds = {"X": X} if lengths is None else {"X": X, "lengths": np.asarray(lengths, np.int64)}
    names = [output.name for output in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds), strict=True))


def assert_close(actual, expected):
    """Floats within ``ATOL``, labels equal."""
    if np.asarray(actual).dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    else:
        np.testing.assert_array_equal(actual, expected)


def assert_valid_steps_close(actual, expected, lengths, sequence):
    """``actual`` (padded) equals ``expected`` (a list for sequence output) on valid steps."""
    if not sequence:
        assert_close(actual, expected)
        return
    for row, target, n in zip(actual, expected, lengths, strict=True):
        assert_close(row[:n], target)


def test_import_rnnlearn_does_not_import_onnx():
    code = (
        "import sys, rnnlearn, rnnlearn.onnx; "
        "assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (lambda: fitted(VanillaCell(activation="gompertz")), "activation 'gompertz'"),
        (lambda: fitted(GRUCell(activation="gompertz")), "activation 'gompertz'"),
        (lambda: fitted(LSTMCell(activation="gompertz")), "activation 'gompertz'"),
        (lambda: fitted(OwnCell()), "OwnCell.*no ONNX counterpart"),
        (lambda: fitted(GRUCell(), loss=ExpLinkLoss()), "ExpLinkLoss.*own output link"),
        (
            lambda: Pipeline(
                [("scale", SequenceScaler()), ("f", FunctionTransformer()), ("rnn", RNNRegressor())]
            ),
            "step 'f' \\(FunctionTransformer\\)",
        ),
    ],
    ids=["vanilla-gompertz", "gru-gompertz", "lstm-gompertz", "own-cell", "loss-link", "step"],
)
def test_unsupported_raises_before_importing_onnx(model, message, monkeypatch):
    model = model()
    monkeypatch.setitem(sys.modules, "onnx", None)  # importing onnx would fail
    with pytest.raises(ValueError, match=message):
        to_onnx(model)


def test_bad_arguments_raise(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(TypeError, match="got LinearRegression"):
        to_onnx(LinearRegression())
    with pytest.raises(NotFittedError):
        to_onnx(RNNRegressor())
    with pytest.raises(NotFittedError):
        to_onnx(Pipeline([("scale", SequenceScaler()), ("rnn", fitted(GRUCell()))]))
    with pytest.raises(TypeError, match="lengths must be a bool"):
        to_onnx(fitted(GRUCell()), lengths=1)


@pytest.mark.parametrize("cell", CELLS, ids=repr)
@pytest.mark.parametrize(("output_mode", "pooling", "bidirectional"), MODES)
def test_regressor_matches_predict(cell, output_mode, pooling, bidirectional):
    model = fitted(cell, output_mode, pooling, bidirectional)
    X = make_data(output_mode)[0]
    (out,) = run(session(model), X).values()
    np.testing.assert_allclose(out, model.predict(X), rtol=RTOL, atol=ATOL)
    with_lengths = session(model, lengths=True)
    (out,) = run(with_lengths, X, np.full(len(X), X.shape[1])).values()
    np.testing.assert_allclose(out, model.predict(X), rtol=RTOL, atol=ATOL)
    X_pad, X_list = padded(X)
    (out,) = run(with_lengths, X_pad, LENGTHS).values()
    sequence = output_mode == "sequence"
    assert_valid_steps_close(out, model.predict(X_list), LENGTHS, sequence)
    if sequence:  # padded steps of a regression are 0
        assert not out[np.arange(X.shape[1]) >= LENGTHS[:, None]].any()


def test_model_structure():
    """One ONNX recurrent operator per layer, dynamic batch and time, the documented
    opset and IR version."""
    pytest.importorskip("onnx")
    model = fitted(LSTMCell(), bidirectional=True)
    proto = to_onnx(model, lengths=True)
    op_types = [node.op_type for node in proto.graph.node]
    assert op_types.count("LSTM") == 2
    assert not {"Loop", "Scan"} & set(op_types)
    lstm = next(node for node in proto.graph.node if node.op_type == "LSTM")
    attributes = {attribute.name: attribute for attribute in lstm.attribute}
    assert attributes["direction"].s == b"bidirectional"
    assert [a.decode() for a in attributes["activations"].strings] == [
        "Sigmoid",
        "Tanh",
        "Tanh",
    ] * 2
    assert [opset.version for opset in proto.opset_import] == [ONNX_OPSET]
    assert proto.ir_version == ONNX_IR_VERSION
    inputs = {value.name: value.type.tensor_type for value in proto.graph.input}
    assert [d.dim_param or d.dim_value for d in inputs["X"].shape.dim] == ["batch", "time", 3]
    assert inputs["X"].elem_type == 1  # float
    assert inputs["lengths"].elem_type == 7  # int64
    assert [output.name for output in proto.graph.output] == ["predictions"]


@pytest.mark.parametrize(("output_mode", "pooling"), [("last", "mean"), ("sequence", "last")])
def test_dynamic_batch_and_time(output_mode, pooling):
    model = fitted(GRUCell(), output_mode, pooling, bidirectional=True)
    plain, with_lengths = session(model), session(model, lengths=True)
    for n_samples, n_timesteps in [(1, 2), (3, 4), (25, 9)]:
        X = make_data(output_mode, seed=n_samples, n_samples=n_samples, n_timesteps=n_timesteps)[0]
        expected = model.predict(X)
        (out,) = run(plain, X).values()
        assert out.shape == expected.shape
        np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)
        lengths = np.arange(n_samples) % n_timesteps + 1
        X_pad, X_list = padded(X, lengths)
        (out,) = run(with_lengths, X_pad, lengths).values()
        assert_valid_steps_close(out, model.predict(X_list), lengths, output_mode == "sequence")


def test_padding_values_never_matter():
    """Any padding, NaN included, gives the outputs of the sequences alone."""
    model = fitted(LSTMCell(), "last", "mean", bidirectional=True)
    sess = session(model, lengths=True)
    X = make_data("last")[0]
    expected = model.predict(padded(X)[1])
    for value in (0.0, 1e6, np.nan):
        (out,) = run(sess, padded(X, value=value)[0], LENGTHS).values()
        np.testing.assert_allclose(out, expected, rtol=RTOL, atol=ATOL)


def test_float64_estimator_exports_float32():
    model = fitted(GRUCell(reset_after=False), "after", dtype="float64")
    X = make_data("after")[0]
    (out,) = run(session(model, lengths=True), *padded(X)[:1], LENGTHS).values()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, model.predict(padded(X)[1]), rtol=RTOL, atol=ATOL)


def test_after_one_step():
    X, y = make_data("after")
    model = RNNRegressor(hidden_layer_sizes=4, output_mode="after", max_iter=2, random_state=0)
    model.fit(X, y[:, :1])
    X_pad, X_list = padded(X)
    (out,) = run(session(model), X).values()
    assert out.shape == (len(X), 1)
    np.testing.assert_allclose(out, model.predict(X), rtol=RTOL, atol=ATOL)
    (out,) = run(session(model, lengths=True), X_pad, LENGTHS).values()
    np.testing.assert_allclose(out, model.predict(X_list), rtol=RTOL, atol=ATOL)


def test_multioutput_regressor_keeps_output_axis():
    X, y = make_data("sequence")
    model = RNNRegressor(hidden_layer_sizes=4, output_mode="sequence", max_iter=2, random_state=0)
    model.fit(X, np.stack([y, -y], axis=-1))
    (out,) = run(session(model), X).values()
    assert out.shape == (len(X), X.shape[1], 2)
    np.testing.assert_allclose(out, model.predict(X), rtol=RTOL, atol=ATOL)


def classifier_targets(kind, output_mode, y):
    """Labels of ``kind`` from regression targets ``y``."""
    if kind == "binary-int":
        return (y > 0).astype(int) * 5 - 2  # classes -2 and 3
    if kind == "multiclass-str":
        return np.array(["low", "mid", "high"])[np.digitize(y, [-1, 1])]
    if kind == "binary-str":
        return np.where(y > 0, "up", "down")
    if kind == "multiclass-int":
        return np.digitize(y, [-1, 0, 1])
    if kind == "binary-float":
        return (y > 0).astype(float)
    assert kind == "multilabel" and output_mode == "last"
    return np.stack([y > 0, y > 1, y < -1], axis=1).astype(int)


@pytest.mark.parametrize(
    ("kind", "output_mode", "pooling", "bidirectional", "cell"),
    [
        ("binary-int", "last", "last", False, LSTMCell()),
        ("binary-str", "last", "max", True, GRUCell(reset_after=False)),
        ("multiclass-str", "last", "mean", True, GRUCell()),
        ("multiclass-int", "last", "last", False, VanillaCell()),
        ("multilabel", "last", "last", True, LSTMCell()),
        ("multiclass-int", "last", "concat", True, LSTMCell()),
        ("binary-str", "sequence", "last", True, GRUCell()),
        ("multiclass-int", "sequence", "last", False, LSTMCell()),
        ("multiclass-str", "after", "last", False, LSTMCell()),
        ("binary-int", "after", "last", False, GRUCell(reset_after=False)),
        ("binary-float", "last", "mean", False, VanillaCell(activation="relu")),
    ],
)
def test_classifier_matches_predict_and_proba(kind, output_mode, pooling, bidirectional, cell):
    X, y = make_data(output_mode)
    model = RNNClassifier(
        hidden_layer_sizes=(5, 3),
        cell=cell,
        output_mode=output_mode,
        pooling=pooling,
        bidirectional=bidirectional,
        max_iter=3,
        random_state=0,
    )
    model.fit(X, classifier_targets(kind, output_mode, y))
    outputs = run(session(model), X)
    assert list(outputs) == ["label", "probabilities"]
    np.testing.assert_array_equal(outputs["label"], model.predict(X))
    probabilities = model.predict_proba(X)
    np.testing.assert_allclose(outputs["probabilities"], probabilities, rtol=RTOL, atol=ATOL)
    X_pad, X_list = padded(X)
    outputs = run(session(model, lengths=True), X_pad, LENGTHS)
    sequence = output_mode == "sequence"
    assert_valid_steps_close(outputs["label"], model.predict(X_list), LENGTHS, sequence)
    assert_valid_steps_close(
        outputs["probabilities"], model.predict_proba(X_list), LENGTHS, sequence
    )


@pytest.mark.parametrize("estimator", [RNNRegressor, RNNClassifier])
def test_pipeline_with_sequence_scaler(estimator):
    rng = np.random.RandomState(0)
    X = rng.normal(loc=[5.0, -3.0, 0.0], scale=[10.0, 0.1, 1.0], size=(len(LENGTHS), 6, 3))
    X = X.astype(np.float32)
    X_pad, X_list = padded(X)
    y = X_pad[np.arange(len(X)), LENGTHS - 1, 0]
    if estimator is RNNClassifier:
        y = np.where(y > 5, "high", "low")
    steps = [("scale", SequenceScaler()), ("nothing", "passthrough")]
    network = estimator(
        hidden_layer_sizes=(4, 3), cell="gru", pooling="mean", bidirectional=True, max_iter=2
    )
    pipeline = Pipeline([*steps, ("rnn", network.set_params(random_state=0))]).fit(X_list, y)
    outputs = run(session(pipeline, lengths=True), X_pad, LENGTHS)
    expected = (
        [pipeline.predict(X_list)]
        if estimator is RNNRegressor
        else [pipeline.predict(X_list), pipeline.predict_proba(X_list)]
    )
    for out, target in zip(outputs.values(), expected, strict=True):
        assert_close(out, target)


@functools.cache
def random_length_case(output_mode):
    """A fitted model and its session with lengths, shared by the hypothesis examples."""
    cell, pooling, bidirectional = {
        "last": (LSTMCell(), "max", True),
        "sequence": (GRUCell(), "last", True),
        "after": (GRUCell(reset_after=False), "last", False),
    }[output_mode]
    model = fitted(cell, output_mode, pooling, bidirectional)
    return model, session(model, lengths=True)


@pytest.mark.parametrize("output_mode", ["last", "sequence", "after"])
@settings(max_examples=20, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 8), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_random_lengths_match_predict(output_mode, lengths, seed):
    model, sess = random_length_case(output_mode)
    lengths = np.array(lengths)
    X = make_data(output_mode, seed, n_samples=len(lengths), n_timesteps=lengths.max())[0]
    X_pad, X_list = padded(X, lengths, value=-3.0)
    (out,) = run(sess, X_pad, lengths).values()
    assert_valid_steps_close(out, model.predict(X_list), lengths, output_mode == "sequence")


@pytest.mark.parametrize("output_mode", ["last", "sequence", "after"])
@pytest.mark.parametrize("normalize_y", [True, False])
def test_target_scaling_is_folded_into_the_exported_head(output_mode, normalize_y):
    """Targets far from size 1 (``y * 1e4 + 500`` and ``y * 1e-3 - 2``): the exported
    predictions equal ``predict`` within float32 round-off of each column's size, on
    full and on padded variable-length input."""
    X, y = make_data(output_mode)
    Y = np.stack([y * 1e4 + 500.0, y * 1e-3 - 2.0], axis=-1)
    model = RNNRegressor(
        (5, 3), output_mode=output_mode, normalize_y=normalize_y, max_iter=2, random_state=0
    ).fit(X, Y)
    size = np.abs(Y).reshape(-1, 2).max(axis=0)
    (out,) = run(session(model), X).values()
    assert_close(out / size, model.predict(X) / size)
    X_pad, X_list = padded(X)
    (out,) = run(session(model, lengths=True), X_pad, LENGTHS).values()
    expected = model.predict(X_list)
    sequence = output_mode == "sequence"
    expected = [v / size for v in expected] if sequence else expected / size
    assert_valid_steps_close(out / size, expected, LENGTHS, sequence)


# ------------------------------------------------------------------ forecast intervals

LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)  # the 95 % and 80 % pairs and the median
COVERAGES = (0.8, 0.95, 0.9, 0.5)  # CQR pairs (nested), then bands around the median
WINDOW = 24


@functools.cache
def forecaster(head, n_steps, dtype="float32"):
    """A forecaster with ``head`` (point, quantile or Gaussian) of ``n_steps`` steps,
    calibrated on 100 windows, and float32 windows that follow its training ones (a flat
    one last, whose scale is the floor)."""
    t = np.arange(700)
    rng = np.random.RandomState(0)
    series = 0.05 * t + 6 * np.sin(2 * np.pi * t / 12) + rng.normal(size=700)
    X, y = make_windows(series, WINDOW, horizon=n_steps, all_steps=n_steps > 1)
    loss = {"point": "squared_error", "quantile": Pinball(quantiles=LEVELS)}.get(head, head)
    model = RNNForecaster(6, loss=loss, max_iter=3, random_state=0, dtype=dtype)
    model.fit(X[:500], y[:500])
    flat = np.full((1, WINDOW, 1), 30.0)
    return model, np.concatenate([X[500:], flat]).astype(np.float32)


def assert_intervals_match(model, X, coverages=COVERAGES, lengths=None):
    """The exported ``lower`` and ``upper`` of windows ``X`` (cut to ``lengths``) equal
    ``predict_interval``'s for each coverage, within float32 round-off."""
    windows = X
    if lengths is not None:
        X, windows = padded(X, lengths, value=1e4)  # the padding must not count
    outputs = run(session(model, lengths is not None, coverages), X, lengths)
    expected_shape = (len(X), *model.predict(windows).shape[1:], len(coverages))
    assert outputs["lower"].shape == outputs["upper"].shape == expected_shape
    for k, coverage in enumerate(coverages):
        lower, upper = model.predict_interval(windows, coverage)
        np.testing.assert_allclose(outputs["lower"][..., k], lower, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(outputs["upper"][..., k], upper, rtol=1e-5, atol=1e-5)
    return outputs


@pytest.mark.parametrize("head", ["point", "quantile", "gaussian_nll"])
@pytest.mark.parametrize("n_steps", [1, 3])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_intervals_match_predict_interval(head, n_steps, with_lengths):
    model, X = forecaster(head, n_steps)
    lengths = None
    if with_lengths:  # windows of 2 to 24 steps, and the flat one of 1
        lengths = np.r_[np.random.RandomState(1).randint(2, WINDOW + 1, len(X) - 1), 1]
    outputs = assert_intervals_match(model, X, lengths=lengths)
    names = ["predictions", *{"quantile": ["quantiles"], "gaussian_nll": ["std"]}.get(head, [])]
    assert list(outputs) == [*names, "lower", "upper"]
    assert np.all(outputs["lower"] < outputs["upper"])


def test_intervals_of_a_float64_model():
    model, X = forecaster("quantile", 3, dtype="float64")
    assert_intervals_match(model, X)


def test_quantile_bands_nest_and_narrowed_bands_meet_at_their_middle():
    """With the 80 % pair's misses made larger, the 95 % interval holds the 80 % band (the
    nesting); with every pair's targets deep inside, each band narrows to its middle (and
    the 95 % interval spans the two bands' middles)."""
    model, X = forecaster("quantile", 1)
    wide = copy.deepcopy(model)
    wide.calibration_quantile_errors_ = model.calibration_quantile_errors_.copy()
    wide.calibration_quantile_errors_[..., 1] += 3.0  # the 0.1 quantile 3 higher: 80 % wider
    outputs = assert_intervals_match(wide, X, coverages=(0.95, 0.8))
    assert np.all(outputs["lower"][:, 0] <= outputs["lower"][:, 1])
    assert np.all(outputs["upper"][:, 0] >= outputs["upper"][:, 1])
    assert np.mean(outputs["lower"][:, 0] == outputs["lower"][:, 1]) > 0.9  # the 80 % band's
    narrow = copy.deepcopy(model)
    inside = 50.0 * np.sign(np.array(LEVELS) - 0.5)  # each lower level far below, upper above
    narrow.calibration_quantile_errors_ = np.zeros_like(model.calibration_quantile_errors_) + inside
    outputs = assert_intervals_match(narrow, X, coverages=(0.8, 0.95))
    ends = outputs["lower"][:-1, 0], outputs["upper"][:-1, 0]  # the flat window barely moves
    np.testing.assert_allclose(*ends, rtol=1e-6)
    assert np.all(outputs["lower"][:, 1] <= outputs["upper"][:, 1])  # the two middles


def test_intervals_without_calibration_scales_use_absolute_errors():
    """A model whose ``calibration_scales_`` are unknown scores absolute errors: every
    window's interval is as wide, the flat one's too."""
    model, X = forecaster("point", 1)
    model = copy.deepcopy(model)
    model.calibration_scales_ = None
    outputs = assert_intervals_match(model, X, coverages=(0.9,))
    widths = outputs["upper"] - outputs["lower"]
    np.testing.assert_allclose(widths, np.broadcast_to(widths[0], widths.shape), rtol=1e-4)


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(1, WINDOW), min_size=1, max_size=6),
    start=st.integers(0, 150),
    coverage=st.floats(0.05, 0.95),
)
def test_random_lengths_and_coverages_match_predict_interval(lengths, start, coverage):
    model, X = forecaster("quantile", 3)
    X = X[start : start + len(lengths)]
    assert_intervals_match(model, X, coverages=(coverage,), lengths=np.array(lengths[: len(X)]))


def test_bad_coverages_raise_before_importing_onnx(monkeypatch):
    model, X = forecaster("point", 1)
    with pytest.raises(ValueError) as raised:
        model.predict_interval(X, coverage=0.995)  # needs 200 calibration windows
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ValueError, match=re.escape(str(raised.value))):
        to_onnx(model, coverages=(0.9, 0.995))
    for coverage in (0.0, 1.0, 1.5, np.nan):
        with pytest.raises(ValueError, match="coverage must be in \\(0, 1\\)"):
            to_onnx(model, coverages=(0.8, coverage))
    with pytest.raises(TypeError, match="coverage must be"):
        to_onnx(model, coverages=["0.9"])
    with pytest.raises(TypeError, match="sequence of floats; got 0.9"):
        to_onnx(model, coverages=0.9)
    with pytest.raises(TypeError, match="RNNRegressor has none"):
        to_onnx(fitted(GRUCell()), coverages=(0.9,))
    uncalibrated = RNNForecaster(4, early_stopping=False, max_iter=1, random_state=0)
    uncalibrated.fit(X[:50], X[:50, -1, 0] + 1)
    with pytest.raises(ValueError, match="the fit held out 0"):
        to_onnx(uncalibrated, coverages=(0.9,))
