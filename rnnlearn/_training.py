"""The training run as typed objects; one epoch of training; the policy between epochs.

:func:`run_epoch` trains one epoch of minibatches with its divergence guard,
:func:`fit_epoch` wraps it into a scored ``history_`` record, and :class:`EpochPolicy`
decides after each epoch whether to stop, cut the learning rate and which weights to keep.
"""

# SPDX-License-Identifier: BSD-3-Clause

import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ._network import step_mask
from ._validation import check_representable, check_sample_weight
from .cells._threads import single_threaded_blas
from .exceptions import (
    CollapseWarning,
    DivergenceWarning,
    TrainingInterruptedWarning,
    warn_at_call_site,
)
from .optimizers import add_l2_penalty, clip_by_global_norm, cut_learning_rate_on_plateau


class TrainingData:
    """A training set, held batch-first; each minibatch is gathered time-major.

    The arrays stay as the caller gives them, not copied: :meth:`batch` gathers a
    minibatch's samples, transposes them to the engine's time-major layout and converts
    them to ``dtype`` when the batch is drawn (as PyTorch slices its batch-first tensors).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_timesteps, n_features)
        Right-padded inputs, of any floating dtype.
    lengths : ndarray of int of shape (n_samples,) or None
        Valid steps per sequence; ``None`` when none is padded.
    y : ndarray of shape (n_samples, n_steps, n_outputs)
        Targets of the emitted steps, encoded for the loss.
    weights : ndarray of shape (n_samples, n_steps) or (n_samples, 1), or None
        Weight of each emitted step: sample (and class) weight, 0 on padding; one column
        weighs every step of a sample alike. ``None``: every emitted step weighs 1, the
        padded steps of synced output 0.
    dtype : numpy.dtype
        The training dtype, that of every batch.
    synced : bool, default=False
        Whether ``y`` has one step per input step (synced output), so that cutting the
        input's padding cuts ``y`` and ``weights`` alike.

    Attributes
    ----------
    weight_per_sample : float
        Total weight of the emitted steps per sample.
    """

    def __init__(self, X, lengths, y, weights, dtype, synced=False):
        if weights is not None:
            weights = np.broadcast_to(weights, y.shape[:2])
        self.X, self.lengths, self.y, self.weights = X, lengths, y, weights
        self.dtype, self.synced = np.dtype(dtype), synced
        self.weight_per_sample = self._total_weight() / len(X)

    @classmethod
    def checked(cls, X, lengths, y, weights, dtype, synced=False):
        """Build one, raising ``ValueError`` if ``X`` or ``y`` has values too large for
        ``dtype`` (see :func:`check_range`)."""
        check_range("X", X, dtype)
        check_range("y", y, dtype)
        return cls(X, lengths, y, weights, dtype, synced)

    def _total_weight(self):
        """Sum of the step weights, summed in ``dtype`` and time-major as it always was
        (the order of a float sum changes its last bits, and the loss scales by it)."""
        if self.weights is not None:
            return float(np.ascontiguousarray(self.weights.T, dtype=self.dtype).sum())
        if self.synced and self.lengths is not None:
            return float(self.lengths.sum())
        return float(self.y.shape[0] * self.y.shape[1])

    @property
    def n_samples(self):
        """Number of sequences."""
        return len(self.X)

    def _cut(self, index):
        """Batch-first ``(X, lengths, y, weights)`` of the samples in ``index``, cut to
        their longest sequence."""
        lengths = None if self.lengths is None else self.lengths[index]
        steps = self.X.shape[1] if lengths is None else int(lengths.max(initial=0))
        out_steps = steps if self.synced else self.y.shape[1]
        weights = None if self.weights is None else self.weights[index, :out_steps]
        return self.X[index, :steps], lengths, self.y[index, :out_steps], weights

    def batch(self, index):
        """The ``(X, lengths, y, weights)`` of the samples in ``index`` (a slice or array),
        time-major, C-contiguous and in ``dtype``, as the kernels take them.

        Steps past the batch's longest sequence are cut, so a batch of short sequences
        costs its own length, not the longest of the whole set.
        """
        X, lengths, y, weights = self._cut(index)
        if weights is not None:
            weights = _time_major(weights, self.dtype)
        elif self.synced and lengths is not None:
            weights = step_mask(lengths, len(y[0])).astype(self.dtype)
        else:
            weights = np.ones((y.shape[1], len(y)), self.dtype)
        return _time_major(X, self.dtype), lengths, _time_major(y, self.dtype), weights

    def time_major(self):
        """The whole set as one batch (see :meth:`batch`), for scoring it."""
        return self.batch(slice(None))

    def epoch(self, batch_size, shuffle, rng):
        """Yield one epoch's ``(batch, weight_per_sample)``: every sample once, in
        minibatches (see :func:`minibatches` and :meth:`batch`) with the loss's
        normaliser; a stream of chunks (:mod:`rnnlearn.streaming`) yields the same."""
        for index in minibatches(self.n_samples, batch_size, shuffle, rng):
            yield self.batch(self._longest_first(index)), self.weight_per_sample

    def _longest_first(self, index):
        """The samples of ``index`` ordered by length, longest first (ties in their order):
        at each step the kernels' products then stop at the last sequence still running,
        so a batch costs its sequences' own steps. The gradient is a sum over the samples,
        so their order in the batch changes only its rounding."""
        if self.lengths is None:
            return index
        index = np.arange(self.n_samples)[index]
        return index[np.argsort(-self.lengths[index], kind="stable")]

    def subset(self, index):
        """A new :class:`TrainingData` holding the samples in ``index``."""
        return TrainingData(*self._cut(index), self.dtype, synced=self.synced)

    def split(self, fraction, stratify, rng):
        """Hold out ``fraction`` of the samples, stratified by ``stratify`` when it can be.

        Returns ``(training, held_out)``; raises ``ValueError`` when one side is empty.
        """
        index = np.arange(self.n_samples)
        try:
            train, held_out = train_test_split(
                index, test_size=fraction, random_state=rng, stratify=stratify
            )
        except ValueError:
            train, held_out = train_test_split(index, test_size=fraction, random_state=rng)
        if len(train) == 0 or len(held_out) == 0:
            raise ValueError(
                f"early_stopping needs samples to train and validate on; "
                f"validation_fraction={fraction} of "
                f"{self.n_samples} samples leaves none for one side."
            )
        return self.subset(train), self.subset(held_out)

    def split_latest(self, n_held_out):
        """Hold out the last ``n_held_out`` samples in the order given (for time-ordered data).

        Returns ``(training, held_out)``: the samples before them and those samples.
        """
        n_train = self.n_samples - n_held_out
        return self.subset(slice(0, n_train)), self.subset(slice(n_train, None))


def _time_major(values, dtype):
    """Batch-first ``values`` with their first two axes swapped, C-contiguous, in ``dtype``."""
    return np.ascontiguousarray(np.swapaxes(values, 0, 1), dtype=dtype)


def check_range(name, values, dtype):
    """Raise :func:`check_representable`'s ``ValueError`` if ``values`` has values too large
    for ``dtype``, converting only its extremes (no copy of ``values``)."""
    check_representable(name, np.array([values.min(), values.max()]), dtype)


def emitted_step_weights(step_weights, sample_weight, lengths, shape, output_mode, dtype):
    """Weights of the emitted steps: per step, times per sample, 0 on padded steps.

    Parameters
    ----------
    step_weights : ndarray of shape (n_samples, n_steps) or None
        Weights from the target encoding (class weights); ``None`` for ones.
    sample_weight : array-like of shape (n_samples,) or None
        The user's sample weights, checked here.
    lengths : ndarray of int of shape (n_samples,) or None
        Sequence lengths; with ``output_mode='sequence'`` padded steps weigh 0.
    shape : tuple of int
        ``(n_samples, n_timesteps)`` of the padded input.
    output_mode : {'last', 'sequence', 'after'}
        What the model emits.
    dtype : numpy.dtype
        Type of the sample weights.

    Returns
    -------
    ndarray of shape (n_samples, n_steps) or (n_samples, 1), or None
        One column weighs every step of a sample alike (no ``step_weights``); ``None``
        when neither ``step_weights`` nor ``sample_weight`` is given: every emitted step
        weighs 1, the padded steps of sequence output 0 (see :class:`TrainingData`).
    """
    if step_weights is None and sample_weight is None:
        return None
    n_samples, n_timesteps = shape
    weights = check_sample_weight(sample_weight, n_samples, dtype)[:, None]
    if step_weights is not None:
        weights = step_weights * weights
    if output_mode == "sequence" and lengths is not None:
        weights = weights * step_mask(lengths, n_timesteps).T
    return weights


def minibatches(n_samples, batch_size, shuffle, rng):
    """Yield index arrays (or slices) covering every sample once.

    Parameters
    ----------
    n_samples : int
        Number of samples.
    batch_size : int
        Samples per batch (the last batch may be smaller).
    shuffle : bool
        Draw a fresh permutation from ``rng``.
    rng : numpy.random.RandomState
        Source of the permutation.

    Yields
    ------
    ndarray of int or slice
    """
    order = rng.permutation(n_samples) if shuffle else None
    for start in range(0, n_samples, batch_size):  # gen_batches' slices, without its checks
        batch = slice(start, min(start + batch_size, n_samples))
        yield batch if order is None else order[batch]


def epoch_record(epoch, loss, learning_rate, *, duration=0.0, status="ok", validation_score=None):
    """One ``history_`` record: what an epoch (or an import of weights) did.

    Parameters
    ----------
    epoch : int
        Its number, from 1 over every fit that continued the model.
    loss : float
        Training loss (NaN when the epoch failed).
    learning_rate : float
        The optimizer's learning rate during the epoch.
    duration : float, default=0.0
        Seconds taken.
    status : {'ok', 'diverged', 'interrupted', 'imported'}, default='ok'
        How it ended.
    validation_score : float or None, default=None
        Score on the validation split (early stopping only).

    Returns
    -------
    dict
    """
    return {
        "epoch": epoch,
        "loss": loss,
        "validation_score": validation_score,
        "learning_rate": learning_rate,
        "duration": duration,
        "status": status,
    }


class Hyperparameters(NamedTuple):
    """An estimator's hyperparameters as a run uses them, checked and resolved to objects."""

    sizes: tuple
    pooling: str
    cell: object
    optimizer: object
    loss: object
    callbacks: tuple
    dtype: np.dtype


EXPLOSION_FACTOR = 1e6
"""A batch loss this many times the run's first batch loss counts as divergence."""


@dataclass(frozen=True)
class TrainingSetup:
    """What stays fixed during a training run.

    Parameters
    ----------
    model : Model
        The network, optimizer, loss and target encoding (see :class:`~._fitted.Model`).
    data : TrainingData
        The training set, or a stream of chunks with its ``epoch``, ``n_samples`` and
        ``time_major`` (:mod:`rnnlearn.streaming`).
    validation : TrainingData or None
        The held-out set scored after every epoch (early stopping), else ``None``.
    batch_size : int
        Samples per minibatch, at most ``data.n_samples``.
    shuffle : bool
        Draw a fresh sample order every epoch.
    alpha : float
        L2 penalty strength on the weights.
    max_grad_norm : float or None
        Global-norm clipping threshold.
    weight_mask : ndarray of bool of shape (n_params,)
        Entries that are weights, not biases (see :meth:`Network.weight_mask`).
    callbacks : tuple of callable
        Called after every epoch as ``callback(estimator, record)``.
    """

    model: object
    data: object
    validation: TrainingData | None
    batch_size: int
    shuffle: bool
    alpha: float
    max_grad_norm: float | None
    weight_mask: np.ndarray
    callbacks: tuple


@dataclass
class DivergenceGuard:
    """The last parameters whose batch loss was sane, and the loss that defines sane.

    Parameters
    ----------
    last_good : ndarray of shape (n_params,)
        Parameters before the last update (initially the starting parameters).
    reference : float or None, default=None
        The run's first batch loss; ``None`` before it.
    """

    last_good: np.ndarray
    reference: float | None = None


@dataclass
class TrainingState:
    """What changes during a training run; the epoch loop updates it in place.

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat network parameters.
    optimizer_state : dict
        As made by :meth:`Optimizer.init`.
    rng : numpy.random.RandomState
        Source of the shuffling, the dropout masks (and of the validation split).
    history : list of dict
        One record per epoch, over every fit that continued this model.
    guard : DivergenceGuard
        Where to roll back to when a batch diverges.
    no_improvement : int, default=0
        Epochs in a row without progress.
    best_loss, best_score : float or None, default=None
        Lowest training loss; best validation score of this fit.
    samples_seen : int, default=0
        Training samples seen, over every fit that continued this model.
    """

    params: np.ndarray
    optimizer_state: dict
    rng: np.random.RandomState
    history: list
    guard: DivergenceGuard
    no_improvement: int = 0
    best_loss: float | None = None
    best_score: float | None = None
    samples_seen: int = 0


@single_threaded_blas()
def run_epoch(setup, state):
    """Train for one epoch, updating ``state`` in place.

    Parameters
    ----------
    setup : TrainingSetup
        The fixed parts of the run.
    state : TrainingState
        Parameters, optimizer state, generator and divergence guard, all updated.

    Returns
    -------
    mean_loss : float
        Mean over batches, weighted by batch size, of the penalised batch loss (each batch
        loss divided by the batch's expected total weight, so without penalty this is the
        weighted mean loss of the epoch); NaN when the epoch diverged.
    diverged : bool
        Whether a batch loss was non-finite or above ``EXPLOSION_FACTOR`` times the
        reference, or the parameters became non-finite. Then ``state.params`` are restored
        to ``state.guard.last_good`` and the epoch ends early.
    """
    network, loss, optimizer = setup.model.network, setup.model.loss, setup.model.optimizer
    data, params, guard = setup.data, state.params, state.guard
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for batch, weight_per_sample in data.epoch(setup.batch_size, setup.shuffle, state.rng):
            X, lengths, y, weights = batch
            n_batch = X.shape[1]
            masks = network.dropout_masks(state.rng, n_batch, params.dtype)
            raw, cache = network.forward(params, X, lengths, dropout_masks=masks)
            value, d_raw = loss.loss_gradient(y, raw, weights, weight_per_sample * n_batch)
            if guard.reference is None:
                guard.reference = value
            if not np.isfinite(value) or value > EXPLOSION_FACTOR * guard.reference:
                params[...] = guard.last_good
                return float("nan"), True
            grads = network.backward(params, cache, d_raw)[0]
            value += add_l2_penalty(grads, params, setup.alpha / n_batch, setup.weight_mask)
            clip_by_global_norm(grads, setup.max_grad_norm)
            guard.last_good[...] = params
            optimizer.update(params, grads, state.optimizer_state)
            total += value * n_batch
        if not np.all(np.isfinite(params)):
            params[...] = guard.last_good
            return float("nan"), True
    return total / data.n_samples, False


def fit_epoch(setup, state, score):
    """Train one epoch with :func:`run_epoch`, score it, and return its ``history_`` record.

    After an epoch that went well the optimizer's epoch counter (the learning-rate decay)
    advances and, with a validation split, the record gets its ``validation_score``. After
    a diverged epoch the optimizer state starts afresh at the last good parameters. Ctrl-C
    during the epoch ends it with status ``'interrupted'`` and the weights of its last step.

    Parameters
    ----------
    setup : TrainingSetup
        The fixed parts of the run.
    state : TrainingState
        Updated in place (``samples_seen`` included); ``history`` is left to the caller.
    score : callable
        ``score(raw, y, weights, loss)`` of time-major raw outputs against the
        validation split's targets (the estimator's ``_score_raw``).

    Returns
    -------
    dict
        The epoch's record (see :func:`epoch_record`).
    """
    start = time.perf_counter()
    optimizer = setup.model.optimizer
    learning_rate = optimizer.learning_rate_at(state.optimizer_state)
    try:
        loss, diverged = run_epoch(setup, state)
        status = "diverged" if diverged else "ok"
    except KeyboardInterrupt:
        loss, status = float("nan"), "interrupted"
    state.samples_seen += setup.data.n_samples
    record = epoch_record(
        len(state.history) + 1,
        loss,
        learning_rate,
        duration=time.perf_counter() - start,
        status=status,
    )
    if status == "ok":
        optimizer.end_epoch(state.optimizer_state)
        held_out = setup.validation
        if held_out is not None:
            X, lengths, y, weights = held_out.time_major()
            raw = setup.model.network.predict(state.params, X, lengths)
            record["validation_score"] = score(raw, y, weights, setup.model.loss)
    elif status == "diverged":
        state.optimizer_state = optimizer.init(state.params)
    return record


class EpochPolicy:
    """What a training run does between epochs, holding its own state.

    After every epoch (:meth:`end_epoch`) it tracks progress, the lowest training loss or,
    with a validation split, the best validation score, counting the epochs in a row that
    improved on the best by less than ``tol``. After ``n_iter_no_change`` such epochs it
    cuts the learning rate (``plateau``, see
    :func:`~rnnlearn.optimizers.cut_learning_rate_on_plateau`) or, when no cut is left,
    says to stop. A failed epoch (diverged or interrupted) stops training with a warning.
    At the end (:meth:`finish`) it warns when ``max_iter`` ran out and puts back the best
    weights it kept: those of the best validation score, else of the lowest training loss
    (none in ``partial_fit``, where each call is one epoch of a stream; a failed fit keeps
    its last good weights unless it was validated). :meth:`check_collapse` then warns if
    the fit went wrong unnoticed. Warnings point at the user's call.

    Parameters
    ----------
    tol : float
        Least gain that counts as an improvement.
    n_iter_no_change : int
        Epochs in a row without improvement before a cut or a stop.
    plateau : bool
        Cut the learning rate before stopping.
    validated : bool
        Progress is the validation score (early stopping), else the training loss.
    incremental : bool
        A ``partial_fit`` epoch: it never stops on convergence, keeps no best weights by
        training loss and raises no ``max_iter`` or collapse warnings.
    state : TrainingState
        The run's state: the policy resumes from its ``no_improvement``, ``best_loss`` and
        ``best_score`` and writes them back after every epoch, for the fitted attributes.

    Attributes
    ----------
    no_improvement : int
        Epochs in a row without improvement.
    best_loss, best_score : float or None
        Lowest training loss; best validation score.
    best_epoch : int or None
        Number of the epoch whose weights are kept, ``None`` before one is.
    best_params : ndarray or None
        Those weights (a copy).
    failed : bool
        Whether the last epoch diverged or was interrupted.
    first_epoch : int
        Epochs in the history before this run (the collapse check reads the run's own).
    """

    def __init__(self, tol, n_iter_no_change, *, plateau, validated, incremental, state):
        self.tol, self.n_iter_no_change = tol, n_iter_no_change
        self.plateau, self.validated, self.incremental = plateau, validated, incremental
        self.no_improvement = state.no_improvement
        self.best_loss, self.best_score = state.best_loss, state.best_score
        self.best_epoch = self.best_params = None
        self.failed = False
        self.first_epoch = len(state.history)

    def score_start(self, setup, state, params, score):
        """Make ``params`` a candidate, as "epoch 0" of a validated run.

        Scores them on the validation split, so :meth:`finish` restores them unless an
        epoch improves on them; no-op without a validation split.

        Parameters
        ----------
        setup : TrainingSetup
            The run's model and validation split.
        state : TrainingState
            The run's state; its ``best_score`` is set.
        params : ndarray of shape (n_params,)
            The candidate weights (copied), such as the starting ones.
        score : callable
            As for :func:`fit_epoch`.
        """
        held_out = setup.validation
        if held_out is None:
            return
        X, lengths, y, weights = held_out.time_major()
        raw = setup.model.network.predict(params, X, lengths)
        self.best_score = score(raw, y, weights, setup.model.loss)
        state.best_score = self.best_score
        self._keep({"epoch": len(state.history)}, params)

    def end_epoch(self, record, state):
        """Take in an epoch's record; return whether training should stop after it.

        Parameters
        ----------
        record : dict
            The epoch's ``history_`` record.
        state : TrainingState
            Its parameters are copied when they are the best so far; the plateau cut
            changes its optimizer state; its progress fields are updated.

        Returns
        -------
        bool
            ``True`` when the epoch failed or (outside ``partial_fit``) training converged.
        """
        if record["status"] != "ok":
            self.failed = True
            _warn_failure(record)
            return True
        improved = self._track_best(record, state.params)
        self.no_improvement = 0 if improved else self.no_improvement + 1
        converged = self.no_improvement > self.n_iter_no_change
        if converged and self.plateau and cut_learning_rate_on_plateau(state.optimizer_state):
            self.no_improvement, converged = 0, False  # a fresh start at the lower rate
        state.no_improvement = self.no_improvement
        state.best_loss, state.best_score = self.best_loss, self.best_score
        return converged and not self.incremental

    def _track_best(self, record, params):
        """Keep the best score or loss (and weights); return whether it improved by ``tol``."""
        if self.validated:
            score, best = record["validation_score"], self.best_score
            if best is None or score > best:
                self.best_score = score
                self._keep(record, params)
            return best is None or score > best + self.tol
        loss, best = record["loss"], self.best_loss
        if best is None or loss < best:
            self.best_loss = loss
            if not self.incremental:
                self._keep(record, params)
        return best is None or loss < best - self.tol

    def _keep(self, record, params):
        """Remember ``params`` as the weights of epoch ``record['epoch']``."""
        self.best_epoch, self.best_params = record["epoch"], params.copy()

    def finish(self, state, *, exhausted):
        """End the run: warn if ``max_iter`` ran out, then restore the best weights.

        Parameters
        ----------
        state : TrainingState
            Its parameters are overwritten with the best ones kept, if any.
        exhausted : bool
            Whether every epoch of the run was trained without a stop.

        Returns
        -------
        bool
            Whether the parameters were restored (the estimator must commit them).
        """
        if exhausted and not self.incremental:
            warn_at_call_site(
                f"Maximum iterations ({len(state.history) - self.first_epoch}) reached and "
                f"the optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        if self.best_params is None or (self.failed and not self.validated):
            return False
        state.params[...] = self.best_params
        return True

    def check_collapse(self, setup, state, degenerate):
        """Warn with :class:`CollapseWarning` if this fit went wrong unnoticed.

        Two signs: the training loss rose back by more than a quarter of what the fit had
        gained and of its best value (the best weights were restored, but training was
        unstable; the second bound keeps noise on a fit that gained little quiet), or the
        final model is degenerate on its own training data. Nothing in ``partial_fit`` or
        after a failed epoch, which has warned already.

        Parameters
        ----------
        setup : TrainingSetup
            The run's model and training data.
        state : TrainingState
            The final parameters and the history.
        degenerate : callable
            ``degenerate(raw, y, weights, loss)``: how a model with these time-major raw
            outputs is degenerate (a phrase), else ``None`` (the estimator's
            ``_degenerate``).
        """
        if self.incremental or self.failed:
            return
        _warn_if_unstable(state.history[self.first_epoch :])
        X, lengths, y, weights = setup.data.time_major()
        raw = setup.model.network.predict(state.params, X, lengths)
        problem = degenerate(raw, y, weights, setup.model.loss)
        if problem is not None:
            warn_at_call_site(
                f"On its training data the fitted model {problem}: it has learned nothing "
                f"usable. Train for more epochs; if the loss fell and rose again, lower "
                f"the learning rate or set max_grad_norm; standardise the inputs "
                f"(rnnlearn.preprocessing.SequenceScaler).",
                CollapseWarning,
            )


def _warn_failure(record):
    """Say that the epoch of ``record`` diverged or was interrupted, and what was kept."""
    if record["status"] == "diverged":
        warn_at_call_site(
            f"Training diverged in epoch {record['epoch']} (the loss became "
            f"non-finite); stopped and kept the last weights with a finite loss. "
            f"Lower the learning rate or set max_grad_norm.",
            DivergenceWarning,
        )
    else:
        warn_at_call_site(
            f"Training interrupted in epoch {record['epoch']}; the model "
            f"keeps the weights of its last step.",
            TrainingInterruptedWarning,
        )


def _warn_if_unstable(records):
    """Warn if the training loss of ``records`` rose back well above its lowest value."""
    losses = [record["loss"] for record in records]
    if len(losses) < 2:
        return
    best = int(np.argmin(losses))
    gained, lost = losses[0] - losses[best], losses[-1] - losses[best]
    if lost > 0.25 * max(gained, losses[best]) and gained > 0:
        warn_at_call_site(
            f"The training loss rose from {losses[best]:.4g} (epoch "
            f"{records[best]['epoch']}) to {losses[-1]:.4g} (epoch "
            f"{records[-1]['epoch']}): training was unstable. The weights of the "
            f"lowest loss were kept. Lower the learning rate or set max_grad_norm.",
            CollapseWarning,
        )
