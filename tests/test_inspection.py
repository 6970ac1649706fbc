"""Tests of rnnlearn.inspection: the training-curve display."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline

from rnnlearn import RNNClassifier, RNNRegressor
from rnnlearn.inspection import TrainingCurveDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.usefixtures("single_blas_thread"),
]

ESTIMATORS = [RNNRegressor, RNNClassifier]


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure a test opened."""
    yield
    plt.close("all")


def make_data(estimator_class, n_samples=60):
    """Small sequences and targets that ``estimator_class`` can fit."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, 5, 2))
    total = X.sum(axis=(1, 2))
    return X, (total > 0).astype(int) if estimator_class is RNNClassifier else total


def fitted(estimator_class, **params):
    """An ``estimator_class`` with 4 hidden units fitted on :func:`make_data`."""
    params = {"hidden_layer_sizes": 4, "max_iter": 6, "random_state": 0, **params}
    return estimator_class(**params).fit(*make_data(estimator_class))


def column(estimator, key):
    """The ``key`` entry of every ``history_`` record, as floats (``None`` as NaN)."""
    return np.array([record[key] for record in estimator.history_], dtype=float)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_loss_line_is_the_history_without_early_stopping(estimator_class):
    model = fitted(estimator_class)
    display = TrainingCurveDisplay.from_estimator(model)

    assert list(display.lines_) == ["loss"]
    line = display.lines_["loss"]
    np.testing.assert_array_equal(line.get_xdata(), column(model, "epoch"))
    np.testing.assert_array_equal(line.get_ydata(), column(model, "loss"))
    assert display.validation_ax_ is None and display.best_epoch_line_ is None
    assert display.ax_.get_xlabel() == "epoch"
    assert display.figure_ is display.ax_.figure


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_validation_line_on_a_twin_axis_with_early_stopping(estimator_class):
    model = fitted(estimator_class, max_iter=30, early_stopping=True, n_iter_no_change=2)
    display = TrainingCurveDisplay.from_estimator(model)

    assert list(display.lines_) == ["loss", "validation_score"]
    line = display.lines_["validation_score"]
    np.testing.assert_array_equal(line.get_xdata(), column(model, "epoch"))
    np.testing.assert_array_equal(line.get_ydata(), model.validation_scores_)
    assert line.axes is display.validation_ax_
    assert display.validation_ax_.get_shared_x_axes().joined(display.ax_, display.validation_ax_)
    assert display.lines_["loss"].axes is display.ax_


def test_best_epoch_is_marked_where_the_validation_score_peaks():
    model = fitted(RNNRegressor, max_iter=30, early_stopping=True, n_iter_no_change=2)
    display = TrainingCurveDisplay.from_estimator(model)

    best = int(np.argmax(model.validation_scores_)) + 1
    assert model.validation_scores_[best - 1] == model.best_validation_score_
    assert display.best_epoch == best
    assert display.best_epoch_line_.get_xdata()[0] == best


def test_one_legend_names_every_curve_and_the_estimator():
    model = fitted(RNNClassifier, max_iter=30, early_stopping=True, n_iter_no_change=2)
    display = TrainingCurveDisplay.from_estimator(model, name="GRU")

    legend = display.validation_ax_.get_legend()
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels == [
        "training loss (GRU)",
        f"best epoch ({display.best_epoch})",
        "validation score (GRU)",
    ]
    assert display.ax_.get_legend() is None


def test_estimator_name_defaults_to_the_class_name():
    display = TrainingCurveDisplay.from_estimator(fitted(RNNRegressor))
    assert display.estimator_name == "RNNRegressor"
    assert display.lines_["loss"].get_label() == "training loss (RNNRegressor)"


def test_plots_into_a_given_ax_and_applies_line_keywords():
    figure, (left, right) = plt.subplots(1, 2)
    model = fitted(RNNRegressor, max_iter=30, early_stopping=True, n_iter_no_change=2)
    display = TrainingCurveDisplay.from_estimator(
        model, ax=right, loss_kw={"c": "red", "ls": ":"}, validation_kw={"linewidth": 3}
    )

    assert display.ax_ is right and display.figure_ is figure
    assert display.lines_["loss"] in right.lines and not left.lines
    assert display.lines_["loss"].get_color() == "red"
    assert display.lines_["loss"].get_linestyle() == ":"
    assert display.lines_["validation_score"].get_linewidth() == 3


def test_plot_returns_self_and_draws_the_given_arrays():
    display = TrainingCurveDisplay(epochs=[1, 2, 3], loss=[0.9, 0.5, 0.4])
    assert display.plot() is display

    np.testing.assert_array_equal(display.lines_["loss"].get_ydata(), [0.9, 0.5, 0.4])
    assert display.lines_["loss"].get_label() == "training loss"
    assert display.validation_ax_ is None


def test_missing_validation_scores_are_gaps():
    display = TrainingCurveDisplay(
        epochs=[1, 2, 3], loss=[0.9, 0.5, 0.4], validation_score=[None, 0.6, 0.7], best_epoch=3
    ).plot()

    np.testing.assert_array_equal(
        display.lines_["validation_score"].get_ydata(), [np.nan, 0.6, 0.7]
    )
    assert display.best_epoch_line_.get_xdata()[0] == 3


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_continued_training_shows_every_epoch(estimator_class):
    X, y = make_data(estimator_class)
    model = fitted(estimator_class, max_iter=3, warm_start=True)
    model.fit(X, y)
    model.partial_fit(X, y)

    display = TrainingCurveDisplay.from_estimator(model)
    np.testing.assert_array_equal(display.lines_["loss"].get_xdata(), np.arange(1, 8))
    np.testing.assert_array_equal(display.lines_["loss"].get_ydata(), model.loss_curve_)


@pytest.mark.parametrize("estimator_class", ESTIMATORS)
def test_unfitted_estimator_raises_not_fitted(estimator_class):
    with pytest.raises(NotFittedError):
        TrainingCurveDisplay.from_estimator(estimator_class())


@pytest.mark.parametrize(
    "estimator", [LinearRegression(), make_pipeline(RNNRegressor()), "RNNRegressor"]
)
def test_other_objects_raise_type_error(estimator):
    with pytest.raises(TypeError, match="needs an RNNRegressor or RNNClassifier"):
        TrainingCurveDisplay.from_estimator(estimator)


def test_plot_without_matplotlib_raises_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    display = TrainingCurveDisplay(epochs=[1], loss=[0.5])
    with pytest.raises(ImportError, match=r"TrainingCurveDisplay.plot requires matplotlib"):
        display.plot()


def test_importing_rnnlearn_does_not_import_matplotlib():
    code = "import rnnlearn, sys; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
