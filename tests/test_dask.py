"""Searches run under joblib's dask backend as they run locally, without oversubscription.

The dask tests skip without ``dask.distributed``; the loky test runs anyway.

Every fit here runs on one OpenMP thread, in the dask workers (their nanny sets
``OMP_NUM_THREADS=1``) and in the reference run (``threadpool_limits``), so both sides do
the same arithmetic on the same data with the same seeds and the scores are compared for
exact equality, not within a tolerance.
"""

import os

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from threadpoolctl import threadpool_limits

from rnnlearn import RNNClassifier, RNNRegressor, make_frequency_classification
from rnnlearn.cells._compiled import kernels

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = {"cell": ["gru", "lstm"], "hidden_layer_sizes": [(4,), (8,)]}


@pytest.fixture(scope="module")
def dask_client():
    """A client of a local cluster of two single-threaded worker processes.

    Dask's nanny writes the workers' variables (``OMP_NUM_THREADS=1`` among them) into this
    process's environment; they are restored afterwards so later subprocesses do not inherit
    them.
    """
    distributed = pytest.importorskip("dask.distributed")
    environ = dict(os.environ)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        yield client
    os.environ.clear()
    os.environ.update(environ)


@pytest.fixture(scope="module")
def data():
    """Three-class sequences and a real-valued target for them."""
    X, y = make_frequency_classification(
        90, n_timesteps=12, n_features=2, n_classes=3, noise=0.5, random_state=0
    )
    return X, y, X[:, :, 0].mean(axis=1) + 0.1 * y


def kernel_threads(estimator, X, y):
    """A scorer: the estimator's score and the OpenMP thread limit of the kernels here."""
    return {"score": estimator.score(X, y), "threads": kernels.omp_max_threads()}


def search_and_cross_validate(X, y, target, **n_jobs):
    """A grid search over a classifier and a cross-validation of a regressor."""
    classifier = RNNClassifier(max_iter=3, random_state=0)
    search = GridSearchCV(classifier, GRID, cv=3, **n_jobs).fit(X, y)
    regressor = RNNRegressor(hidden_layer_sizes=4, max_iter=3, random_state=0)
    scores = cross_validate(regressor, X, target, cv=KFold(3), return_estimator=True, **n_jobs)
    return search, scores


def test_search_and_cross_validation_on_dask_equal_the_serial_run(dask_client, data):
    with threadpool_limits(limits=1, user_api="openmp"):
        serial, serial_scores = search_and_cross_validate(*data)
    with joblib.parallel_backend("dask"):
        dask, dask_scores = search_and_cross_validate(*data)
    assert dask.best_params_ == serial.best_params_
    np.testing.assert_array_equal(
        dask.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(dask_scores["test_score"], serial_scores["test_score"])
    for ours, theirs in zip(dask_scores["estimator"], serial_scores["estimator"], strict=True):
        np.testing.assert_array_equal(ours.predict(data[0]), theirs.predict(data[0]))


def test_dask_workers_run_the_kernels_on_one_thread_each(dask_client, data):
    X, y, _ = data
    with joblib.parallel_backend("dask"):
        scores = cross_validate(RNNClassifier(max_iter=1), X, y, cv=3, scoring=kernel_threads)
    assert list(scores["test_threads"]) == [1, 1, 1]


def test_loky_workers_of_a_two_job_search_run_the_kernels_on_one_thread_each(data):
    X, y, _ = data
    search = GridSearchCV(
        RNNClassifier(max_iter=1), GRID, cv=3, scoring=kernel_threads, refit=False, n_jobs=2
    )
    search.fit(X, y)
    expected = max(1, joblib.cpu_count() // 2)
    assert set(search.cv_results_["mean_test_threads"]) == {expected}
