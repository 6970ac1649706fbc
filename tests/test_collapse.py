"""A fit keeps its best weights by training loss, and a collapse is never silent."""

import warnings

import numpy as np
import pytest

from rnnlearn import CollapseWarning, RNNClassifier, RNNRegressor
from rnnlearn.optimizers import SGD, Adam


class LateBoost(SGD):
    """SGD whose learning rate jumps 100-fold from the seventh epoch: training turns unstable."""

    def learning_rate_at(self, state):
        return super().learning_rate_at(state) * (100.0 if state["epoch"] >= 6 else 1.0)


def sum_task(n_samples=64, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 6, 1))
    return X, X.sum(axis=(1, 2))


def snapshots():
    """A callback that records the weights after every epoch, and the list it fills."""
    kept = []
    return kept, lambda estimator, record: kept.append(estimator._params.copy())


def test_fit_keeps_the_weights_of_the_lowest_training_loss_and_says_so():
    X, y = sum_task()
    kept, callback = snapshots()
    model = RNNRegressor(
        8,
        cell="gru",
        optimizer=LateBoost(learning_rate=0.01),
        max_iter=10,
        max_grad_norm=None,
        random_state=0,
        callbacks=[callback],
    )
    with pytest.warns(CollapseWarning, match=r"rose from .* \(epoch 6\) .* unstable"):
        model.fit(X, y)
    losses = [record["loss"] for record in model.history_]
    best = int(np.argmin(losses))
    assert best == 5 and losses[-1] > 2 * losses[best], "the run must have turned unstable"
    np.testing.assert_array_equal(model._params, kept[best])
    assert not np.array_equal(model._params, kept[-1])
    assert model.best_loss_ == losses[best]


def test_a_steady_fit_warns_nothing_and_ends_on_its_best_epoch():
    X, y = sum_task()
    kept, callback = snapshots()
    model = RNNRegressor(
        8, cell="gru", optimizer=Adam(learning_rate=0.01), max_iter=30, random_state=0
    ).set_params(callbacks=[callback])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        warnings.simplefilter("ignore", UserWarning)  # ConvergenceWarning at max_iter
        model.fit(X, y)
    losses = [record["loss"] for record in model.history_]
    np.testing.assert_array_equal(model._params, kept[int(np.argmin(losses))])
    assert model.score(X, y) > 0.5


def test_partial_fit_keeps_its_last_weights():
    X, y = sum_task()
    model = RNNRegressor(8, cell="gru", optimizer=LateBoost(learning_rate=0.01), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        for _ in range(10):
            kept, callback = snapshots()
            model.set_params(callbacks=[callback]).partial_fit(X, y)
            np.testing.assert_array_equal(model._params, kept[-1])


def test_a_classifier_that_predicts_one_class_warns():
    X = np.zeros((60, 5, 2))  # inputs that tell nothing: every sequence gets the same output
    y = np.where(np.arange(60) < 45, "common", "rare")
    model = RNNClassifier(4, max_iter=5, random_state=0)
    with pytest.warns(CollapseWarning, match="predicts the one class 'common' for every sequence"):
        model.fit(X, y)
    assert set(model.predict(X)) == {"common"}


def test_a_regressor_no_better_than_the_mean_warns():
    X, y = sum_task()
    model = RNNRegressor(4, max_iter=5, random_state=0)
    with pytest.warns(CollapseWarning, match="no better than predicting the mean"):
        model.fit(np.zeros_like(X), y)
    assert model.score(np.zeros_like(X), y) <= 0


@pytest.mark.parametrize("output_mode", ["last", "sequence"])
def test_a_classifier_that_learned_does_not_warn(output_mode):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 8, 1))
    y = X[..., 0].cumsum(axis=1) > 0
    y = y[:, -1] if output_mode == "last" else y
    model = RNNClassifier(
        8, cell="gru", output_mode=output_mode, max_iter=40, random_state=0, batch_size=16
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        warnings.simplefilter("ignore", UserWarning)
        model.fit(X, y)
    assert model.score(X, y) > 0.8
