"""The Elman (vanilla) recurrent cell."""

# SPDX-License-Identifier: BSD-3-Clause

from typing import NamedTuple

import numpy as np

from ..activations import ACTIVATIONS, DERIVATIVES
from ._base import Cell, carry_padding, named_states


class VanillaCache(NamedTuple):
    """What :meth:`VanillaCell.forward` keeps for the backward pass (see :class:`Cell`).

    Attributes
    ----------
    H : ndarray of shape (n_timesteps + 1, n_samples, n_hidden)
        Hidden-state history, ``H[0]`` the initial state.
    mask : ndarray of shape (n_timesteps, n_samples, 1) or None
        Step mask.
    """

    H: np.ndarray
    mask: np.ndarray | None


class VanillaCell(Cell):
    """Elman recurrent cell, the R package's ``network_type = "rnn"``.

    Parameters
    ----------
    activation : {'tanh', 'logistic', 'gompertz', 'relu', 'identity'}, default='tanh'
        Nonlinearity of the hidden state. The R package offers ``'logistic'`` (its
        default), ``'gompertz'`` and ``'tanh'``.

    See Also
    --------
    GRUCell : Gated recurrent unit.
    LSTMCell : Long short-term memory cell.

    Notes
    -----
    With input projection :math:`a_t = x_t W_x + b` the state is

    .. math:: h_t = f(a_t + h_{t-1} W_h),

    which is PyTorch's ``nn.RNN`` (with its two biases summed) for ``'tanh'`` and ``'relu'``.

    Examples
    --------
    >>> from rnnlearn import RNNRegressor
    >>> from rnnlearn.cells import VanillaCell
    >>> RNNRegressor(cell=VanillaCell(activation="logistic"))
    RNNRegressor(cell=VanillaCell(activation='logistic'))
    """

    def __init__(self, activation="tanh"):
        self.activation = activation

    def forward(self, params, XW, state0, mask=None):
        """Run the recurrence; see :meth:`Cell.forward`."""
        function = ACTIVATIONS[self.activation]
        W_h = params["W_h"]
        n_timesteps, n_samples, n_hidden = XW.shape
        H = np.empty((n_timesteps + 1, n_samples, n_hidden), dtype=XW.dtype)
        H[0] = state0[0]
        for t in range(n_timesteps):
            h = np.dot(H[t], W_h, out=H[t + 1])
            h += XW[t]
            function(h, out=h)
            if mask is not None:
                carry_padding(h, H[t], mask[t])
        return H[1:], VanillaCache(H, mask)

    def backward(self, params, cache, dH, grads):
        """Back-propagate through time; see :meth:`Cell.backward`."""
        H, mask = cache.H, cache.mask
        W_h_T = np.ascontiguousarray(params["W_h"].T)
        n_timesteps, n_samples, n_hidden = dH.shape
        # Derivative factors for all steps at once; only dh propagates step by step.
        factor = DERIVATIVES[self.activation](H[1:])
        if mask is not None:
            factor *= mask
            keep = 1 - mask
        dXW = np.empty_like(dH)  # gradient w.r.t. the pre-activations, i.e. w.r.t. XW
        dh = np.zeros((n_samples, n_hidden), dtype=dH.dtype)
        for t in range(n_timesteps - 1, -1, -1):
            dh += dH[t]
            np.multiply(dh, factor[t], out=dXW[t])
            if mask is None:
                dh = np.dot(dXW[t], W_h_T, out=dh)
            else:
                dh *= keep[t]
                dh += dXW[t] @ W_h_T
        np.dot(H[:-1].reshape(-1, n_hidden).T, dXW.reshape(-1, n_hidden), out=grads["W_h"])
        return dXW, dh[None]

    def states(self, cache):
        """Per-step states ``{"h": ...}``; see :meth:`Cell.states`."""
        return named_states(cache.H)
