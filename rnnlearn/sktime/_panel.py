"""sktime's classifier and regressor of panels, trained by rnnlearn's estimators."""

# SPDX-License-Identifier: BSD-3-Clause

from sktime.classification.base import BaseClassifier
from sktime.regression.base import BaseRegressor

from .._toolkit import ClassifierAdapter, RegressorAdapter

_TAGS = {
    "X_inner_mtype": ["df-list", "numpy3D"],
    "y_inner_mtype": "numpy1D",
    "capability:multivariate": True,
    "capability:unequal_length": True,
    "capability:random_state": True,
    "capability:categorical_in_X": False,
    "authors": "The rnnlearn developers",
    "maintainers": "The rnnlearn developers",
}
"""The tags both estimators declare: any number of columns (channels), series of any
lengths (as ``df-list``), and reproducible fits given ``random_state``."""


class RNNClassifier(ClassifierAdapter, BaseClassifier):
    """Recurrent neural network classifier of time series, as an sktime classifier.

    An sktime ``BaseClassifier`` that trains an :class:`rnnlearn.RNNClassifier` (one label
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
        The fitted rnnlearn classifier, which reads series time first: ``(n_instances,
        n_timepoints, n_columns)``.
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted (set by sktime).

    See Also
    --------
    rnnlearn.RNNClassifier : The estimator it trains.
    RNNRegressor : The regressor.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.sktime import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 2, 12))  # 60 series of 2 columns and 12 steps
    >>> y = np.where(X[:, 1].sum(axis=1) > 0, "up", "down")
    >>> clf = RNNClassifier(hidden_layer_sizes=8, max_iter=30, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _tags = _TAGS | {"capability:predict_proba": True, "capability:class_weight": True}


class RNNRegressor(RegressorAdapter, BaseRegressor):
    """Recurrent neural network regressor of time series, as an sktime regressor.

    An sktime ``BaseRegressor`` that trains an :class:`rnnlearn.RNNRegressor` (one target
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
        The fitted rnnlearn regressor, which reads series time first: ``(n_instances,
        n_timepoints, n_columns)``.

    See Also
    --------
    rnnlearn.RNNRegressor : The estimator it trains.
    RNNClassifier : The classifier.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from rnnlearn.sktime import RNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = [pd.DataFrame(rng.normal(size=(n, 2))) for n in rng.randint(8, 16, size=60)]
    >>> y = np.array([x[0].iloc[-3:].sum() for x in X])  # series of 8 to 15 steps
    >>> reg = RNNRegressor(hidden_layer_sizes=8, max_iter=30, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _tags = _TAGS
