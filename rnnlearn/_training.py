"""One epoch of minibatch training, with the divergence guard."""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn.utils import gen_batches

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
    """

    def __init__(self, X, lengths, y, weights):
        self.X, self.lengths, self.y, self.weights = X, lengths, y, weights
        self.weight_per_sample = float(weights.sum()) / X.shape[1]

    @property
    def n_samples(self):
        """Number of sequences."""
        return self.X.shape[1]

    def batch(self, index):
        """The ``(X, lengths, y, weights)`` of the samples in ``index`` (a slice or array)."""
        lengths = None if self.lengths is None else self.lengths[index]
        return self.X[:, index], lengths, self.y[:, index], self.weights[:, index]

    def subset(self, index):
        """A new :class:`TrainingData` holding the samples in ``index``."""
        return TrainingData(*self.batch(index))


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


EXPLOSION_FACTOR = 1e6
"""A batch loss this many times the run's first batch loss counts as divergence."""


def run_epoch(network, params, optimizer, state, loss, data, settings, rng, guard):
    """Train for one epoch, updating ``params``, ``state`` and ``guard`` in place.

    Parameters
    ----------
    network : Network
        The architecture.
    params : ndarray of shape (n_params,)
        Flat parameters, updated in place.
    optimizer : Optimizer
        Update rule; ``state`` is its state.
    state : dict
        Optimizer state, updated in place.
    loss : Loss
        Training loss.
    data : TrainingData
        Training set.
    settings : dict
        ``batch_size``, ``shuffle``, ``alpha`` (L2 strength), ``max_grad_norm`` (or None),
        ``weight_mask`` (see :meth:`Network.weight_mask`).
    rng : numpy.random.RandomState
        Source of the shuffling.
    guard : dict
        The divergence guard, carried across epochs: ``"last_good"``, the last parameters
        whose batch loss was sane (initially the starting parameters), and
        ``"reference"``, the first batch loss of the run (``None`` before it).

    Returns
    -------
    mean_loss : float
        Mean over batches, weighted by batch size, of the penalised batch loss (each batch
        loss divided by the batch's expected total weight, so without penalty this is the
        weighted mean loss of the epoch); NaN when the epoch diverged.
    diverged : bool
        Whether a batch loss was non-finite or above ``EXPLOSION_FACTOR`` times the
        reference, or the parameters became non-finite. Then ``params`` are restored to
        ``guard["last_good"]`` and the epoch ends early.
    """
    total = 0.0
    last_good = guard["last_good"]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for index in minibatches(data.n_samples, settings["batch_size"], settings["shuffle"], rng):
            X, lengths, y, weights = data.batch(index)
            n_batch = X.shape[1]
            raw, cache = network.forward(params, X, lengths)
            value, d_raw = loss.loss_gradient(y, raw, weights, data.weight_per_sample * n_batch)
            if guard["reference"] is None:
                guard["reference"] = value
            if not np.isfinite(value) or value > EXPLOSION_FACTOR * guard["reference"]:
                params[...] = last_good
                return float("nan"), True
            grads = network.backward(params, cache, d_raw)[0]
            value += add_l2_penalty(
                grads, params, settings["alpha"] / n_batch, settings["weight_mask"]
            )
            clip_by_global_norm(grads, settings["max_grad_norm"])
            last_good[...] = params
            optimizer.update(params, grads, state)
            total += value * n_batch
        if not np.all(np.isfinite(params)):
            params[...] = last_good
            return float("nan"), True
    return total / data.n_samples, False
