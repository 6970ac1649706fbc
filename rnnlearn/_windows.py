"""Arithmetic on forecasting windows: levels, lags, rolling, scales, the linear path.

Windows are ``(n_samples, n_steps, n_features)`` arrays, right-padded, with ``lengths``
valid steps each; :class:`rnnlearn.RNNForecaster` and the ONNX export of its intervals read
them through these functions.
"""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn.linear_model import RidgeCV

RIDGE_ALPHAS = np.logspace(-3, 3, 13)
"""Penalties among which the linear path's ridge regression picks by leave-one-out error."""


def relative_to_level(X, lengths, relative):
    """``(X_relative, level)``: windows minus their level, the last valid value per feature.

    ``level`` is ``(n_samples, n_features)`` (zeros when ``relative`` is false); padded
    steps of ``X_relative`` are zero.
    """
    n_samples, n_steps, _ = X.shape
    level = X[np.arange(n_samples), lengths - 1] if relative else np.zeros(X[:, 0].shape)
    valid = np.arange(n_steps) < lengths[:, None]
    return np.where(valid[..., None], X - level[:, None], 0.0), level


def last_steps(X_relative, lengths, n_lags):
    """The last ``n_lags`` valid steps of each window, front-padded with zeros (the level)."""
    steps = lengths[:, None] - n_lags + np.arange(n_lags)
    lagged = X_relative[np.arange(len(X_relative))[:, None], np.maximum(steps, 0)]
    return np.where(steps[..., None] >= 0, lagged, 0.0)


def roll_forward(X, lengths, values, features):
    """Windows one step on: the oldest step dropped, ``values`` (of ``features``) the newest."""
    rolled = np.concatenate([X[:, 1:], np.zeros_like(X[:, :1])], axis=1)
    rolled[np.arange(len(X))[:, None], (lengths - 1)[:, None], features] = values
    return rolled


def change_scale(X, lengths, features):
    """Standard deviation of the one-step changes of ``features`` over each window's valid
    steps, ``(n_samples, len(features))`` (0 for a window of one step, or a straight line).
    """
    valid = (np.arange(1, X.shape[1]) < lengths[:, None])[..., None]
    n_changes = np.maximum(lengths - 1, 1)[:, None]
    changes = np.where(valid, np.diff(X[:, :, features], axis=1), 0.0)
    mean = changes.sum(axis=1) / n_changes
    spread = np.where(valid, changes - mean[:, None], 0.0)
    return np.sqrt((spread**2).sum(axis=1) / n_changes)


def floored(scales, reference):
    """Window scales, at least 1e-3 of the held-out windows' mean scale (``reference``)
    of each column; all 1 (absolute errors) where that mean is 0 or not known."""
    if reference is None:
        return np.ones_like(scales)
    floor = 1e-3 * reference.mean(axis=0)
    return np.where(floor > 0, np.maximum(scales, floor), 1.0)


def fit_linear(Z, Y, weights):
    """Ridge (penalty by leave-one-out) of ``Y`` on standardised columns of ``Z``.

    Returns ``(coef, intercept)`` on ``Z`` itself: ``Z @ coef + intercept`` predicts.
    """
    mean = np.average(Z, axis=0, weights=weights)
    std = np.sqrt(np.average((Z - mean) ** 2, axis=0, weights=weights))
    std[std <= 1e-12 * np.abs(mean).clip(1)] = 1.0
    ridge = RidgeCV(alphas=RIDGE_ALPHAS, alpha_per_target=True)
    ridge.fit((Z - mean) / std, Y, sample_weight=weights)
    coef = ridge.coef_.reshape(Y.shape[1], -1).T / std[:, None]
    return coef, np.reshape(ridge.intercept_, -1) - mean @ coef
