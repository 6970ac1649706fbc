"""rnnlearn.aeon: aeon's estimator checks pass, and the adapters train rnnlearn's estimators
on aeon's channels-first collections exactly as rnnlearn trains on time-first ones."""

import os
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from _guide import guide_blocks

pytest.importorskip("aeon")

from aeon.testing.estimator_checking import check_estimator, parametrize_with_checks  # noqa: E402

import rnnlearn  # noqa: E402
from rnnlearn.aeon import RNNClassifier, RNNRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SETTINGS = {"hidden_layer_sizes": 6, "max_iter": 5, "random_state": 0}


@parametrize_with_checks([RNNClassifier, RNNRegressor])
def test_aeon_estimator_checks(check):
    """Every check aeon runs on these estimators; none is skipped or excluded."""
    check()


@pytest.mark.parametrize("estimator", [RNNClassifier, RNNRegressor])
def test_aeon_skips_no_check(estimator):
    """aeon skips a check for an estimator on its own exclude lists, a missing
    dependency, or a tag; here it runs all 40 of each estimator's."""
    results = check_estimator(estimator)
    assert len(results) == 40
    assert all(result == "PASSED" for result in results.values())


def _unequal_collection(n_cases=40, n_channels=2, seed=0):
    """aeon's np-list: ``(n_channels, n_timepoints_i)`` arrays of 5 to 14 steps."""
    rng = np.random.RandomState(seed)
    X = [rng.normal(size=(n_channels, n)) for n in rng.randint(5, 15, size=n_cases)]
    y = np.array([x[-1, -3:].sum() for x in X])
    return X, y


def test_unequal_lengths_give_rnnlearns_predictions_on_the_transposed_list():
    X, y = _unequal_collection()
    labels = np.where(y > 0, "up", "down")
    X_time_first = [x.T.copy() for x in X]
    classifier = RNNClassifier(**SETTINGS).fit(X, labels)
    direct = rnnlearn.RNNClassifier(**SETTINGS).fit(X_time_first, labels)
    assert np.array_equal(classifier.predict_proba(X), direct.predict_proba(X_time_first))
    assert np.array_equal(classifier.predict(X), direct.predict(X_time_first))
    regressor = RNNRegressor(**SETTINGS).fit(X, y)
    direct = rnnlearn.RNNRegressor(**SETTINGS).fit(X_time_first, y)
    assert np.array_equal(regressor.predict(X), direct.predict(X_time_first))
    assert regressor.estimator_.n_features_in_ == 2


def test_channel_order_is_respected():
    """The label is the sign of the last channel's sum: a model trained on it reads that
    channel, and swapping the channels at prediction leaves it guessing."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3, 12))  # (n_cases, n_channels, n_timepoints)
    y = (X[:, 2].sum(axis=1) > 0).astype(int)
    classifier = RNNClassifier(hidden_layer_sizes=8, max_iter=30, random_state=0).fit(X, y)
    assert classifier.estimator_.n_features_in_ == 3
    X_test = rng.normal(size=(300, 3, 12))
    y_test = (X_test[:, 2].sum(axis=1) > 0).astype(int)
    assert np.mean(classifier.predict(X_test) == y_test) > 0.75  # measured 0.823
    swapped = X_test[:, [2, 1, 0]]
    assert np.mean(classifier.predict(swapped) == y_test) < 0.65  # measured 0.530
    # the step t of channel c is what rnnlearn reads as feature c at step t
    time_first = np.stack([X_test[:, channel, :] for channel in range(3)], axis=-1)
    assert np.array_equal(
        classifier.predict_proba(X_test), classifier.estimator_.predict_proba(time_first)
    )


def test_random_state_makes_fits_reproducible():
    X, y = _unequal_collection()
    first = RNNRegressor(**SETTINGS).fit(X, y).predict(X)
    again = RNNRegressor(**SETTINGS).fit(X, y).predict(X)
    other = RNNRegressor(**(SETTINGS | {"random_state": 1})).fit(X, y).predict(X)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_hyperparameters_reach_the_rnnlearn_estimator():
    X, y = _unequal_collection()
    regressor = RNNRegressor(cell="lstm", pooling="mean", loss="huber", **SETTINGS).fit(X, y)
    fitted = regressor.estimator_
    assert isinstance(fitted, rnnlearn.RNNRegressor)
    assert (fitted.cell, fitted.pooling, fitted.loss) == ("lstm", "mean", "huber")
    assert fitted.n_iter_ <= SETTINGS["max_iter"]
    assert fitted.get_params()["hidden_layer_sizes"] == 6


def test_the_example_classifies_osuleaf_better_than_the_nearest_neighbour(tmp_path, monkeypatch):
    """Fast mode (every 8th step, 30 epochs), measured: rnnlearn 0.674, 1-NN 0.525."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    example = Path(__file__).resolve().parents[1] / "examples" / "aeon_classification.py"
    data = Path(os.environ.get("RNNLEARN_DATA", example.parents[2] / "shared" / "data"))
    if not (data / "OSULeaf_TRAIN.ts").exists():
        pytest.skip(f"OSULeaf is not in {data} (set RNNLEARN_DATA)")
    output = tmp_path / "aeon.png"
    monkeypatch.setattr(sys, "argv", [str(example), "--fast", "--output", str(output)])
    namespace = runpy.run_path(str(example), run_name="__main__")
    assert output.stat().st_size > 0
    accuracy, names = namespace["accuracy"], namespace["NAMES"]
    assert namespace["X_train"].shape == (200, 1, 54)
    assert accuracy["1-NN (Euclidean)"] == pytest.approx(127 / 242)  # deterministic
    assert accuracy["rnnlearn GRU"] > accuracy["1-NN (Euclidean)"] + 0.1
    assert isinstance(namespace["network"], rnnlearn.RNNClassifier)
    accuracy_ax, time_ax = namespace["figure"].axes
    heights = [bar.get_height() for bar in accuracy_ax.containers[0]]
    assert heights == [accuracy[name] for name in names]
    assert len(time_ax.containers[0]) == len(names)


def test_the_user_guide_examples_run(capsys):
    blocks = guide_blocks("rnnlearn.aeon")
    assert blocks
    for code in blocks:
        exec(compile(code, "<user guide>", "exec"), {})
    assert capsys.readouterr().out
