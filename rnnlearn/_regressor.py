"""The recurrent network regressor."""

# SPDX-License-Identifier: BSD-3-Clause

from typing import NamedTuple

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score

from ._base import BaseRNN
from ._heads import check_head, check_same_head, quantile_values, std_values
from ._training import check_range, emitted_step_weights
from ._validation import Component, Flag, check_dtype, check_targets
from .losses import LOSSES, Loss

REGRESSION_LOSSES = {name: cls for name, cls in LOSSES.items() if not cls.classification}
"""Loss name -> class: the losses of :data:`rnnlearn.losses.LOSSES` that regress."""


class _TrainingTargets(NamedTuple):
    """A training run's targets with their sample weights, which the target scaling needs:
    :meth:`RNNRegressor._prepare` hands them to :meth:`RNNRegressor._encode_targets`."""

    y: object
    sample_weight: object


class RNNRegressor(RegressorMixin, BaseRNN):
    """Recurrent neural network regressor (Elman, GRU or LSTM layers, dense linear output).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(64,)
        Hidden units of each recurrent layer, bottom first (the R package's
        ``hidden_dim``); an int is one layer, and stacked layers' sizes may differ.
    cell : {'vanilla', 'gru', 'lstm'} or Cell, default='gru'
        The recurrence: an Elman cell, PyTorch's GRU or an LSTM without peepholes, or a
        :class:`~rnnlearn.cells.Cell` object (such as ``LSTMCell(forget_bias=2.0)`` or a
        subclass of your own), which is cloned, so its parameters can be searched as
        ``cell__<name>``. The defaults were chosen on real series: see the user guide's
        "Default settings".
    output_mode : {'last', 'sequence', 'after'}, default='last'
        ``'last'``: one prediction per sequence, from its last step (many-to-one).
        ``'sequence'``: one prediction per input step (synced sequence to sequence).
        ``'after'``: ``n_steps`` predictions starting at the last input step, fed zeros
        after it (the R package's ``seq_to_seq_unsync``); ``n_steps`` comes from ``y``.
    pooling : {'auto', 'last', 'mean', 'max', 'concat'}, default='auto'
        What the output layer reads of each sequence with ``output_mode='last'`` (another
        mode needs ``'auto'`` or ``'last'``): the top layer's state at its last valid
        step, or the mean or elementwise max of the top layer's states over its valid
        steps, padding excluded (Keras' ``GlobalAveragePooling1D`` /
        ``GlobalMaxPooling1D`` after a recurrent layer), or ``'concat'``, the last
        state, the mean and the max side by side (ULMFiT's concat pooling; the output
        layer is three times as wide). ``'auto'`` is ``'max'``, which
        regresses best from whole series (see the user guide's "Default settings");
        for forecasting windows, where the latest state matters most, use
        :class:`~rnnlearn.RNNForecaster` (whose ``'auto'`` is ``'last'``) or
        ``pooling='last'``.
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
    loss : str or Loss, default='squared_error'
        Training loss: ``'squared_error'``, ``'absolute_error'``, ``'huber'``,
        ``'quantile'``, ``'gaussian_nll'`` or a :class:`~rnnlearn.losses.Loss`. The first
        three are on an identity output: ``'squared_error'`` is half the mean
        squared error, ``'absolute_error'`` the mean absolute error and ``'huber'``
        :class:`~rnnlearn.losses.Huber` with ``delta=1.0``. ``'quantile'`` is
        :class:`~rnnlearn.losses.Pinball` at the levels ``(0.05, 0.5, 0.95)``: the
        network then has one output per target and level, :meth:`predict_quantiles`
        returns the quantiles (which never cross) and :meth:`predict` the median.
        ``'gaussian_nll'`` is :class:`~rnnlearn.losses.GaussianNLL`: a normal
        distribution per target, whose mean :meth:`predict` returns, and its standard
        deviation with ``return_std=True``. Both need ``output_mode='last'``. A loss
        object is cloned, so its parameters can be searched as ``loss__<name>`` (such
        as ``loss__quantiles``).
    normalize_y : bool, default=True
        Standardise each output column of ``y`` for training, as scikit-learn's
        ``GaussianProcessRegressor(normalize_y=True)`` does: :meth:`fit` subtracts the
        column's mean and divides by its standard deviation, both weighted by
        ``sample_weight`` and taken over every valid step for sequence outputs (a
        constant column is only centred), the network learns the standardised targets,
        and :meth:`predict` maps its outputs back (``link(raw) * scale + mean``, for
        every quantile of a target with a quantile loss, a positive scale that keeps
        their order; a Gaussian loss's standard deviation is multiplied by it). So
        targets of size 1e6 or 1e-6 train as targets of size 1 do. ``partial_fit`` and a
        ``warm_start`` fit keep the fitted scaling; saved models keep it; ONNX and
        PyTorch exports fold it into the output layer. ``loss_``, ``loss_curve_``,
        ``best_loss_`` and ``history_``'s losses are then in standardised units
        (:meth:`score` is R² on the original scale either way). ``False`` trains on
        ``y`` as given.
    optimizer : {'adam', 'sgd', 'adagrad', 'rmsprop'} or Optimizer, default='adam'
        Update rule. A name takes the optimizer's defaults (``'adam'``: Adam at a
        learning rate of 0.003); pass an object (e.g. ``SGD(learning_rate=0.1,
        momentum=0.9, decay=0.95)``) to set its hyperparameters, searchable as
        ``optimizer__<name>``. Its state (moment estimates, velocities) lives on the
        fitted estimator, never on the object.
    alpha : float, default=0.0
        L2 penalty on the weights (not biases), at least 0, scaled as in
        ``MLPRegressor``.
    dropout : float, default=0.2
        Rate, in ``[0, 1)``, of inverted dropout on the input of every recurrent layer
        above the first and on the output layer's input (so, like PyTorch's ``dropout``,
        none on the network's input). Each training sequence keeps or drops each unit for
        all its steps (as Keras' ``dropout`` does), kept units scaled by ``1 / (1 -
        dropout)``. Masks are drawn per minibatch from the generator seeded by
        ``random_state``; :meth:`predict`, :meth:`score` and :meth:`hidden_states` never
        drop. No dropout on the recurrent state. The default keeps fits on a few dozen
        series from doing worse than the training mean (see "Default settings").
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
        Hold out ``validation_fraction`` of the training data, score it (R²) after
        every epoch, stop when the score has not improved by ``tol`` for
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
        it; predictions come back in the input's dtype (see Notes).
    callbacks : list of callable or None, default=None
        Called after each epoch as ``callback(estimator, record)``, with the epoch's
        record of ``history_``; a true return value stops training. Functions or
        :class:`~rnnlearn.callbacks.Callback` objects; as hyperparameters they are
        copied by ``clone`` and can be searched. scikit-learn's own callbacks
        (``sklearn.callback``, scikit-learn 1.9 or later) go through ``set_callbacks``.

    Attributes
    ----------
    coefs_ : list of dict of str to ndarray
        Fitted weights: one dict per recurrent layer (``W_x``, ``W_h``, ``b``, ...), then
        the output layer's (``W``, ``b``); read-only views (see the property).
    cell_ : Cell
        The cell used in training: ``cell`` resolved to an object, or a clone of it.
    optimizer_ : Optimizer
        The optimizer used in training, resolved or cloned from ``optimizer``.
    loss_function_ : Loss
        The loss used in training, resolved or cloned from ``loss``.
    n_features_in_ : int
        Features per time step seen in :meth:`fit`.
    n_outputs_ : int
        Targets per emitted step (the network has ``loss_function_.outputs_per_target``
        outputs per target: one per level with a quantile loss, two with a Gaussian one).
    n_iter_ : int
        Epochs run, over all fits that continued this model.
    loss_ : float
        Training loss of the last epoch (on the standardised targets with
        ``normalize_y=True``, as every loss here).
    loss_curve_ : list of float
        Training loss of each epoch.
    best_loss_ : float or None
        Lowest training loss, whose weights :meth:`fit` restored (``None`` with early
        stopping).
    validation_scores_ : list of float or None
        Validation R² of each epoch (``None`` without early stopping).
    best_validation_score_ : float or None
        Best validation R² (``None`` without early stopping).
    history_ : list of dict
        One record per epoch: ``epoch``, ``loss``, ``validation_score``,
        ``learning_rate``, ``duration`` (seconds) and ``status`` (``'ok'``, ``'diverged'``
        or ``'interrupted'``).
    t_ : int
        Training samples seen, over all epochs.

    See Also
    --------
    RNNClassifier : The classifier.
    sklearn.neural_network.MLPRegressor : The feed-forward network these parameters follow.

    Notes
    -----
    Inputs are ``(n_samples, n_timesteps, n_features)``; 2-D input is a batch of
    univariate series; a list of arrays is a batch of sequences of different lengths.
    Targets: ``(n_samples,)`` or ``(n_samples, n_outputs)`` for ``'last'``;
    ``(n_samples, n_steps[, n_outputs])`` (or a list, for variable-length synced
    sequences) otherwise.

    The network computes in ``dtype``. :meth:`predict` returns float32 for float32
    input and float64 for any other (float64, integers, bools), so a float32 network
    gives float64 predictions for float64 data; :meth:`hidden_states` returns the
    network's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn import RNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(200, 10, 1))
    >>> y = X.sum(axis=(1, 2))
    >>> model = RNNRegressor(hidden_layer_sizes=(16,), cell="gru", optimizer="adam",
    ...                      max_iter=60, random_state=0).fit(X, y)
    >>> model.score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        cell="gru",
        *,
        output_mode="last",
        pooling="auto",
        bidirectional=False,
        loss="squared_error",
        normalize_y=True,
        optimizer="adam",
        alpha=0.0,
        dropout=0.2,
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
        self.loss = loss
        self.normalize_y = normalize_y

    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch, starting from the fitted state if there is one.

        Parameters
        ----------
        X, y, sample_weight
            As for :meth:`fit`.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X, return_std=False):
        """Predict targets.

        Parameters
        ----------
        X : array-like or list
            Sequences, as for :meth:`fit`; any length.
        return_std : bool, default=False
            Also return the standard deviation of the predictive distribution, as
            scikit-learn's ``GaussianProcessRegressor`` and ``BayesianRidge`` do; only
            for a model fitted with :class:`~rnnlearn.losses.GaussianNLL`
            (``loss='gaussian_nll'``).

        Returns
        -------
        y_pred : ndarray or list of ndarray
            ``(n_samples[, n_outputs])`` for ``'last'``; ``(n_samples, n_steps[,
            n_outputs])`` otherwise, or a list of ``(n_timesteps_i[, n_outputs])`` arrays
            for variable-length synced sequences. With a quantile loss, the median
            (the 0.5 column of :meth:`predict_quantiles`); with a Gaussian one, the mean.
        y_std : ndarray of shape (n_samples[, n_outputs])
            The standard deviations, returned with ``return_std=True``.

        Raises
        ------
        ValueError
            For ``return_std=True`` with a model fitted with another loss.

        Examples
        --------
        >>> import numpy as np
        >>> from rnnlearn import RNNRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-1, 1, size=(100, 5, 1))
        >>> y = X.sum(axis=(1, 2)) + rng.normal(scale=0.3, size=100)
        >>> model = RNNRegressor((8,), loss="gaussian_nll", max_iter=5, random_state=0)
        >>> mean, std = model.fit(X, y).predict(X, return_std=True)
        >>> mean.shape, std.shape, bool(np.all(std > 0))
        ((100,), (100,), True)
        """
        X_tm, lengths, dtype = self._check_X(X)
        raw = self._raw_output(X_tm, lengths).astype(dtype, copy=False)
        values = self._unscale(self.loss_function_.point(raw))
        if self._squeeze_output:
            values = values[..., 0]
        predictions = self._format_output(values, lengths)
        if not return_std:
            return predictions
        std = std_values(self.loss_function_, raw[0], self._y_scale, self._squeeze_output)
        return predictions, std

    def predict_quantiles(self, X):
        """Predict the quantiles of a model fitted with a quantile loss.

        Parameters
        ----------
        X : array-like or list
            Sequences, as for :meth:`fit`; any length.

        Returns
        -------
        ndarray of shape (n_samples, n_quantiles) or (n_samples, n_targets, n_quantiles)
            The quantiles at the loss's levels (``loss_function_.quantiles``), increasing
            along the last axis; the target axis only for a model fitted on 2-D ``y``.
            :meth:`predict` is the 0.5 column.

        Raises
        ------
        ValueError
            If the model was not fitted with :class:`~rnnlearn.losses.Pinball`
            (``loss='quantile'``).

        Examples
        --------
        >>> import numpy as np
        >>> from rnnlearn import RNNRegressor
        >>> from rnnlearn.losses import Pinball
        >>> rng = np.random.RandomState(0)
        >>> X = rng.uniform(-1, 1, size=(100, 5, 1))
        >>> y = X.sum(axis=(1, 2)) + rng.normal(scale=0.3, size=100)
        >>> model = RNNRegressor((8,), loss=Pinball((0.1, 0.5, 0.9)), max_iter=5,
        ...                      random_state=0).fit(X, y)
        >>> q = model.predict_quantiles(X)
        >>> q.shape, bool(np.all(np.diff(q, axis=-1) > 0))
        ((100, 3), True)
        """
        network_input, offset = self._transform(X)
        X_tm, lengths, dtype = self._check_X(network_input)
        raw = self._raw_output(X_tm, lengths).astype(dtype, copy=False)[0]
        scaling = None if self._y_mean is None else (self._y_mean, self._y_scale)
        return quantile_values(self.loss_function_, raw, scaling, offset, self._squeeze_output)

    def _transform(self, X):
        """``(network_input, offset)``: what the network reads of ``X`` and what is added to
        its predictions (``None``: nothing); a subclass that transforms its input
        (:class:`~rnnlearn.RNNForecaster`) overrides it."""
        return X, None

    # The mixin's score would come first in the MRO; ours also scores sequence outputs.
    score = BaseRNN.score

    _auto_pooling = "max"

    _encoding_attributes = ("_squeeze_output", "_y_mean", "_y_scale")
    _encoding_defaults = {"_y_mean": None, "_y_scale": None}
    """The encoding entries of models saved before them, as they mean: no target scaling."""
    _parameter_constraints = {
        **BaseRNN._parameter_constraints,
        "loss": Component(REGRESSION_LOSSES, Loss),
        "normalize_y": Flag(),
    }

    def _make_loss(self, loss, encoding):
        return loss

    def _check_combinations(self):
        super()._check_combinations()
        check_head(self.loss, self.output_mode)

    def _network_for(self, hyper, X_shape, Y_shape):
        """As :meth:`BaseRNN._network_for`, with the loss's outputs for each target."""
        n_outputs = Y_shape[2] * hyper.loss.outputs_per_target
        return super()._network_for(hyper, X_shape, (*Y_shape[:2], n_outputs))

    def _check_resumable(self, network, dtype):
        super()._check_resumable(network, dtype)
        check_same_head(self._parameter_constraints["loss"](self.loss, "loss"), self.loss_function_)

    def _prepare(self, X, y, sample_weight, *, incremental, classes):
        """As :meth:`BaseRNN._prepare`, with the sample weights handed to
        :meth:`_encode_targets` beside ``y``: the target scaling weighs each target as the
        loss does."""
        targets = _TrainingTargets(y, sample_weight)
        return super()._prepare(X, targets, sample_weight, incremental=incremental, classes=classes)

    def _encode_targets(self, y, n_samples, lengths, sequence, *, fitted, classes=None):
        """Validated targets, standardised by the fitted scaling or, when a fit starts with
        ``normalize_y``, by the scaling it fits (``y`` as :class:`_TrainingTargets`)."""
        training = isinstance(y, _TrainingTargets)
        y, sample_weight = y if training else (y, None)
        Y, squeeze = check_targets(y, n_samples, lengths, sequence=sequence)
        if fitted:
            mean, scale = self._y_mean, self._y_scale
        elif self.normalize_y:
            mean, scale = self._target_scaling(Y, sample_weight, lengths)
        else:
            mean = scale = None
        if mean is not None:
            if training:  # refused as unscaled targets would be
                check_range("y", Y, check_dtype(self.dtype))
            if Y.shape[2] == len(mean):  # else training refuses the shape, score r2_score
                Y = (Y - mean) / scale
        encoding = {"_squeeze_output": squeeze, "_y_mean": mean, "_y_scale": scale}
        return Y, None, encoding

    def _target_scaling(self, Y, sample_weight, lengths):
        """``(mean, scale)`` of each output column of ``Y`` ``(n_samples, n_steps,
        n_outputs)``, weighted as training weighs each step; scale 1 for a constant column."""
        weights = emitted_step_weights(
            np.ones(Y.shape[:2]), sample_weight, lengths, Y.shape[:2], self.output_mode, np.float64
        ).reshape(-1)
        values = Y.reshape(-1, Y.shape[2])[weights > 0]
        weights = weights[weights > 0]
        mean = np.average(values, axis=0, weights=weights)
        constant = np.ptp(values, axis=0) == 0
        # Deviations divided by their peak first, so that squaring them cannot overflow.
        peak = np.where(constant, 1.0, np.abs(values - mean).max(axis=0))
        scale = peak * np.sqrt(np.average(((values - mean) / peak) ** 2, axis=0, weights=weights))
        scale[constant] = 1.0
        return mean, scale

    def _unscale(self, values):
        """Predictions on the targets' scale from outputs on the standardised one."""
        if self._y_mean is None:
            return values
        return (values * self._y_scale + self._y_mean).astype(values.dtype, copy=False)

    def _degenerate(self, raw, Y, weights, loss):
        rows = weights > 0
        if np.ptp(Y[rows], axis=0).max(initial=0) == 0:
            return None  # a constant target: the mean is the right answer
        score = self._score_raw(raw, Y, weights, loss)
        if score > 0:
            return None
        return f"scores R² = {score:.3g}, no better than predicting the mean target"

    def _score_raw(self, raw, Y, weights, loss):
        rows = weights > 0
        return r2_score(Y[rows], loss.point(raw)[rows], sample_weight=weights[rows])
