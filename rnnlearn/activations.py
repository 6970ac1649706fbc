"""Activation functions and their derivatives, expressed through the activation's output."""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np


def identity(x, out=None):
    """Return ``x`` unchanged (into ``out`` when given).

    Parameters
    ----------
    x : ndarray
        Pre-activation values.
    out : ndarray, default=None
        Where to write the result; may be ``x`` itself.

    Returns
    -------
    ndarray
        The activation output.
    """
    if out is None:
        return x.copy()
    if out is not x:
        np.copyto(out, x)
    return out


def logistic(x, out=None):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, computed as ``0.5 * tanh(x / 2) + 0.5``.

    The ``tanh`` form never overflows and costs one transcendental call.
    Parameters and return value as in :func:`identity`.
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def tanh(x, out=None):
    """Hyperbolic tangent. Parameters and return value as in :func:`identity`."""
    return np.tanh(x, out=out)


def gompertz(x, out=None):
    """Gompertz sigmoid ``exp(-exp(-x))``, the R package's ``Gompertz`` with ``a = b = c = 1``.

    Parameters and return value as in :func:`identity`.
    """
    out = np.negative(x, out=out)
    np.minimum(out, 80.0, out=out)  # exp(80) is finite in float32 and exp(-exp(80)) is 0
    np.exp(out, out=out)
    np.negative(out, out=out)
    return np.exp(out, out=out)


def relu(x, out=None):
    """Rectified linear unit ``max(x, 0)``. Parameters and return value as in :func:`identity`."""
    return np.maximum(x, 0, out=out)


def identity_derivative(y):
    """Derivative of :func:`identity` given its output ``y``: ones.

    Parameters
    ----------
    y : ndarray
        Activation output.

    Returns
    -------
    ndarray
        ``f'(x)`` with the shape and dtype of ``y``.
    """
    return np.ones_like(y)


def logistic_derivative(y):
    """Derivative of :func:`logistic` from its output: ``y * (1 - y)``."""
    return y * (1 - y)


def tanh_derivative(y):
    """Derivative of :func:`tanh` from its output: ``1 - y**2``."""
    return 1 - y * y


def gompertz_derivative(y):
    """Derivative of :func:`gompertz` from its output: ``-y * log(y)`` (0 where ``y == 0``)."""
    return -y * np.log(y, out=np.full_like(y, 1.0), where=y > 0)


def relu_derivative(y):
    """Derivative of :func:`relu` from its output: ``1`` where ``y > 0``, else ``0``."""
    return (y > 0).astype(y.dtype)


ACTIVATIONS = {
    "identity": identity,
    "logistic": logistic,
    "tanh": tanh,
    "gompertz": gompertz,
    "relu": relu,
}
"""Activation name -> ``f(x, out=None)``."""

DERIVATIVES = {
    "identity": identity_derivative,
    "logistic": logistic_derivative,
    "tanh": tanh_derivative,
    "gompertz": gompertz_derivative,
    "relu": relu_derivative,
}
"""Activation name -> ``f'`` as a function of the activation's output."""


def check_activation(name, allowed=tuple(ACTIVATIONS), *, parameter="activation"):
    """Raise a ``ValueError`` unless ``name`` is one of ``allowed``.

    Parameters
    ----------
    name : str
        Activation name given by the user.
    allowed : tuple of str, default=all names in ``ACTIVATIONS``
        Names accepted in this place.
    parameter : str, default="activation"
        Name of the parameter in the error message (``"cell__activation"`` in an
        estimator).

    Returns
    -------
    str
        ``name``, unchanged.

    Raises
    ------
    ValueError
        If ``name`` is not a string in ``allowed``.

    Examples
    --------
    >>> check_activation("tanh")
    'tanh'
    >>> check_activation("foo", allowed=("relu", "tanh"), parameter="cell__activation")
    Traceback (most recent call last):
    ...
    ValueError: cell__activation must be one of ['relu', 'tanh']; got 'foo'.
    """
    if not isinstance(name, str) or name not in allowed:
        raise ValueError(f"{parameter} must be one of {sorted(allowed)}; got {name!r}.")
    return name
