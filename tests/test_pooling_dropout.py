"""Tests of the estimators' ``pooling`` and ``dropout`` (the network's are in test_network)."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn._network import Network
from rnnlearn.optimizers import Adam
from rnnlearn.persistence import load, save

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.usefixtures("single_blas_thread"),
]

POOLINGS = ["last", "mean", "max", "concat"]
ESTIMATORS = {"regressor": RNNRegressor, "classifier": RNNClassifier}


def _mean_sign_data(n_samples, seed, min_length=20, max_length=40):
    """Sequences of different lengths around +-0.3, labelled by the sign of their mean.

    One step says little about the label (noise 1 against a shift of 0.3), the mean of a
    sequence a lot, so reading a well-pooled summary is what separates the classes.
    """
    rng = np.random.RandomState(seed)
    shifts = rng.choice([-0.3, 0.3], size=n_samples)
    lengths = rng.randint(min_length, max_length + 1, size=n_samples)
    X = [
        shift + rng.normal(size=(length, 1)) for shift, length in zip(shifts, lengths, strict=True)
    ]
    y = np.where([x.mean() > 0 for x in X], "up", "down")
    return X, y


def _make(kind, **params):
    params = {"hidden_layer_sizes": 3, "max_iter": 3, "batch_size": 4, "random_state": 0, **params}
    return ESTIMATORS[kind](**params)


def _small_data(kind, seed=0):
    X, y = _mean_sign_data(12, seed, min_length=3, max_length=6)
    if kind == "regressor":
        return X, np.array([x.mean() for x in X])
    return X, y


# --- pooling -------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("kind", ESTIMATORS)
def test_estimator_predicts_with_each_pooling(kind, pooling):
    X, y = _small_data(kind)
    model = _make(kind, pooling=pooling, hidden_layer_sizes=(3, 2)).fit(X, y)
    prediction = model.predict(X)
    assert prediction.shape == (len(X),)
    assert model._network.pooling == pooling
    if kind == "regressor":
        assert np.all(np.isfinite(prediction))
    else:
        assert set(prediction) <= {"down", "up"}


def test_poolings_give_different_models():
    X, y = _small_data("regressor")
    predictions = [_make("regressor", pooling=p).fit(X, y).predict(X) for p in POOLINGS]
    assert not np.allclose(predictions[0], predictions[1])
    assert not np.allclose(predictions[1], predictions[2])


def test_mean_pooling_learns_the_sign_of_the_mean():
    """On long padded sequences the mean of the states beats the last state clearly.

    A broken pooling (or its gradient) would fall to the last state's level or below.
    """
    X, y = _mean_sign_data(200, seed=0, min_length=60, max_length=100)
    X_test, y_test = _mean_sign_data(300, seed=1, min_length=60, max_length=100)
    scores = {
        pooling: RNNClassifier(
            hidden_layer_sizes=4,
            cell="vanilla",
            pooling=pooling,
            optimizer=Adam(learning_rate=1e-3),
            batch_size=32,
            learning_rate_schedule="constant",
            max_grad_norm=None,
            max_iter=10,
            random_state=0,
        )
        .fit(X, y)
        .score(X_test, y_test)
        for pooling in ("last", "mean")
    }
    assert scores["mean"] >= 0.97
    assert scores["mean"] > scores["last"] + 0.03


@pytest.mark.parametrize("output_mode", ["sequence", "after"])
@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_pooling_needs_output_mode_last(pooling, output_mode):
    X = np.zeros((4, 5, 1))
    y = np.zeros((4, 5) if output_mode == "sequence" else (4, 2))
    with pytest.raises(ValueError, match="needs output_mode='last'"):
        RNNRegressor(pooling=pooling, output_mode=output_mode).fit(X, y)


def test_unknown_pooling_is_rejected():
    with pytest.raises(ValueError, match="pooling must be one of"):
        RNNRegressor(pooling="sum").fit(np.zeros((4, 5, 1)), np.zeros(4))


def test_warm_start_refuses_another_pooling():
    X, y = _small_data("regressor")
    model = _make("regressor", pooling="mean", warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="architecture"):
        model.set_params(pooling="max").fit(X, y)


@pytest.mark.parametrize("kind", ESTIMATORS)
@pytest.mark.parametrize("pooling", ["mean", "max", "concat"])
def test_round_trip_keeps_pooling_and_dropout(kind, pooling, tmp_path):
    X, y = _small_data(kind)
    original = _make(kind, pooling=pooling, dropout=0.3, hidden_layer_sizes=(3, 2)).fit(X, y)
    save(original, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert (loaded.pooling, loaded.dropout) == (pooling, 0.3)
    assert (loaded._network.pooling, loaded._network.dropout) == (pooling, 0.3)
    assert_array_equal(loaded.predict(X), original.predict(X))
    for model in (original, loaded):  # continued training draws the same masks
        model.partial_fit(X, y)
    assert_array_equal(loaded._params, original._params)


# --- dropout -------------------------------------------------------------------------------


def _fit_params(**params):
    X, y = _small_data("regressor")
    return _make("regressor", hidden_layer_sizes=(4, 3), **params).fit(X, y)._params


def test_dropout_fits_are_reproducible_with_random_state():
    first = _fit_params(dropout=0.5, random_state=0)
    assert_array_equal(_fit_params(dropout=0.5, random_state=0), first)
    assert not np.array_equal(_fit_params(dropout=0.5, random_state=1), first)


def test_dropout_changes_training():
    assert not np.array_equal(_fit_params(dropout=0.5), _fit_params(dropout=0.0))


def test_zero_dropout_is_no_dropout(monkeypatch):
    """``dropout=0`` draws nothing from the generator (which also shuffles), so a fit
    equals one with no dropout step at all, bit for bit."""
    expected = [_fit_params(dropout=0), _fit_params(dropout=0.0, pooling="max")]
    monkeypatch.setattr(Network, "dropout_masks", lambda self, rng, n, dtype=None: None)
    assert_array_equal(_fit_params(dropout=0), expected[0])
    assert_array_equal(_fit_params(dropout=0.0, pooling="max"), expected[1])


@pytest.mark.parametrize("kind", ESTIMATORS)
def test_predict_score_and_hidden_states_never_drop(kind):
    X, y = _small_data(kind)
    model = _make(kind, dropout=0.5, hidden_layer_sizes=(4, 3)).fit(X, y)
    prediction, score, states = model.predict(X), model.score(X, y), model.hidden_states(X)
    no_dropout = model.set_params(dropout=0.0)  # the same weights, read without dropout
    assert_array_equal(no_dropout.predict(X), prediction)
    assert no_dropout.score(X, y) == score
    assert_array_equal(no_dropout.hidden_states(X)[1]["h"], states[1]["h"])
    X_tm, lengths, _ = model._check_X(X)
    raw = model._network.forward(model._params, X_tm, lengths)[0]
    assert_array_equal(model._network.predict(model._params, X_tm, lengths), raw)


@pytest.mark.parametrize(
    ("dropout", "error"),
    [
        (-0.1, ValueError),
        (1.0, ValueError),
        (1.5, ValueError),
        (np.nan, ValueError),
        ("a", TypeError),
    ],
)
def test_bad_dropout_is_rejected_before_anything_changes(dropout, error):
    X, y = _small_data("regressor")
    model = _make("regressor").fit(X, y)
    params, n_iter = model._params.copy(), model.n_iter_
    with pytest.raises(error, match="dropout"):
        model.set_params(dropout=dropout, warm_start=True).fit(X, y)
    assert_array_equal(model._params, params)
    assert model.n_iter_ == n_iter


def test_dropout_between_stacked_layers_still_learns():
    X, y = _mean_sign_data(300, seed=0)
    X_test, y_test = _mean_sign_data(300, seed=1)
    model = RNNClassifier(
        hidden_layer_sizes=(8, 8),
        cell="gru",
        pooling="mean",
        dropout=0.2,
        max_iter=15,
        random_state=0,
    ).fit(X, y)
    assert model.score(X_test, y_test) >= 0.85
