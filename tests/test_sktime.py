"""rnnlearn.sktime's classifier and regressor: sktime's estimator checks pass, and the
adapters train rnnlearn's estimators on sktime's panels exactly as rnnlearn trains on
time-first sequences."""

import warnings

import numpy as np
import pytest
from _guide import guide_blocks

pytest.importorskip("sktime")

from sktime.utils.estimator_checks import check_estimator, parametrize_with_checks  # noqa: E402

import rnnlearn  # noqa: E402
from rnnlearn.sktime import RNNClassifier, RNNRegressor  # noqa: E402

pd = pytest.importorskip("pandas")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SETTINGS = {"hidden_layer_sizes": 6, "max_iter": 5, "random_state": 0}


@parametrize_with_checks([RNNClassifier, RNNRegressor])
def test_sktime_estimator_checks(obj, test_name):
    """Every test sktime runs on these estimators, each on all its fixtures; none is
    excluded."""
    results = check_estimator(obj, tests_to_run=test_name, raise_exceptions=True, verbose=0)
    assert results and all(result == "PASSED" for result in results.values())


def _df_list(n_cases=40, n_columns=2, seed=0):
    """sktime's df-list: ``(n_timepoints_i, n_columns)`` data frames of 5 to 14 steps."""
    rng = np.random.RandomState(seed)
    lengths = rng.randint(5, 15, size=n_cases)
    X = [pd.DataFrame(rng.normal(size=(n, n_columns))) for n in lengths]
    y = np.array([x.iloc[-3:, -1].sum() for x in X])
    return X, y


def test_unequal_lengths_give_rnnlearns_predictions_on_the_same_series():
    X, y = _df_list()
    labels = np.where(y > 0, "up", "down")
    X_time_first = [x.to_numpy() for x in X]
    classifier = RNNClassifier(**SETTINGS).fit(X, labels)
    direct = rnnlearn.RNNClassifier(**SETTINGS).fit(X_time_first, labels)
    assert np.array_equal(classifier.predict_proba(X), direct.predict_proba(X_time_first))
    assert np.array_equal(classifier.predict(X), direct.predict(X_time_first))
    regressor = RNNRegressor(**SETTINGS).fit(X, y)
    direct = rnnlearn.RNNRegressor(**SETTINGS).fit(X_time_first, y)
    assert np.array_equal(regressor.predict(X), direct.predict(X_time_first))


def test_a_multiindex_frame_of_unequal_series_reads_as_its_df_list():
    X, y = _df_list(n_cases=12)
    frame = pd.concat(X, keys=range(len(X)))  # pd-multiindex: (instance, time) rows
    regressor = RNNRegressor(**SETTINGS).fit(X, y)
    assert np.array_equal(regressor.predict(frame), regressor.predict(X))


def test_channel_order_is_respected():
    """The numpy3D columns are rnnlearn's features, in order: the regressor's predictions
    equal rnnlearn's on the array built channel by channel, and depend on the order."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3, 10))  # (n_instances, n_columns, n_timepoints)
    y = X[:, 2, -3:].sum(axis=1)
    regressor = RNNRegressor(**SETTINGS).fit(X, y)
    time_first = np.stack([X[:, column, :] for column in range(3)], axis=-1)
    assert np.array_equal(regressor.predict(X), regressor.estimator_.predict(time_first))
    assert not np.allclose(regressor.predict(X[:, [2, 1, 0]]), regressor.predict(X))


def test_random_state_makes_fits_reproducible():
    X, y = _df_list()
    labels = y > 0
    first = RNNClassifier(**SETTINGS).fit(X, labels).predict_proba(X)
    again = RNNClassifier(**SETTINGS).fit(X, labels).predict_proba(X)
    other = RNNClassifier(**(SETTINGS | {"random_state": 1})).fit(X, labels).predict_proba(X)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


def test_a_single_class_is_predicted_by_sktime_without_a_model():
    """rnnlearn refuses a single class; sktime predicts it without calling ``_fit``."""
    X, _ = _df_list(n_cases=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "only single label seen in y"
        classifier = RNNClassifier(**SETTINGS).fit(X, np.array(["a"] * 6))
    assert list(classifier.predict(X[:2])) == ["a", "a"]
    assert not hasattr(classifier, "estimator_")


def test_the_user_guide_examples_run(capsys):
    blocks = guide_blocks("rnnlearn.sktime")
    assert blocks
    for code in blocks:
        exec(compile(code, "<user guide>", "exec"), {})
    assert capsys.readouterr().out
