"""Output heads with several raw outputs per target (quantiles, a normal distribution):
checks and predictions.

A loss owns its number of outputs per target (:attr:`Loss.outputs_per_target`), its link
and its point prediction; :class:`~rnnlearn.RNNRegressor` sizes its network from it and
reads the quantiles through :func:`quantile_values` and the standard deviations through
:func:`std_values`.
"""

# SPDX-License-Identifier: BSD-3-Clause

from .losses import LOSSES, GaussianNLL, Pinball


def _resolved(loss):
    """A checked ``loss`` hyperparameter as an object (a string alias's default one)."""
    return LOSSES[loss]() if isinstance(loss, str) else loss


def check_head(loss, output_mode):
    """Refuse a loss with several outputs per target unless ``output_mode='last'``.

    Parameters
    ----------
    loss : str or Loss
        The checked ``loss`` hyperparameter.
    output_mode : str
        The ``output_mode`` hyperparameter.
    """
    loss = _resolved(loss)
    if loss.outputs_per_target > 1 and output_mode != "last":
        raise ValueError(
            f"loss={loss!r} predicts {loss.outputs_per_target} values per target, which "
            f"needs output_mode='last'; got output_mode={output_mode!r}."
        )


def check_same_head(loss, fitted):
    """Refuse to resume training a model fitted with ``fitted`` with a ``loss`` whose raw
    outputs mean something else (another number of them, other quantile levels)."""
    levels = [getattr(x, "quantiles", None) for x in (loss, fitted)]
    levels = [None if q is None else tuple(map(float, q)) for q in levels]
    if loss.outputs_per_target != fitted.outputs_per_target or levels[0] != levels[1]:
        raise ValueError(
            f"loss={loss!r} reads the network's outputs otherwise than the fitted "
            f"{fitted!r}; refit with warm_start=False to start over."
        )


_ASKED_AS = {
    Pinball: "a quantile loss (loss='quantile' or Pinball(quantiles=...))",
    GaussianNLL: "a Gaussian loss (loss='gaussian_nll' or GaussianNLL())",
}
"""How a user asks for each head's loss, for the error of a model fitted with another."""


def _require(loss, kind, needed_by):
    """Refuse ``needed_by`` (a method or option) unless the fitted ``loss`` is a ``kind``."""
    if not isinstance(loss, kind):
        raise ValueError(
            f"{needed_by} needs a model fitted with {_ASKED_AS[kind]}; this one was fitted "
            f"with {loss!r}."
        )


def quantile_values(loss, raw, scaling, offset, squeeze):
    """The quantiles ``(n_samples[, n_targets], n_quantiles)`` of raw outputs.

    Parameters
    ----------
    loss : Loss
        The fitted loss; refused unless a :class:`~rnnlearn.losses.Pinball`.
    raw : ndarray of shape (n_samples, n_targets * n_quantiles)
        Raw outputs.
    scaling : tuple of ndarray or None
        ``(mean, scale)`` of each target (``normalize_y``), or ``None``.
    offset : ndarray of shape (n_samples, n_targets) or None
        Added to every quantile of a target (a forecaster's level and linear path).
    squeeze : bool
        Whether to drop the target axis (a model fitted on 1-D targets).
    """
    _require(loss, Pinball, "predict_quantiles")
    values = loss.link(raw).reshape(len(raw), -1, loss.outputs_per_target)
    if scaling is not None:
        mean, scale = scaling
        values = values * scale[:, None] + mean[:, None]
    if offset is not None:
        values = values + offset[..., None]
    values = values.astype(raw.dtype, copy=False)
    return values[:, 0] if squeeze else values


def std_values(loss, raw, scale, squeeze):
    """The standard deviations ``(n_samples[, n_targets])`` of raw outputs.

    Parameters
    ----------
    loss : Loss
        The fitted loss; refused unless a :class:`~rnnlearn.losses.GaussianNLL`.
    raw : ndarray of shape (n_samples, n_targets * 2)
        Raw outputs.
    scale : ndarray of shape (n_targets,) or None
        The target scaling's scale of each target (``normalize_y``), or ``None``.
    squeeze : bool
        Whether to drop the target axis (a model fitted on 1-D targets).
    """
    _require(loss, GaussianNLL, "return_std=True")
    std = loss.std(raw)
    if scale is not None:
        std = (std * scale).astype(raw.dtype, copy=False)
    return std[:, 0] if squeeze else std
