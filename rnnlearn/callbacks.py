"""Per-epoch callbacks: progress output and user hooks (the R package's ``epoch_function``).

The estimators also take part in scikit-learn's callback API (``sklearn.callback``,
scikit-learn >= 1.9) through ``set_callbacks``. Both kinds run through one per-epoch
dispatch, ``_EpochDispatch``.
"""

# SPDX-License-Identifier: BSD-3-Clause

from sklearn.base import BaseEstimator

try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks
except ImportError:  # scikit-learn < 1.9: no sklearn.callback, no set_callbacks

    class CallbackSupportMixin:
        """Stand-in for ``sklearn.callback.CallbackSupportMixin``: adds nothing."""

    def with_callbacks(method):
        """Stand-in for ``sklearn.callback.with_callbacks``: ``method`` itself."""
        return method


__all__ = ["Callback", "PrintProgress"]


class Callback(BaseEstimator):
    """Base class of the callbacks an estimator calls after every epoch.

    A plain function ``f(estimator, record)`` serves as a callback too; a :class:`Callback`
    subclass adds :meth:`on_train_begin` to reset its own state. Callbacks are
    hyperparameters: state they keep between epochs lives in attributes ending in ``_``.

    Examples
    --------
    >>> from rnnlearn.callbacks import Callback
    >>> class StopBelow(Callback):
    ...     def __init__(self, threshold=0.01):
    ...         self.threshold = threshold
    ...     def on_epoch_end(self, estimator, record):
    ...         return record["loss"] < self.threshold
    >>> StopBelow(0.05).on_epoch_end(None, {"loss": 0.01})
    True
    """

    def on_train_begin(self, estimator):
        """Called once at the start of ``fit`` and of every ``partial_fit``.

        Parameters
        ----------
        estimator : RNNRegressor or RNNClassifier
            The estimator being trained.
        """

    def on_epoch_end(self, estimator, record):
        """Called after every epoch, once the estimator holds that epoch's weights.

        Parameters
        ----------
        estimator : RNNRegressor or RNNClassifier
            The estimator being trained; ``predict`` and ``score`` use the current weights.
        record : dict
            The epoch's entry of ``history_``: ``epoch``, ``loss``, ``validation_score``,
            ``learning_rate``, ``duration`` (seconds) and ``status``.

        Returns
        -------
        bool
            ``True`` stops training after this epoch.
        """
        return False

    def __call__(self, estimator, record):
        return self.on_epoch_end(estimator, record)


class PrintProgress(Callback):
    """Print one line per epoch, like the R package's ``epoch_print``.

    Parameters
    ----------
    sink : callable, default=print
        Receives each line; pass ``logging.getLogger(...).info`` or ``list.append``.

    Examples
    --------
    >>> lines = []
    >>> PrintProgress(sink=lines.append).on_epoch_end(None, {
    ...     "epoch": 3, "loss": 0.25, "validation_score": None,
    ...     "learning_rate": 0.01, "duration": 0.5, "status": "ok"})
    False
    >>> lines[0]
    'epoch 3: loss 0.25000, learning rate 0.01, 0.50 s'
    """

    def __init__(self, sink=print):
        self.sink = sink

    def on_epoch_end(self, estimator, record):
        """Print the record; see :meth:`Callback.on_epoch_end`."""
        parts = [f"epoch {record['epoch']}: loss {record['loss']:.5f}"]
        if record["validation_score"] is not None:
            parts.append(f"validation score {record['validation_score']:.5f}")
        parts.append(f"learning rate {record['learning_rate']:.3g}")
        parts.append(f"{record['duration']:.2f} s")
        if record["status"] != "ok":
            parts.append(record["status"])
        self.sink(", ".join(parts))
        return False


class _EpochDispatch:
    """The one per-epoch dispatch of a training run: rnnlearn's callbacks and sklearn's.

    rnnlearn's callbacks (``callbacks=``, ``verbose``) get ``(estimator, record)``.
    scikit-learn's (``set_callbacks``) get the tasks of a callback context: the run is
    the root task and each epoch one subtask named ``"epoch"``, whose end hook receives
    the epoch's fitted attributes (its ``fitted_estimator`` predicts with that epoch's
    weights).

    Parameters
    ----------
    callbacks : tuple of callable
        rnnlearn callbacks, :class:`PrintProgress` first when ``verbose``.
    context : sklearn.callback.CallbackContext or None
        The run's root context, ``None`` without ``sklearn.callback``.
    X, y : array-like
        The training data as the user passed it, handed to sklearn's hooks.
    metadata : dict or None
        Training metadata for sklearn's hooks (``sample_weight``).
    """

    def __init__(self, callbacks, context, X, y, metadata):
        self.callbacks = callbacks
        self.context = context
        self.data = {"X": X, "y": y, "metadata": metadata}
        self._epoch_context = None

    def begin_training(self, estimator):
        """Start the run: ``on_train_begin`` and the root task's begin hook."""
        for callback in self.callbacks:
            if hasattr(callback, "on_train_begin"):
                callback.on_train_begin(estimator)
        if self.context is not None:
            self.context.call_on_fit_task_begin(estimator=estimator, **self.data)

    def begin_epoch(self, estimator):
        """Open the epoch's subtask and call its begin hook."""
        if self.context is not None:
            self._epoch_context = self.context.subcontext(task_name="epoch")
            self._epoch_context.call_on_fit_task_begin(estimator=estimator, **self.data)

    def end_epoch(self, estimator, record, attributes):
        """Call every callback at the end of an epoch; return whether one asks to stop.

        Parameters
        ----------
        estimator : RNNRegressor or RNNClassifier
            The estimator, holding the epoch's weights.
        record : dict
            The epoch's ``history_`` entry.
        attributes : callable
            Returns the epoch's fitted attributes; called only if a hook needs them.

        Returns
        -------
        bool
            Whether any callback returned true.
        """
        stops = [bool(callback(estimator, record)) for callback in self.callbacks]
        if self.context is not None:
            stops.append(
                self._epoch_context.call_on_fit_task_end(
                    estimator=estimator, reconstruction_attributes=attributes, **self.data
                )
            )
        return any(stops)

    def end_training(self, estimator):
        """End the run: the root task's end hook, with the estimator as fitted."""
        if self.context is not None:
            self.context.call_on_fit_task_end(
                estimator=estimator, reconstruction_attributes={}, **self.data
            )
