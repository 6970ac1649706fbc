"""Tests of rnnlearn.persistence: exact round trips and refusal of unsafe files."""

import json
import pickle
import tempfile
from functools import partial
from numbers import Number
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal, assert_equal
from sklearn.exceptions import NotFittedError

from rnnlearn import GRUCell, LSTMCell, RNNClassifier, RNNRegressor, VanillaCell, persistence
from rnnlearn._fitted import read_model
from rnnlearn._network import Network
from rnnlearn.callbacks import PrintProgress
from rnnlearn.optimizers import SGD, Adagrad, Adam, RMSprop
from rnnlearn.persistence import load, save

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ALL_CELLS = [VanillaCell(), GRUCell(reset_after=False), GRUCell(), LSTMCell(forget_bias=0.5)]
ALL_OPTIMIZERS = [
    SGD(learning_rate=0.05, momentum=0.9, nesterov=True, decay=0.9),
    Adagrad(learning_rate=0.05),
    RMSprop(),
    Adam(decay=0.95),
]
OUTPUT_MODES = ["last", "sequence", "after"]
N_STEPS_AFTER = 3


def _data(kind, output_mode, dtype=np.float64, n_samples=12, n_timesteps=5, seed=0):
    """Tiny sequences; string labels (three classes) for the classifier."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_timesteps, 2)).astype(dtype)
    if output_mode == "last":
        target = X.sum(axis=(1, 2))
    elif output_mode == "sequence":
        target = X.sum(axis=2)
    else:
        target = np.cumsum(X[:, -N_STEPS_AFTER:, 0], axis=1)
    if kind == "classifier":
        return X, np.array(["down", "flat", "up"])[np.digitize(target, [-0.5, 0.5])]
    return X, target


def _make(kind, **params):
    params = {"hidden_layer_sizes": 3, "max_iter": 2, "batch_size": 4, "random_state": 0, **params}
    return RNNClassifier(**params) if kind == "classifier" else RNNRegressor(**params)


def _round_trip(estimator, folder):
    path = Path(folder) / "model.npz"
    save(estimator, path)
    return load(path)


def _assert_same(a, b, where):
    """Recursive exact equality of fitted attributes (arrays compared with their dtype)."""
    if not (isinstance(a, Number) and isinstance(b, Number)):  # float == numpy.float64
        assert type(a) is type(b), where
    if hasattr(a, "get_params"):
        _assert_same(a.get_params(deep=False), b.get_params(deep=False), where)
    elif isinstance(a, Network):
        for name in ("cell", "n_features", "hidden_layer_sizes", "n_outputs", "n_steps_out"):
            _assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
        assert a.layout == b.layout and a.n_params == b.n_params, where
    elif isinstance(a, np.random.RandomState):
        _assert_same(a.get_state(), b.get_state(), where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert_equal(a, b, err_msg=where)  # NaN equals NaN


def _assert_same_estimator(original, loaded, *, same_durations=True):
    """Every attribute (hyperparameters and all that ``_commit`` sets) is restored.

    ``same_durations=False`` skips the epoch durations in ``history_``, for models
    that trained further after the round trip.
    """
    assert vars(original).keys() == vars(loaded).keys()
    for name, value in vars(original).items():
        if name == "random_state" and isinstance(value, np.random.RandomState):
            assert loaded.random_state is None
        elif name == "history_" and not same_durations:
            _assert_same(_without_durations(value), _without_durations(loaded.history_), name)
        else:
            _assert_same(value, getattr(loaded, name), name)


def _without_durations(history):
    return [{k: v for k, v in record.items() if k != "duration"} for record in history]


def _assert_same_predictions(original, loaded, X):
    assert_array_equal(loaded.predict(X), original.predict(X))
    if hasattr(original, "predict_proba"):
        probabilities = original.predict_proba(X)
        assert loaded.predict_proba(X).dtype == probabilities.dtype
        assert_array_equal(loaded.predict_proba(X), probabilities)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output_mode", OUTPUT_MODES)
@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_round_trip_predicts_identically(kind, cell, output_mode, dtype, tmp_path):
    X, y = _data(kind, output_mode, dtype)
    original = _make(kind, cell=cell, output_mode=output_mode, dtype=dtype).fit(X, y)
    loaded = _round_trip(original, tmp_path)
    _assert_same_estimator(original, loaded)
    _assert_same_predictions(original, loaded, X)
    assert loaded._params.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.dtype(np.float64)])
def test_numpy_dtype_hyperparameter_is_saved_by_name(dtype, tmp_path):
    X, y = _data("regressor", "last")
    original = _make("regressor", dtype=dtype).fit(X, y)
    loaded = _round_trip(original, tmp_path)
    assert loaded.dtype == "float64"
    assert loaded._params.dtype == np.float64
    _assert_same_predictions(original, loaded, X)


@pytest.mark.parametrize("optimizer", ALL_OPTIMIZERS, ids=repr)
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_training_continues_exactly_after_load(kind, optimizer, tmp_path):
    X, y = _data(kind, "last")
    original = _make(kind, optimizer=optimizer, random_state=np.random.RandomState(3)).fit(X, y)
    loaded = _round_trip(original, tmp_path)
    assert loaded.random_state is None  # a generator is not stored; its fitted state is
    for model in (original, loaded):
        model.partial_fit(X, y)
    _assert_same_predictions(original, loaded, X)
    for model in (original, loaded):
        model.set_params(warm_start=True, max_iter=2).fit(X, y)
    _assert_same_predictions(original, loaded, X)
    _assert_same_estimator(original, loaded, same_durations=False)


def test_round_trip_keeps_rich_hyperparameters(tmp_path):
    X, y = _data("classifier", "last", n_samples=30)
    original = RNNClassifier(
        hidden_layer_sizes=(3, 2),
        cell=GRUCell(activation="gompertz"),
        optimizer=SGD(momentum=0.5),
        class_weight={"down": 2.0, "up": 0.5},
        early_stopping=True,
        validation_fraction=0.3,
        callbacks=[PrintProgress()],
        max_iter=3,
        random_state=1,
    ).fit(X, y)
    assert original.validation_scores_
    loaded = _round_trip(original, tmp_path)
    assert loaded.hidden_layer_sizes == (3, 2)
    assert loaded.callbacks[0].sink is print
    _assert_same_estimator(original, loaded)
    _assert_same_predictions(original, loaded, X)


def test_round_trip_integer_labels_and_loss_object(tmp_path):
    X, y = _data("classifier", "last")
    classifier = _make("classifier", class_weight="balanced").fit(X, (y == "up").astype(int))
    _assert_same_estimator(classifier, _round_trip(classifier, tmp_path))
    X, y = _data("regressor", "last")
    regressor = _make("regressor", loss="huber", hidden_layer_sizes=[2, 2]).fit(X, y)
    _assert_same_estimator(regressor, _round_trip(regressor, tmp_path))


def test_save_refuses_what_it_cannot_store_safely(tmp_path):
    X, y = _data("regressor", "last")
    path = tmp_path / "model.npz"
    with pytest.raises(NotFittedError):
        save(RNNRegressor(), path)
    model = _make("regressor", callbacks=[lambda estimator, record: False]).fit(X, y)
    with pytest.raises(ValueError, match=r"set_params\(callbacks=None\)"):
        save(model, path)
    model.set_params(callbacks=[PrintProgress(sink=[].append)])
    with pytest.raises(ValueError, match="cannot be saved safely"):
        save(model, path)
    model.set_params(callbacks=None, dtype="float16")  # no file that load would refuse
    with pytest.raises(ValueError, match="dtype must be one of"):
        save(model, path)
    X, y = _data("classifier", "last")
    model = _make("classifier").fit(X, y.astype(object))
    with pytest.raises(ValueError, match="pickle/joblib"):
        save(model, path)
    assert not path.exists()


def _tamper(path, edit_document=None, edit_arrays=None):
    """Rewrite a saved model with its JSON document or arrays edited."""
    with np.load(path) as archive:
        arrays = dict(archive)
    document = json.loads(arrays["metadata"].tobytes())
    if edit_document:
        edit_document(document)
    arrays["metadata"] = np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)
    if edit_arrays:
        edit_arrays(arrays)
    np.savez(path, **arrays)


TAMPERINGS = {
    "estimator outside the allow-list": (
        lambda d: d.update(estimator="Pipeline"),
        None,
        "Unknown estimator",
    ),
    "cell class outside the allow-list": (
        lambda d: d["network"]["cell"].update({"class": "Popen"}),
        None,
        "only classes",
    ),
    "hyperparameter object outside the allow-list": (
        lambda d: d["hyperparameters"].update(cell={"class": "os.system", "params": {}}),
        None,
        "only classes",
    ),
    "loss that is no Loss": (
        lambda d: d.update(loss_function=d["optimizer"]),
        None,
        "Expected a Loss",
    ),
    "unknown function": (
        lambda d: d["hyperparameters"].update(callbacks=[{"function": "eval"}]),
        None,
        "only function",
    ),
    "format version": (lambda d: d.update(format_version=99), None, "format 99"),
    "missing key": (lambda d: d.pop("fitted"), None, "not a valid rnnlearn model file"),
    "unknown hyperparameter": (
        lambda d: d["hyperparameters"].update(depth=3),
        None,
        "not a valid rnnlearn model file",
    ),
    "params of the wrong shape": (
        None,
        lambda a: a.update(params=a["params"][:-1]),
        "params must be",
    ),
    "optimizer state of the wrong dtype": (
        None,
        lambda a: a.update(optimizer_state__first_moment=a["params"].astype(np.float64)),
        "does not match",
    ),
    "missing array": (None, lambda a: a.pop("rng_key"), "not a valid rnnlearn model file"),
    "extra array": (None, lambda a: a.update(payload=np.zeros(3)), "Unexpected arrays"),
}


def _check_refused(kind, tampering, tmp_path):
    """Save a fitted ``kind`` model, tamper with the file, and check that load refuses it."""
    edit_document, edit_arrays, message = tampering
    X, y = _data(kind, "last")
    path = tmp_path / "model.npz"
    save(_make(kind).fit(X, y), path)
    _tamper(path, edit_document, edit_arrays)
    with pytest.raises(ValueError, match=message):
        load(path)


@pytest.mark.parametrize("tampering", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_load_refuses_invalid_files(tampering, tmp_path):
    _check_refused("classifier", tampering, tmp_path)


SCALING_TAMPERINGS = {
    "target scaling removed": (
        None,
        lambda a: [a.pop("encoding___y_mean"), a.pop("encoding___y_scale")],
        "lacks or has tampered",
    ),
    "target scale of the wrong shape": (
        None,
        lambda a: a.update(encoding___y_scale=np.ones(3)),
        "lacks or has tampered",
    ),
    "target scale not positive": (
        None,
        lambda a: a.update(encoding___y_scale=-a["encoding___y_scale"]),
        "not positive",
    ),
    "target scaling without normalize_y": (
        lambda d: d["hyperparameters"].update(normalize_y=False),
        None,
        "normalize_y is False",
    ),
}


@pytest.mark.parametrize("tampering", SCALING_TAMPERINGS.values(), ids=SCALING_TAMPERINGS.keys())
def test_load_refuses_a_tampered_target_scaling(tampering, tmp_path):
    _check_refused("regressor", tampering, tmp_path)


def _saved_bytes(tmp_path):
    X, y = _data("regressor", "last")
    path = tmp_path / "model.npz"
    save(_make("regressor").fit(X, y), path)
    return path.read_bytes()


BROKEN_FILES = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "garbage": lambda data: bytes(range(256)) * 4,
    "text": lambda data: b"a model, honestly",
    "npy": lambda data: b"\x93NUMPY\x01\x00v\x00" + b" " * 117 + b"\n",
}


@pytest.mark.parametrize("breaking", BROKEN_FILES.values(), ids=BROKEN_FILES.keys())
def test_load_refuses_unreadable_bytes_with_a_clear_value_error(breaking, tmp_path):
    path = tmp_path / "broken.npz"
    path.write_bytes(breaking(_saved_bytes(tmp_path)))
    with pytest.raises(ValueError, match="cannot be read as the .npz archive") as error:
        load(path)
    assert "allow_pickle" not in str(error.value)


def test_load_refuses_metadata_that_is_no_json(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(_saved_bytes(tmp_path))
    with np.load(path) as archive:
        arrays = dict(archive)
    for metadata in (b"{not json", b"\xff\xfe"):
        arrays["metadata"] = np.frombuffer(metadata, dtype=np.uint8)
        np.savez(path, **arrays)
        with pytest.raises(ValueError, match="not a valid rnnlearn model file"):
            load(path)


def test_load_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_file_from_before_the_dtype_hyperparameter_loads_in_its_params_dtype(dtype, tmp_path):
    """Files written before ``dtype`` existed trained in the input's dtype and lack it."""
    X, y = _data("regressor", "last")
    original = _make("regressor", dtype=dtype).fit(X, y)
    path = tmp_path / "model.npz"
    save(original, path)
    _tamper(path, lambda d: d["hyperparameters"].pop("dtype"))
    loaded = load(path)
    assert loaded.dtype == dtype
    _assert_same_estimator(original, loaded)
    _assert_same_predictions(original, loaded, X)
    for model in (original, loaded):
        model.partial_fit(X, y)
    _assert_same_predictions(original, loaded, X)


def test_load_warns_on_another_rnnlearn_version(tmp_path):
    X, y = _data("regressor", "last")
    path = tmp_path / "model.npz"
    save(_make("regressor").fit(X, y), path)
    _tamper(path, lambda d: d.update(rnnlearn_version="0.0.1"))
    with pytest.warns(UserWarning, match="saved with rnnlearn 0.0.1"):
        load(path)


def test_the_version_warning_points_at_the_load_call(tmp_path):
    X, y = _data("regressor", "last")
    path = tmp_path / "model.npz"
    save(_make("regressor").fit(X, y), path)
    _tamper(path, lambda d: d.update(rnnlearn_version="0.0.1"))
    with pytest.warns(UserWarning, match="saved with rnnlearn 0.0.1") as record:
        load(path)
    assert record[0].filename == __file__


_EXPLODED = []


def _explode():
    _EXPLODED.append(True)
    return "exploded"


class _Payload:
    """Unpickling this runs ``_explode``: what a malicious pickle would do."""

    def __reduce__(self):
        return (_explode, ())


def test_load_never_unpickles(tmp_path, monkeypatch):
    X, y = _data("classifier", "last")
    path = tmp_path / "model.npz"
    save(_make("classifier").fit(X, y), path)
    _tamper(path, edit_arrays=lambda a: a.update(classes=np.array([_Payload()], dtype=object)))
    calls = []
    real_load = np.load
    monkeypatch.setattr(
        persistence.np, "load", lambda *args, **kw: calls.append(kw) or real_load(*args, **kw)
    )
    with pytest.raises(ValueError, match="without unpickling"):
        load(path)
    assert calls == [{"allow_pickle": False}]
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ValueError, match="without unpickling"):
        load(pickled)
    assert not _EXPLODED


@settings(max_examples=10, deadline=None)
@given(
    kind=st.sampled_from(["regressor", "classifier"]),
    cell=st.sampled_from(["vanilla", "gru", "lstm"]),
    optimizer=st.sampled_from(["sgd", "adagrad", "rmsprop", "adam"]),
    output_mode=st.sampled_from(OUTPUT_MODES),
    sizes=st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple),
    dtype=st.sampled_from(["float32", "float64"]),
    n_samples=st.integers(3, 6),
    n_timesteps=st.integers(N_STEPS_AFTER, 5),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(
    kind, cell, optimizer, output_mode, sizes, dtype, n_samples, n_timesteps, seed
):
    X, y = _data(kind, output_mode, dtype, n_samples, n_timesteps, seed)
    if kind == "classifier":  # at least two classes, whatever the draw
        y.flat[0], y.flat[-1] = "down", "up"
    model = _make(
        kind,
        cell=cell,
        optimizer=optimizer,
        output_mode=output_mode,
        hidden_layer_sizes=sizes,
        random_state=seed,
        dtype=dtype,
    ).fit(X, y)
    with tempfile.TemporaryDirectory() as folder:
        loaded = _round_trip(model, folder)
    _assert_same_estimator(model, loaded)
    _assert_same_predictions(model, loaded, X)
    for estimator in (model, loaded):
        estimator.partial_fit(X, y)
    _assert_same_predictions(model, loaded, X)
    _assert_same_estimator(model, loaded, same_durations=False)


DATA = Path(__file__).parent / "data"
SAVED_BEFORE_ISSUE_17 = [
    "regressor_gru",  # stacked, early stopping (validated), 1-D targets
    "classifier_vanilla_multiclass",  # string labels, relu, max pooling, mixed lengths
    "regressor_bidirectional_lstm_mean",  # SGD with momentum, float64, two outputs
    "regressor_after",  # output_mode='after'
]


def _saved_inputs(expected):
    """The inputs a saved fixture was fitted on: a list if its sequences differ in length."""
    X = expected["X"]
    if "lengths" not in expected:
        return X
    return [x[:n] for x, n in zip(X, expected["lengths"], strict=True)]


def _saved_predictions(model, X):
    if isinstance(model, RNNClassifier):
        return model.predict_proba(X)
    return np.asarray(model.predict(X))


@pytest.mark.parametrize("name", SAVED_BEFORE_ISSUE_17)
def test_files_saved_by_earlier_code_predict_and_train_as_before(name):
    """Files saved at 660ac78 (before the one-door refactor) load, predict as they did, and
    a partial_fit continues as it did then (``tests/data/README.md``). float64 models predict
    exactly as then; float32 ones up to float32 rounding, since their products changed
    (since stop 27 every float32 product is rnnlearn's packed one, not OpenBLAS's)."""
    model = load(DATA / f"{name}.npz")
    with np.load(DATA / f"{name}.expected.npz") as archive:
        expected = dict(archive)
    X = _saved_inputs(expected)
    exact = model.get_params()["dtype"] == "float64"
    same = assert_array_equal if exact else partial(assert_allclose, rtol=1e-5, atol=1e-7)
    if "predict_proba" in expected:  # a classifier: the same labels, close probabilities
        assert_array_equal(np.asarray(model.predict(X)), expected["predict"])
        same(model.predict_proba(X), expected["predict_proba"])
    else:
        same(np.asarray(model.predict(X)), expected["predict"])
    n_iter = model.n_iter_
    model.partial_fit(X, expected["y"])
    assert model.n_iter_ == n_iter + 1
    np.testing.assert_allclose(
        _saved_predictions(model, X), expected["predict_after_partial_fit"], rtol=1e-5, atol=1e-6
    )


def test_file_from_before_pooling_dropout_and_bidirectional_loads_with_their_defaults(
    tmp_path,
):
    """Files written before those options existed lack them: last state, no dropout,
    one direction."""
    path = tmp_path / "model.npz"
    path.write_bytes((DATA / "regressor_after.npz").read_bytes())
    options = ("pooling", "dropout", "bidirectional")
    _tamper(path, lambda d: [d["network"].pop(option) for option in options])
    loaded, saved = load(path), load(DATA / "regressor_after.npz")
    _assert_same_estimator(saved, loaded)
    assert loaded._network.architecture == saved._network.architecture
    assert (loaded._network.pooling, loaded._network.dropout) == ("last", 0.0)
    assert not loaded._network.bidirectional


def test_a_saved_auto_pooling_keeps_the_pooling_it_was_built_with(tmp_path):
    """A regressor saved when its ``'auto'`` read the last state names that pooling once
    loaded, so a warm-start fit goes on from the saved network instead of refusing it.
    Files that lack dropout get none, as they trained."""
    path = tmp_path / "model.npz"
    path.write_bytes((DATA / "regressor_gru.npz").read_bytes())
    _tamper(path, lambda d: d["hyperparameters"].pop("dropout"))
    loaded = load(path)
    assert (loaded.pooling, loaded._network.pooling, loaded.dropout) == ("last", "last", 0.0)
    assert RNNRegressor().set_params(pooling="auto")._check_params().pooling == "max"
    with np.load(DATA / "regressor_gru.expected.npz") as archive:
        expected = dict(archive)
    loaded.set_params(warm_start=True, max_iter=1).fit(_saved_inputs(expected), expected["y"])
    assert loaded._network.pooling == "last"


@pytest.mark.parametrize("output_mode", OUTPUT_MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_target_scaling_round_trips_bit_for_bit(output_mode, dtype, tmp_path):
    """Targets far from size 1: the loaded model has the same scaling, predicts the same
    bits and goes on training as the original does."""
    X, y = _data("regressor", output_mode)
    Y = np.stack([y * 1e5 + 3e4, y * 1e-4], axis=-1)
    original = _make("regressor", output_mode=output_mode, dtype=dtype).fit(X, Y)
    loaded = _round_trip(original, tmp_path)
    _assert_same_estimator(original, loaded)
    scaling = read_model(loaded).target_scaling
    for fitted, restored in zip(read_model(original).target_scaling, scaling, strict=True):
        assert restored.dtype == np.float64 and restored.shape == (2,)
        assert_array_equal(restored, fitted)
    _assert_same_predictions(original, loaded, X)
    original.partial_fit(X, Y * 2.0)
    loaded.partial_fit(X, Y * 2.0)
    _assert_same_predictions(original, loaded, X)


def test_unscaled_regressor_round_trips_without_scaling(tmp_path):
    X, y = _data("regressor", "last")
    original = _make("regressor", normalize_y=False).fit(X, y * 1e3)
    loaded = _round_trip(original, tmp_path)
    assert loaded.normalize_y is False
    assert read_model(loaded).target_scaling is None
    _assert_same_predictions(original, loaded, X)


@pytest.mark.parametrize("name", ["regressor_gru", "regressor_after"])
def test_file_from_before_target_scaling_loads_unscaled(name):
    """A regressor saved before ``normalize_y`` existed trained on ``y`` as given: it
    loads with ``normalize_y=False`` and no scaling, and refits the same way."""
    model = load(DATA / f"{name}.npz")
    assert model.normalize_y is False
    assert read_model(model).target_scaling is None
    classifier = load(DATA / "classifier_vanilla_multiclass.npz")
    assert "normalize_y" not in classifier.get_params()
