"""Per-epoch callbacks, progress output and interrupted training."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import rnnlearn._training
from rnnlearn import RNNClassifier, RNNRegressor, TrainingInterruptedWarning
from rnnlearn.callbacks import Callback, PrintProgress
from rnnlearn.losses import SquaredError
from rnnlearn.optimizers import Adam

pytestmark = [
    pytest.mark.usefixtures("single_blas_thread"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

# No early convergence and no dropout (whose noisy training loss can make an earlier
# epoch the best, whose weights fit restores): every fit runs and keeps max_iter epochs.
EXACT = dict(
    hidden_layer_sizes=(4,),
    max_iter=5,
    batch_size=8,
    random_state=0,
    tol=0.0,
    n_iter_no_change=1000,
    dropout=0.0,
)


def regression_data(n_samples=24, n_timesteps=5, n_features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_timesteps, n_features))
    return X, X[:, :, 0].mean(axis=1) + 0.5 * X[:, -1, -1]


class Recorder(Callback):
    """Keeps every call, and the predictions of the estimator at that moment."""

    def __init__(self, X=None, stop_at=None):
        self.X = X
        self.stop_at = stop_at

    def on_train_begin(self, estimator):
        self.begun_ = getattr(self, "begun_", 0) + 1
        self.calls_ = []

    def on_epoch_end(self, estimator, record):
        predictions = None if self.X is None else estimator.predict(self.X)
        self.calls_.append((estimator, dict(record), predictions))
        return self.stop_at is not None and record["epoch"] >= self.stop_at


def test_callback_gets_the_estimator_and_each_epoch_record():
    X, y = regression_data()
    recorder = Recorder()
    model = RNNRegressor(**EXACT, callbacks=[recorder]).fit(X, y)
    assert len(recorder.calls_) == model.n_iter_ == 5
    assert all(estimator is model for estimator, _, _ in recorder.calls_)
    assert [record for _, record, _ in recorder.calls_] == model.history_


def test_plain_function_callback():
    X, y = regression_data()
    epochs = []
    RNNRegressor(**EXACT, callbacks=[lambda est, rec: epochs.append(rec["epoch"])]).fit(X, y)
    assert epochs == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_callback_returning_true_stops_training(Estimator):
    X, y = regression_data()
    if Estimator is RNNClassifier:
        y = y > 0
    recorder = Recorder(stop_at=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a stop is not a failure
        model = Estimator(**dict(EXACT, max_iter=50), callbacks=[recorder]).fit(X, y)
    assert model.n_iter_ == 3 == len(model.history_) == len(recorder.calls_)


def test_every_callback_runs_even_when_one_stops():
    X, y = regression_data()
    first, second = Recorder(stop_at=2), Recorder()
    model = RNNRegressor(**EXACT, callbacks=[first, second]).fit(X, y)
    assert model.n_iter_ == 2 and len(second.calls_) == 2


def test_callback_can_predict_with_the_current_weights():
    X, y = regression_data()
    recorder = Recorder(X=X)
    model = RNNRegressor(**EXACT, callbacks=[recorder]).fit(X, y)
    seen = [predictions for _, _, predictions in recorder.calls_]
    assert_array_equal(seen[-1], model.predict(X))
    assert not np.array_equal(seen[0], seen[-1])
    # Mid-training predictions are those of a model trained for that many epochs.
    two_epochs = RNNRegressor(**dict(EXACT, max_iter=2)).fit(X, y)
    assert_array_equal(seen[1], two_epochs.predict(X))


def test_on_train_begin_runs_once_per_fit_and_partial_fit():
    X, y = regression_data()
    recorder = Recorder()
    model = RNNRegressor(**EXACT, callbacks=[recorder]).fit(X, y)
    assert recorder.begun_ == 1
    model.partial_fit(X, y)
    assert recorder.begun_ == 2 and len(recorder.calls_) == 1


def test_callbacks_survive_clone():
    X, y = regression_data()
    model = RNNRegressor(**EXACT, callbacks=[Recorder(stop_at=2)])
    copy = clone(model)
    assert copy.callbacks[0] is not model.callbacks[0]
    assert copy.fit(X, y).n_iter_ == 2


@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_prints_one_line_per_epoch(capsys, early_stopping):
    X, y = regression_data()
    model = RNNRegressor(**EXACT, verbose=1, early_stopping=early_stopping).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == model.n_iter_ == 5
    for epoch, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {epoch}: loss ")
        assert ("validation score" in line) == early_stopping
    RNNRegressor(**EXACT).fit(X, y)
    assert capsys.readouterr().out == ""


def test_print_progress_writes_to_its_sink():
    X, y = regression_data()
    lines = []
    model = RNNRegressor(**EXACT, callbacks=[PrintProgress(sink=lines.append)]).fit(X, y)
    assert len(lines) == model.n_iter_
    assert lines[0].startswith("epoch 1: loss ")
    assert f"{model.loss_curve_[0]:.5f}" in lines[0]


# ---------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_between_batches_stops_cleanly(monkeypatch):
    """Simulate Ctrl-C at the start of epoch 3: the model keeps epoch 2's weights."""
    X, y = regression_data()
    real_run_epoch, calls = rnnlearn._training.run_epoch, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_run_epoch(*args, **kwargs)

    monkeypatch.setattr(rnnlearn._training, "run_epoch", interrupted)
    model = RNNRegressor(**EXACT)
    with pytest.warns(TrainingInterruptedWarning, match="interrupted in epoch 3"):
        assert model.fit(X, y) is model
    assert model.n_iter_ == 3
    assert model.history_[-1]["status"] == "interrupted"
    assert [r["status"] for r in model.history_[:2]] == ["ok", "ok"]
    monkeypatch.undo()
    assert_array_equal(
        model.predict(X), RNNRegressor(**dict(EXACT, max_iter=2)).fit(X, y).predict(X)
    )
    # Training can go on from there.
    model.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert model.n_iter_ == 5 and np.all(np.isfinite(model.predict(X)))


class InterruptingLoss(SquaredError):
    """Squared error that raises KeyboardInterrupt on its n-th call (shared counter)."""

    calls = 0
    interrupt_at = None

    def loss_gradient(self, y, raw, weights=None, total_weight=None):
        type(self).calls += 1
        if type(self).calls == type(self).interrupt_at:
            raise KeyboardInterrupt
        return super().loss_gradient(y, raw, weights, total_weight)


def test_ctrl_c_in_the_middle_of_an_epoch_leaves_a_usable_model(monkeypatch):
    X, y = regression_data()
    monkeypatch.setattr(InterruptingLoss, "calls", 0)
    monkeypatch.setattr(InterruptingLoss, "interrupt_at", 2 * 3 + 2)  # 3 batches per epoch
    model = RNNRegressor(**EXACT, loss=InterruptingLoss())
    with pytest.warns(TrainingInterruptedWarning):
        model.fit(X, y)
    assert model.n_iter_ == 3 and model.history_[-1]["status"] == "interrupted"
    assert np.all(np.isfinite(model._params))
    predictions = model.predict(X)
    assert np.all(np.isfinite(predictions))
    # One minibatch step of epoch 3 was taken before the interrupt.
    two_epochs = RNNRegressor(**dict(EXACT, max_iter=2)).fit(X, y)
    assert not np.array_equal(predictions, two_epochs.predict(X))
    assert np.isfinite(model.score(X, y))


def test_callback_stop_with_early_stopping_restores_the_best_weights():
    """A callback's stop leaves the model as early stopping would: best epoch restored."""
    X, y = regression_data(n_samples=40)

    class KeepParams(Recorder):
        def on_epoch_end(self, estimator, record):
            self.params_ = [*getattr(self, "params_", []), estimator._params.copy()]
            return super().on_epoch_end(estimator, record)

    recorder = KeepParams(stop_at=9)
    params = dict(EXACT, max_iter=50, early_stopping=True, validation_fraction=0.25)
    # With the last state at this rate, the scores peak early.
    params.update(cell="lstm", max_grad_norm=None, pooling="last")
    model = RNNRegressor(**params, optimizer=Adam(learning_rate=0.05), callbacks=[recorder])
    model.fit(X, y)
    assert model.n_iter_ == 9
    best = int(np.argmax(model.validation_scores_))
    assert best < 8  # the stop is not at the best epoch, so something is restored
    assert_array_equal(model._params, recorder.params_[best])
    # Callbacks saw each epoch's own weights, the last one included.
    assert not np.array_equal(recorder.params_[-1], model._params)
