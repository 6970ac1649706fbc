"""Plots of how a fitted estimator trained, drawn from its ``history_``.

matplotlib is imported only when something is drawn, so ``import rnnlearn`` works
without it.
"""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import BaseRNN

__all__ = ["TrainingCurveDisplay"]

_LOSS_STYLE = {"color": "C0", "marker": "."}
_VALIDATION_STYLE = {"color": "C1", "marker": "."}
_BEST_EPOCH_STYLE = {"color": "grey", "linestyle": "--", "linewidth": 1}


def _import_pyplot(caller):
    """Return ``matplotlib.pyplot``, or raise an ImportError that names ``caller``.

    Parameters
    ----------
    caller : str
        The function that needs matplotlib, named in the error message.

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            f"{caller} requires matplotlib; install it with `pip install matplotlib` "
            f"(or the examples extra: `pip install 'rnnlearn[examples]'`)."
        ) from error
    return plt


def _line_style(defaults, user_kw):
    """Keyword arguments of a line: ``defaults`` overridden by the user's, aliases resolved.

    Parameters
    ----------
    defaults : dict
        Default properties, spelled with matplotlib's full names (``color``, not ``c``).
    user_kw : dict or None
        The caller's properties; aliases such as ``c`` or ``ls`` are allowed.

    Returns
    -------
    dict
        The merged keyword arguments for ``Axes.plot``.
    """
    from matplotlib.cbook import normalize_kwargs
    from matplotlib.lines import Line2D

    return {**defaults, **normalize_kwargs(user_kw or {}, Line2D)}


def _fitted_history(estimator, caller):
    """The ``history_`` of a fitted rnnlearn estimator; raise if it has none.

    Parameters
    ----------
    estimator : object
        Should be a fitted :class:`~rnnlearn.RNNRegressor` or
        :class:`~rnnlearn.RNNClassifier`.
    caller : str
        Named in the error messages.

    Returns
    -------
    list of dict
        One record per epoch.

    Raises
    ------
    TypeError
        If ``estimator`` is not an rnnlearn estimator.
    sklearn.exceptions.NotFittedError
        If it has not been fitted.
    """
    if not isinstance(estimator, BaseRNN):
        raise TypeError(
            f"{caller} needs an RNNRegressor or RNNClassifier, got "
            f"{type(estimator).__name__}. For a Pipeline or a search, pass the fitted "
            f"network itself, e.g. pipeline[-1] or search.best_estimator_."
        )
    check_is_fitted(estimator, "history_")
    return estimator.history_


class TrainingCurveDisplay:
    """Training curves: the training loss per epoch and, if scored, the validation score.

    Build it with :meth:`from_estimator`, which reads a fitted estimator's ``history_``,
    or from arrays and then call :meth:`plot`. The validation score (R² for
    :class:`~rnnlearn.RNNRegressor`, accuracy for :class:`~rnnlearn.RNNClassifier`)
    has its own y axis on the right, since its scale differs from the loss's.

    Parameters
    ----------
    epochs : array-like of shape (n_epochs,)
        Epoch numbers, from 1.
    loss : array-like of shape (n_epochs,)
        Mean training loss of each epoch.
    validation_score : array-like of shape (n_epochs,), default=None
        Validation score after each epoch; ``None`` or NaN entries are epochs without
        one. ``None`` draws no validation curve.
    best_epoch : int, default=None
        Epoch to mark with a vertical line, such as the one early stopping restored.
        ``None`` marks none.
    estimator_name : str, default=None
        Name shown in the legend; ``None`` shows none.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes of the training loss.
    validation_ax_ : matplotlib Axes or None
        Twin axes (shared x, own y) of the validation score, ``None`` without it.
    figure_ : matplotlib Figure
        Figure holding the axes.
    lines_ : dict of str to matplotlib Line2D
        The curves: ``"loss"`` and, when drawn, ``"validation_score"``.
    best_epoch_line_ : matplotlib Line2D or None
        The best-epoch marker, ``None`` when not drawn.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against training set size.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from rnnlearn import RNNRegressor, make_sine_sequences
    >>> from rnnlearn.inspection import TrainingCurveDisplay
    >>> X, y = make_sine_sequences(100, 10, random_state=0)
    >>> model = RNNRegressor(hidden_layer_sizes=4, max_iter=20, early_stopping=True,
    ...                      n_iter_no_change=2, random_state=0).fit(X, y)
    >>> display = TrainingCurveDisplay.from_estimator(model)
    >>> sorted(display.lines_)
    ['loss', 'validation_score']
    >>> len(display.lines_["loss"].get_xdata()) == model.n_iter_
    True
    >>> plt.close(display.figure_)
    """

    def __init__(
        self, *, epochs, loss, validation_score=None, best_epoch=None, estimator_name=None
    ):
        self.epochs = epochs
        self.loss = loss
        self.validation_score = validation_score
        self.best_epoch = best_epoch
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, loss_kw=None, validation_kw=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw the loss on; ``None`` makes a new figure. The validation
            score goes on a twin of these axes.
        loss_kw : dict, default=None
            Keyword arguments for the loss curve's ``Axes.plot``.
        validation_kw : dict, default=None
            Keyword arguments for the validation curve's ``Axes.plot``.

        Returns
        -------
        display : TrainingCurveDisplay
            This object, with ``ax_``, ``validation_ax_``, ``figure_``, ``lines_`` and
            ``best_epoch_line_`` set.
        """
        plt = _import_pyplot(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        self.ax_, self.figure_ = ax, ax.figure
        self.lines_ = {"loss": self._plot_loss(loss_kw)}
        self.validation_ax_ = None
        if self.validation_score is not None:
            self.validation_ax_ = ax.twinx()
            self.lines_["validation_score"] = self._plot_validation(validation_kw)
        self.best_epoch_line_ = None
        if self.best_epoch is not None:
            self.best_epoch_line_ = ax.axvline(
                self.best_epoch, label=f"best epoch ({self.best_epoch})", **_BEST_EPOCH_STYLE
            )
        self._add_legend()
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, loss_kw=None, validation_kw=None):
        """Plot the training curves of a fitted estimator from its ``history_``.

        Every epoch of ``history_`` is drawn, those of ``warm_start`` fits and
        ``partial_fit`` calls included. With ``early_stopping=True`` the validation
        score is drawn too, and the first epoch with the highest score (the one early
        stopping restores) is marked.

        Parameters
        ----------
        estimator : RNNRegressor or RNNClassifier
            A fitted estimator.
        ax : matplotlib Axes, default=None
            Axes to draw the loss on; ``None`` makes a new figure.
        name : str, default=None
            Name shown in the legend; ``None`` uses the estimator's class name.
        loss_kw : dict, default=None
            Keyword arguments for the loss curve's ``Axes.plot``.
        validation_kw : dict, default=None
            Keyword arguments for the validation curve's ``Axes.plot``.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, already plotted.

        Raises
        ------
        TypeError
            If ``estimator`` is not an rnnlearn estimator.
        sklearn.exceptions.NotFittedError
            If ``estimator`` has not been fitted.
        """
        history = _fitted_history(estimator, f"{cls.__name__}.from_estimator")
        epochs = np.array([record["epoch"] for record in history])
        scores = [record["validation_score"] for record in history]
        validation_score = None
        best_epoch = None
        if any(score is not None for score in scores):
            validation_score = np.array(scores, dtype=float)
            best_epoch = int(epochs[np.nanargmax(validation_score)])  # first of the best
        display = cls(
            epochs=epochs,
            loss=np.array([record["loss"] for record in history], dtype=float),
            validation_score=validation_score,
            best_epoch=best_epoch,
            estimator_name=type(estimator).__name__ if name is None else name,
        )
        return display.plot(ax=ax, loss_kw=loss_kw, validation_kw=validation_kw)

    def _label(self, curve):
        """Legend label of ``curve``, with the estimator's name when there is one."""
        return curve if self.estimator_name is None else f"{curve} ({self.estimator_name})"

    def _plot_loss(self, loss_kw):
        """Draw the loss on ``ax_``; return its line."""
        style = _line_style({**_LOSS_STYLE, "label": self._label("training loss")}, loss_kw)
        (line,) = self.ax_.plot(self.epochs, np.asarray(self.loss, dtype=float), **style)
        self.ax_.set(xlabel="epoch", ylabel="training loss")
        self._use_integer_epochs()
        return line

    def _plot_validation(self, validation_kw):
        """Draw the validation score on ``validation_ax_``; return its line."""
        defaults = {**_VALIDATION_STYLE, "label": self._label("validation score")}
        style = _line_style(defaults, validation_kw)
        scores = np.asarray(self.validation_score, dtype=float)
        (line,) = self.validation_ax_.plot(self.epochs, scores, **style)
        self.validation_ax_.set_ylabel("validation score")
        return line

    def _use_integer_epochs(self):
        """Put x ticks on whole epochs only."""
        from matplotlib.ticker import MaxNLocator

        self.ax_.xaxis.set_major_locator(MaxNLocator(integer=True))

    def _add_legend(self):
        """One legend for the curves of both y axes, on the top axes so none hides it."""
        handles, labels = self.ax_.get_legend_handles_labels()
        if self.validation_ax_ is None:
            self.ax_.legend(handles, labels)
            return
        more_handles, more_labels = self.validation_ax_.get_legend_handles_labels()
        self.validation_ax_.legend(handles + more_handles, labels + more_labels)
