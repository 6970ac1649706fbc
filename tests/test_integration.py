"""The estimators inside scikit-learn's tools, and what they learn on small seeded tasks."""

import pickle

import joblib
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from rnnlearn import GRUCell, LSTMCell, RNNClassifier, RNNRegressor, VanillaCell
from rnnlearn.callbacks import PrintProgress
from rnnlearn.datasets import (
    make_binary_addition,
    make_frequency_classification,
    make_sine_sequences,
)
from rnnlearn.optimizers import SGD, Adam
from rnnlearn.preprocessing import SequenceScaler

pytestmark = [
    pytest.mark.usefixtures("single_blas_thread"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

ALL_CELLS = [VanillaCell(), GRUCell(), LSTMCell()]
FAST = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=8, random_state=0)


def regression_data(n_samples=24, n_timesteps=5, n_features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_timesteps, n_features))
    return X, X[:, :, 0].mean(axis=1) + 0.5 * X[:, -1, -1]


def classification_data(n_samples=24, seed=0):
    X, y = regression_data(n_samples, seed=seed)
    return X, np.where(y > np.median(y), "up", "down")


# ---------------------------------------------------------------------------- sklearn tools


def test_pipeline_with_sequence_scaler():
    X, y = regression_data()
    X = 100 * X + 50  # far from standardised
    pipeline = make_pipeline(SequenceScaler(), RNNRegressor(**FAST)).fit(X, y)
    scaler = SequenceScaler().fit(X)
    by_hand = RNNRegressor(**FAST).fit(scaler.transform(X), y)
    assert_array_equal(pipeline.predict(X), by_hand.predict(scaler.transform(X)))
    assert pipeline.score(X, y) == pytest.approx(by_hand.score(scaler.transform(X), y))
    # Variable-length lists flow through the pipeline too.
    sequences = [x[: 2 + i % 4] for i, x in enumerate(X)]
    assert pipeline.fit(sequences, y).predict(sequences).shape == (len(X),)


def test_grid_search_over_cells_sizes_and_nested_learning_rate():
    X, y = regression_data(n_samples=20)
    adam, lstm = Adam(), LSTMCell()
    adam_before, lstm_before = joblib.hash(adam), joblib.hash(lstm)
    grid = {
        "cell": ["gru", lstm],
        "hidden_layer_sizes": [(4,), (8,)],
        "optimizer__learning_rate": [0.01, 0.1],
    }
    search = GridSearchCV(
        RNNRegressor(optimizer=adam, max_iter=2, batch_size=10, random_state=0),
        grid,
        cv=2,
        n_jobs=2,
    ).fit(X, y)
    assert set(search.best_params_) == set(grid)
    assert len(search.cv_results_["params"]) == 8
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert joblib.hash(adam) == adam_before and adam.learning_rate == 0.003
    assert joblib.hash(lstm) == lstm_before
    best = search.best_estimator_
    assert best.optimizer_.learning_rate == search.best_params_["optimizer__learning_rate"]
    assert best.optimizer is not adam
    assert best.coefs_[0]["W_h"].shape[0] == search.best_params_["hidden_layer_sizes"][0]


def test_cross_val_score_regressor():
    X, y = regression_data()
    model = RNNRegressor(**FAST)
    assert is_regressor(model)
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert_array_equal(scores, cross_val_score(model, X, y, cv=KFold(3)))


def test_cross_val_score_classifier_is_stratified():
    X, _ = regression_data(n_samples=30)
    y = np.repeat(["a", "b", "c"], 10)  # sorted: unstratified folds would miss a class
    model = RNNClassifier(**FAST)
    assert is_classifier(model)
    scores = cross_val_score(model, X, y, cv=3)
    assert scores.shape == (3,)
    assert_array_equal(scores, cross_val_score(model, X, y, cv=StratifiedKFold(3)))


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_clone_copies_parameters_and_not_the_fit(Estimator):
    X, y = classification_data() if Estimator is RNNClassifier else regression_data()
    model = Estimator(
        **FAST,
        cell=LSTMCell(forget_bias=0.5),
        optimizer=SGD(momentum=0.5),
        callbacks=[PrintProgress()],
    ).fit(X, y)
    copy = clone(model)
    assert copy.get_params().keys() == model.get_params().keys()
    assert repr(copy.get_params()) == repr(model.get_params())
    assert copy.cell is not model.cell and copy.optimizer is not model.optimizer
    assert not hasattr(copy, "n_iter_") and not hasattr(copy, "history_")
    assert_array_equal(copy.fit(X, y).predict(X), model.predict(X))


def _fitted_pair():
    X, y = classification_data()
    regressor = RNNRegressor(**FAST, cell="gru").fit(X, (y == "up").astype(float))
    classifier = RNNClassifier(**FAST, optimizer=SGD(momentum=0.9)).fit(X, y)
    return X, y, regressor, classifier


def _assert_same_model(X, y, original, restored, method):
    assert_array_equal(getattr(restored, method)(X), getattr(original, method)(X))
    assert restored.history_ == original.history_
    # The optimizer state and generator travel too: training resumes identically.
    original.partial_fit(X, y)
    restored.partial_fit(X, y)
    assert_array_equal(getattr(restored, method)(X), getattr(original, method)(X))


def test_pickle_round_trip():
    X, y, regressor, classifier = _fitted_pair()
    for model, target, method in [
        (regressor, (y == "up").astype(float), "predict"),
        (classifier, y, "predict_proba"),
    ]:
        restored = pickle.loads(pickle.dumps(model))
        assert_array_equal(restored.predict(X), model.predict(X))
        _assert_same_model(X, target, model, restored, method)


def test_joblib_dump_and_load(tmp_path):
    X, y, regressor, classifier = _fitted_pair()
    for model, target, method in [
        (regressor, (y == "up").astype(float), "predict"),
        (classifier, y, "predict_proba"),
    ]:
        path = tmp_path / f"{type(model).__name__}.joblib"
        joblib.dump(model, path)
        restored = joblib.load(path)
        assert_array_equal(restored.predict(X), model.predict(X))
        _assert_same_model(X, target, model, restored, method)


# ---------------------------------------------------------------------------- learning
# Each task is small and seeded; the thresholds hold with a clear margin (measured scores
# in comments) so the tests check learning, not luck.


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_sine_forecast_reaches_r2_of_0_9(cell):
    # Measured held-out R²: about 0.98 for every cell (the noise ceiling is about 0.99).
    X, y = make_sine_sequences(300, 10, frequencies=(1.0, 2.5), noise=0.05, random_state=0)
    model = RNNRegressor(
        hidden_layer_sizes=(16,),
        cell=cell,
        optimizer=Adam(learning_rate=0.02),
        max_iter=80,
        tol=0.0,
        random_state=0,
    ).fit(X[:200], y[:200])
    assert model.score(X[200:], y[200:]) >= 0.9


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_frequency_classification_reaches_accuracy_of_0_95(cell):
    # Measured held-out accuracy over seeds and both label orders: 0.975-1.0.
    X, y = make_frequency_classification(200, 20, 1, 2, noise=0.2, random_state=1)
    labels = np.array(["slow", "fast"])[y]
    model = RNNClassifier(
        hidden_layer_sizes=(8,),
        cell=cell,
        optimizer=Adam(learning_rate=0.01),
        max_iter=80,
        tol=0.0,
        random_state=1,
    ).fit(X[:120], labels[:120])
    assert model.score(X[120:], labels[120:]) >= 0.95


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_binary_addition_per_step_accuracy_of_0_95(cell):
    # Synced sequence output: bit t of a + b needs the carry from step t - 1. Measured 1.0.
    X, y = make_binary_addition(300, 6, random_state=0)
    model = RNNClassifier(
        hidden_layer_sizes=(8,),
        cell=cell,
        output_mode="sequence",
        optimizer=Adam(learning_rate=0.03),
        batch_size=16,
        max_iter=80,
        random_state=0,
    ).fit(X[:200], y[:200])
    predicted = model.predict(X[200:])
    assert predicted.shape == y[200:].shape
    assert np.mean(predicted == y[200:]) >= 0.95


@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_after_mode_echoes_the_last_inputs_newest_first(cell):
    # Output step j (from the last input step on, fed zeros) must recall x[T - 1 - j].
    # Measured held-out R²: 0.995-0.999.
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(300, 5, 1))
    y = X[:, ::-1, 0][:, :2]
    model = RNNRegressor(
        hidden_layer_sizes=(16,),
        cell=cell,
        output_mode="after",
        optimizer=Adam(learning_rate=0.02),
        batch_size=16,
        max_iter=100,
        random_state=0,
    ).fit(X[:200], y[:200])
    assert r2_score(y[200:], model.predict(X[200:])) >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("cell", ALL_CELLS, ids=repr)
def test_two_layer_network_learns_multiclass_frequencies(cell):
    # Measured held-out accuracy: 0.99-1.0 (seed 1 gives the Elman network only 0.85).
    X, y = make_frequency_classification(300, 24, 2, 3, noise=0.3, random_state=0)
    model = RNNClassifier(
        hidden_layer_sizes=(12, 8),
        cell=cell,
        optimizer=Adam(learning_rate=0.01),
        max_iter=150,
        tol=0.0,
        n_iter_no_change=20,
        random_state=0,
    ).fit(X[:200], y[:200])
    assert model.score(X[200:], y[200:]) >= 0.9
