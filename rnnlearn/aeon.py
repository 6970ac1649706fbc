"""Recurrent networks as aeon estimators: a classifier and a regressor of collections.

They take aeon's collections as any aeon estimator does (``(n_cases, n_channels,
n_timepoints)`` arrays, lists of ``(n_channels, n_timepoints_i)`` arrays of different
lengths, and whatever aeon converts to those), hand them time first to an
:class:`~rnnlearn.RNNClassifier` or :class:`~rnnlearn.RNNRegressor` built from their own
hyperparameters, and keep it fitted as ``estimator_``. Needs aeon: ``pip install
rnnlearn[aeon]``.
"""

# SPDX-License-Identifier: BSD-3-Clause

try:
    from aeon.classification import BaseClassifier
    from aeon.regression import BaseRegressor
except ImportError as error:  # the rest of rnnlearn never imports aeon
    raise ImportError(
        "rnnlearn.aeon needs aeon; install it with: pip install rnnlearn[aeon]"
    ) from error

from ._toolkit import ClassifierAdapter, RegressorAdapter

__all__ = ["RNNClassifier", "RNNRegressor"]

_TAGS = {
    "capability:multivariate": True,
    "capability:unequal_length": True,
    "X_inner_type": ["np-list", "numpy3D"],
    "algorithm_type": "deeplearning",
}
"""The tags both estimators declare: any number of channels, series of any lengths."""


class RNNClassifier(ClassifierAdapter, BaseClassifier):
    """Recurrent neural network classifier of time series, as an aeon classifier.

    An aeon ``BaseClassifier`` that trains an :class:`rnnlearn.RNNClassifier` (one label
    per series): multivariate series, and series of different lengths, which the network
    reads exactly, without padding them into its result.

    Parameters
    ----------
    hidden_layer_sizes, cell, pooling, bidirectional, optimizer, alpha, dropout, \
batch_size, max_iter, tol, n_iter_no_change, learning_rate_schedule, early_stopping, \
validation_fraction, shuffle, verbose, max_grad_norm, dtype, class_weight
        As for :class:`rnnlearn.RNNClassifier`, with its defaults.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffling, the dropout masks and the validation split; an
        int makes fits reproducible bit for bit.

    Attributes
    ----------
    estimator_ : rnnlearn.RNNClassifier
        The fitted rnnlearn classifier, which reads series time first: ``(n_cases,
        n_timepoints, n_channels)``.
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted (set by aeon).

    See Also
    --------
    rnnlearn.RNNClassifier : The estimator it trains.
    RNNRegressor : The regressor.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.aeon import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = [rng.normal(size=(2, n)) for n in rng.randint(8, 16, size=60)]
    >>> y = np.array(["up" if x[1].sum() > 0 else "down" for x in X])
    >>> clf = RNNClassifier(hidden_layer_sizes=8, max_iter=30, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _tags = _TAGS


class RNNRegressor(RegressorAdapter, BaseRegressor):
    """Recurrent neural network regressor of time series, as an aeon regressor.

    An aeon ``BaseRegressor`` that trains an :class:`rnnlearn.RNNRegressor` (one target
    per series): multivariate series, and series of different lengths, which the network
    reads exactly, without padding them into its result.

    Parameters
    ----------
    hidden_layer_sizes, cell, pooling, bidirectional, loss, normalize_y, optimizer, \
alpha, dropout, batch_size, max_iter, tol, n_iter_no_change, learning_rate_schedule, \
early_stopping, validation_fraction, shuffle, verbose, max_grad_norm, dtype
        As for :class:`rnnlearn.RNNRegressor`, with its defaults.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffling, the dropout masks and the validation split; an
        int makes fits reproducible bit for bit.

    Attributes
    ----------
    estimator_ : rnnlearn.RNNRegressor
        The fitted rnnlearn regressor, which reads series time first: ``(n_cases,
        n_timepoints, n_channels)``.

    See Also
    --------
    rnnlearn.RNNRegressor : The estimator it trains.
    RNNClassifier : The classifier.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.aeon import RNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 3, 10))  # 60 series of 3 channels and 10 steps
    >>> y = X[:, 0, -3:].sum(axis=1)
    >>> reg = RNNRegressor(hidden_layer_sizes=8, max_iter=30, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _tags = _TAGS
