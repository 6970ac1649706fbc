"""RNNRegressor and RNNClassifier: input forms, output shapes and training behaviour."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import accuracy_score, r2_score

from rnnlearn import GRUCell, LSTMCell, RNNClassifier, RNNRegressor, VanillaCell
from rnnlearn.optimizers import SGD, Adagrad, Adam, RMSprop

pytestmark = [
    pytest.mark.usefixtures("single_blas_thread"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

ALL_CELLS = [VanillaCell(), GRUCell(), LSTMCell()]
FAST = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=8, random_state=0)
# No early convergence and no dropout (whose noisy training loss can make an earlier
# epoch the best, whose weights fit restores): every fit runs and keeps max_iter epochs.
EXACT = dict(FAST, tol=0.0, n_iter_no_change=1000, dropout=0.0)
HISTORY_KEYS = {"epoch", "loss", "validation_score", "learning_rate", "duration", "status"}
STATE_NAMES = {
    "VanillaCell": {"h"},
    "GRUCell": {"h", "r", "z", "n"},
    "LSTMCell": {"h", "c", "i", "f", "g", "o"},
}


def regression_data(n_samples=24, n_timesteps=5, n_features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_timesteps, n_features))
    return X, X[:, :, 0].mean(axis=1) + 0.5 * X[:, -1, -1]


def classification_data(n_samples=24, n_timesteps=5, n_features=2, seed=0):
    X, y = regression_data(n_samples, n_timesteps, n_features, seed)
    return X, np.where(y > np.median(y), "up", "down")


def ragged(n_features=2, lengths=(3, 6, 2, 5, 4, 1), seed=0):
    rng = np.random.RandomState(seed)
    return [rng.normal(size=(n, n_features)) for n in lengths]


@pytest.fixture(scope="module")
def fitted_regressor():
    """A fitted LSTM regressor, two layers of different sizes. Read-only: never mutate it."""
    X, y = regression_data()
    return RNNRegressor(hidden_layer_sizes=(3, 5), cell="lstm", max_iter=3, random_state=0).fit(
        X, y
    )


# ---------------------------------------------------------------------------- input forms


def test_2d_X_is_a_batch_of_univariate_series():
    X, y = regression_data(n_features=1)
    model = RNNRegressor(**FAST).fit(X[:, :, 0], y)
    assert model.n_features_in_ == 1
    assert_array_equal(model.predict(X[:, :, 0]), model.predict(X))
    # A 2-D X of another width is just another sequence length.
    assert model.predict(X[:, :3, 0]).shape == (len(X),)


def test_list_of_variable_length_sequences():
    X = ragged()
    y = np.array([x[:, 0].sum() for x in X])
    model = RNNRegressor(**FAST).fit(X, y)
    predicted = model.predict(X)
    assert predicted.shape == (len(X),)
    # Padding must not leak: each sequence predicts as it would alone.
    alone = np.array([model.predict([x])[0] for x in X])
    assert_allclose(predicted, alone, rtol=1e-12, atol=1e-12)
    assert model.score(X, y) == pytest.approx(r2_score(y, predicted))


def test_list_of_equal_length_sequences_equals_3d_array():
    X, y = regression_data()
    model = RNNRegressor(**FAST).fit(list(X), y)
    assert_array_equal(model.predict(list(X)), RNNRegressor(**FAST).fit(X, y).predict(X))


def test_sequence_output_with_a_list_returns_one_array_per_sequence():
    X = ragged()
    y = [np.cumsum(x[:, 0]) for x in X]
    model = RNNRegressor(**FAST, output_mode="sequence").fit(X, y)
    predicted = model.predict(X)
    assert isinstance(predicted, list)
    assert [p.shape for p in predicted] == [(len(x),) for x in X]
    for x, p in zip(X, predicted, strict=True):
        assert_allclose(p, model.predict([x])[0], rtol=1e-12, atol=1e-12)


def test_sequence_output_is_causal():
    """Synced output at step t depends on steps <= t only."""
    X, _ = regression_data()
    model = RNNRegressor(**FAST, output_mode="sequence").fit(X, X[:, :, 0].cumsum(axis=1))
    full = model.predict(X)
    assert full.shape == X.shape[:2]
    assert_allclose(model.predict(X[:, :3]), full[:, :3], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_outputs", [None, 2])
def test_after_output_shapes(n_outputs):
    X, _ = regression_data()
    k = 3
    y = np.ones((len(X), k) if n_outputs is None else (len(X), k, n_outputs))
    model = RNNRegressor(**FAST, output_mode="after").fit(X, y)
    assert model.predict(X).shape == y.shape
    assert model.predict(ragged()).shape == (6,) + y.shape[1:]


def test_multi_output_regression():
    X, y = regression_data()
    Y = np.column_stack([y, -2 * y])
    model = RNNRegressor(**FAST).fit(X, Y)
    assert model.n_outputs_ == 2
    assert model.predict(X).shape == (len(X), 2)
    assert model.score(X, Y) == pytest.approx(r2_score(Y, model.predict(X)))
    # A column vector keeps its column.
    assert RNNRegressor(**FAST).fit(X, y[:, None]).predict(X).shape == (len(X), 1)


@pytest.mark.parametrize("labels", [["down", "up"], ["a", "b", "c"], [-1, 3, 7, 9]])
def test_classifier_labels_and_probabilities(labels):
    X, _ = regression_data(n_samples=30)
    y = np.array(labels)[np.arange(len(X)) % len(labels)]
    model = RNNClassifier(**FAST).fit(X, y)
    assert_array_equal(model.classes_, np.unique(labels))
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), len(labels))
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all((proba >= 0) & (proba <= 1))
    predicted = model.predict(X)
    assert_array_equal(predicted, model.classes_[proba.argmax(axis=1)])
    assert model.score(X, y) == pytest.approx(accuracy_score(y, predicted))


def test_per_step_labels_with_sequence_output():
    X, _ = regression_data()
    y = np.where(X[:, :, 0] > 0, "pos", "neg")
    model = RNNClassifier(**FAST, output_mode="sequence").fit(X, y)
    assert_array_equal(model.classes_, ["neg", "pos"])
    assert model.predict(X).shape == y.shape
    assert set(np.unique(model.predict(X))) <= {"neg", "pos"}
    proba = model.predict_proba(X)
    assert proba.shape == y.shape + (2,)
    assert_allclose(proba.sum(axis=-1), 1.0, rtol=1e-12)


def test_per_step_labels_with_a_list():
    X = ragged()
    y = [np.where(x[:, 0] > 0, "pos", "neg") for x in X]
    model = RNNClassifier(**FAST, output_mode="sequence").fit(X, y)
    assert [p.shape for p in model.predict(X)] == [(len(x),) for x in X]
    assert [p.shape for p in model.predict_proba(X)] == [(len(x), 2) for x in X]


def test_multilabel_indicator_targets():
    X, y = regression_data()
    Y = np.column_stack([y > 0, X[:, -1, 0] > 0, X[:, 0, 1] > 0]).astype(int)
    model = RNNClassifier(**FAST).fit(X, Y)
    predicted, proba = model.predict(X), model.predict_proba(X)
    assert predicted.shape == proba.shape == Y.shape
    assert set(np.unique(predicted)) <= {0, 1}
    assert np.all((proba > 0) & (proba < 1))
    assert_array_equal(predicted, (proba > 0.5).astype(int))
    assert model.score(X, Y) == pytest.approx(accuracy_score(Y, predicted))


# ---------------------------------------------------------------------------- hidden states


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_hidden_states_keys_shapes_and_head(cell):
    X, y = regression_data()
    # float64, so the head's product below matches predict's to round-off.
    model = RNNRegressor(**FAST, cell=cell, pooling="last", dtype="float64", normalize_y=False)
    model.set_params(hidden_layer_sizes=(3, 5)).fit(X, y)
    states = model.hidden_states(X)
    assert len(states) == 2
    for layer, n_hidden in zip(states, (3, 5), strict=True):
        assert set(layer) == STATE_NAMES[type(cell).__name__]
        for value in layer.values():
            assert value.shape == (len(X), X.shape[1], n_hidden)
    head = model.coefs_[-1]
    expected = states[-1]["h"][:, -1] @ head["W"] + head["b"]
    assert_allclose(model.predict(X), expected[:, 0], rtol=1e-12, atol=1e-12)


# float32 kernels use a rational tanh within 6 float32 ulps of the exact value.
@pytest.mark.parametrize(("dtype", "rtol"), [("float32", 2e-6), ("float64", 1e-12)])
def test_lstm_hidden_state_is_output_gate_times_tanh_cell(dtype, rtol):
    X, y = regression_data()
    model = RNNRegressor(**FAST, cell="lstm", dtype=dtype).set_params(hidden_layer_sizes=(3, 5))
    for layer in model.fit(X, y).hidden_states(X):
        assert layer["h"].dtype == dtype
        assert_allclose(layer["h"], layer["o"] * np.tanh(layer["c"]), rtol=rtol, atol=rtol / 1e3)
        assert np.all((layer["i"] > 0) & (layer["i"] < 1))


def test_hidden_states_after_mode_include_the_extra_steps():
    X, _ = regression_data()
    model = RNNRegressor(**FAST, cell="gru", output_mode="after").fit(X, np.ones((len(X), 3)))
    assert model.hidden_states(X)[0]["h"].shape == (len(X), X.shape[1] + 2, 4)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), mode=st.sampled_from(["array", "list"]))
def test_predictions_are_equivariant_under_sample_permutation(fitted_regressor, seed, mode):
    rng = np.random.RandomState(seed)
    n = rng.randint(1, 9)
    if mode == "array":
        X = rng.normal(size=(n, rng.randint(1, 6), 2))
    else:
        X = [rng.normal(size=(rng.randint(1, 6), 2)) for _ in range(n)]
    order = rng.permutation(n)
    permuted = X[order] if mode == "array" else [X[i] for i in order]
    assert_allclose(
        fitted_regressor.predict(permuted),
        fitted_regressor.predict(X)[order],
        rtol=1e-12,
        atol=1e-12,
    )


# ---------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_same_seed_gives_bit_identical_predictions(Estimator):
    X, y = classification_data() if Estimator is RNNClassifier else regression_data()
    first = Estimator(**FAST).fit(X, y)
    second = Estimator(**FAST).fit(X, y)
    other = Estimator(**dict(FAST, random_state=1)).fit(X, y)
    method = "predict_proba" if Estimator is RNNClassifier else "predict"
    assert_array_equal(getattr(first, method)(X), getattr(second, method)(X))
    assert not np.array_equal(getattr(first, method)(X), getattr(other, method)(X))
    assert first.loss_curve_ == second.loss_curve_


OPTIMIZERS = [
    "adam",
    SGD(learning_rate=0.05, momentum=0.9, nesterov=True, decay=0.9),
    Adagrad(learning_rate=0.05),
    RMSprop(learning_rate=0.01),
]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=repr)
def test_warm_start_and_partial_fit_resume_exactly(optimizer):
    X, y = regression_data()
    params = dict(EXACT, optimizer=optimizer)
    once = RNNRegressor(**dict(params, max_iter=5)).fit(X, y)
    warm = RNNRegressor(**dict(params, max_iter=2)).fit(X, y)
    warm.set_params(warm_start=True, max_iter=3).fit(X, y)
    partial = RNNRegressor(**params)
    for _ in range(5):
        partial.partial_fit(X, y)
    for model in (warm, partial):
        assert_array_equal(model.predict(X), once.predict(X))
        assert model.n_iter_ == 5
        assert model.t_ == once.t_ == 5 * len(X)
        assert model.loss_curve_ == once.loss_curve_
        assert [r["learning_rate"] for r in model.history_] == [
            r["learning_rate"] for r in once.history_
        ]


def test_classifier_partial_fit_resumes_exactly():
    X, y = classification_data()
    once = RNNClassifier(**dict(EXACT, max_iter=4)).fit(X, y)
    partial = RNNClassifier(**EXACT)
    partial.partial_fit(X, y, classes=["up", "down"])
    for _ in range(3):
        partial.partial_fit(X, y)
    assert_array_equal(partial.predict_proba(X), once.predict_proba(X))
    assert_array_equal(partial.classes_, ["down", "up"])


def test_partial_fit_accepts_classes_absent_from_the_first_batch():
    X, y = classification_data()
    model = RNNClassifier(**FAST)
    model.partial_fit(X[y == "up"], y[y == "up"], classes=["down", "up", "zzz"])
    assert_array_equal(model.classes_, ["down", "up", "zzz"])
    model.partial_fit(X, y)
    assert model.predict_proba(X).shape == (len(X), 3)


def test_warm_start_false_starts_over():
    X, y = regression_data()
    model = RNNRegressor(**EXACT).fit(X, y)
    first = model.predict(X)
    model.fit(X, y)
    assert_array_equal(model.predict(X), first)
    assert model.n_iter_ == 3


# ---------------------------------------------------------------------------- early stopping


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_early_stopping_restores_the_best_weights(Estimator):
    X, y = (classification_data if Estimator is RNNClassifier else regression_data)(40)
    snapshots = {}

    def snapshot(estimator, record):
        assert record["validation_score"] is not None
        snapshots[record["epoch"]] = [
            v.copy() for layer in estimator.coefs_ for v in layer.values()
        ]

    model = Estimator(
        hidden_layer_sizes=(4,),
        optimizer=Adam(learning_rate=0.1),
        batch_size=8,
        max_iter=60,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=3,
        random_state=0,
        callbacks=[snapshot],
    ).fit(X, y)
    scores = model.validation_scores_
    assert len(scores) == model.n_iter_ == len(snapshots)
    assert scores == [r["validation_score"] for r in model.history_]
    assert model.best_validation_score_ == max(scores)
    assert model.best_loss_ is None
    best_epoch = int(np.argmax(scores)) + 1
    assert best_epoch < model.n_iter_, "choose a setting where the best epoch is not the last"
    final = [v for layer in model.coefs_ for v in layer.values()]
    for got, want in zip(final, snapshots[best_epoch], strict=True):
        assert_array_equal(got, want)
    assert model.t_ == model.n_iter_ * 30  # trained on the 30 samples outside the split


# ---------------------------------------------------------------------------- weights


def test_sample_weight_of_ones_changes_nothing_and_others_do():
    X, y = regression_data()
    plain = RNNRegressor(**FAST).fit(X, y).predict(X)
    assert_array_equal(
        RNNRegressor(**FAST).fit(X, y, sample_weight=np.ones(len(X))).predict(X), plain
    )
    weights = np.linspace(0.1, 3, len(X))
    assert not np.array_equal(
        RNNRegressor(**FAST).fit(X, y, sample_weight=weights).predict(X), plain
    )


@pytest.mark.parametrize("how", ["sample_weight", "class_weight"])
def test_zero_weight_on_a_class_makes_the_model_predict_the_other(how):
    X, y = classification_data(n_samples=40)
    params = dict(FAST, max_iter=30, optimizer=Adam(learning_rate=0.05))
    plain = RNNClassifier(**params).fit(X, y)
    assert np.mean(plain.predict(X) == "up") > 0.3
    if how == "sample_weight":
        model = RNNClassifier(**params).fit(X, y, sample_weight=(y == "down").astype(float))
    else:
        model = RNNClassifier(**params, class_weight={"up": 0.0}).fit(X, y)
    assert np.mean(model.predict(X) == "down") >= 0.9


def test_class_weight_balanced_equals_the_explicit_dict():
    X, _ = regression_data(n_samples=40)
    y = np.where(np.arange(40) < 30, "a", "b")  # 30 against 10
    balanced = RNNClassifier(**FAST, class_weight="balanced").fit(X, y)
    explicit = RNNClassifier(**FAST, class_weight={"a": 40 / 60, "b": 40 / 20}).fit(X, y)
    plain = RNNClassifier(**FAST).fit(X, y)
    assert_allclose(balanced.predict_proba(X), explicit.predict_proba(X), rtol=1e-12)
    assert not np.allclose(balanced.predict_proba(X), plain.predict_proba(X))


def test_class_weight_of_ones_or_balanced_on_balanced_data_changes_nothing():
    X, y = classification_data()  # 12 against 12
    plain = RNNClassifier(**FAST).fit(X, y).predict_proba(X)
    for class_weight in ({"up": 1.0, "down": 1.0}, "balanced"):
        model = RNNClassifier(**FAST, class_weight=class_weight).fit(X, y)
        assert_array_equal(model.predict_proba(X), plain)


# ---------------------------------------------------------------------------- history


def test_history_and_fitted_attributes():
    X, y = regression_data()
    model = RNNRegressor(**dict(EXACT, max_iter=4)).fit(X, y)
    assert model.n_iter_ == len(model.history_) == 4
    assert [r["epoch"] for r in model.history_] == [1, 2, 3, 4]
    for record in model.history_:
        assert set(record) == HISTORY_KEYS
        assert record["status"] == "ok"
        assert record["validation_score"] is None
        assert record["duration"] >= 0
    assert model.loss_curve_ == [r["loss"] for r in model.history_]
    assert model.loss_ == model.loss_curve_[-1]
    assert model.best_loss_ == min(model.loss_curve_)
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    assert model.t_ == 4 * len(X)
    assert model.n_features_in_ == 2 and model.n_outputs_ == 1


@pytest.mark.parametrize("optimizer", [SGD, Adam])
def test_learning_rate_decays_per_epoch_and_across_warm_starts(optimizer):
    X, y = regression_data()
    model = RNNRegressor(
        **dict(EXACT, max_iter=4), optimizer=optimizer(learning_rate=0.1, decay=0.5)
    )
    model.fit(X, y)
    expected = [0.1 * 0.5**epoch for epoch in range(6)]
    assert [r["learning_rate"] for r in model.history_] == pytest.approx(expected[:4], rel=1e-12)
    model.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert [r["learning_rate"] for r in model.history_] == pytest.approx(expected, rel=1e-12)


def test_fit_to_max_iter_warns_convergence():
    X, y = regression_data()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        RNNRegressor(**EXACT).fit(X, y)


def test_hyperparameter_objects_are_not_mutated_by_fit():
    X, y = regression_data()
    optimizer, cell = Adam(learning_rate=0.02, decay=0.9), GRUCell(reset_after=False)
    model = RNNRegressor(**FAST, cell=cell, optimizer=optimizer).fit(X, y)
    assert model.optimizer is optimizer and model.cell is cell
    assert optimizer.get_params() == Adam(learning_rate=0.02, decay=0.9).get_params()
    assert vars(optimizer) == vars(Adam(learning_rate=0.02, decay=0.9))
    assert vars(cell) == vars(GRUCell(reset_after=False))
    assert model.optimizer_ is not optimizer and model.cell_ is not cell


# ---------------------------------------------------------------------------- unfitted


@pytest.mark.parametrize(
    "call",
    [
        lambda m, X, y: m.predict(X),
        lambda m, X, y: m.score(X, y),
        lambda m, X, y: m.hidden_states(X),
        lambda m, X, y: m.coefs_,
    ],
    ids=["predict", "score", "hidden_states", "coefs_"],
)
@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_unfitted_estimator_raises_not_fitted(Estimator, call):
    X, y = classification_data() if Estimator is RNNClassifier else regression_data()
    with pytest.raises(NotFittedError):
        call(Estimator(), X, y)


def test_unfitted_classifier_predict_proba_raises_not_fitted():
    with pytest.raises(NotFittedError):
        RNNClassifier().predict_proba(regression_data()[0])


def test_changing_output_mode_after_fit_does_not_reshape_predictions():
    """Predictions come from the fitted network; a parameter changed without refitting must
    not silently reshape them (raising until refit would be fine too)."""
    X, y = regression_data()
    model = RNNRegressor(**FAST).fit(X, y)
    before = model.predict(X)
    model.set_params(output_mode="sequence")
    try:
        after = model.predict(X)
    except ValueError:
        return
    assert_array_equal(after, before)


# ---------------------------------------------------------------------------- score


def test_regressor_score_with_sequence_output_pools_all_steps():
    """BaseRNN.score documents R² over all emitted (sample, step) pairs, padding excluded."""
    X = ragged()
    y = [np.cumsum(x[:, 0]) for x in X]
    model = RNNRegressor(**FAST, output_mode="sequence").fit(X, y)
    expected = r2_score(np.concatenate(y), np.concatenate(model.predict(X)))
    assert model.score(X, y) == pytest.approx(expected)


def test_classifier_score_with_sequence_output_is_per_step_accuracy():
    X, _ = regression_data()
    y = np.where(X[:, :, 0] > 0, "pos", "neg")
    model = RNNClassifier(**FAST, output_mode="sequence").fit(X, y)
    assert model.score(X, y) == pytest.approx(np.mean(model.predict(X) == y))
