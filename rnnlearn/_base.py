"""What the recurrent estimators share: parameters, the fit ladder, prediction plumbing."""

# SPDX-License-Identifier: BSD-3-Clause

from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._fitted import Model, fitted_attributes, resumed_state, start_state, write_fitted
from ._network import POOLINGS, Network
from ._training import (
    EpochPolicy,
    Hyperparameters,
    TrainingData,
    TrainingSetup,
    emitted_step_weights,
    fit_epoch,
)
from ._validation import (
    Component,
    Flag,
    Interval,
    Options,
    check_callback_list,
    check_dtype,
    check_fitted_sequences,
    check_layer_sizes,
    check_params,
    check_sequences,
    check_verbosity,
)
from .callbacks import CallbackSupportMixin, PrintProgress, _EpochDispatch, with_callbacks
from .cells import CELLS, Cell
from .optimizers import OPTIMIZERS, Optimizer

OUTPUT_MODES = ("last", "sequence", "after")
POOLING_MODES = ("auto", "last", *POOLINGS)
LEARNING_RATE_SCHEDULES = ("constant", "plateau")


class BaseRNN(CallbackSupportMixin, BaseEstimator, ABC):
    """Base class of :class:`RNNRegressor` and :class:`RNNClassifier`; see those.

    With scikit-learn >= 1.9 it takes part in ``sklearn.callback``: ``set_callbacks``,
    and a callback context per ``fit`` (``max_iter`` epoch subtasks) or ``partial_fit``
    (one epoch subtask).
    """

    def __init__(
        self,
        hidden_layer_sizes=(64,),
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
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.cell = cell
        self.output_mode = output_mode
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.optimizer = optimizer
        self.alpha = alpha
        self.dropout = dropout
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.learning_rate_schedule = learning_rate_schedule
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.max_grad_norm = max_grad_norm
        self.dtype = dtype
        self.callbacks = callbacks

    # ------------------------------------------------------------------ subclass hooks

    _encoding_attributes = ()
    """Names of the fitted attributes that :meth:`_encode_targets` defines."""

    _auto_pooling = "last"
    """What ``pooling='auto'`` reads with ``output_mode='last'`` (chosen on real series)."""

    @abstractmethod
    def _make_loss(self, loss, encoding):
        """The training loss, given the checked ``loss`` parameter (if any) and the encoding."""

    @abstractmethod
    def _encode_targets(self, y, n_samples, lengths, sequence, *, fitted, classes=None):
        """Validate ``y``; return ``(Y, step_weights, encoding)``.

        ``Y`` is ``(n_samples, n_steps, n_outputs)`` encoded for the loss (any float dtype),
        ``step_weights`` ``(n_samples, n_steps)`` (class weights, or ``None`` for ones) and
        ``encoding`` the fitted attributes the encoding defines (``_encoding_attributes``).
        """

    @abstractmethod
    def _degenerate(self, raw, Y, weights, loss):
        """How a model with these raw outputs is degenerate (a phrase), else ``None``.

        ``raw``, ``Y`` and ``weights`` are time-major, as for :meth:`_score_raw`.
        """

    @abstractmethod
    def _score_raw(self, raw, Y, weights, loss):
        """Score (R² or accuracy) of raw outputs against encoded targets, rows weighted.

        ``raw``, ``Y`` and ``weights`` are time-major; ``loss`` gives the output link.
        """

    # ------------------------------------------------------------------ parameters

    _parameter_constraints = {
        "hidden_layer_sizes": check_layer_sizes,
        "cell": Component(CELLS, Cell),
        "output_mode": Options(*OUTPUT_MODES),
        "pooling": Options(*POOLING_MODES),
        "bidirectional": Flag(),
        "optimizer": Component(OPTIMIZERS, Optimizer),
        "alpha": Interval(Real, 0),
        "dropout": Interval(Real, 0, 1, open_ends="high"),
        "batch_size": Interval(Integral, 1),
        "max_iter": Interval(Integral, 1),
        "tol": Interval(Real, 0),
        "n_iter_no_change": Interval(Integral, 1),
        "learning_rate_schedule": Options(*LEARNING_RATE_SCHEDULES),
        "early_stopping": Flag(),
        "validation_fraction": Interval(Real, 0, 1, open_ends="low high"),
        "shuffle": Flag(),
        "random_state": None,  # checked by check_random_state when a fit starts
        "warm_start": Flag(),
        "verbose": check_verbosity,
        "max_grad_norm": Interval(Real, 0, open_ends="low", allow_none=True),
        "dtype": check_dtype,
        "callbacks": check_callback_list,
    }
    """Hyperparameter name -> constraint (see :func:`._validation.check_params`); the rules
    between parameters are in :meth:`_check_combinations`."""

    def set_params(self, **params):
        """Set parameters, as :meth:`sklearn.base.BaseEstimator.set_params` does.

        A nested setting of a component given by its string alias turns the alias into its
        object first: with the default ``optimizer="adam"``,
        ``set_params(optimizer__learning_rate=0.01)`` sets ``optimizer=Adam(learning_rate=
        0.01)``. So a grid over ``"optimizer__learning_rate"`` (or ``"cell__activation"``)
        works as first written, while the defaults stay immutable strings.

        Parameters
        ----------
        **params : dict
            Estimator parameters, nested ones as ``<component>__<parameter>``.

        Returns
        -------
        self : object
            The estimator.
        """
        params = dict(params)
        for name, constraint in self._parameter_constraints.items():
            if not isinstance(constraint, Component):
                continue
            value = params.get(name, getattr(self, name, None))
            nested = any(key.startswith(name + "__") for key in params)
            if nested and isinstance(value, str) and value in constraint.aliases:
                params[name] = constraint.aliases[value]()
        return super().set_params(**params)

    def _check_params(self):
        """Validate every hyperparameter and resolve the objects; changes nothing."""
        checked = check_params(self.get_params(deep=False), self._parameter_constraints)
        self._check_combinations()
        pooling = self.pooling
        if pooling == "auto":
            pooling = self._auto_pooling if self.output_mode == "last" else "last"
        return Hyperparameters(
            sizes=checked["hidden_layer_sizes"],
            pooling=pooling,
            cell=checked["cell"],
            optimizer=checked["optimizer"],
            loss=checked.get("loss"),
            callbacks=checked["callbacks"],
            dtype=checked["dtype"],
        )

    def _check_combinations(self):
        """Refuse hyperparameters that are valid alone but not together."""
        if self.pooling not in ("auto", "last") and self.output_mode != "last":
            raise ValueError(
                f"pooling={self.pooling!r} pools over time for one output per sequence, "
                f"so it needs output_mode='last'; got output_mode={self.output_mode!r}."
            )
        if self.bidirectional and self.output_mode == "after":
            raise ValueError(
                "bidirectional=True needs output_mode='last' or 'sequence': with "
                "output_mode='after' the outputs come after the input ends, where the "
                "backward direction has nothing to read."
            )

    # ------------------------------------------------------------------ fitting

    def fit(self, X, y, sample_weight=None):
        """Train the network for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or list
            Sequences: 3-D; 2-D ``(n_samples, n_timesteps)`` for univariate series; or a
            list of ``(n_timesteps_i, n_features)`` arrays of different lengths.
        y : array-like
            Targets; their shape depends on ``output_mode`` (see the class docstring).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence in the loss (and of each of its steps).

        Returns
        -------
        self
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, *, incremental, classes=None):
        """The fit ladder: prepare (may raise, changes nothing), then :meth:`_run`."""
        setup, state = self._prepare(X, y, sample_weight, incremental=incremental, classes=classes)
        return self._run(setup, state, X, y, sample_weight, incremental=incremental)

    @with_callbacks
    def _run(self, setup, state, X, y, sample_weight, *, incremental):
        """Train a prepared run and commit each epoch (``X``, ``y``, ``sample_weight``: what
        callbacks see), inside sklearn's callback management, which tears the callbacks
        down however training ends. :mod:`rnnlearn.streaming` runs its stream here too."""
        n_epochs = 1 if incremental else self.max_iter
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        context = None  # sklearn's callback context (scikit-learn >= 1.9): a subtask per epoch
        if hasattr(self, "_init_callback_context"):
            task = "partial_fit" if incremental else "fit"
            context = self._init_callback_context(task_name=task, max_subtasks=n_epochs)
        dispatch = _EpochDispatch(setup.callbacks, context, X, y, metadata)
        policy = EpochPolicy(
            self.tol,
            self.n_iter_no_change,
            plateau=self.learning_rate_schedule == "plateau",
            validated=setup.validation is not None,
            incremental=incremental,
            state=state,
        )
        dispatch.begin_training(self)
        self._train(setup, state, policy, n_epochs, dispatch)
        dispatch.end_training(self)
        return self

    def _prepare(self, X, y, sample_weight, *, incremental, classes):
        """Validate everything; return the run's ``(setup, state)``. Changes nothing."""
        hyper = self._check_params()
        X, lengths = check_sequences(X)
        resume = hasattr(self, "_params") and (incremental or self.warm_start)
        Y, step_weights, encoding = self._encode_targets(
            y, len(X), lengths, self.output_mode != "last", fitted=resume, classes=classes
        )
        network = self._network_for(hyper, X.shape, Y.shape)
        if resume:
            self._check_resumable(network, hyper.dtype)
            state = resumed_state(self, hyper.optimizer)
        else:
            rng = check_random_state(self.random_state)
            params = network.init_params(rng, hyper.dtype)
            state = start_state(params, hyper.optimizer.init(params), rng)
        dtype = state.params.dtype
        weights = emitted_step_weights(
            step_weights, sample_weight, lengths, X.shape[:2], self.output_mode, dtype
        )
        synced = self.output_mode == "sequence"
        data = TrainingData.checked(X, lengths, Y, weights, dtype, synced)
        validation = None
        if self.early_stopping and not incremental:
            data, validation = self._split_validation(data, Y, encoding, state.rng)
        loss, validated = self._make_loss(hyper.loss, encoding), validation is not None
        model = Model(network, hyper.optimizer, loss, self.output_mode, encoding, validated)
        setup = TrainingSetup(
            model=model,
            data=data,
            validation=validation,
            batch_size=min(self.batch_size, data.n_samples),
            shuffle=self.shuffle,
            alpha=self.alpha,
            max_grad_norm=self.max_grad_norm,
            weight_mask=network.weight_mask(),
            callbacks=(PrintProgress(),) * bool(self.verbose) + hyper.callbacks,
        )
        return setup, state

    def _network_for(self, hyper, X_shape, Y_shape):
        """The network for inputs and encoded targets of these shapes (batch-first)."""
        n_timesteps, n_features = X_shape[1:]
        if self.output_mode == "sequence" and Y_shape[1] != n_timesteps:
            raise ValueError(
                f"With output_mode='sequence', y needs one target per input step: "
                f"X has {n_timesteps} steps, y has {Y_shape[1]}."
            )
        return Network(
            hyper.cell,
            n_features,
            hyper.sizes,
            Y_shape[2],
            {"last": 1, "sequence": None, "after": Y_shape[1]}[self.output_mode],
            pooling=hyper.pooling,
            dropout=float(self.dropout),
            bidirectional=bool(self.bidirectional),
        )

    def _check_resumable(self, network, dtype):
        """Refuse to resume training on a different architecture, feature count or dtype."""
        if dtype != self._params.dtype:
            raise ValueError(
                f"dtype={self.dtype!r} differs from the fitted network's "
                f"{self._params.dtype.name}; set dtype={self._params.dtype.name!r} to "
                f"continue training, or refit with warm_start=False to start over."
            )
        if network.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {network.n_features} features per time step, but {type(self).__name__} "
                f"was fitted with {self.n_features_in_}; refit with warm_start=False to start over."
            )
        if not network.matches(self._network):
            raise ValueError(
                "The network's architecture (cell, hidden_layer_sizes, pooling, bidirectional, "
                "outputs or output steps) differs from the fitted one; refit with warm_start=False "
                "to start over."
            )

    def _stratify_labels(self, Y, encoding):
        """Labels to stratify the validation split by (``None`` for regression)."""
        return None

    def _split_validation(self, data, Y, encoding, rng):
        """``(training, held_out)`` for early stopping: a random share, stratified if it can."""
        return data.split(self.validation_fraction, self._stratify_labels(Y, encoding), rng)

    def _train(self, setup, state, policy, n_epochs, dispatch):
        """The epoch loop: train, let the policy judge, commit, call callbacks.

        Callbacks see each epoch's weights; at the end the policy restores the best
        weights and checks for a collapse (see :class:`~._training.EpochPolicy`).
        """
        stopped = False
        for _ in range(n_epochs):
            dispatch.begin_epoch(self)
            record = fit_epoch(setup, state, self._score_raw)
            policy_stops = policy.end_epoch(record, state)
            state.history.append(record)
            self._commit(setup.model, state)
            attributes = lambda: fitted_attributes(setup.model, state)  # noqa: E731
            stopped = dispatch.end_epoch(self, record, attributes) or policy_stops
            if stopped:
                break
        if policy.finish(state, exhausted=not stopped):
            self._commit(setup.model, state)
        policy.check_collapse(setup, state, self._degenerate)

    def _commit(self, model, state):
        """Write every fitted attribute (the only place that does); see :mod:`._fitted`."""
        write_fitted(self, model, state)

    # ------------------------------------------------------------------ prediction

    @property
    def coefs_(self):
        """Fitted parameters: one dict per recurrent layer, then the output layer's.

        Each recurrent layer has ``W_x`` ``(n_inputs, n_gates * n_hidden)``, ``W_h``
        ``(n_hidden, n_gates * n_hidden)`` and ``b`` ``(n_gates * n_hidden,)`` (plus ``b_hn``
        for a GRU with ``reset_after=True``), gates fused in PyTorch's order, and with
        ``bidirectional=True`` the same again for the backward direction, named
        ``W_x_reverse``, ... (so each layer above reads ``2 * n_hidden`` inputs); the output
        layer has ``W`` ``(n_hidden, n_outputs)`` (``2 * n_hidden`` rows when bidirectional)
        and ``b``. Read-only views.
        """
        check_is_fitted(self, "n_iter_")
        views = self._network.unpack(self._params)
        for layer in views:
            for value in layer.values():
                value.flags.writeable = False
        return views

    def _check_X(self, X):
        """Validate ``X`` for a fitted model: ``(X_time_major, lengths, input_dtype)``; see
        :func:`._validation.check_fitted_sequences`."""
        if not hasattr(self, "n_iter_"):  # check_is_fitted, without its cost when fitted
            check_is_fitted(self, "n_iter_")
        n_features, dtype = self.n_features_in_, self._params.dtype
        return check_fitted_sequences(X, n_features, dtype, type(self).__name__)

    def _raw_output(self, X_tm, lengths):
        """Raw outputs ``(n_steps, n_samples, n_outputs)`` (see :meth:`Network.predict`)."""
        return self._network.predict(self._params, X_tm, lengths)

    def _format_output(self, values, lengths):
        """Time-major per-step values ``(n_steps, n_samples, ...)`` to what users get back.

        Many-to-one drops the step axis; synced sequences of different lengths come back
        as a list of arrays trimmed to each length; otherwise batch-first arrays.
        """
        if self._output_mode == "last":
            return values[0]
        values = values.swapaxes(0, 1)
        if self._output_mode == "sequence" and lengths is not None:
            return [v[:n] for v, n in zip(values, lengths, strict=True)]
        return values

    def score(self, X, y, sample_weight=None):
        """Score on sequences: R² (regressor) or accuracy (classifier) over all emitted steps.

        With sequence output every (sample, step) pair counts as one prediction
        (padded steps excluded), each weighted by its sample's weight.

        Parameters
        ----------
        X : array-like or list
            Sequences, as for :meth:`fit`.
        y : array-like or list
            True targets, as for :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        float
        """
        X_tm, lengths, _ = self._check_X(X)
        sequence = self._output_mode != "last"
        Y = self._encode_targets(y, X_tm.shape[1], lengths, sequence, fitted=True)[0]
        weights = emitted_step_weights(
            np.ones(Y.shape[:2]), sample_weight, lengths, Y.shape[:2], self._output_mode, np.float64
        )
        raw = self._raw_output(X_tm, lengths)
        return self._score_raw(raw, Y.transpose(1, 0, 2), weights.T, self.loss_function_)

    def hidden_states(self, X):
        """States of every layer at every step (the R package's ``predictr(hidden=TRUE)``).

        Parameters
        ----------
        X : array-like or list
            Sequences, as for :meth:`fit`.

        Returns
        -------
        list of dict of str to ndarray of shape (n_samples, n_steps, n_hidden)
            One dict per layer, bottom first: ``"h"`` for every cell, plus ``"c"``, ``"i"``,
            ``"f"``, ``"g"``, ``"o"`` (LSTM) or ``"r"``, ``"z"``, ``"n"`` (GRU), in the
            network's dtype whatever the input's. Padded steps carry the last state; with
            ``output_mode='after'`` the steps after the input are included. A
            bidirectional layer adds the backward direction's states as ``"h_reverse"``,
            ``"c_reverse"``, ..., aligned to the input's steps.
        """
        X_tm, lengths, _ = self._check_X(X)
        cache = self._network.forward(self._params, X_tm, lengths)[1]
        return [
            {name: np.ascontiguousarray(np.moveaxis(value, 0, 1)) for name, value in layer.items()}
            for layer in self._network.hidden_states(cache)
        ]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.target_tags.multi_output = True
        tags.non_deterministic = False
        return tags
