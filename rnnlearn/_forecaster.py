"""The forecaster: a recurrent regressor on windows, beside a linear path, relative to the level."""

# SPDX-License-Identifier: BSD-3-Clause

from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from ._heads import quantile_values
from ._regressor import RNNRegressor
from ._validation import (
    Flag,
    check_number,
    check_sample_weight,
    check_sequences,
    check_targets,
)
from ._windows import (
    change_scale,
    fit_linear,
    floored,
    last_steps,
    relative_to_level,
    roll_forward,
)
from .losses import Pinball

MIN_HELD_OUT = 10
"""Fewest windows the chronological hold-out must have; with fewer, training uses all."""


def _check_target_features(value, name):
    """Constraint of ``target_features``: ``None``, or feature indices (an int or a list)."""
    if value is None:
        return None
    indices = np.atleast_1d(np.asarray(value, dtype=object))
    if indices.ndim != 1 or not all(
        isinstance(i, Integral) and not isinstance(i, bool) and i >= 0 for i in indices
    ):
        raise TypeError(f"{name} must be None, or an int or a list of ints >= 0; got {value!r}.")
    return tuple(int(i) for i in indices)


def _steps_ahead(target_features):
    """Steps a model forecasts: its outputs per feature forecast (``h`` for a direct model
    of ``h`` steps, 1 for a one-step one)."""
    return len(target_features) // len(np.unique(target_features))


class RNNForecaster(RNNRegressor):
    """Recurrent forecaster on windows: relative to the level, beside a linear path.

    An :class:`RNNRegressor` with what one-step-ahead forecasting needs, chosen on real
    series (see the user guide's "Regression and forecasting"). Fit it on windows and
    the values that follow them, as :func:`~rnnlearn.preprocessing.make_windows` cuts
    them. Its prediction is ``level + linear + network``:

    - **level** (``relative=True``): each window is taken relative to its level, the
      last valid value of each feature, and each target relative to the level of the
      feature it forecasts, so that trends leaving the training range are followed;
    - **linear** (``linear_path=True``): ridge regression on the last ``k`` steps of the
      relative window (columns standardised, penalty chosen by leave-one-out error among
      ``logspace(-3, 3, 13)``), fitted in closed form by the first fit on all its windows
      with their sample weights and fixed afterwards (``warm_start`` and
      :meth:`partial_fit` train the network only). ``k`` is the window's length, or the
      shortest training window's for windows of different lengths; shorter windows at
      predict time are padded in front with their level;
    - **network**: the recurrent network reads the relative windows, standardised per
      feature with statistics of the training windows, and is trained on what the
      level and the linear path leave (targets standardised, ``normalize_y``).

    Early stopping is chronological: the latest ``validation_fraction`` of the training
    windows, in the order given, is held out (windows overlap, so a random split would
    leak), and the weights of the epoch that predicts it best are restored. "Epoch 0",
    the starting weights with an output layer that adds nothing, is a candidate: when no
    epoch beats it, the forecast is ``level + linear`` alone. While a hold-out is used, the
    network learns and is judged on what a linear path fitted on the windows before the
    hold-out leaves (so the held-out windows are new to it, as future ones will be);
    the fitted model's linear path is the one fitted on all windows. With fewer than
    :data:`MIN_HELD_OUT` (10) windows to hold out, training uses every window instead.
    **Many steps ahead.** Fitted on the targets 1 to ``h`` steps after each window
    (``make_windows(..., all_steps=True)``), the forecaster is *direct*: :meth:`predict`
    returns the ``h`` steps, each column relative to the level of the feature it
    forecasts, with one ridge regression per column in the linear path and ``h`` outputs
    in the network. :meth:`predict_recursive` instead rolls a one-step model forward,
    feeding its forecasts back into the windows. :meth:`predict_interval` gives
    split-conformal intervals calibrated on the held-out windows' errors, scaled by how
    irregularly each window moves (conformalised quantiles for a quantile loss).

    The network starts from the regressor's random initialisation: an output layer
    started at zero learns too slowly for this early stopping (on the co2 series of the
    benchmark no epoch then beat epoch 0, MASE 0.251 against 0.243).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(32,)
        Hidden units of each recurrent layer of the network, bottom first; an int is one
        layer, and stacked layers' sizes may differ. The linear path and the level carry
        most of a forecast, so the network is half the regressor's default width.
    cell : {'vanilla', 'gru', 'lstm'} or Cell, default='gru'
        The network's recurrence: an Elman cell, PyTorch's GRU or an LSTM without
        peepholes, or a :class:`~rnnlearn.cells.Cell` object (such as
        ``LSTMCell(forget_bias=2.0)``), which is cloned, so its parameters can be
        searched as ``cell__<name>``.
    relative : bool, default=True
        Take windows and targets relative to the level (see above).
    linear_path : bool, default=True
        Add the linear path (see above).
    target_features : int, list of int or None, default=None
        The input feature each target column forecasts. ``None``: feature 0 when the
        windows have one feature (so ``horizon`` columns of ``make_windows(...,
        all_steps=True)`` just work); feature ``j % n_features`` for target ``j`` when
        ``y`` has one column per feature, or per feature and step (``make_windows``
        without ``target``); otherwise it must be given (``make_windows(..., target=t)``
        forecasts feature ``t``; with ``all_steps=True``, pass ``[t] * horizon``).
    output_mode : {'last'}, default='last'
        One forecast per window; no other mode is supported.
    pooling : {'auto', 'last', 'mean', 'max', 'concat'}, default='auto'
        What the network's output layer reads of each window: the top layer's state at
        its last valid step, or the mean or elementwise max of the top layer's states
        over its valid steps, or ``'concat'``, the three side by side (ULMFiT's concat
        pooling). ``'auto'`` is ``'last'``, which forecasts best (the latest
        state matters most one step ahead).
    bidirectional : bool, default=False
        Run each recurrent layer also backward over each window's valid steps, with its
        own weights, and concatenate both directions' states (``2 * n_hidden`` values
        per step); with ``pooling='last'`` the output layer reads the forward state at
        the last step and the backward one at the first.
    loss : {'squared_error', 'absolute_error', 'huber', 'quantile', 'gaussian_nll'} or \
Loss, default='squared_error'
        The network's training loss on what the level and the linear path leave: half
        the mean squared error, the mean absolute error,
        :class:`~rnnlearn.losses.Huber` with ``delta=1.0``, the pinball loss of
        :class:`~rnnlearn.losses.Pinball` (quantiles 0.05, 0.5 and 0.95: see
        :meth:`predict_quantiles`, which adds the level and the linear path to every
        quantile) or :class:`~rnnlearn.losses.GaussianNLL` (``predict(X,
        return_std=True)``); a :class:`~rnnlearn.losses.Loss` object is cloned,
        searchable as ``loss__<name>``. :meth:`predict` is the median or the mean. The
        linear path is always fitted by least squares (ridge).
    normalize_y : bool, default=True
        Standardise each column of the network's targets (the values after the windows
        less ``level + linear``) with their mean and standard deviation, weighted by
        ``sample_weight``, and map the network's outputs back at predict time, so the
        series' scale does not matter to training. ``loss_``, ``loss_curve_`` and
        ``history_``'s losses are then in standardised units. ``False`` trains the
        network on those values as they are.
    optimizer : {'adam', 'sgd', 'adagrad', 'rmsprop'} or Optimizer, default='adam'
        The network's update rule. A name takes the optimizer's defaults (``'adam'``:
        Adam at a learning rate of 0.003); an object (e.g. ``SGD(learning_rate=0.1,
        momentum=0.9)``) sets its hyperparameters, searchable as ``optimizer__<name>``.
    alpha : float, default=0.0
        L2 penalty, at least 0, on the network's weights (not biases), scaled as in
        ``MLPRegressor``. The linear path has its own penalty, chosen by leave-one-out
        error (see above).
    dropout : float, default=0.2
        Rate, in ``[0, 1)``, of inverted dropout on the input of every recurrent layer
        above the first and on the network's output layer's input (none on the windows
        themselves); each training window keeps or drops each unit for all its steps.
        Only during training: :meth:`predict` never drops.
    batch_size : int, default=32
        Windows per minibatch, at least 1 (capped at the number of training windows).
        On the user guide's forecasting series, 32 forecast several steps ahead better
        than 16 (sunspots, US GDP) or as well, and one step ahead as well.
    max_iter : int, default=200
        Maximum number of epochs (passes over the training windows) the network trains
        in one :meth:`fit`; with ``warm_start=True``, of each further call. The level and
        the linear path need no epochs.
    tol : float, default=1e-4
        Improvement, at least 0, that counts as progress: of the validation score (the
        R² of the network's output against what the level and the linear path leave of
        the held-out windows' targets) with ``early_stopping``, of the training loss
        without it.
    n_iter_no_change : int, default=10
        Epochs without progress by ``tol`` after which training stops, or, with
        ``learning_rate_schedule='plateau'``, the learning rate is cut by 5.
    learning_rate_schedule : {'constant', 'plateau'}, default='constant'
        ``'constant'`` stops once the held-out windows have not improved for
        ``n_iter_no_change`` epochs; ``'plateau'`` divides the learning rate by 5
        instead and stops once a cut would take it below 1e-2 of its initial value
        (two cuts; with four, it gave the same forecasts on the benchmark's series, 3
        seeds, after 3 to 5 times as many epochs).
    early_stopping : bool, default=True
        Hold out the latest windows (see above), score them after every epoch, stop
        when the score has not improved by ``tol`` for ``n_iter_no_change`` epochs and
        restore the best epoch's weights (epoch 0 included). ``False`` trains on every
        window and restores the weights of the epoch with the lowest training loss.
    validation_fraction : float, default=0.2
        Share, in ``(0, 1)``, of the training windows, the latest, held out for early
        stopping.
    shuffle : bool, default=True
        Shuffle the training windows (the hold-out excepted) before every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the network's initialisation, the shuffling and the dropout masks (the
        hold-out is chronological, the linear path deterministic); an int makes fits
        reproducible bit for bit.
    warm_start : bool, default=False
        Make the next :meth:`fit` continue the network from its fitted weights and
        optimizer state, for up to ``max_iter`` more epochs, instead of starting over;
        the level, the linear path and the input scaling stay those of the first fit,
        and ``y`` must have as many columns.
    verbose : int, default=0
        Print one line of progress per epoch when positive.
    max_grad_norm : float or None, default=1.0
        Clip each minibatch gradient of the network to this global Euclidean norm
        (``None``: no clipping).
    dtype : {'float32', 'float64'}, default='float32'
        Floating type of the network's weights and arithmetic; the level and the linear
        path compute in float64. Predictions come back in the windows' floating type
        (float64 for integer input).
    callbacks : list of callable or None, default=None
        Called after each epoch as ``callback(estimator, record)``, with the epoch's
        record of ``history_``; a true return value stops training. Functions or
        :class:`~rnnlearn.callbacks.Callback` objects, copied by ``clone``.

    Attributes
    ----------
    linear_coef_ : ndarray of shape (k, n_features, n_outputs)
        The linear path's weights on the last ``k`` relative steps (``k = 0`` without it).
    linear_intercept_ : ndarray of shape (n_outputs,)
        Its intercept.
    target_features_ : ndarray of int of shape (n_outputs,)
        The feature each output forecasts.
    calibration_residuals_ : ndarray of shape (n_calibration, n_outputs) or None
        Absolute errors on the held-out windows of the first fit (but the first ``h - 1``
        of a model forecasting ``h`` steps), sorted per column, for
        :meth:`predict_interval`; ``None`` without a hold-out.
    calibration_scales_ : ndarray of shape (n_calibration, n_outputs) or None
        The scale of the window of each of those errors: the standard deviation of the
        one-step changes of the feature the column forecasts over the window.
    calibration_quantile_errors_ : ndarray of shape (n_calibration, n_outputs, \
n_quantiles) or None
        For a model fitted with :class:`~rnnlearn.losses.Pinball`: the quantiles it
        forecast for those windows less their targets, rows in the order of
        ``calibration_residuals_`` (per column), for the conformalised quantile
        regression of :meth:`predict_interval`; ``None`` for other losses or without a
        hold-out.

    The other attributes are :class:`RNNRegressor`'s; they describe the network.

    See Also
    --------
    RNNRegressor : The regressor, for whole-series regression.
    rnnlearn.preprocessing.make_windows : Cuts a series into windows.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn import RNNForecaster
    >>> from rnnlearn.preprocessing import make_windows
    >>> t = np.arange(300.0)
    >>> series = 0.5 * t + 10 * np.sin(2 * np.pi * t / 12)
    >>> X, y = make_windows(series, 24)
    >>> model = RNNForecaster(max_iter=20, random_state=0).fit(X[:200], y[:200])
    >>> bool(np.abs(model.predict(X[200:]) - y[200:]).mean() < 1.0)
    True
    >>> X, y = make_windows(series, 24, horizon=12, all_steps=True)  # y: (265, 12)
    >>> direct = RNNForecaster(max_iter=5, random_state=0).fit(X[:200], y[:200])
    >>> direct.predict(X[200:]).shape
    (65, 12)
    """

    def __init__(
        self,
        hidden_layer_sizes=(32,),
        cell="gru",
        *,
        relative=True,
        linear_path=True,
        target_features=None,
        output_mode="last",
        pooling="auto",
        bidirectional=False,
        loss="squared_error",
        normalize_y=True,
        optimizer="adam",
        alpha=0.0,
        dropout=0.2,
        batch_size=32,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        learning_rate_schedule="constant",
        early_stopping=True,
        validation_fraction=0.2,
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
            loss=loss,
            normalize_y=normalize_y,
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
        self.relative = relative
        self.linear_path = linear_path
        self.target_features = target_features

    _auto_pooling = "last"
    _window_attributes = (
        "relative_",
        "target_features_",
        "linear_coef_",
        "linear_intercept_",
        "_input_mean",
        "_input_scale",
    )
    _calibration_attributes = (
        "calibration_residuals_",
        "calibration_scales_",
        "calibration_quantile_errors_",
    )
    _encoding_attributes = (
        *RNNRegressor._encoding_attributes,
        *_window_attributes,
        *_calibration_attributes,
    )
    _encoding_defaults = {
        **RNNRegressor._encoding_defaults,
        **dict.fromkeys(_calibration_attributes),
    }
    _parameter_constraints = {
        **RNNRegressor._parameter_constraints,
        "relative": Flag(),
        "linear_path": Flag(),
        "target_features": _check_target_features,
    }

    def score(self, X, y, sample_weight=None):
        """R² of the forecasts (:meth:`predict`, level and linear path included).

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timesteps, n_features) or list
            Windows, as for :meth:`fit`.
        y : array-like of shape (n_windows,) or (n_windows, n_targets)
            The values that follow them.
        sample_weight : array-like of shape (n_windows,), default=None
            Sample weights.

        Returns
        -------
        float
            :func:`sklearn.metrics.r2_score` of the forecasts (uniform average over
            target columns).
        """
        # The regressor's score would read the network alone; this one scores the forecasts.
        return RegressorMixin.score(self, X, y, sample_weight=sample_weight)

    def _check_combinations(self):
        super()._check_combinations()
        if self.output_mode != "last":
            raise ValueError(
                f"RNNForecaster forecasts one value per window: output_mode must be 'last'; "
                f"got {self.output_mode!r}."
            )

    # ------------------------------------------------------------------ windows

    def _windows(self, X, fitted):
        """Checked windows as ``(X, lengths, dtype)``: float64, padded, every length given."""
        X, lengths = check_sequences(X)
        if fitted and X.shape[2] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[2]} features per time step, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        if lengths is None:
            lengths = np.full(len(X), X.shape[1])
        return X.astype(np.float64), lengths, X.dtype

    def _target_features_for(self, n_features, n_outputs):
        """The feature each of ``n_outputs`` targets forecasts (resolving ``None``)."""
        features = _check_target_features(self.target_features, "target_features")
        if features is None and n_outputs % n_features == 0:
            features = tuple(np.arange(n_outputs) % n_features)
        elif features is None:
            raise ValueError(
                f"y has {n_outputs} column(s) and X has {n_features} features: say which "
                f"feature each target column forecasts with target_features (e.g. "
                f"target_features={list(range(n_outputs))[:3]}...)."
            )
        if len(features) != n_outputs or max(features) >= n_features:
            raise ValueError(
                f"target_features={features!r} must give one feature index below "
                f"{n_features} (the number of features of X) per target column; y has "
                f"{n_outputs}."
            )
        return np.array(features, dtype=np.intp)

    def _fit_windows(self, X, lengths, Y, weights):
        """The window encoding learned from training windows (level, linear path, scaling)."""
        features = self._target_features_for(X.shape[2], Y.shape[1])
        X_relative, level = relative_to_level(X, lengths, self.relative)
        n_lags = int(lengths.min()) if self.linear_path else 0
        valid = X_relative[np.arange(X.shape[1]) < lengths[:, None]]
        scale = valid.std(axis=0)
        return {
            "relative_": bool(self.relative),
            "target_features_": features,
            **self._linear_path(X_relative, lengths, Y - level[:, features], weights, n_lags),
            "_input_mean": valid.mean(axis=0),
            "_input_scale": np.where(scale > 1e-12, scale, 1.0),
        }

    @staticmethod
    def _linear_path(X_relative, lengths, Y_relative, weights, n_lags):
        """The linear path's encoding entries, fitted on these (relative) windows."""
        n_samples, _, n_features = X_relative.shape
        coef = np.zeros((n_lags * n_features, Y_relative.shape[1]))
        intercept = np.zeros(Y_relative.shape[1])
        if n_lags:
            Z = last_steps(X_relative, lengths, n_lags).reshape(n_samples, -1)
            coef, intercept = fit_linear(Z, Y_relative, weights)
        return {
            "linear_coef_": coef.reshape(n_lags, n_features, Y_relative.shape[1]),
            "linear_intercept_": intercept,
        }

    def _training_offset(self, encoding, X, lengths, Y, weights, offset):
        """The ``level + linear`` the network learns to correct in this fit.

        ``offset`` is the fitted encoding's. With a hold-out, the linear path behind the
        targets is fitted on the windows before it instead, so the held-out windows judge
        the network on what a linear path that never saw them leaves (fitted on all, it
        would leave them only its in-sample noise).
        """
        n_fit = len(X) - self._n_held_out(len(X))
        if n_fit == len(X):
            return offset
        X_relative, level = relative_to_level(X[:n_fit], lengths[:n_fit], encoding["relative_"])
        Y_relative = Y[:n_fit] - level[:, encoding["target_features_"]]
        n_lags = len(encoding["linear_coef_"])
        part = self._linear_path(X_relative, lengths[:n_fit], Y_relative, weights[:n_fit], n_lags)
        return self._apply({**encoding, **part}, X, lengths, np.float64)[1]

    def _n_held_out(self, n_samples):
        """Windows held out for early stopping: the latest ``validation_fraction``, or none
        without ``early_stopping`` or when they would be fewer than :data:`MIN_HELD_OUT`."""
        n_held_out = int(round(self.validation_fraction * n_samples))
        return n_held_out if self.early_stopping and n_held_out >= MIN_HELD_OUT else 0

    @staticmethod
    def _apply(encoding, X, lengths, dtype):
        """``(network_input, offset)``: the network's windows and ``level + linear``.

        ``network_input`` is an array, or a list for windows of different lengths, in
        ``dtype``; ``offset`` is ``(n_samples, n_outputs)`` in float64.
        """
        X_relative, level = relative_to_level(X, lengths, encoding["relative_"])
        coef = encoding["linear_coef_"]
        lagged = last_steps(X_relative, lengths, len(coef))
        offset = level[:, encoding["target_features_"]] + encoding["linear_intercept_"]
        offset = offset + np.einsum("nkf,kft->nt", lagged, coef)
        scaled = ((X_relative - encoding["_input_mean"]) / encoding["_input_scale"]).astype(dtype)
        if np.all(lengths == X.shape[1]):
            return scaled, offset
        return [window[:n] for window, n in zip(scaled, lengths, strict=True)], offset

    def _transform(self, X):
        """``(network_input, offset)`` of windows for the fitted model (see :meth:`_apply`)."""
        check_is_fitted(self, "n_iter_")
        return self._encoded(*self._windows(X, fitted=True))

    def _encoded(self, X, lengths, dtype):
        """:meth:`_apply` with the fitted encoding, on windows :meth:`_windows` checked."""
        encoding = {name: getattr(self, name) for name in self._window_attributes}
        return self._apply(encoding, X, lengths, dtype)

    # ------------------------------------------------------------------ fitting

    def _prepare(self, X, y, sample_weight, *, incremental, classes):
        """Encode the windows, then prepare the network's run on what they leave.

        The first fit learns the window encoding; a resumed one (``warm_start``,
        :meth:`partial_fit`) keeps it. Changes nothing; raises on bad input.
        """
        self._check_params()
        resume = hasattr(self, "_params") and (incremental or self.warm_start)
        X, lengths, dtype = self._windows(X, fitted=resume)
        Y, squeeze = check_targets(y, len(X), lengths, sequence=False)
        Y = Y[:, 0].astype(np.float64)
        if resume and Y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {Y.shape[1]} column(s), but {type(self).__name__} was fitted with "
                f"{self.n_outputs_}; refit with warm_start=False to start over."
            )
        weights = check_sample_weight(sample_weight, len(X), np.float64)
        if resume:
            names = (*self._window_attributes, *self._calibration_attributes)
            encoding = {name: getattr(self, name) for name in names}
        else:
            calibration = dict.fromkeys(self._calibration_attributes)
            encoding = {**self._fit_windows(X, lengths, Y, weights), **calibration}
        network_input, offset = self._apply(encoding, X, lengths, dtype)
        if not resume:
            offset = self._training_offset(encoding, X, lengths, Y, weights, offset)
        residual = Y - offset
        setup, state = super()._prepare(
            network_input,
            residual[:, 0] if squeeze else residual,
            sample_weight,
            incremental=incremental,
            classes=classes,
        )
        model = replace(setup.model, encoding={**setup.model.encoding, **encoding})
        return replace(setup, model=model), state

    def _split_validation(self, data, Y, encoding, rng):
        """The latest windows, in the order given, held out (see :meth:`_n_held_out`)."""
        n_held_out = self._n_held_out(data.n_samples)
        return data.split_latest(n_held_out) if n_held_out else (data, None)

    def _train(self, setup, state, policy, n_epochs, dispatch):
        # Epoch 0: the starting weights with an output layer that adds nothing, so that
        # the forecast is level + linear alone.
        silent = state.params.copy()
        head = setup.model.network.unpack(silent)[-1]
        head["W"][...] = 0
        scaling = setup.model.target_scaling
        nothing = np.zeros(setup.model.n_targets) if scaling is None else -scaling[0] / scaling[1]
        head["b"][...] = setup.model.loss.raw_for_point(nothing)
        policy.score_start(setup, state, silent, self._score_raw)
        starts_over = not state.history
        super()._train(setup, state, policy, n_epochs, dispatch)
        if starts_over and setup.validation is not None:
            encoding = {**setup.model.encoding, **self._calibrate(setup, state)}
            self._commit(replace(setup.model, encoding=encoding), state)

    @staticmethod
    def _calibrate(setup, state):
        """The calibration's encoding entries: the absolute errors of the fitted forecasts
        of the held-out windows, sorted per column, the scale (:func:`change_scale`) of
        the window of each and, for a quantile loss, its quantiles less its target.

        The network's weights are the restored ones, the linear path the one fitted before
        the hold-out (see :meth:`_training_offset`); in the targets' units. The first
        ``h - 1`` held-out windows of a model forecasting ``h`` steps are left out: their
        targets were targets of the last training windows too.
        """
        X, lengths, y, weights = setup.validation.time_major()
        raw = setup.model.network.predict(state.params, X, lengths)
        encoding = setup.model.encoding
        loss, unit = setup.model.loss, 1.0
        if setup.model.target_scaling is not None:
            unit = setup.model.target_scaling[1]
        errors = np.abs(y[0] - loss.point(raw)[0]).astype(np.float64) * unit
        quantile_errors = None
        if isinstance(loss, Pinball):
            quantiles = quantile_values(loss, raw[0], None, None, squeeze=False)
            quantile_errors = (quantiles - y[0][..., None]) * np.asarray(unit)[:, None]
        windows = X.transpose(1, 0, 2).astype(np.float64) * encoding["_input_scale"]
        lengths = np.full(len(errors), len(X)) if lengths is None else lengths
        scales = change_scale(windows, lengths, encoding["target_features_"])
        keep = weights[0] > 0
        keep[: _steps_ahead(encoding["target_features_"]) - 1] = False
        order = np.argsort(errors[keep], axis=0, kind="stable")
        residuals, scales = (np.take_along_axis(v[keep], order, axis=0) for v in (errors, scales))
        if quantile_errors is not None:
            quantile_errors = np.take_along_axis(
                quantile_errors[keep].astype(np.float64), order[..., None], axis=0
            )
        return {
            "calibration_residuals_": residuals,
            "calibration_scales_": scales,
            "calibration_quantile_errors_": quantile_errors,
        }

    def _degenerate(self, raw, Y, weights, loss):
        # The network corrects level + linear; with either on, no correction is a valid fit.
        if self.relative or self.linear_path:
            return None
        return super()._degenerate(raw, Y, weights, loss)

    # ------------------------------------------------------------------ prediction

    def predict(self, X, return_std=False):
        """Forecast each target column after each window (every step of a direct model).

        Parameters
        ----------
        X : array-like or list
            Windows, as for :meth:`fit`; any length.
        return_std : bool, default=False
            Also return the standard deviation of each forecast; only for a model fitted
            with :class:`~rnnlearn.losses.GaussianNLL` (``loss='gaussian_nll'``).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            ``level + linear + network``, in the input's floating type; the network's
            part is the median of a quantile loss, the mean of a Gaussian one.
        y_std : ndarray of the shape of ``y_pred``
            The network's standard deviations (the level and the linear path are fixed,
            so shift the mean only), returned with ``return_std=True``.

        Raises
        ------
        ValueError
            For ``return_std=True`` with a model fitted with another loss.
        """
        return self._forecast(*self._transform(X), return_std=return_std)

    def _forecast(self, network_input, offset, return_std=False):
        """:meth:`predict` of encoded windows: the network's forecast plus the offset."""
        values = super().predict(network_input, return_std=return_std)
        mean = values[0] if return_std else values
        mean = mean + offset.reshape(mean.shape).astype(mean.dtype)
        return (mean, values[1]) if return_std else mean

    def predict_interval(self, X, coverage=0.9):
        """Conformal prediction intervals, per output column: split-conformal around
        :meth:`predict`, or conformalised quantiles for a quantile model.

        Each window has a *scale*: the standard deviation of the one-step changes over the
        window of the feature the column forecasts (at least 1e-3 of the calibration
        windows' mean). The ``n`` calibration windows are those the first :meth:`fit` held
        out (the latest ``validation_fraction``, not trained on, forecast with a linear path
        fitted before them) but the first ``h - 1`` of an ``h``-step model, whose targets
        were training targets too; a calibration window's *score* is its error over its
        scale, and ``Q`` the ``ceil((n + 1) * coverage)``-th smallest score of the column. A
        model fitted with :class:`~rnnlearn.losses.Pinball` whose levels include ``(1 -
        coverage) / 2`` and ``(1 + coverage) / 2`` (within 1e-9) gives ``[q_lo - Q s, q_hi +
        Q s]`` around those quantiles (conformalised quantile regression), scored by
        ``max(q_lo - y, y - q_hi)``: the band keeps the fitted quantiles' shape and is
        widened (or narrowed, for a negative ``Q``, never past its middle) by what they
        missed on the calibration windows. Any other model gives ``predict ± Q s``, scored
        by the absolute error (around the median or mean of a quantile or Gaussian model).
        A quantile model's band also holds the calibrated band of each pair of its levels
        of lower coverage, so that those bands nest (the pairs are calibrated apart).
        If future scores are exchangeable with the calibration ones, each interval covers
        its target with probability at least ``coverage``; a series' windows are not quite
        exchangeable (see the user guide).

        Parameters
        ----------
        X : array-like or list
            Windows, as for :meth:`fit`.
        coverage : float, default=0.9
            Probability, in ``(0, 1)``, that an interval covers its target.

        Returns
        -------
        lower, upper : ndarray of the shape of :meth:`predict`'s
            The interval's ends.

        Raises
        ------
        ValueError
            If the fit calibrated on too few windows for ``coverage`` (it needs at least
            ``coverage / (1 - coverage)``; none without a hold-out).

        Examples
        --------
        >>> import numpy as np
        >>> from rnnlearn import RNNForecaster
        >>> from rnnlearn.preprocessing import make_windows
        >>> rng = np.random.RandomState(0)
        >>> X, y = make_windows(np.sin(np.arange(600) / 4) + 0.1 * rng.normal(size=600), 12)
        >>> model = RNNForecaster(max_iter=5, random_state=0).fit(X[:400], y[:400])
        >>> lower, upper = model.predict_interval(X[400:], coverage=0.9)
        >>> bool(0.8 < np.mean((lower <= y[400:]) & (y[400:] <= upper)) < 1.0)
        True
        """
        coverage = check_number("coverage", coverage, Real, 0, 1, open_ends="low high")
        lower, upper = self._interval(X, coverage)
        for inner in self._paired_coverages(below=coverage):
            inner_lower, inner_upper = self._interval(X, inner)
            lower, upper = np.minimum(lower, inner_lower), np.maximum(upper, inner_upper)
        return lower, upper

    def _interval(self, X, coverage):
        """The calibrated band of one ``coverage``, before any nesting."""
        pair, half_width = self._calibrated_band(coverage)
        if pair is None:
            lower = upper = self.predict(X)
        else:
            quantiles = self.predict_quantiles(X)[..., list(pair)]
            lower, upper = quantiles[..., 0], quantiles[..., 1]
        windows, lengths, _ = self._windows(X, fitted=True)
        scales = change_scale(windows, lengths, self.target_features_)
        margin = half_width * floored(scales, self.calibration_scales_)
        margin = margin.reshape(lower.shape).astype(lower.dtype)
        lower, upper = lower - margin, upper + margin
        middle = (lower + upper) / 2  # where a narrowed band would cross, its ends meet
        return np.minimum(lower, middle), np.maximum(upper, middle)

    def _calibrated_band(self, coverage):
        """``(pair, Q)``: what calibration fixes of the band of one ``coverage``.

        ``pair`` is the indices of the quantile levels ``(1 -+ coverage) / 2`` (within
        1e-9) of a quantile model calibrated on them, the band's ends, scored by how far
        each calibration target fell outside them, ``max(q_lo - y, y - q_hi)``; ``None``
        for :meth:`predict` at both ends, scored by its absolute errors. ``Q``,
        ``(n_outputs,)``, is the ``rank``-th smallest score over the window's floored scale
        of each column (see :meth:`predict_interval`); a window's half-width is ``Q`` times
        its own floored scale.
        """
        rank = self._calibration_rank(coverage)
        levels = np.asarray(getattr(self.loss_function_, "quantiles", ()), dtype=np.float64)
        ends = [np.flatnonzero(np.abs(levels - (1 + s * coverage) / 2) <= 1e-9) for s in (-1, 1)]
        pair, errors = None, self.calibration_residuals_
        if self.calibration_quantile_errors_ is not None and min(map(len, ends)):
            pair = (int(ends[0][0]), int(ends[1][0]))
            misses = self.calibration_quantile_errors_[..., list(pair)]
            errors = np.maximum(misses[..., 0], -misses[..., 1])
        reference = self.calibration_scales_
        return pair, np.sort(errors / floored(reference, reference), axis=0)[rank - 1]

    def _paired_coverages(self, below):
        """The coverages ``c < below`` of a quantile model calibrated with its levels
        ``(1 -+ c) / 2`` (within 1e-9) as a pair; none for any other model."""
        if self.calibration_quantile_errors_ is None:
            return []
        levels = np.asarray(self.loss_function_.quantiles, dtype=np.float64)
        paired = [q for q in levels[levels < 0.5] if np.any(np.abs(levels - (1 - q)) <= 1e-9)]
        return [1 - 2 * q for q in paired if 1 - 2 * q < below - 1e-9]

    def _calibration_rank(self, coverage):
        """The rank of the calibration score ``coverage`` needs (raise if there is none)."""
        check_is_fitted(self, "n_iter_")
        n_held = 0 if self.calibration_residuals_ is None else len(self.calibration_residuals_)
        rank = int(np.ceil((n_held + 1) * coverage))
        if rank > n_held:
            raise ValueError(
                f"coverage={coverage} needs at least {rank} held-out windows to calibrate "
                f"on; the fit held out {n_held} (but the first h - 1 of an h-step model; "
                f"see early_stopping, validation_fraction)."
            )
        return rank

    def predict_recursive(self, X, n_steps):
        """Forecast ``n_steps`` ahead by rolling a one-step model forward (recursive).

        Each step forecasts the next value of every feature, drops each window's oldest
        step and appends the forecasts as its newest (a window keeps its length); a
        quantile or Gaussian model rolls its point forecast (the median, the mean), so the
        quantiles and standard deviations of later steps are not available. The model
        must forecast one step ahead (fitted on ``make_windows(series, window)``)
        and every feature of the windows once (``target_features_`` a permutation of the
        features): past covariates have to be forecast too. The first step is
        :meth:`predict`. For a model fitted on targets 1 to ``h`` steps ahead
        (``make_windows(..., all_steps=True)``), :meth:`predict` is the direct forecast.

        Parameters
        ----------
        X : array-like or list
            Windows, as for :meth:`fit`; any length.
        n_steps : int
            Steps to forecast, at least 1.

        Returns
        -------
        ndarray of shape (n_samples, n_steps * n_outputs)
            Step-major, as ``make_windows(..., all_steps=True)`` lays out targets: column
            ``s * n_outputs + j`` is output ``j``, ``s + 1`` steps ahead; in the input's
            floating type.

        Raises
        ------
        ValueError
            If the outputs do not forecast every feature of the windows exactly once.

        Examples
        --------
        >>> import numpy as np
        >>> from rnnlearn import RNNForecaster
        >>> from rnnlearn.preprocessing import make_windows
        >>> series = 0.5 * np.arange(200.0) + 5 * np.sin(np.arange(200) * np.pi / 6)
        >>> X, y = make_windows(series, 24)
        >>> model = RNNForecaster(max_iter=5, random_state=0).fit(X[:150], y[:150])
        >>> model.predict_recursive(X[-1:], 12).shape
        (1, 12)
        """
        n_steps = check_number("n_steps", n_steps, Integral, low=1)
        features = self._recursive_features()
        X, lengths, dtype = self._windows(X, fitted=True)
        forecasts = []
        for _ in range(n_steps):  # the windows are checked once, then encoded each step
            forecasts.append(self._forecast(*self._encoded(X, lengths, dtype)).reshape(len(X), -1))
            X = roll_forward(X, lengths, forecasts[-1], features)
        return np.concatenate(forecasts, axis=1)

    def _recursive_features(self):
        """``target_features_``, checked to forecast every feature once (else raise)."""
        check_is_fitted(self, "n_iter_")
        features = self.target_features_
        if not np.array_equal(np.sort(features), np.arange(self.n_features_in_)):
            raise ValueError(
                f"predict_recursive feeds each forecast back into the window, so the model "
                f"must forecast every feature of X once; its target_features_ are "
                f"{features.tolist()} for {self.n_features_in_} feature(s). Fit it on "
                f"make_windows(series, window) without target, or forecast directly "
                f"(make_windows(..., all_steps=True) and predict)."
            )
        return features

    def hidden_states(self, X):
        """States of every layer at every step, for the network's (relative) windows.

        Parameters
        ----------
        X : array-like or list
            Windows, as for :meth:`fit`.

        Returns
        -------
        list of dict of str to ndarray of shape (n_samples, n_steps, n_hidden)
            As :meth:`RNNRegressor.hidden_states`.
        """
        return super().hidden_states(self._transform(X)[0])
