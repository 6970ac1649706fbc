import numpy as np
import pytest
from numpy.testing import assert_array_equal

from rnnlearn._training import TrainingData


def _data(synced, lengths=(2, 5, 3)):
    n_timesteps, n_samples = 7, len(lengths)
    X = np.arange(n_timesteps * n_samples * 2, dtype=float).reshape(n_timesteps, n_samples, 2)
    n_steps = n_timesteps if synced else 1
    y = np.ones((n_steps, n_samples, 1))
    weights = np.ones((n_steps, n_samples))
    return TrainingData(X, np.array(lengths), y, weights, synced=synced)


@pytest.mark.parametrize("synced", [True, False])
def test_batch_cuts_steps_past_its_longest_sequence(synced):
    data = _data(synced)
    X, lengths, y, weights = data.batch(np.array([0, 2]))
    assert_array_equal(lengths, [2, 3])
    assert_array_equal(X, data.X[:3, [0, 2]])
    assert y.shape[0] == weights.shape[0] == (3 if synced else 1)


def test_batch_without_lengths_keeps_every_step():
    data = _data(False)
    data.lengths = None
    X, lengths, _, _ = data.batch(slice(0, 2))
    assert lengths is None and X.shape[0] == 7


def test_subset_keeps_synced():
    subset = _data(True).subset(np.array([0]))
    assert subset.synced and subset.X.shape[0] == 2
