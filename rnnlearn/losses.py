"""Losses paired with their output link, differentiated with respect to the raw output."""

# SPDX-License-Identifier: BSD-3-Clause

from abc import ABC, abstractmethod
from collections.abc import Sequence
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator

from ._validation import ConstrainedHyperparameters, Interval, Options
from .activations import logistic


class Loss(ConstrainedHyperparameters, BaseEstimator, ABC):
    """Base class of the losses.

    A loss pairs an output link (identity, logistic, softmax) with a pointwise loss and
    differentiates the pair with respect to the network's *raw* output, which keeps the
    gradient simple and stable (for example ``sigmoid(raw) - y`` for the log loss). The
    value is a weighted mean over the rows of ``raw`` (samples, or samples and steps), so
    padded steps are ignored by giving them weight 0.

    A loss may predict more than a point per target (quantiles, a distribution): it then
    has :attr:`outputs_per_target` raw outputs per target, grouped by target, and
    :meth:`point` reads the point prediction (the median, the mean) from them.

    Attributes
    ----------
    classification : bool
        Whether the loss scores class probabilities (the classifier's) rather than values.
    outputs_per_target : int
        Raw outputs per target (1 for a point prediction).
    """

    classification = False
    outputs_per_target = 1

    def link(self, raw):
        """Map raw network outputs to predictions.

        Parameters
        ----------
        raw : ndarray of shape (..., n_outputs)
            Raw output.

        Returns
        -------
        ndarray of shape (..., n_outputs)
            Predictions (for classification losses, probabilities).
        """
        return raw

    def point(self, raw):
        """Point predictions of the targets from raw outputs.

        Parameters
        ----------
        raw : ndarray of shape (..., n_targets * outputs_per_target)
            Raw output.

        Returns
        -------
        ndarray of shape (..., n_targets)
            ``link(raw)`` for a point loss; the median or the mean of a distribution.
        """
        return self.link(raw)

    def raw_for_point(self, values):
        """Raw outputs whose point predictions (:meth:`point`) are ``values``.

        For example an output layer with zero weights and these as its bias predicts
        ``values`` whatever its input.

        Parameters
        ----------
        values : ndarray of shape (n_targets,)
            Point predictions, on the scale the network learns.

        Returns
        -------
        ndarray of shape (n_targets * outputs_per_target,)
            ``values`` for a point loss; see the subclasses for the others.
        """
        return np.asarray(values, dtype=float)

    @abstractmethod
    def pointwise(self, y, raw):
        """Per-row loss and its gradient with respect to ``raw``.

        Parameters
        ----------
        y : ndarray of shape (..., n_outputs)
            Targets (for classification, indicator or one-hot rows).
        raw : ndarray of shape (..., n_outputs)
            Raw output.

        Returns
        -------
        loss : ndarray of shape (...)
            Loss of each row.
        gradient : ndarray of shape (..., n_outputs)
            Its gradient with respect to ``raw``.
        """

    def loss_gradient(self, y, raw, weights=None, total_weight=None):
        """Weighted mean loss over rows and its gradient with respect to ``raw``.

        Parameters
        ----------
        y : array-like of shape (..., n_outputs)
            Targets.
        raw : ndarray of shape (..., n_outputs)
            Raw output.
        weights : ndarray of shape (...), default=None
            Weight of each row (sample weights, times 0 on padded steps). ``None`` weighs
            every row 1.
        total_weight : float, default=None
            Divisor of the weighted sum; ``None`` uses ``sum(weights)``. Minibatch
            training passes the batch's *expected* total weight, so that a batch of
            lightly weighted rows takes a correspondingly small step.

        Returns
        -------
        value : float
            ``sum(weights * loss) / total_weight`` (0 when that is 0).
        gradient : ndarray of shape (..., n_outputs)
            Gradient of ``value`` with respect to ``raw``, of ``raw``'s dtype.
        """
        y = np.asarray(y, dtype=raw.dtype)
        loss, gradient = self.pointwise(y, raw)
        if weights is None:
            value = loss.sum()
            total = loss.size
        else:
            weights = np.asarray(weights, dtype=raw.dtype)
            value = np.dot(loss.ravel(), weights.ravel())
            total = weights.sum()
            gradient *= weights[..., None]
        if total_weight is not None:
            total = total_weight
        if total == 0:
            return 0.0, np.zeros_like(gradient)
        gradient /= total
        return float(value / total), gradient

    def loss(self, y, raw, weights=None):
        """Weighted mean loss; see :meth:`loss_gradient`."""
        return self.loss_gradient(y, raw, weights)[0]


class SquaredError(Loss):
    """Half squared error with identity link: ``mean over outputs of (raw - y)**2 / 2``.

    The half makes the gradient ``(raw - y) / n_outputs``, as in scikit-learn's MLP; the R
    package's training also minimises half the squared error.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.losses import SquaredError
    >>> SquaredError().loss(np.array([[1.0], [3.0]]), np.array([[0.0], [3.0]]))
    0.25
    """

    def pointwise(self, y, raw):
        """Per-row half squared error; see :meth:`Loss.pointwise`."""
        residual = raw - y
        n_outputs = raw.shape[-1]
        return 0.5 * np.mean(residual * residual, axis=-1), residual / n_outputs


class AbsoluteError(Loss):
    """Absolute error (L1) with identity link: ``mean over outputs of |raw - y|``.

    The R package reports this error (its ``loss_L1``) but trains on squared error; here
    it is what training minimises. Its (sub)gradient is ``sign(raw - y)``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.losses import AbsoluteError
    >>> AbsoluteError().loss(np.array([[1.0], [3.0]]), np.array([[0.0], [3.5]]))
    0.75
    """

    def pointwise(self, y, raw):
        """Per-row absolute error; see :meth:`Loss.pointwise`."""
        residual = raw - y
        n_outputs = raw.shape[-1]
        return np.mean(np.abs(residual), axis=-1), np.sign(residual) / n_outputs


class Huber(Loss):
    """Huber loss with identity link: quadratic within ``delta`` of the target, linear outside.

    Parameters
    ----------
    delta : float, default=1.0
        Where the loss turns from ``r**2 / 2`` to ``delta * (|r| - delta / 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.losses import Huber
    >>> Huber(delta=1.0).loss(np.array([[0.0], [0.0]]), np.array([[0.5], [3.0]]))
    1.3125
    """

    _parameter_constraints = {"delta": Interval(Real, 0, open_ends="low")}

    def __init__(self, delta=1.0):
        self.delta = delta

    def pointwise(self, y, raw):
        """Per-row Huber loss; see :meth:`Loss.pointwise`."""
        residual = raw - y
        size = np.abs(residual)
        loss = np.where(
            size <= self.delta, 0.5 * residual * residual, self.delta * (size - 0.5 * self.delta)
        )
        n_outputs = raw.shape[-1]
        gradient = np.clip(residual, -self.delta, self.delta) / n_outputs
        return np.mean(loss, axis=-1), gradient


class LogLoss(Loss):
    """Cross-entropy with a logistic (binary, multilabel) or softmax (multiclass) link.

    Parameters
    ----------
    link_function : {'logistic', 'softmax'}, default='logistic'
        ``'logistic'`` treats each output as an independent probability and sums the
        binary cross-entropies over outputs; ``'softmax'`` treats the outputs of a row as
        one distribution over classes.

    Notes
    -----
    Computed from the raw output without forming probabilities first:
    ``log(1 + exp(raw)) - y * raw`` (logistic) and ``logsumexp(raw) - sum(y * raw)``
    (softmax), so logits of any size are finite and the gradient is
    ``link(raw) - y``.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.losses import LogLoss
    >>> round(LogLoss().loss(np.array([[1.0]]), np.array([[0.0]])), 4)
    0.6931
    """

    classification = True
    _parameter_constraints = {"link_function": Options("logistic", "softmax")}

    def __init__(self, link_function="logistic"):
        self.link_function = link_function

    def link(self, raw):
        """Probabilities: ``sigmoid(raw)`` or ``softmax(raw)`` over the last axis."""
        if self.link_function == "logistic":
            return logistic(raw)
        shifted = raw - raw.max(axis=-1, keepdims=True)
        np.exp(shifted, out=shifted)
        shifted /= shifted.sum(axis=-1, keepdims=True)
        return shifted

    def pointwise(self, y, raw):
        """Per-row cross-entropy; see :meth:`Loss.pointwise`."""
        if self.link_function == "logistic":
            loss = np.logaddexp(0, raw) - y * raw
            return loss.sum(axis=-1), logistic(raw) - y
        top = raw.max(axis=-1, keepdims=True)
        log_normaliser = top + np.log(np.exp(raw - top).sum(axis=-1, keepdims=True))
        loss = (y * (log_normaliser - raw)).sum(axis=-1)
        return loss, self.link(raw) - y


def _check_quantiles(value, name):
    """Quantile levels as a tuple of floats: increasing, in ``(0, 1)``, 0.5 among them.

    Parameters
    ----------
    value : sequence of float
        The levels.
    name : str
        The parameter's name, for messages.

    Returns
    -------
    tuple of float

    Raises
    ------
    TypeError
        If ``value`` is not a sequence of real numbers.
    ValueError
        If it is empty, a level is outside ``(0, 1)``, the levels are not increasing
        (unsorted or repeated) or 0.5 is not among them.
    """
    numbers = isinstance(value, Sequence | np.ndarray) and not isinstance(value, str)
    if not numbers or not all(isinstance(q, Real) and not isinstance(q, bool) for q in value):
        raise TypeError(f"{name} must be a sequence of floats in (0, 1); got {value!r}.")
    levels = tuple(float(q) for q in value)
    if not levels or not all(0 < q < 1 for q in levels):
        raise ValueError(f"{name} must be levels strictly between 0 and 1; got {value!r}.")
    if any(low >= high for low, high in zip(levels[:-1], levels[1:], strict=True)):
        raise ValueError(f"{name} must be increasing, without repeats; got {value!r}.")
    if 0.5 not in levels:
        raise ValueError(
            f"{name} must include 0.5, the median that predict returns; got {value!r}."
        )
    return levels


class Pinball(Loss):
    """Pinball (quantile) loss over several quantile levels, with a non-crossing link.

    For each target the network has one raw output per level, ``r_1, ..., r_m``; the
    link makes them quantiles that never cross: ``q_1 = r_1`` and ``q_k = q_{k-1} +
    softplus(r_k)``. The loss is the mean over targets and levels of the pinball loss
    ``max(tau * (y - q), (tau - 1) * (y - q))``, whose minimiser over a sample is its
    ``tau``-quantile; its (sub)gradient flows through the link.

    Parameters
    ----------
    quantiles : sequence of float, default=(0.05, 0.5, 0.95)
        The levels, increasing, in ``(0, 1)``, without repeats; 0.5 must be among them,
        since an estimator's ``predict`` returns the median.

    Attributes
    ----------
    outputs_per_target : int
        The number of levels.

    See Also
    --------
    sklearn.metrics.mean_pinball_loss : The loss of one level, as a metric.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.losses import Pinball
    >>> loss = Pinball(quantiles=(0.1, 0.5, 0.9))
    >>> loss.link(np.array([[0.0, 0.0, 0.0]])).round(3)  # increments softplus(0)
    array([[0.   , 0.693, 1.386]])
    >>> round(loss.loss(np.array([[1.0]]), np.array([[1.0, -50.0, -50.0]])), 4)
    0.0
    """

    _parameter_constraints = {"quantiles": _check_quantiles}

    def __init__(self, quantiles=(0.05, 0.5, 0.95)):
        self.quantiles = quantiles

    @property
    def outputs_per_target(self):
        """The number of levels: raw outputs per target."""
        return len(self.quantiles)

    def _grouped(self, raw):
        """``raw`` as ``(..., n_targets, n_levels)``."""
        return raw.reshape(*raw.shape[:-1], -1, len(self.quantiles))

    def link(self, raw):
        """Quantiles ``(..., n_targets * n_levels)``, grouped by target, each group
        increasing: the first raw output plus cumulative softplus of the others."""
        r = self._grouped(raw)
        q = np.empty_like(r)
        q[..., 0] = r[..., 0]
        q[..., 1:] = r[..., :1] + np.cumsum(np.logaddexp(0, r[..., 1:]), axis=-1)
        return q.reshape(raw.shape)

    def point(self, raw):
        """The median (level 0.5) of each target, ``(..., n_targets)``."""
        median = list(self.quantiles).index(0.5)
        return self._grouped(self.link(raw))[..., median]

    def raw_for_point(self, values):
        """Raw outputs with median ``values`` and every other raw output 0 (quantiles
        ``log(2)`` apart)."""
        raw = np.zeros((len(values), len(self.quantiles)))
        median = list(self.quantiles).index(0.5)
        raw[:, 0] = np.asarray(values, dtype=float) - median * np.log(2)
        return raw.reshape(-1)

    def pointwise(self, y, raw):
        """Per-row mean pinball loss; see :meth:`Loss.pointwise`."""
        r = self._grouped(raw)
        tau = np.asarray(self.quantiles, dtype=raw.dtype)
        residual = y[..., None] - self._grouped(self.link(raw))
        loss = np.maximum(tau * residual, (tau - 1) * residual).mean(axis=(-2, -1))
        d_q = ((residual < 0).astype(raw.dtype) - tau) / (r.shape[-2] * r.shape[-1])
        d_r = np.empty_like(r)
        d_r[..., 0] = d_q.sum(axis=-1)
        later = np.cumsum(d_q[..., :0:-1], axis=-1)[..., ::-1]  # sum of d_q[k:] for k >= 1
        d_r[..., 1:] = logistic(r[..., 1:]) * later
        return loss, d_r.reshape(raw.shape)


class GaussianNLL(Loss):
    """Gaussian negative log-likelihood: a mean and a standard deviation per target.

    For each target the network has two raw outputs, ``(m, r)``; the link makes them the
    mean ``m`` and the standard deviation ``softplus(r) + min_std`` of a normal
    distribution. The loss is the mean over targets of ``log(std) + (y - mean)**2 / (2 *
    std**2) + log(2 * pi) / 2``, the negative log-likelihood of ``y``; its gradient flows
    through the link. Minimised over a sample, the mean is the conditional mean and the
    standard deviation the spread of the noise around it, which may change from sample to
    sample (heteroscedastic noise).

    Parameters
    ----------
    min_std : float, default=1e-3
        The smallest standard deviation (on the scale the network learns, the
        standardised one with ``normalize_y=True``), which keeps the loss bounded below
        when a target is fitted exactly.

    Attributes
    ----------
    outputs_per_target : int
        2: the mean and the standard deviation.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.losses import GaussianNLL
    >>> loss = GaussianNLL()
    >>> loss.link(np.array([[1.5, 0.0]])).round(4)  # mean, softplus(0) + 0.001
    array([[1.5   , 0.6941]])
    >>> round(loss.loss(np.array([[1.5]]), np.array([[1.5, 50.0]])), 4)  # log(50) + 0.9189
    4.831
    """

    outputs_per_target = 2
    _parameter_constraints = {"min_std": Interval(Real, 0, open_ends="low")}

    def __init__(self, min_std=1e-3):
        self.min_std = min_std

    def link(self, raw):
        """Means and standard deviations ``(..., n_targets * 2)``, grouped by target."""
        r = raw.reshape(*raw.shape[:-1], -1, 2)
        values = np.empty_like(r)
        values[..., 0] = r[..., 0]
        values[..., 1] = np.logaddexp(0, r[..., 1]) + self.min_std
        return values.reshape(raw.shape)

    def point(self, raw):
        """The mean of each target, ``(..., n_targets)``."""
        return raw[..., 0::2]

    def std(self, raw):
        """The standard deviation of each target, ``(..., n_targets)``."""
        return self.link(raw)[..., 1::2]

    def raw_for_point(self, values):
        """Raw outputs with mean ``values`` and standard deviation ``softplus(0) +
        min_std``."""
        raw = np.zeros((len(values), 2))
        raw[:, 0] = values
        return raw.reshape(-1)

    def pointwise(self, y, raw):
        """Per-row mean negative log-likelihood; see :meth:`Loss.pointwise`."""
        mean, std = self.point(raw), self.std(raw)
        z = (y - mean) / std
        loss = np.log(std) + 0.5 * z * z + 0.5 * np.log(2 * np.pi)
        n_targets = mean.shape[-1]
        gradient = np.empty_like(raw)
        gradient[..., 0::2] = -z / std / n_targets
        gradient[..., 1::2] = (1 - z * z) / std * logistic(raw[..., 1::2]) / n_targets
        return loss.mean(axis=-1).astype(raw.dtype, copy=False), gradient


LOSSES = {
    "squared_error": SquaredError,
    "absolute_error": AbsoluteError,
    "huber": Huber,
    "log_loss": LogLoss,
    "quantile": Pinball,
    "gaussian_nll": GaussianNLL,
}
"""Loss name -> class, for the estimators' ``loss`` string aliases."""
