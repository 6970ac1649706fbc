"""The recurrent network classifier."""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import type_of_target

from ._base import BaseRNN
from ._network import step_mask
from ._validation import check_targets
from .losses import LogLoss


class RNNClassifier(ClassifierMixin, BaseRNN):
    """Recurrent neural network classifier (Elman, GRU or LSTM layers, logistic/softmax output).

    Binary problems use one logistic output, multiclass problems a softmax over the
    classes, multilabel indicator targets (``output_mode='last'`` only) one logistic
    output per label; all train on the log loss. With sequence output every step has a
    label.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(128,)
        Hidden units of each recurrent layer, bottom first (the R package's
        ``hidden_dim``); an int is one layer, and stacked layers' sizes may differ. The
        regressor's default is 64: on the real series the defaults were chosen on, 128
        units classified clearly better and regressed no better.
    cell : {'vanilla', 'gru', 'lstm'} or Cell, default='gru'
        The recurrence: an Elman cell, PyTorch's GRU or an LSTM without peepholes, or a
        :class:`~rnnlearn.cells.Cell` object (such as ``LSTMCell(forget_bias=2.0)`` or a
        subclass of your own), which is cloned, so its parameters can be searched as
        ``cell__<name>``. The defaults were chosen on real series: see the user guide's
        "Default settings".
    output_mode : {'last', 'sequence', 'after'}, default='last'
        ``'last'``: one label per sequence (many-to-one); the only mode that takes
        multilabel targets. ``'sequence'``: one label per input step (synced sequence to
        sequence). ``'after'``: ``n_steps`` labels starting at the last input step, fed
        zeros after it (the R package's ``seq_to_seq_unsync``); ``n_steps`` comes from
        ``y``.
    pooling : {'auto', 'last', 'mean', 'max', 'concat'}, default='auto'
        What the output layer reads of each sequence with ``output_mode='last'`` (another
        mode needs ``'auto'`` or ``'last'``): the top layer's state at its last valid
        step, or the mean or elementwise max of the top layer's states over its valid
        steps, padding excluded (Keras' ``GlobalAveragePooling1D`` /
        ``GlobalMaxPooling1D`` after a recurrent layer), or ``'concat'``, the last
        state, the mean and the max side by side (ULMFiT's concat pooling; the output
        layer is three times as wide). ``'auto'`` is ``'max'`` with
        ``output_mode='last'``, which classifies long series best, and ``'last'`` with
        the other modes (the regressor's ``'auto'`` reads the last state).
    bidirectional : bool, default=False
        Run each recurrent layer also backward in time, with its own weights
        (``W_x_reverse``, ... in :attr:`coefs_`), within each sequence's valid steps, and
        concatenate both directions' states: each layer outputs ``2 * n_hidden`` values
        per step, as PyTorch's ``bidirectional=True`` and Keras' ``Bidirectional(...,
        merge_mode="concat")``. With ``output_mode='last'`` and ``pooling='last'`` the
        output layer reads the forward state at the last valid step and the backward
        state after reading the whole sequence (at its first step), PyTorch's ``h_n``;
        mean and max pooling pool the concatenated states, and ``'concat'`` reads
        both. ``output_mode='after'`` is
        refused: after the input ends there is nothing to read backward.
    optimizer : {'adam', 'sgd', 'adagrad', 'rmsprop'} or Optimizer, default='adam'
        Update rule. A name takes the optimizer's defaults (``'adam'``: Adam at a
        learning rate of 0.003); pass an object (e.g. ``SGD(learning_rate=0.1,
        momentum=0.9, decay=0.95)``) to set its hyperparameters, searchable as
        ``optimizer__<name>``. Its state (moment estimates, velocities) lives on the
        fitted estimator, never on the object.
    alpha : float, default=0.0
        L2 penalty on the weights (not biases), at least 0, scaled as in
        ``MLPClassifier``.
    dropout : float, default=0.0
        Rate, in ``[0, 1)``, of inverted dropout on the input of every recurrent layer
        above the first and on the output layer's input (so, like PyTorch's ``dropout``,
        none on the network's input). Each training sequence keeps or drops each unit for
        all its steps (as Keras' ``dropout`` does), kept units scaled by ``1 / (1 -
        dropout)``. Masks are drawn per minibatch from the generator seeded by
        ``random_state``; :meth:`predict`, :meth:`score` and :meth:`hidden_states` never
        drop. No dropout on the recurrent state.
    batch_size : int, default=16
        Sequences per minibatch, at least 1 (capped at the number of samples). Each
        minibatch is cut to its own longest sequence.
    max_iter : int, default=200
        Maximum number of epochs (passes over the training data) of one :meth:`fit`;
        with ``warm_start=True``, of each further call.
    tol : float, default=1e-4
        Improvement of the training loss (or, with ``early_stopping``, of the validation
        score) that counts as progress, at least 0.
    n_iter_no_change : int, default=10
        Epochs without progress by ``tol`` after which training stops, or, with
        ``learning_rate_schedule='plateau'``, the learning rate is cut.
    learning_rate_schedule : {'constant', 'plateau'}, default='plateau'
        ``'plateau'``: where training would stop because the training loss (or, with
        ``early_stopping``, the validation score) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, divide the optimizer's learning rate by 5 and go on,
        as scikit-learn's MLP ``learning_rate="adaptive"`` does; stop once a cut would
        take it below 1e-2 of its initial value (after two cuts). It works with every
        optimizer, and the cut is kept in the optimizer state, so ``warm_start``,
        ``partial_fit`` and saved models go on from it. ``history_`` records each
        epoch's rate. ``'constant'`` stops at once.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data, stratified by label,
        score it (accuracy) after every epoch, stop when the score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the weights of the best epoch. Without
        it, :meth:`fit` restores the weights of the epoch with the lowest training loss.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping, in ``(0, 1)``; used only
        with ``early_stopping=True``.
    shuffle : bool, default=True
        Shuffle the samples before every epoch, with the generator seeded by
        ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights' initialisation, the shuffling, the dropout masks and the
        validation split; an int makes fits reproducible bit for bit.
    warm_start : bool, default=False
        Make the next :meth:`fit` continue from the fitted weights and optimizer state,
        for up to ``max_iter`` more epochs, instead of starting over. A network of
        another shape or ``dtype`` is refused.
    verbose : int, default=0
        Print one line of progress per epoch when positive.
    max_grad_norm : float or None, default=1.0
        Clip each minibatch gradient to this global Euclidean norm (``None``: no
        clipping), as recurrent networks are usually trained in Keras and PyTorch.
    dtype : {'float32', 'float64'}, default='float32'
        Floating type of the network's weights and of all its arithmetic, whatever the
        input's (``numpy.float32`` and ``numpy.float64`` mean the same). float32, the
        choice of PyTorch and Keras, trains about twice as fast and is ample for
        stochastic gradient descent; choose float64 to check gradients, to match another
        implementation to many digits, or when float32 round-off matters (very long
        sequences, a tiny ``tol``, data beyond float32's range). ``X`` is converted to
        it; :meth:`predict_proba` returns float32 for float32 input and float64 for any
        other (float64, integers, bools), and :meth:`predict` labels of ``classes_``'s
        dtype.
    callbacks : list of callable or None, default=None
        Called after each epoch as ``callback(estimator, record)``, with the epoch's
        record of ``history_``; a true return value stops training. Functions or
        :class:`~rnnlearn.callbacks.Callback` objects; as hyperparameters they are
        copied by ``clone`` and can be searched. scikit-learn's own callbacks
        (``sklearn.callback``, scikit-learn 1.9 or later) go through ``set_callbacks``.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the loss: ``{label: weight}`` (labels left out weigh 1,
        weights finite and at least 0), or ``'balanced'``, ``n_labels / (n_classes *
        count(label))`` over the labels of the data being fitted. ``None`` weighs every
        class 1. Multiplies ``sample_weight``; not used with multilabel targets.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted (label indices ``0 .. n_labels - 1`` for multilabel
        targets).
    coefs_ : list of dict of str to ndarray
        Fitted weights: one dict per recurrent layer (``W_x``, ``W_h``, ``b``, ...), then
        the output layer's (``W``, ``b``); read-only views (see the property).
    cell_ : Cell
        The cell used in training: ``cell`` resolved to an object, or a clone of it.
    optimizer_ : Optimizer
        The optimizer used in training, resolved or cloned from ``optimizer``.
    loss_function_ : LogLoss
        The log loss, with a logistic link (binary and multilabel targets) or a softmax
        (multiclass targets).
    n_features_in_ : int
        Features per time step seen in :meth:`fit`.
    n_outputs_ : int
        Outputs per emitted step: 1 for binary targets, ``n_classes`` for multiclass
        ones, ``n_labels`` for multilabel ones.
    n_iter_ : int
        Epochs run, over all fits that continued this model.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss of each epoch.
    best_loss_ : float or None
        Lowest training loss, whose weights :meth:`fit` restored (``None`` with early
        stopping).
    validation_scores_ : list of float or None
        Validation accuracy of each epoch (``None`` without early stopping).
    best_validation_score_ : float or None
        Best validation accuracy (``None`` without early stopping).
    history_ : list of dict
        One record per epoch: ``epoch``, ``loss``, ``validation_score``,
        ``learning_rate``, ``duration`` (seconds) and ``status`` (``'ok'``, ``'diverged'``
        or ``'interrupted'``).
    t_ : int
        Training samples seen, over all epochs.

    See Also
    --------
    RNNRegressor : The regressor.
    sklearn.neural_network.MLPClassifier : The feed-forward network these parameters follow.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 8, 1))
    >>> y = np.where(X.sum(axis=(1, 2)) > 0, "up", "down")
    >>> clf = RNNClassifier(hidden_layer_sizes=16, cell="gru", max_iter=40,
    ...                     random_state=0).fit(X, y)
    >>> clf.classes_
    array(['down', 'up'], dtype='<U4')
    >>> clf.score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(128,),
        cell="gru",
        *,
        output_mode="last",
        pooling="auto",
        bidirectional=False,
        optimizer="adam",
        alpha=0.0,
        dropout=0.0,
        batch_size=16,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        learning_rate_schedule="plateau",
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=0,
        max_grad_norm=1.0,
        dtype="float32",
        callbacks=None,
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            cell=cell,
            output_mode=output_mode,
            pooling=pooling,
            bidirectional=bidirectional,
            optimizer=optimizer,
            alpha=alpha,
            dropout=dropout,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            learning_rate_schedule=learning_rate_schedule,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            max_grad_norm=max_grad_norm,
            dtype=dtype,
            callbacks=callbacks,
        )
        self.class_weight = class_weight

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch, starting from the fitted state if there is one.

        Parameters
        ----------
        X, y, sample_weight
            As for :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            All labels that will ever appear; required on the first call, ignored after.

        Returns
        -------
        self
        """
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like or list
            Sequences, as for :meth:`fit`.

        Returns
        -------
        ndarray or list of ndarray
            ``(n_samples, n_classes)`` for ``'last'``, ``(n_samples, n_steps, n_classes)``
            otherwise (a list of ``(n_timesteps_i, n_classes)`` for variable-length
            synced sequences). Multilabel: one probability per label.
        """
        X_tm, lengths, dtype = self._check_X(X)
        raw = self._raw_output(X_tm, lengths).astype(dtype, copy=False)
        return self._format_output(self._probabilities(raw), lengths)

    def predict(self, X):
        """Predict labels.

        Parameters
        ----------
        X : array-like or list
            Sequences, as for :meth:`fit`.

        Returns
        -------
        ndarray or list of ndarray
            ``(n_samples,)`` labels for ``'last'`` (``(n_samples, n_labels)`` indicators
            for multilabel), ``(n_samples, n_steps)`` otherwise (a list for
            variable-length synced sequences).
        """
        X_tm, lengths, _ = self._check_X(X)
        return self._format_output(self._labels(self._raw_output(X_tm, lengths)), lengths)

    def _probabilities(self, raw):
        probability = self.loss_function_.link(raw)
        if self._target_kind == "binary":
            return np.concatenate([1 - probability, probability], axis=-1)
        return probability

    def _labels(self, raw):
        if self._target_kind == "multilabel":
            return (raw > 0).astype(int)
        index = (raw[..., 0] > 0).astype(int) if raw.shape[-1] == 1 else raw.argmax(axis=-1)
        return self.classes_[index]

    # The mixin's score would come first in the MRO; ours also scores sequence outputs.
    score = BaseRNN.score

    _encoding_attributes = ("classes_", "_target_kind")

    _auto_pooling = "max"
    _parameter_constraints = {
        **BaseRNN._parameter_constraints,
        "class_weight": None,  # checked against the classes, with the targets
    }

    def _make_loss(self, loss, encoding):
        return LogLoss("softmax" if encoding["_target_kind"] == "multiclass" else "logistic")

    def _encode_targets(self, y, n_samples, lengths, sequence, *, fitted, classes=None):
        Y, _ = check_targets(y, n_samples, lengths, sequence=sequence, numeric=False)
        valid = None  # every step is valid
        if sequence and lengths is not None and Y.shape[1] == lengths.max():
            valid = step_mask(lengths, Y.shape[1]).T
        if Y.shape[2] > 1:
            if sequence:
                raise ValueError(
                    "Sequence output takes one label per step: y must be "
                    f"(n_samples, n_steps); got shape {Y.shape}."
                )
            if type_of_target(Y[:, 0]) != "multilabel-indicator":
                raise ValueError(
                    "A 2-D y with output_mode='last' must be a multilabel "
                    "indicator matrix of 0 and 1; multiclass-multioutput is "
                    "not supported."
                )
            kind, labels_seen = "multilabel", np.arange(Y.shape[2])
        else:
            labels_seen = np.unique(Y[..., 0] if valid is None else Y[valid][:, 0])
            kind = None
            if type_of_target(labels_seen) == "continuous":
                raise ValueError(
                    "Unknown label type: continuous. RNNClassifier needs class "
                    "labels; use RNNRegressor for continuous targets."
                )
        if fitted:
            classes_, kind = self.classes_, self._target_kind
        elif classes is not None:
            classes_ = np.unique(classes)
        else:
            classes_ = labels_seen
        if kind is None:
            if len(classes_) < 2:
                raise ValueError(
                    f"The number of classes has to be greater than one; got "
                    f"{len(classes_)} class ({classes_!r})."
                )
            kind = "binary" if len(classes_) == 2 else "multiclass"
        if kind == "multilabel":
            if Y.shape[2] != len(classes_):
                raise ValueError(f"y has {Y.shape[2]} labels, the model {len(classes_)}.")
            encoded, class_index = Y[:, 0].astype(np.float32)[:, None], None
        else:
            unseen = np.setdiff1d(labels_seen, classes_)
            if len(unseen):
                raise ValueError(f"y contains labels not in classes_ {classes_!r}: {unseen!r}.")
            labels = Y[..., 0] if valid is None else np.where(valid, Y[..., 0], classes_[0])
            index_type = np.min_scalar_type(len(classes_))
            class_index = np.searchsorted(classes_, labels).astype(index_type)
            if kind == "binary":
                encoded = class_index[..., None].astype(np.float32)
            else:
                encoded = np.eye(len(classes_), dtype=np.float32)[class_index]
        step_weights = self._class_weights(class_index, valid, classes_)
        return encoded, step_weights, {"classes_": classes_, "_target_kind": kind}

    def _class_weights(self, class_index, valid, classes_):
        """Per-step weights from ``class_weight`` (``None`` without it); ``valid`` marks the
        steps that count (``None``: all)."""
        if self.class_weight is None or class_index is None:
            return None
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            counted = class_index.ravel() if valid is None else class_index[valid]
            present = np.unique(counted)
            weights = np.ones(len(classes_))
            weights[present] = compute_class_weight("balanced", classes=present, y=counted)
        elif isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(classes_.tolist())
            if unknown:
                raise ValueError(
                    f"class_weight names labels that are not classes: "
                    f"{sorted(map(str, unknown))}; classes are {classes_!r}."
                )
            weights = np.array([float(self.class_weight.get(c, 1.0)) for c in classes_])
            if not np.all(np.isfinite(weights) & (weights >= 0)):
                raise ValueError(
                    f"class_weight values must be finite and non-negative; got "
                    f"{self.class_weight!r}."
                )
        else:
            raise ValueError(
                f"class_weight must be None, 'balanced' or a dict; got {self.class_weight!r}."
            )
        return weights[class_index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _stratify_labels(self, Y, encoding):
        if encoding["_target_kind"] == "multilabel" or Y.shape[1] != 1:
            return None
        return Y[:, 0].argmax(axis=-1) if Y.shape[2] > 1 else Y[:, 0, 0]

    def _degenerate(self, raw, Y, weights, loss):
        if self._target_kind == "multilabel":
            return None
        rows = weights > 0
        predicted = np.unique(self._labels(raw)[rows])
        true = np.unique(Y.argmax(axis=-1)[rows] if Y.shape[-1] > 1 else Y[..., 0][rows])
        if len(predicted) > 1 or len(true) < 2:
            return None
        where = "sequence" if self._output_mode == "last" else "step"
        label = predicted[0]
        label = label.item() if isinstance(label, np.generic) else label
        return f"predicts the one class {label!r} for every {where}"

    def _score_raw(self, raw, Y, weights, loss):
        if loss.link_function == "softmax":
            correct = raw.argmax(axis=-1) == Y.argmax(axis=-1)
        else:  # binary or multilabel: every logistic output on the right side of 0.5
            correct = np.all((raw > 0) == (Y > 0.5), axis=-1)
        return float(np.sum(weights * correct) / np.sum(weights))
