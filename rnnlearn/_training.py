"""The training run as typed objects; one epoch of minibatch training with its divergence guard."""

# SPDX-License-Identifier: BSD-3-Clause

from dataclasses import dataclass

import numpy as np
from sklearn.utils import gen_batches

from .cells._threads import single_threaded_blas
from .optimizers import add_l2_penalty, clip_by_global_norm


class TrainingData:
    """A training set in the engine's layout.

    Parameters
    ----------
    X : ndarray of shape (n_timesteps, n_samples, n_features)
        Time-major, right-padded inputs.
    lengths : ndarray of int of shape (n_samples,) or None
        Valid steps per sequence; ``None`` when none is padded.
    y : ndarray of shape (n_steps, n_samples, n_outputs)
        Time-major targets of the emitted steps, encoded for the loss.
    weights : ndarray of shape (n_steps, n_samples)
        Weight of each emitted step: sample (and class) weight, 0 on padding.
    synced : bool, default=False
        Whether ``y`` has one step per input step (synced output), so that cutting the
        input's padding cuts ``y`` and ``weights`` alike.
    """

    def __init__(self, X, lengths, y, weights, synced=False):
        self.X, self.lengths, self.y, self.weights = X, lengths, y, weights
        self.synced = synced
        self.weight_per_sample = float(weights.sum()) / X.shape[1]

    @property
    def n_samples(self):
        """Number of sequences."""
        return self.X.shape[1]

    def batch(self, index):
        """The ``(X, lengths, y, weights)`` of the samples in ``index`` (a slice or array).

        Steps past the batch's longest sequence are cut, so a batch of short sequences
        costs its own length, not the longest of the whole set.
        """
        if self.lengths is None:
            return self.X[:, index], None, self.y[:, index], self.weights[:, index]
        lengths = self.lengths[index]
        steps = int(lengths.max(initial=0))
        out_steps = slice(steps) if self.synced else slice(None)
        return (
            self.X[:steps, index],
            lengths,
            self.y[out_steps, index],
            self.weights[out_steps, index],
        )

    def subset(self, index):
        """A new :class:`TrainingData` holding the samples in ``index``."""
        return TrainingData(*self.batch(index), synced=self.synced)


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
    for batch in gen_batches(n_samples, batch_size):
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
        The training set.
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
    data: TrainingData
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
    best_params : ndarray or None, default=None
        Parameters of the best validation score (early stopping only).
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
    best_params: np.ndarray | None = None
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
        for index in minibatches(data.n_samples, setup.batch_size, setup.shuffle, state.rng):
            X, lengths, y, weights = data.batch(index)
            n_batch = X.shape[1]
            masks = network.dropout_masks(state.rng, n_batch, params.dtype)
            raw, cache = network.forward(params, X, lengths, dropout_masks=masks)
            value, d_raw = loss.loss_gradient(y, raw, weights, data.weight_per_sample * n_batch)
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
