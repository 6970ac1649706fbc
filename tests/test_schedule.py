import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn.optimizers import PLATEAU_FACTOR, PLATEAU_MIN_SCALE
from rnnlearn.persistence import load, save


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(40, 5, 2))
    return X, X.sum(axis=(1, 2))


def _stalled(optimizer="adam", **params):
    """A regressor for which no epoch after the first counts as an improvement."""
    return RNNRegressor(
        hidden_layer_sizes=4,
        optimizer=optimizer,
        learning_rate_schedule="plateau",
        tol=1e9,
        n_iter_no_change=1,
        max_iter=6,
        random_state=0,
        **params,
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("optimizer", ["sgd", "adagrad", "rmsprop", "adam"])
def test_plateau_cuts_the_rate_where_training_would_stop(optimizer):
    model = _stalled(optimizer).fit(*_data())
    rates = np.array([record["learning_rate"] for record in model.history_])
    first = rates[0]
    # epoch 1 improves (it is the first); 2 and 3 do not (> n_iter_no_change): cut; 4, 5: cut.
    assert_allclose(rates, first * PLATEAU_FACTOR ** np.array([0, 0, 0, 1, 1, 2]))


def test_plateau_stops_when_a_cut_would_pass_the_floor():
    model = _stalled().set_params(max_iter=50).fit(*_data())
    rates = np.array([record["learning_rate"] for record in model.history_])
    # cuts after epochs 3 and 5 (scale 0.2**2 >= 1e-2); the next would go below. (The floor
    # was 1e-3, four cuts: the last two never helped on the real series, see optimizers.)
    assert model.n_iter_ == 7
    assert rates[-1] / rates[0] == pytest.approx(PLATEAU_FACTOR**2)
    assert rates[-1] / rates[0] >= PLATEAU_MIN_SCALE


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_plateau_follows_the_validation_score_with_early_stopping():
    X, y = _data()
    labels = (y > 0).astype(int)
    model = RNNClassifier(
        hidden_layer_sizes=4,
        learning_rate_schedule="plateau",
        early_stopping=True,
        tol=1e9,
        n_iter_no_change=1,
        max_iter=4,
        random_state=0,
    ).fit(X, labels)
    rates = [record["learning_rate"] for record in model.history_]
    assert rates[3] == pytest.approx(rates[0] * PLATEAU_FACTOR)
    assert all(record["validation_score"] is not None for record in model.history_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_constant_schedule_keeps_the_rate():
    model = _stalled().set_params(learning_rate_schedule="constant").fit(*_data())
    assert len({record["learning_rate"] for record in model.history_}) == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_cut_is_saved_and_resumed_with_the_optimizer_state(tmp_path):
    X, y = _data()
    model = _stalled().fit(X, y)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert loaded.history_[-1]["learning_rate"] == model.history_[-1]["learning_rate"]
    assert loaded.history_[-1]["learning_rate"] < model.history_[0]["learning_rate"] / 20
    assert np.array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_continues_from_the_cut_rate():
    X, y = _data()
    model = _stalled(warm_start=True).fit(X, y)
    last = model.history_[-1]["learning_rate"]
    model.set_params(max_iter=1).fit(X, y)
    assert model.history_[-1]["learning_rate"] <= last


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_unknown_schedule_is_refused_before_anything_changes():
    X, y = _data()
    model = RNNRegressor(hidden_layer_sizes=3, max_iter=2, random_state=0).fit(X, y)
    params = model._params.copy()
    model.set_params(learning_rate_schedule="adaptive", warm_start=True)
    with pytest.raises(ValueError, match="learning_rate_schedule must be one of"):
        model.fit(X, y)
    assert np.array_equal(model._params, params)


def test_a_file_from_before_the_schedule_loads_at_full_rate(tmp_path):
    X, y = _data()
    model = RNNRegressor(hidden_layer_sizes=3, max_iter=1, random_state=0)
    with pytest.warns(Warning):  # one epoch does not converge
        model.fit(X, y)
    path = tmp_path / "model.npz"
    save(model, path)
    with np.load(path) as archive:
        arrays = dict(archive)
    document = json.loads(arrays["metadata"].tobytes())
    del document["optimizer_counters"]["learning_rate_scale"]
    arrays["metadata"] = np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    assert load(path)._optimizer_state["learning_rate_scale"] == 1.0
