"""What the aeon and sktime adapters share: their data layouts, their hyperparameters, the
rnnlearn estimator they build from those, and their fit and predictions through it.

aeon and sktime hold a collection of series channels first: ``numpy3D`` is ``(n_cases,
n_channels, n_timepoints)`` and aeon's ``np-list`` a list of ``(n_channels, n_timepoints_i)``
arrays; sktime's ``df-list`` is a list of ``(n_timepoints_i, n_channels)`` data frames.
rnnlearn reads time first, ``(n_samples, n_timesteps, n_features)`` or a list of
``(n_timesteps_i, n_features)`` arrays. This module needs neither toolkit.
"""

# SPDX-License-Identifier: BSD-3-Clause

import inspect

import numpy as np
from sklearn.base import clone

from ._classifier import RNNClassifier
from ._regressor import RNNRegressor

TEST_PARAMS = [
    {"hidden_layer_sizes": 4, "max_iter": 3, "batch_size": 8, "random_state": 0},
    {"hidden_layer_sizes": 3, "cell": "lstm", "pooling": "mean", "max_iter": 2, "random_state": 1},
]
"""The toolkits' test settings: small networks trained for a few epochs, as their checks fit
many times; the second with another cell and pooling."""


def to_sequences(X):
    """A toolkit's collection of series as rnnlearn's sequences.

    Parameters
    ----------
    X : ndarray of shape (n_cases, n_channels, n_timepoints) or list
        ``numpy3D``; or a list of ``(n_channels, n_timepoints_i)`` arrays (aeon's
        ``np-list``) or of ``(n_timepoints_i, n_channels)`` data frames (sktime's
        ``df-list``).

    Returns
    -------
    ndarray of shape (n_cases, n_timepoints, n_channels) or list of ndarray
        The series time first: a transposed view of a 3-D array, or a list of
        ``(n_timepoints_i, n_channels)`` arrays.

    Raises
    ------
    ValueError
        For an array that is not 3-D.
    """
    if isinstance(X, np.ndarray):
        if X.ndim != 3:
            raise ValueError(
                f"expected a 3-D (n_cases, n_channels, n_timepoints) array, got shape {X.shape}"
            )
        return X.transpose(0, 2, 1)
    return [series.to_numpy() if hasattr(series, "to_numpy") else series.T for series in X]


def build_estimator(adapter, estimator_class):
    """A new, unfitted ``estimator_class`` with the adapter's hyperparameters of its names.

    Parameters
    ----------
    adapter : object
        An aeon or sktime estimator whose hyperparameters mirror rnnlearn's.
    estimator_class : type
        :class:`~rnnlearn.RNNClassifier` or :class:`~rnnlearn.RNNRegressor`.

    Returns
    -------
    estimator
        The rnnlearn estimator, its hyperparameter objects (a cell, an optimizer, a loss)
        copies of the adapter's, so fitting it never touches the adapter's.
    """
    names = inspect.signature(estimator_class).parameters
    params = {
        name: value for name, value in adapter.get_params(deep=False).items() if name in names
    }
    return clone(estimator_class(**params))


class Adapter:
    """A toolkit estimator's ``_fit`` and ``_predict`` (aeon's and sktime's have the same
    signatures): through a new :attr:`rnnlearn_class` estimator, kept as ``estimator_``."""

    rnnlearn_class = None
    """The rnnlearn estimator trained, given the adapter's hyperparameters of its names."""

    def _fit(self, X, y):
        self.estimator_ = build_estimator(self, self.rnnlearn_class).fit(to_sequences(X), y)
        return self

    def _predict(self, X):
        return self.estimator_.predict(to_sequences(X))

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Small settings for the toolkit's checks: a GRU and an LSTM of a few units, a few
        epochs (sktime's name for this hook; aeon's, ``_get_test_params``, is the same).

        Parameters
        ----------
        parameter_set : str, default="default"
            Unused: the same settings for every check.

        Returns
        -------
        list of dict
            Two settings, the second with another cell and pooling.
        """
        return TEST_PARAMS

    _get_test_params = get_test_params


class ClassifierAdapter(Adapter):
    """An adapter around :class:`~rnnlearn.RNNClassifier`, with its hyperparameters: its own
    names and defaults, less ``output_mode`` (one label per series), ``warm_start`` (each
    toolkit ``fit`` starts over) and ``callbacks``."""

    rnnlearn_class = RNNClassifier

    def __init__(
        self,
        hidden_layer_sizes=(128,),
        cell="gru",
        *,
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
        verbose=0,
        max_grad_norm=1.0,
        dtype="float32",
        class_weight=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.cell = cell
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
        self.verbose = verbose
        self.max_grad_norm = max_grad_norm
        self.dtype = dtype
        self.class_weight = class_weight
        super().__init__()

    def _predict_proba(self, X):
        return self.estimator_.predict_proba(to_sequences(X))


class RegressorAdapter(Adapter):
    """An adapter around :class:`~rnnlearn.RNNRegressor`, with its hyperparameters: its own
    names and defaults, less ``output_mode`` (one target per series), ``warm_start`` (each
    toolkit ``fit`` starts over) and ``callbacks``."""

    rnnlearn_class = RNNRegressor

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        cell="gru",
        *,
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
        verbose=0,
        max_grad_norm=1.0,
        dtype="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.cell = cell
        self.pooling = pooling
        self.bidirectional = bidirectional
        self.loss = loss
        self.normalize_y = normalize_y
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
        self.verbose = verbose
        self.max_grad_norm = max_grad_norm
        self.dtype = dtype
        super().__init__()
