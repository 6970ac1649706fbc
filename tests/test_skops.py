"""Tests of rnnlearn.persistence's skops helpers: whole pipelines saved without pickle."""

import contextlib
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from rnnlearn import GRUCell, LSTMCell, RNNClassifier, RNNForecaster, RNNRegressor, VanillaCell
from rnnlearn._fitted import read_model
from rnnlearn._network import Network
from rnnlearn.callbacks import PrintProgress
from rnnlearn.losses import AbsoluteError, GaussianNLL, Huber, LogLoss, Pinball, SquaredError
from rnnlearn.optimizers import SGD, Adagrad, Adam, RMSprop
from rnnlearn.persistence import SKOPS_TRUSTED_TYPES, load, load_skops, save, save_skops
from rnnlearn.preprocessing import SequenceScaler, SlidingWindow, make_windows

pytest.importorskip("skops", minversion="0.15")
skops_io = pytest.importorskip("skops.io")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CELLS = ["vanilla", "gru", "lstm", GRUCell(reset_after=False), LSTMCell(forget_bias=0.5)]
OPTIMIZERS = ["sgd", "adam", "adagrad", "rmsprop", SGD(learning_rate=0.05, momentum=0.9)]
N_STEPS_AFTER = 3


def _data(kind, output_mode, labels="str", n_samples=16, n_timesteps=5, seed=0):
    """Tiny 2-feature sequences and targets for ``output_mode`` (labels for a classifier)."""
    rng = np.random.RandomState(seed)
    X = rng.normal(loc=3.0, scale=2.0, size=(n_samples, n_timesteps, 2))
    centred = X - 3.0
    target = {
        "last": centred.sum(axis=(1, 2)),
        "sequence": centred.sum(axis=2),
        "after": np.cumsum(centred[:, -N_STEPS_AFTER:, 0], axis=1),
    }[output_mode]
    if kind == "regressor":
        return X, target
    classes = np.array(["down", "flat", "up"] if labels == "str" else [-1, 0, 7])
    return X, classes[np.digitize(target, [-0.5, 0.5])]


def _pipeline(kind, **params):
    params = {"hidden_layer_sizes": 3, "max_iter": 2, "batch_size": 4, "random_state": 0, **params}
    model = RNNClassifier(**params) if kind == "classifier" else RNNRegressor(**params)
    return Pipeline([("scale", SequenceScaler()), ("model", model)])


def _round_trip(obj):
    file = io.BytesIO()
    save_skops(obj, file)
    return load_skops(io.BytesIO(file.getvalue()))


def _assert_same_predictions(original, loaded, X):
    prediction = original.predict(X)
    assert loaded.predict(X).dtype == prediction.dtype
    assert_array_equal(loaded.predict(X), prediction)
    if hasattr(original, "predict_proba"):
        assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))


def _assert_same_training_state(original, loaded):
    """Weights, optimizer state and generator of two estimators are bit for bit equal."""
    assert_array_equal(loaded._params, original._params)
    assert loaded._optimizer_state.keys() == original._optimizer_state.keys()
    for key, value in original._optimizer_state.items():
        assert_array_equal(loaded._optimizer_state[key], value, err_msg=key)
    _, key, *scalars = original._rng.get_state()
    _, loaded_key, *loaded_scalars = loaded._rng.get_state()
    assert_array_equal(loaded_key, key)
    assert loaded_scalars == scalars


@st.composite
def configurations(draw):
    """An estimator kind, its labels and a valid set of hyperparameters."""
    kind = draw(st.sampled_from(["regressor", "classifier"]))
    output_mode = draw(st.sampled_from(["last", "sequence", "after"]))
    poolings = ["last", "mean", "max", "concat"] if output_mode == "last" else ["last"]
    params = {
        "cell": draw(st.sampled_from(CELLS)),
        "optimizer": draw(st.sampled_from(OPTIMIZERS)),
        "output_mode": output_mode,
        "bidirectional": output_mode != "after" and draw(st.booleans()),
        "pooling": draw(st.sampled_from(poolings)),
        "dropout": draw(st.sampled_from([0.0, 0.25])),
        "dtype": draw(st.sampled_from(["float32", "float64"])),
        "early_stopping": draw(st.booleans()),
        "validation_fraction": 0.25,
        "learning_rate_schedule": draw(st.sampled_from(["constant", "plateau"])),
        "n_iter_no_change": 1,
    }
    return kind, draw(st.sampled_from(["str", "int"])), params


@settings(max_examples=20, deadline=None)
@given(configuration=configurations())
def test_pipeline_round_trip_predicts_and_trains_on_identically(configuration):
    kind, labels, params = configuration
    X, y = _data(kind, params["output_mode"], labels)
    original = _pipeline(kind, **params).fit(X, y)
    file = io.BytesIO()
    save_skops(original, file)
    assert set(skops_io.get_untrusted_types(data=file.getvalue())) <= set(SKOPS_TRUSTED_TYPES)
    loaded = load_skops(io.BytesIO(file.getvalue()))
    _assert_same_predictions(original, loaded, X)
    _assert_same_training_state(original["model"], loaded["model"])

    X_new, y_new = _data(kind, params["output_mode"], labels, seed=1)
    for pipeline in (original, loaded):
        pipeline["model"].partial_fit(pipeline["scale"].transform(X_new), y_new)
    _assert_same_predictions(original, loaded, X_new)
    _assert_same_training_state(original["model"], loaded["model"])
    for pipeline in (original, loaded):
        pipeline.set_params(model__warm_start=True, model__max_iter=2).fit(X, y)
    _assert_same_predictions(original, loaded, X)
    _assert_same_training_state(original["model"], loaded["model"])


def test_trusted_types_are_exactly_rnnlearns_as_skops_names_them():
    rnnlearn_objects = [
        RNNRegressor,
        RNNClassifier,
        RNNForecaster,
        VanillaCell,
        GRUCell,
        LSTMCell,
        SGD,
        Adagrad,
        RMSprop,
        Adam,
        SquaredError,
        AbsoluteError,
        Huber,
        LogLoss,
        Pinball,
        GaussianNLL,
        Network,
        SequenceScaler,
        SlidingWindow,
    ]
    named = skops_io.get_untrusted_types(data=skops_io.dumps(rnnlearn_objects))
    assert list(SKOPS_TRUSTED_TYPES) == named


def test_every_kind_of_part_round_trips():
    """A loss object, a generator as random_state, sliding windows, scikit-learn steps."""
    series = np.sin(np.arange(60.0) / 3)[:, None] * [1.0, 2.0]
    _, y = make_windows(series, 6)
    regressor = RNNRegressor(
        hidden_layer_sizes=(3, 2),
        cell=VanillaCell(activation="relu"),
        loss=Huber(delta=0.5),
        max_iter=2,
        random_state=np.random.RandomState(0),
        dtype=np.float64,
    )
    pipeline = make_pipeline(
        SlidingWindow(window=6), FunctionTransformer(np.tanh), SequenceScaler(), regressor
    )
    pipeline.fit(series, y[:, 0])
    loaded = _round_trip(pipeline)
    _assert_same_predictions(pipeline, loaded, series)
    X, y = _data("classifier", "last")
    classifier = RNNClassifier(3, max_iter=2, random_state=0).fit(X, y)
    _assert_same_predictions(classifier, _round_trip(classifier), X)


def test_save_refuses_what_load_would_refuse():
    X, y = _data("regressor", "last")
    model = RNNRegressor(2, max_iter=1, callbacks=[lambda estimator, record: False]).fit(X, y)
    file = io.BytesIO()
    with pytest.raises(ValueError, match=r"<lambda>.*set_params\(callbacks=None\)"):
        save_skops(make_pipeline(SequenceScaler(), model), file)
    with pytest.raises(ValueError, match=r"builtins\.print"):  # PrintProgress's sink
        save_skops(model.set_params(callbacks=[PrintProgress()]), file)
    with pytest.raises(ValueError, match="numpy.dtype"):
        save_skops(model.set_params(callbacks=None, dtype=np.dtype("float32")), file)
    assert file.getvalue() == b""


def test_bare_estimators_still_save_to_npz(tmp_path):
    X, y = _data("regressor", "last")
    model = RNNRegressor(2, max_iter=1, random_state=0).fit(X, y)
    save(model, tmp_path / "model.npz")
    assert_array_equal(load(tmp_path / "model.npz").predict(X), model.predict(X))


# --------------------------------------------------------------------- bad files


@pytest.fixture(scope="module")
def genuine():
    """The bytes of a fitted pipeline's skops file (a classifier with string labels)."""
    X, y = _data("classifier", "last")
    file = io.BytesIO()
    save_skops(_pipeline("classifier", cell="gru").fit(X, y), file)
    return file.getvalue()


def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members):
    file = io.BytesIO()
    with zipfile.ZipFile(file, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return file.getvalue()


def _edit_schema(data, edit):
    """``data`` with ``edit(schema)`` applied to its ``schema.json``."""
    members = _members(data)
    schema = json.loads(members["schema.json"])
    edit(schema)
    return _zip({**members, "schema.json": json.dumps(schema)})


def _find(schema, class_name):
    """The first node of ``schema`` that builds a ``class_name``."""
    todo = [schema]
    while todo:
        node = todo.pop(0)
        if isinstance(node, dict):
            if node.get("__class__") == class_name:
                return node
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    raise LookupError(class_name)


def _inject(data, node):
    """``data`` with the scaler's ``with_mean`` attribute replaced by ``node``."""

    def edit(schema):
        _find(schema, "SequenceScaler")["content"]["content"]["with_mean"] = node

    return _edit_schema(data, edit)


def _call_node(function, *args):
    """A schema node asking skops to call ``function`` (``"module.name"``) with ``args``."""
    module, name = function.rsplit(".", 1)
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [
                {
                    "__class__": "str",
                    "__module__": "builtins",
                    "__loader__": "JsonNode",
                    "content": json.dumps(arg),
                    "is_json": True,
                }
                for arg in args
            ],
        },
    }


def _strip_ids(node):
    """A copy of a schema node without ``__id__`` entries (no clash with another file's)."""
    if isinstance(node, dict):
        return {k: _strip_ids(v) for k, v in node.items() if k != "__id__"}
    if isinstance(node, list):
        return [_strip_ids(v) for v in node]
    return node


def _generator_naming(name):
    """A NumPy ``Generator`` node whose bit generator is ``numpy.random.<name>``."""
    schema = json.loads(_members(skops_io.dumps([np.random.default_rng(0)]))["schema.json"])
    node = _strip_ids(_find(schema, "Generator"))
    node["content"]["bit_generator"]["content"]["bit_generator"]["content"] = json.dumps(name)
    return node


def _set(key, value):
    def edit(schema):
        schema[key] = value

    return edit


def _flip_byte_in_schema(data):
    at = data.index(b'"protocol"') + 2
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :]


def _npz_model_file(data):
    X, y = _data("regressor", "last")
    file = io.BytesIO()
    save(RNNRegressor(2, max_iter=1).fit(X, y), file)
    return file.getvalue()


BAD_FILES = {
    "empty": (lambda data: b"", "BadZipFile"),
    "garbage": (lambda data: bytes(range(256)) * 8, "BadZipFile"),
    "truncated-half": (lambda data: data[: len(data) // 2], "BadZipFile"),
    "truncated-last-byte": (lambda data: data[:-1], "BadZipFile"),
    "bytes-changed": (_flip_byte_in_schema, "CRC"),
    "zip-of-something-else": (lambda data: _zip({"notes.txt": b"hello"}), "schema.json"),
    "rnnlearn-npz-file": (_npz_model_file, "schema.json"),
    "schema-no-json": (lambda data: _zip({**_members(data), "schema.json": b"{"}), "JSON"),
    "schema-no-object": (lambda data: _zip({**_members(data), "schema.json": b"[2]"}), "Error"),
    "array-missing": (
        lambda data: _zip({k: v for k, v in _members(data).items() if not k.endswith(".npy")}),
        ".npy",
    ),
    "future-protocol": (lambda data: _edit_schema(data, _set("protocol", 99)), "protocol 99"),
    "protocol-no-int": (lambda data: _edit_schema(data, _set("protocol", "2")), "protocol"),
    "unknown-loader": (lambda data: _edit_schema(data, _set("__loader__", "EvilNode")), "Evil"),
    "untrusted-function": (lambda data: _inject(data, _call_node("os.system", "ls")), "os.system"),
    "untrusted-eval": (lambda data: _inject(data, _call_node("builtins.eval", "1")), "eval"),
    "untrusted-print": (lambda data: _inject(data, _call_node("builtins.print", "!")), "print"),
    "untrusted-class": (
        lambda data: _inject(
            data, {**_call_node("collections.Counter"), "__loader__": "ObjectNode"}
        ),
        "collections.Counter",
    ),
    "generator-calling-a-function": (
        lambda data: _inject(data, _generator_naming("seed")),
        "numpy.random.seed",
    ),
}


@pytest.mark.parametrize("tampering", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_raises_a_clear_value_error(tampering, genuine, tmp_path):
    make_bad, problem = tampering
    path = tmp_path / "pipeline.skops"
    path.write_bytes(make_bad(genuine))
    with pytest.raises(ValueError, match=r"pipeline\.skops") as error:
        load_skops(path)
    assert problem in str(error.value)


def test_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_skops(tmp_path / "missing.skops")


def _tamper_loaded(genuine, where, value):
    """A file of the genuine pipeline with one fitted attribute of its model changed."""
    pipeline = skops_io.loads(genuine, trusted=list(SKOPS_TRUSTED_TYPES))
    model = pipeline["model"]
    owner, name = {
        "params-truncated": (model, "_params"),
        "params-int": (model, "_params"),
        "network-not-a-network": (model, "_network"),
        "network-layout": (model._network, "layout"),
        "cell-gates": (model._network.cell, "n_gates"),
        "optimizer-state": (model, "_optimizer_state"),
        "generator": (model, "_rng"),
        "output-mode": (model, "_output_mode"),
        "hyperparameter": (model, "hidden_layer_sizes"),
    }[where]
    setattr(owner, name, value(model))
    return skops_io.dumps(pipeline)


TAMPERED_VALUES = {
    "params-truncated": lambda model: model._params[:-1],
    "params-int": lambda model: model._params.astype(np.int64),
    "network-not-a-network": lambda model: SequenceScaler(),
    "network-layout": lambda model: [{**model._network.layout[0], "W_h": (0, (1, 1))}],
    "cell-gates": lambda model: 1,
    "optimizer-state": lambda model: {**model._optimizer_state, "first_moment": np.zeros(2)},
    "generator": lambda model: 0.5,
    "output-mode": lambda model: "sideways",
    "hyperparameter": lambda model: -1,
}


@pytest.mark.parametrize("where", TAMPERED_VALUES, ids=TAMPERED_VALUES.keys())
def test_tampered_fitted_state_raises_a_clear_value_error(where, genuine):
    data = _tamper_loaded(genuine, where, TAMPERED_VALUES[where])
    with pytest.raises(ValueError, match="do not fit together"):
        load_skops(io.BytesIO(data))


@pytest.mark.parametrize(
    ("function", "code"),
    [
        ("os.mkdir", "{marker}"),
        ("builtins.eval", "__import__('os').mkdir({marker!r})"),
        ("builtins.exec", "import os; os.mkdir({marker!r})"),
    ],
)
def test_nothing_in_a_tampered_file_runs(function, code, genuine, tmp_path):
    marker = tmp_path / "marker"
    data = _inject(genuine, _call_node(function, code.format(marker=str(marker))))
    with pytest.raises(ValueError, match=rf"refused.*{function}"):
        load_skops(io.BytesIO(data))
    assert not marker.exists()
    # The payload is live: trusting the function runs it.
    skops_io.loads(data, trusted=[*SKOPS_TRUSTED_TYPES, function])
    assert marker.exists()


class _MakesMarker:
    """Unpickling it makes a directory."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_pickled_array_in_a_tampered_file_is_never_unpickled(genuine, tmp_path):
    marker = tmp_path / "marker"
    payload = io.BytesIO()
    np.save(payload, np.array([_MakesMarker(str(marker))], dtype=object), allow_pickle=True)
    members = _members(genuine)
    schema = json.loads(members["schema.json"])
    array_file = _find(schema, "SequenceScaler")["content"]["content"]["mean_"]["file"]
    data = _zip({**members, array_file: payload.getvalue()})
    with pytest.raises(ValueError, match="allow_pickle"):
        load_skops(io.BytesIO(data))
    assert not marker.exists()
    np.load(io.BytesIO(payload.getvalue()), allow_pickle=True)  # the payload is live
    assert marker.exists()


class _OtherTransformer(FunctionTransformer):
    """A step from outside rnnlearn and scikit-learn."""


def test_untrusted_steps_are_refused_but_can_be_trusted_explicitly():
    X, y = _data("regressor", "last")
    pipeline = make_pipeline(_OtherTransformer(), RNNRegressor(2, max_iter=1)).fit(X, y)
    with pytest.raises(ValueError, match="_OtherTransformer"):
        save_skops(pipeline, io.BytesIO())
    data = skops_io.dumps(pipeline)
    with pytest.raises(ValueError, match="refused.*_OtherTransformer"):
        load_skops(io.BytesIO(data))
    (extra,) = set(skops_io.get_untrusted_types(data=data)) - set(SKOPS_TRUSTED_TYPES)
    assert extra.endswith("._OtherTransformer")
    loaded = skops_io.loads(data, trusted=[*SKOPS_TRUSTED_TYPES, extra])
    assert_array_equal(loaded.predict(X), pipeline.predict(X))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
NODE_NAMES = st.sampled_from(["ObjectNode", "DictNode", "NdArrayNode", "os", "system", "str"])


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_schema_change_loads_or_raises_value_error(data, genuine):
    """Whatever a node of the schema is replaced with, load_skops raises nothing else."""
    members = _members(genuine)
    schema = json.loads(members["schema.json"])
    places, todo = [], [schema]
    while todo:
        node = todo.pop()
        keys = node.keys() if isinstance(node, dict) else range(len(node))
        for key in keys:
            places.append((node, key))
            if isinstance(node[key], dict | list):
                todo.append(node[key])
    node, key = data.draw(st.sampled_from(places))
    node[key] = data.draw(
        JSON_VALUES
        | st.fixed_dictionaries(
            {"__class__": NODE_NAMES, "__module__": NODE_NAMES, "__loader__": NODE_NAMES}
        )
    )
    with contextlib.suppress(ValueError):
        load_skops(io.BytesIO(_zip({**members, "schema.json": json.dumps(schema)})))


def test_import_rnnlearn_does_not_import_skops():
    code = (
        "import sys, rnnlearn, rnnlearn.persistence; "
        "assert rnnlearn.persistence.SKOPS_TRUSTED_TYPES; assert 'skops' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_or_old_skops_says_what_to_install(monkeypatch):
    import skops

    monkeypatch.setattr(skops, "__version__", "0.14.2")
    with pytest.raises(ImportError, match=r"skops >= 0.15.*pip install rnnlearn\[skops\]"):
        load_skops(io.BytesIO())
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ImportError, match=r"pip install rnnlearn\[skops\]"):
        save_skops(RNNRegressor(), io.BytesIO())


@pytest.mark.parametrize("output_mode", ["last", "sequence", "after"])
@pytest.mark.parametrize("normalize_y", [True, False])
def test_target_scaling_round_trips_bit_for_bit(output_mode, normalize_y):
    """A pipeline whose regressor standardised targets far from size 1 loads with the same
    scaling (or none), predicts the same bits and trains on identically."""
    X, y = _data("regressor", output_mode)
    Y = np.stack([y * 1e5 + 3e4, y * 1e-4], axis=-1)
    original = _pipeline("regressor", output_mode=output_mode, normalize_y=normalize_y)
    original.fit(X, Y)
    loaded = _round_trip(original)
    scalings = [read_model(pipeline["model"]).target_scaling for pipeline in (original, loaded)]
    if normalize_y:
        for fitted, restored in zip(*scalings, strict=True):
            assert restored.dtype == fitted.dtype
            assert_array_equal(restored, fitted)
    else:
        assert scalings == [None, None]
    _assert_same_predictions(original, loaded, X)
    for pipeline in (original, loaded):
        pipeline["model"].partial_fit(pipeline["scale"].transform(X), Y * 3.0)
    _assert_same_predictions(original, loaded, X)
    _assert_same_training_state(original["model"], loaded["model"])
