"""Per-epoch callbacks: progress output and user hooks (the R package's ``epoch_function``)."""

# SPDX-License-Identifier: BSD-3-Clause

from sklearn.base import BaseEstimator


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
