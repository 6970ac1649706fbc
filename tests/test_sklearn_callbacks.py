"""scikit-learn's callback API (``sklearn.callback``): contexts, monitors, stopping."""

import importlib.util
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn.callbacks import Callback
from rnnlearn.optimizers import Adam

HAS_CALLBACKS = importlib.util.find_spec("sklearn.callback") is not None
HAS_RICH = importlib.util.find_spec("rich") is not None

pytestmark = [
    pytest.mark.usefixtures("single_blas_thread"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]
needs_callbacks = pytest.mark.skipif(
    not HAS_CALLBACKS, reason="scikit-learn has no sklearn.callback (it needs >= 1.9)"
)

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


def task_path(context):
    """``"Estimator:task"`` labels from the root task down to ``context``."""
    labels = []
    while context is not None:
        labels.append(f"{context.estimator_name}:{context.task_name}")
        context = context.parent
    return labels[::-1]


class TaskRecorder:
    """An sklearn fit callback that records every task end and can stop at an epoch."""

    def __init__(self, stop_at_epoch=None):
        self.stop_at_epoch = stop_at_epoch
        self.ends = []
        self.setups = 0
        self.teardowns = 0

    def setup(self, estimator, context):
        self.setups += 1

    def teardown(self, estimator, context):
        self.teardowns += 1

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.ends.append((task_path(context), context, fitted_estimator))
        return context.task_name == "epoch" and context.task_id + 1 == self.stop_at_epoch

    def epochs(self):
        """``(path, context, fitted_estimator)`` of each epoch task, in order."""
        return [end for end in self.ends if end[1].task_name == "epoch"]


class PropagatedTaskRecorder(TaskRecorder):
    """A :class:`TaskRecorder` that meta-estimators pass on to their sub-estimators."""

    max_propagation_depth = None


class Snapshot(Callback):
    """An rnnlearn callback keeping each epoch's score (a scorer's name) and parameters."""

    def __init__(self, X=None, y=None, scoring=None, stop_at=None):
        self.X = X
        self.y = y
        self.scoring = scoring
        self.stop_at = stop_at

    def on_train_begin(self, estimator):
        self.scores_, self.params_ = [], []

    def on_epoch_end(self, estimator, record):
        if self.scoring is not None:
            self.scores_.append(get_scorer(self.scoring)(estimator, self.X, self.y))
        self.params_.append(estimator._params.copy())
        return record["epoch"] == self.stop_at


# ---------------------------------------------------------------------------- parameters


@needs_callbacks
@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_set_callbacks_leaves_parameters_and_clone_alone(Estimator):
    model = Estimator(**EXACT)
    params = model.get_params()
    recorder = TaskRecorder()
    assert model.set_callbacks(recorder) is model
    assert model.get_params() == params
    copy = clone(model)
    assert copy.get_params() == params
    assert copy._skl_callbacks == [recorder]  # shared by reference, as sklearn does
    assert "_skl_callbacks" not in clone(Estimator(**EXACT)).__dict__


# ---------------------------------------------------------------------------- task trees


@needs_callbacks
def test_fit_is_a_task_with_one_subtask_per_epoch():
    X, y = regression_data()
    recorder = TaskRecorder()
    model = RNNRegressor(**EXACT).set_callbacks(recorder).fit(X, y)
    epochs = recorder.epochs()
    assert [path for path, _, _ in epochs] == [["RNNRegressor:fit", "RNNRegressor:epoch"]] * 5
    assert [context.task_id for _, context, _ in epochs] == [0, 1, 2, 3, 4]
    root = recorder.ends[-1][1]
    assert root.task_name == "fit" and root.parent is None and root.max_subtasks == 5
    assert len(recorder.ends) == model.n_iter_ + 1
    assert recorder.setups == recorder.teardowns == 1
    assert not hasattr(model, "_callback_fit_ctx")


@needs_callbacks
def test_epochs_nest_under_each_grid_search_candidate():
    X, y = regression_data()
    recorder = PropagatedTaskRecorder()
    grid = {"alpha": [0.0, 0.1], "max_iter": [2, 3]}
    search = GridSearchCV(RNNRegressor(**EXACT), grid, cv=2).set_callbacks(recorder)
    search.fit(X, y)
    epochs = recorder.epochs()
    evaluation = [
        "GridSearchCV:fit",
        "GridSearchCV:search",
        "RNNRegressor:fit",
        "RNNRegressor:epoch",
    ]
    refit = ["GridSearchCV:fit", "RNNRegressor:fit", "RNNRegressor:epoch"]
    n_evaluated = sum(path == evaluation for path, _, _ in epochs)
    assert n_evaluated == 2 * (2 + 3) * 2  # alphas x epochs of each max_iter x folds
    assert sum(path == refit for path, _, _ in epochs) == search.best_params_["max_iter"]
    # Each candidate's fit is merged with the search's evaluation task.
    fits = {context.parent for _, context, _ in epochs}
    assert {fit.source_task_name for fit in fits} == {
        "candidate-split-evaluation",
        "refit-with-best-params",
    }
    assert len(fits) == 2 * 2 * 2 + 1
    for fit in fits:
        assert fit.max_subtasks == len(fit._children_map)


@needs_callbacks
@pytest.mark.filterwarnings("ignore:The estimator FunctionTransformer does not support")
def test_epochs_nest_under_a_pipeline():
    X, y = regression_data()
    recorder = PropagatedTaskRecorder()
    pipe = make_pipeline(FunctionTransformer(), RNNClassifier(**EXACT))
    pipe.set_callbacks(recorder).fit(X, y > 0)
    paths = [path for path, _, _ in recorder.epochs()]
    assert paths == [["Pipeline:fit", "RNNClassifier:fit", "RNNClassifier:epoch"]] * 5


@needs_callbacks
@pytest.mark.skipif(not HAS_RICH, reason="ProgressBar needs rich (the 'progress' extra)")
def test_progress_bar_over_a_grid_search():
    from sklearn.callback import ProgressBar

    X, y = regression_data()
    recorder = PropagatedTaskRecorder()
    search = GridSearchCV(RNNRegressor(**EXACT), {"alpha": [0.0, 0.1]}, cv=2)
    search.set_callbacks(ProgressBar(), recorder).fit(X, y)
    assert len(recorder.epochs()) == (2 * 2 + 1) * EXACT["max_iter"]
    assert search.best_estimator_.n_iter_ == EXACT["max_iter"]


# ---------------------------------------------------------------------------- monitors


def epoch_scores(monitor, scoring):
    """The scores a ScoringMonitor logged for the epoch tasks of its last run, in order."""
    rows = monitor.get_logs().data
    return [row[scoring] for row in rows if row["task_name"] == "epoch"]


@needs_callbacks
@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_scoring_monitor_scores_each_epochs_weights(Estimator, early_stopping):
    from sklearn.callback import ScoringMonitor

    X, y = regression_data(n_samples=40)
    scoring = "r2"
    if Estimator is RNNClassifier:
        y, scoring = y > 0, "accuracy"
    monitor, snapshot = ScoringMonitor(scoring=scoring), Snapshot(X, y, scoring)
    params = dict(EXACT, early_stopping=early_stopping, callbacks=[snapshot])
    model = Estimator(**params).set_callbacks(monitor).fit(X, y)
    scores = epoch_scores(monitor, scoring)
    assert len(scores) == model.n_iter_ == 5
    assert scores == snapshot.scores_
    if not early_stopping:  # (a shorter fit with early stopping restores its best epoch)
        for epochs in (1, 3):
            refit = Estimator(**dict(params, max_iter=epochs, callbacks=None)).fit(X, y)
            assert scores[epochs - 1] == get_scorer(scoring)(refit, X, y)


@needs_callbacks
def test_fitted_estimator_is_independent_of_later_epochs():
    X, y = regression_data()
    recorder, snapshot = TaskRecorder(), Snapshot()
    RNNRegressor(**EXACT, callbacks=[snapshot]).set_callbacks(recorder).fit(X, y)
    for (_, _, fitted), params in zip(recorder.epochs(), snapshot.params_, strict=True):
        assert_array_equal(fitted._params, params)
    assert [fitted.n_iter_ for _, _, fitted in recorder.epochs()] == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------------------- stopping


@needs_callbacks
@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_sklearn_callback_stop_ends_training_after_that_epoch(Estimator):
    X, y = regression_data()
    if Estimator is RNNClassifier:
        y = y > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a stop is not a failure
        model = Estimator(**dict(EXACT, max_iter=50))
        model.set_callbacks(TaskRecorder(stop_at_epoch=3)).fit(X, y)
    assert model.n_iter_ == 3 == len(model.history_)
    three_epochs = Estimator(**dict(EXACT, max_iter=3)).fit(X, y)
    assert_array_equal(model._params, three_epochs._params)
    assert_array_equal(model.predict(X), three_epochs.predict(X))


@needs_callbacks
def test_stop_with_early_stopping_restores_the_best_validated_weights():
    X, y = regression_data(n_samples=40)
    params = dict(
        EXACT,
        max_iter=50,
        early_stopping=True,
        validation_fraction=0.25,
        optimizer=Adam(learning_rate=0.05),
        cell="lstm",
        max_grad_norm=None,  # unclipped at this rate, the last state's scores peak early
        pooling="last",
    )
    snapshot = Snapshot()
    model = RNNRegressor(**params, callbacks=[snapshot])
    model.set_callbacks(TaskRecorder(stop_at_epoch=9)).fit(X, y)
    assert model.n_iter_ == 9
    best = int(np.argmax(model.validation_scores_))
    assert best < 8  # the stop is not at the best epoch, so something is restored
    assert model.best_validation_score_ == model.validation_scores_[best]
    assert_array_equal(model._params, snapshot.params_[best])
    # Exactly as a stop from rnnlearn's own callbacks leaves it.
    ours = RNNRegressor(**params, callbacks=[Snapshot(stop_at=9)]).fit(X, y)
    assert_array_equal(model._params, ours._params)
    assert [r["loss"] for r in model.history_] == [r["loss"] for r in ours.history_]
    assert model.best_validation_score_ == ours.best_validation_score_


# ---------------------------------------------------------------------------- partial_fit


@needs_callbacks
def test_partial_fit_is_a_task_with_one_epoch():
    from sklearn.callback import ScoringMonitor

    X, y = regression_data()
    recorder, monitor = TaskRecorder(stop_at_epoch=1), ScoringMonitor(scoring="r2")
    model = RNNRegressor(**EXACT).set_callbacks(recorder, monitor)
    for _ in range(3):
        model.partial_fit(X, y)  # a stop request changes nothing: the call is one epoch
        assert epoch_scores(monitor, "r2") == [get_scorer("r2")(model, X, y)]
    assert model.n_iter_ == 3
    paths = [path for path, _, _ in recorder.epochs()]
    assert paths == [["RNNRegressor:partial_fit", "RNNRegressor:epoch"]] * 3
    assert {context.parent.max_subtasks for _, context, _ in recorder.epochs()} == {1}
    assert len(monitor.get_logs(select="all")) == 3
    # Three calls train exactly as three epochs of fit.
    assert_array_equal(model._params, RNNRegressor(**dict(EXACT, max_iter=3)).fit(X, y)._params)


# ---------------------------------------------------------------------------- old sklearn


def test_estimators_work_without_sklearn_callback():
    """With a scikit-learn that has no sklearn.callback, fitting works as before."""
    code = (
        "import sys, sklearn.linear_model, sklearn.model_selection, sklearn.pipeline\n"
        "sys.modules['sklearn.callback'] = None  # from sklearn.callback import ... fails\n"
        "import numpy as np, warnings; warnings.simplefilter('ignore')\n"
        "from rnnlearn import RNNRegressor\n"
        "X = np.random.RandomState(0).normal(size=(20, 4, 2))\n"
        "model = RNNRegressor(hidden_layer_sizes=3, max_iter=2, random_state=0)\n"
        "model.fit(X, X[:, -1, 0]).partial_fit(X, X[:, -1, 0])\n"
        "assert model.n_iter_ == 3 and not hasattr(model, 'set_callbacks')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
