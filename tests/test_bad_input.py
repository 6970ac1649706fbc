"""Failure behaviour: bad input and parameters raise clear errors and change nothing;
diverging training warns and leaves a finite model."""

import copy
import warnings

import joblib
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from scipy import sparse

from rnnlearn import (
    DivergenceWarning,
    GRUCell,
    LSTMCell,
    RNNClassifier,
    RNNRegressor,
    VanillaCell,
)
from rnnlearn.callbacks import Callback
from rnnlearn.losses import Huber
from rnnlearn.optimizers import SGD, Adam

pytestmark = [
    pytest.mark.usefixtures("single_blas_thread"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

FAST = dict(hidden_layer_sizes=(3,), max_iter=2, batch_size=8, random_state=0)
N, T, F = 16, 5, 2


def data(kind):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(N, T, F))
    y = X.sum(axis=(1, 2))
    return X, (np.where(y > np.median(y), "b", "a") if kind == "clf" else y)


def estimator(kind, **params):
    return (RNNClassifier if kind == "clf" else RNNRegressor)(**{**FAST, **params})


@pytest.fixture(scope="module")
def fitted():
    """A fitted regressor and classifier. Tests work on deep copies: never mutate these."""
    return {kind: estimator(kind).fit(*data(kind)) for kind in ("reg", "clf")}


def with_value(X, value):
    X = X.copy()
    X[3, 2, 1] = value
    return X


def with_y_value(y, value):
    y = y.astype(float)
    y[3] = value
    return y


# (id, kinds, make(X, y) -> (X, y, fit kwargs), exception, match)
BAD_DATA = [
    ("nan_in_X", "both", lambda X, y: (with_value(X, np.nan), y, {}), ValueError, "NaN"),
    ("inf_in_X", "both", lambda X, y: (with_value(X, np.inf), y, {}), ValueError, "infinity"),
    ("nan_in_y", "reg", lambda X, y: (X, with_y_value(y, np.nan), {}), ValueError, "NaN"),
    ("inf_in_y", "reg", lambda X, y: (X, with_y_value(y, np.inf), {}), ValueError, "infinity"),
    ("nan_label", "clf", lambda X, y: (X, with_y_value(y == "b", np.nan), {}), ValueError, "NaN"),
    ("1d_X", "both", lambda X, y: (X[:, 0, 0], y, {}), ValueError, r"2-D .*3-D"),
    ("4d_X", "both", lambda X, y: (X[..., None], y, {}), ValueError, r"shape \(16, 5, 2, 1\)"),
    ("scalar_X", "both", lambda X, y: (3.0, y, {}), TypeError, "scalar"),
    ("None_X", "both", lambda X, y: (None, y, {}), ValueError, "None"),
    ("empty_X", "both", lambda X, y: (X[:0], y[:0], {}), ValueError, "0 sample"),
    ("empty_list", "both", lambda X, y: ([], [], {}), ValueError, "0 sample"),
    ("zero_steps", "both", lambda X, y: (X[:, :0], y, {}), ValueError, "at least one step"),
    ("zero_features", "both", lambda X, y: (X[:, :, :0], y, {}), ValueError, "feature"),
    (
        "zero_length_sequence",
        "both",
        lambda X, y: ([X[0], X[1, :0], *X[2:]], y, {}),
        ValueError,
        r"X\[1\]",
    ),
    (
        "ragged_feature_counts",
        "both",
        lambda X, y: ([X[0], X[1, :, :1], *X[2:]], y, {}),
        ValueError,
        "same number of features",
    ),
    ("mismatched_X_y", "both", lambda X, y: (X, y[:-1], {}), ValueError, "inconsistent"),
    ("string_X", "both", lambda X, y: (np.full(X.shape, "a"), y, {}), ValueError, "string"),
    ("complex_X", "both", lambda X, y: (X + 1j, y, {}), ValueError, "[Cc]omplex"),
    ("sparse_X", "both", lambda X, y: (sparse.csr_matrix(X[:, :, 0]), y, {}), TypeError, "Sparse"),
    ("None_y", "both", lambda X, y: (X, None, {}), ValueError, "requires y"),
    ("3d_y", "both", lambda X, y: (X, np.stack([y, y], 1)[:, :, None], {}), ValueError, "'last'"),
    ("string_y", "reg", lambda X, y: (X, y.astype(str), {}), ValueError, "numeric"),
    ("continuous_y", "clf", lambda X, y: (X, X[:, 0, 0], {}), ValueError, "continuous"),
    (
        "one_class",
        "clf",
        lambda X, y: (X, np.full(N, "a"), {}),
        ValueError,
        "more than one|greater",
    ),
    (
        "multiclass_multioutput",
        "clf",
        lambda X, y: (X, np.arange(2 * N).reshape(N, 2) % 3, {}),
        ValueError,
        "multilabel",
    ),
    (
        "negative_sample_weight",
        "both",
        lambda X, y: (X, y, {"sample_weight": np.r_[-1.0, np.ones(N - 1)]}),
        ValueError,
        "non-negative",
    ),
    (
        "zero_sample_weights",
        "both",
        lambda X, y: (X, y, {"sample_weight": np.zeros(N)}),
        ValueError,
        "non-zero",
    ),
    (
        "nan_sample_weight",
        "both",
        lambda X, y: (X, y, {"sample_weight": np.full(N, np.nan)}),
        ValueError,
        "NaN",
    ),
    (
        "sample_weight_shape",
        "both",
        lambda X, y: (X, y, {"sample_weight": np.ones(N - 1)}),
        ValueError,
        r"shape \(16,\)",
    ),
    (
        "negative_scalar_sample_weight",
        "both",
        lambda X, y: (X, y, {"sample_weight": -1.0}),
        ValueError,
        "non-negative",
    ),
    (
        "zero_scalar_sample_weight",
        "both",
        lambda X, y: (X, y, {"sample_weight": 0}),
        ValueError,
        "non-zero",
    ),
]
# Only wrong when continuing a fitted model.
BAD_RESUME_DATA = [
    ("other_n_features", "both", lambda X, y: (X[:, :, :1], y, {}), ValueError, "features"),
    (
        "unseen_label",
        "clf",
        lambda X, y: (X, np.where(y == "a", "a", "c"), {}),
        ValueError,
        "not in classes_",
    ),
]
VALID_WHEN_RESUMING = {"one_class"}  # the fitted classes_ are known


def _cases(table, kinds=("reg", "clf")):
    return [
        pytest.param(kind, name, make, exc, match, id=f"{kind}-{name}")
        for name, which, make, exc, match in table
        for kind in kinds
        if which in ("both", kind)
    ]


# (id, kinds, params, exception, match)
BAD_PARAMS = [
    ("hidden_0", "both", {"hidden_layer_sizes": 0}, ValueError, "hidden_layer_sizes"),
    ("hidden_empty", "both", {"hidden_layer_sizes": ()}, ValueError, "hidden_layer_sizes"),
    ("hidden_has_0", "both", {"hidden_layer_sizes": (3, 0)}, ValueError, "hidden_layer_sizes"),
    ("hidden_float", "both", {"hidden_layer_sizes": (3.5,)}, ValueError, "hidden_layer_sizes"),
    ("output_mode", "both", {"output_mode": "x"}, ValueError, "output_mode"),
    ("cell_name", "both", {"cell": "foo"}, ValueError, "cell"),
    ("cell_type", "both", {"cell": 3}, TypeError, "cell"),
    ("cell_class", "both", {"cell": LSTMCell}, TypeError, "cell"),
    (
        "cell_activation",
        "both",
        {"cell": VanillaCell(activation="x")},
        ValueError,
        "cell__activation",
    ),
    (
        "gru_reset_after",
        "both",
        {"cell": GRUCell(reset_after="no")},
        TypeError,
        "cell__reset_after",
    ),
    ("optimizer_name", "both", {"optimizer": "foo"}, ValueError, "optimizer"),
    ("optimizer_class", "both", {"optimizer": Adam}, TypeError, "optimizer"),
    (
        "negative_lr",
        "both",
        {"optimizer": SGD(learning_rate=-1)},
        ValueError,
        "optimizer__learning_rate",
    ),
    ("momentum", "both", {"optimizer": SGD(momentum=1.5)}, ValueError, "optimizer__momentum"),
    ("beta_1", "both", {"optimizer": Adam(beta_1=1.0)}, ValueError, "optimizer__beta_1"),
    ("alpha", "both", {"alpha": -1}, ValueError, "alpha"),
    ("batch_size_0", "both", {"batch_size": 0}, ValueError, "batch_size"),
    ("batch_size_float", "both", {"batch_size": 1.5}, TypeError, "batch_size"),
    ("max_iter", "both", {"max_iter": 0}, ValueError, "max_iter"),
    ("tol", "both", {"tol": -1.0}, ValueError, "tol"),
    ("n_iter_no_change", "both", {"n_iter_no_change": 0}, ValueError, "n_iter_no_change"),
    (
        "validation_fraction",
        "both",
        {"validation_fraction": 1.5},
        ValueError,
        "validation_fraction",
    ),
    (
        "validation_fraction_1",
        "both",
        {"validation_fraction": 1.0, "early_stopping": True},
        ValueError,
        "validation_fraction",
    ),
    ("max_grad_norm", "both", {"max_grad_norm": 0}, ValueError, "max_grad_norm"),
    ("verbose", "both", {"verbose": -1}, ValueError, "verbose"),
    ("shuffle", "both", {"shuffle": "yes"}, TypeError, "shuffle"),
    ("early_stopping", "both", {"early_stopping": 1}, TypeError, "early_stopping"),
    ("callbacks_item", "both", {"callbacks": [1]}, TypeError, "callbacks"),
    ("callbacks_not_list", "both", {"callbacks": 3}, TypeError, "callbacks"),
    ("loss", "reg", {"loss": "foo"}, ValueError, "loss"),
    ("huber_delta", "reg", {"loss": Huber(delta=-1.0)}, ValueError, "loss__delta"),
    ("class_weight_name", "clf", {"class_weight": "x"}, ValueError, "class_weight"),
    ("class_weight_list", "clf", {"class_weight": [1, 2]}, ValueError, "class_weight"),
]


# ---------------------------------------------------------------------------- fresh fits


@pytest.mark.parametrize(("kind", "name", "make", "exc", "match"), _cases(BAD_DATA))
def test_bad_data_raises_a_clear_error(kind, name, make, exc, match):
    X, y, kwargs = make(*data(kind))
    model = estimator(kind)
    with pytest.raises(exc, match=match):
        model.fit(X, y, **kwargs)
    assert not hasattr(model, "n_iter_")


def _param_cases():
    return [
        pytest.param(kind, params, exc, match, id=f"{kind}-{name}")
        for name, which, params, exc, match in BAD_PARAMS
        for kind in ("reg", "clf")
        if which in ("both", kind)
    ]


@pytest.mark.parametrize(("kind", "params", "exc", "match"), _param_cases())
def test_bad_parameter_raises_a_clear_error(kind, params, exc, match):
    model = estimator(kind, **params)
    with pytest.raises(exc, match=match):
        model.fit(*data(kind))
    assert not hasattr(model, "n_iter_")
    assert model.get_params()[next(iter(params))] is params[next(iter(params))]


def test_bad_nested_parameter_fails_before_callbacks_start():
    began = []

    class Recorder(Callback):
        def on_train_begin(self, estimator):
            began.append(estimator)

    model = estimator("reg", cell=LSTMCell(activation="foo"), callbacks=[Recorder()])
    with pytest.raises(ValueError, match="cell__activation must be one of"):
        model.fit(*data("reg"))
    assert began == []


def test_partial_fit_of_a_new_classifier_needs_classes():
    with pytest.raises(ValueError, match="classes must be passed"):
        estimator("clf").partial_fit(*data("clf"))


# ---------------------------------------------------------------------------- fitted models


def snapshot(model):
    """Everything a failed call must leave alone: attribute names, fitted state, outputs."""
    X, _ = data("reg")
    fitted_state = {k: v for k, v in vars(model).items() if k not in model.get_params()}
    outputs = model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)
    return sorted(vars(model)), joblib.hash(fitted_state), model.n_iter_, outputs


def assert_unchanged(before, model):
    after = snapshot(model)
    assert after[0] == before[0]
    assert after[2] == before[2]
    assert after[1] == before[1], "fitted state changed"
    assert_array_equal(after[3], before[3])


METHODS = ["fit", "partial_fit", "warm_start_fit"]


def call(model, method, X, y, kwargs):
    if method == "warm_start_fit":
        model.set_params(warm_start=True)
        method = "fit"
    return getattr(model, method)(X, y, **kwargs)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("kind", "name", "make", "exc", "match"), _cases(BAD_DATA) + _cases(BAD_RESUME_DATA)
)
def test_failed_fit_on_a_fitted_model_changes_nothing(fitted, kind, name, make, exc, match, method):
    resume_only = name in {case[0] for case in BAD_RESUME_DATA}
    if (resume_only and method == "fit") or (name in VALID_WHEN_RESUMING and method != "fit"):
        pytest.skip("valid input for this method")
    X, y, kwargs = make(*data(kind))
    model = copy.deepcopy(fitted[kind])
    before = snapshot(model)
    with pytest.raises(exc):  # messages: test_bad_data_raises_a_clear_error
        call(model, method, X, y, kwargs)
    assert_unchanged(before, model)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("kind", "params", "exc", "match"), _param_cases())
def test_failed_fit_with_bad_parameter_on_a_fitted_model_changes_nothing(
    fitted, kind, params, exc, match, method
):
    if method == "partial_fit" and params.get("early_stopping") is True:
        pytest.skip("partial_fit does not split off validation data")
    model = copy.deepcopy(fitted[kind])
    before, original = snapshot(model), model.get_params()
    model.set_params(**params)
    with pytest.raises(exc):  # messages: test_bad_parameter_raises_a_clear_error
        call(model, method, *data(kind), {})
    model.set_params(**{name: original[name] for name in params})  # predict reads some
    assert_unchanged(before, model)


@pytest.mark.parametrize("method", ["partial_fit", "warm_start_fit"])
@pytest.mark.parametrize("kind", ["reg", "clf"])
def test_resuming_with_another_architecture_changes_nothing(fitted, kind, method):
    model = copy.deepcopy(fitted[kind])
    before = snapshot(model)
    model.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="architecture"):
        call(model, method, *data(kind), {})
    model.set_params(hidden_layer_sizes=FAST["hidden_layer_sizes"])
    assert_unchanged(before, model)


BAD_PREDICT = [
    ("nan", lambda X: with_value(X, np.nan), ValueError, "NaN"),
    ("inf", lambda X: with_value(X, -np.inf), ValueError, "infinity"),
    ("1d", lambda X: X[0, :, 0], ValueError, r"2-D .*3-D"),
    ("4d", lambda X: X[..., None], ValueError, "shape"),
    ("empty", lambda X: X[:0], ValueError, "0 sample"),
    ("zero_length_sequence", lambda X: [X[0], X[1, :0]], ValueError, r"X\[1\]"),
    ("strings", lambda X: np.where(X > 0, "up", "down"), ValueError, "string"),
    ("other_n_features", lambda X: X[:, :, :1], ValueError, "expecting 2 features"),
    ("more_features", lambda X: np.concatenate([X, X], 2), ValueError, "expecting 2 features"),
    ("None", lambda X: None, ValueError, "None"),
    ("sparse", lambda X: sparse.csr_matrix(X[:, :, 0]), TypeError, "Sparse"),
]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "hidden_states", "score"])
@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_PREDICT],
)
def test_bad_input_at_prediction_raises_a_clear_error(fitted, make, exc, match, method):
    kind = "clf" if method == "predict_proba" else "reg"
    model = fitted[kind]
    before = snapshot(model)
    X, y = data(kind)
    args = (make(X), y) if method == "score" else (make(X),)
    with pytest.raises(exc, match=match):
        getattr(model, method)(*args)
    assert_unchanged(before, model)


# ---------------------------------------------------------------------------- hypothesis


def _array(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    kind = draw(st.sampled_from(["float", "float32", "int", "bool", "str", "object"]))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    if kind == "str":
        return np.full(shape, draw(st.sampled_from(["a", "1.5", ""])))
    if kind == "object":
        values = np.empty(int(np.prod(shape)), dtype=object)
        choices = [None, "x", 1.0, [1.0, 2.0], np.nan]
        for i in range(values.size):
            values[i] = choices[rng.randint(len(choices))]
        return values.reshape(shape)
    if kind == "bool":
        return rng.rand(*shape) > 0.5
    if kind == "int":
        return rng.randint(-3, 4, size=shape)
    values = rng.normal(size=shape).astype(np.float32 if kind == "float32" else np.float64)
    if values.size and draw(st.booleans()):
        values.flat[rng.randint(values.size)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return values


@st.composite
def malformed(draw):
    """Anything a user might pass as X: arrays of any shape and type, lists, scalars."""
    form = draw(st.sampled_from(["near_valid", "array", "list_of_arrays", "nested", "scalar"]))
    if form == "near_valid":  # the right shape; maybe a non-finite value
        shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=3)))
        X = np.random.RandomState(draw(st.integers(0, 2**16))).normal(size=shape)
        X.flat[0] = draw(st.sampled_from([0.5, np.nan, np.inf]))
        return X
    if form == "array":
        return _array(draw)
    if form == "list_of_arrays":
        return [_array(draw) for _ in range(draw(st.integers(0, 4)))]
    if form == "nested":
        element = st.one_of(
            st.floats(-10, 10), st.none(), st.text(max_size=2), st.lists(st.floats(-10, 10))
        )
        return draw(st.lists(st.lists(element, max_size=4), max_size=4))
    return draw(st.sampled_from([None, 0, 2.5, "abc", np.nan, b"x", {}, object()]))


def _targets(draw, X, kind):
    try:
        n = len(X)
    except TypeError:
        n = draw(st.integers(0, 4))
    n = draw(st.sampled_from([n, n, max(n - 1, 0)]))
    if kind == "clf":
        return draw(st.sampled_from([np.arange(n) % 2, np.array(["p", "q"] * n)[:n], None]))
    return draw(st.sampled_from([np.linspace(-1, 1, n), np.full(n, np.nan), None]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), kind=st.sampled_from(["reg", "clf"]))
def test_fit_on_malformed_input_raises_only_value_or_type_error(data, kind):
    X = data.draw(malformed(), label="X")
    y = _targets(data.draw, X, kind)
    model = estimator(kind, max_iter=1, hidden_layer_sizes=(2,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. ConvergenceWarning
        try:
            model.fit(X, y)
        except (ValueError, TypeError) as error:
            event(f"fit raised {type(error).__name__}")
            assert not hasattr(model, "n_iter_")
            return
    event("fit succeeded")
    assert np.all(np.isfinite(model._params))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=malformed())
def test_predict_on_malformed_input_raises_only_value_or_type_error(fitted_univariate, X):
    try:
        predicted = fitted_univariate.predict(X)
    except (ValueError, TypeError) as error:
        event(f"predict raised {type(error).__name__}")
        return
    event("predict succeeded")
    assert np.all(np.isfinite(predicted))
    assert len(predicted) == len(X)


@pytest.fixture(scope="module")
def fitted_univariate():
    """A regressor fitted on univariate series, so any 2-D float array is valid input."""
    X, y = data("reg")
    return estimator("reg").fit(X[:, :, :1], y)


# ---------------------------------------------------------------------------- divergence


def diverging_fit(
    seed=0, learning_rate=1e3, scale=1.0, batch_size=4, cell=None, max_iter=20, dtype="float32"
):
    """Plain SGD with a huge step on an unbounded (ReLU) Elman network: overflows within a
    few epochs for every setting used here."""
    X, y = data("reg")
    model = RNNRegressor(
        hidden_layer_sizes=(8,),
        cell=VanillaCell(activation="relu") if cell is None else cell,
        optimizer=SGD(learning_rate=learning_rate),
        batch_size=batch_size,
        max_iter=max_iter,
        max_grad_norm=None,  # unclipped, so that it diverges
        random_state=seed,
        dtype=dtype,
    )
    return model, X, y * scale


# Targets of 1e200 fit only in float64 (float32 refuses them, see test_dtype.py); 1e30
# targets fit in float32 but their squares do not.
@pytest.mark.parametrize(
    ("learning_rate", "scale", "dtype"),
    [(1e3, 1.0, "float32"), (1.0, 1e30, "float32"), (1.0, 1e200, "float64")],
    ids=["lr_1e3", "targets_1e30", "targets_1e200-float64"],
)
def test_diverging_fit_emits_no_runtime_warning(learning_rate, scale, dtype):
    """The DivergenceWarning is the message; numpy's overflow warnings are noise (and the
    suite's filterwarnings turns rnnlearn's RuntimeWarnings into errors)."""
    model, X, y = diverging_fit(learning_rate=learning_rate, scale=scale, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.warns(DivergenceWarning, match="diverged"):
            model.fit(X, y)
    assert model.history_[-1]["status"] == "diverged"


X_REG = data("reg")[0]
# batch_size=4: 4 minibatches per epoch; batch_size=16: one batch, so the epoch that
# diverges does so on its first batch.
DIVERGING = [
    pytest.param(seed, lr, batch_size, id=f"seed{seed}-lr{lr:g}-batch{batch_size}")
    for seed in (0, 1, 2)
    for lr in (1e2, 1e3, 1e6)
    for batch_size in (4, 16)
]


@pytest.mark.parametrize(("seed", "learning_rate", "batch_size"), DIVERGING)
def test_diverging_fit_warns_and_keeps_a_finite_model(seed, learning_rate, batch_size):
    model, X, y = diverging_fit(seed, learning_rate, batch_size=batch_size)
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning, match="diverged"):
        assert model.fit(X, y) is model
    assert model.history_[-1]["status"] == "diverged"
    assert model.n_iter_ == len(model.history_) < 20
    assert all(record["status"] == "ok" for record in model.history_[:-1])
    assert np.all(np.isfinite(model._params))
    with np.errstate(all="ignore"):
        predicted = model.predict(X)
    assert np.all(np.isfinite(predicted)), "the kept weights must predict finite values"


@pytest.mark.parametrize("learning_rate", [1e2, 1e3, 1e6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_full_batch_divergence_keeps_weights_with_a_finite_loss(seed, learning_rate):
    """run_epoch documents that ``params`` then "hold the last parameters that gave a finite
    loss". With one batch per epoch that loss is the training loss itself."""
    model, X, y = diverging_fit(seed, learning_rate, batch_size=len(X_REG))
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning):
        model.fit(X, y)
    with np.errstate(all="ignore"):
        loss = model.loss_function_.loss(y[None, :, None], model.predict(X)[None, :, None])
    assert np.isfinite(loss)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_diverged_epoch_records_a_non_finite_or_higher_loss(seed):
    """Learning rate 100: diverges after at least one good epoch."""
    model, X, y = diverging_fit(seed, learning_rate=1e2, batch_size=16)
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning):
        model.fit(X, y)
    *finite, last = model.loss_curve_
    assert len(finite) >= 1
    assert not last < finite[-1], f"diverged epoch recorded loss {last!r} after {finite!r}"
    np.testing.assert_equal(model.loss_, last)


def test_training_can_go_on_after_divergence():
    model, X, y = diverging_fit(seed=1)
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning):
        model.fit(X, y)
    n_iter = model.n_iter_
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DivergenceWarning)
        model.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert model.n_iter_ > n_iter
    assert np.all(np.isfinite(model._params))


def test_exploding_loss_with_a_saturating_cell_warns():
    """The issue's example: SGD at learning rate 1e3 on the default LSTM. Its weights stay
    finite (tanh saturates) while the loss passes 1e100 within a few epochs; that fit must
    not end quietly as converged."""
    model, X, y = diverging_fit(cell=LSTMCell(), max_iter=30)
    with np.errstate(all="ignore"), pytest.warns(DivergenceWarning):
        model.fit(X, y)
    assert model.history_[-1]["status"] == "diverged"
