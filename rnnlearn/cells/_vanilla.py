"""The Elman (vanilla) recurrent cell."""

# SPDX-License-Identifier: BSD-3-Clause

from typing import NamedTuple

import numpy as np

from ._base import (
    Cell,
    forward_inputs,
    kernel_array,
    kernel_inputs,
    named_states,
    valid_lengths,
)
from ._compiled import ACTIVATION_CODES
from ._compiled import kernels as _kernels


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

    projects_input = True

    def __init__(self, activation="tanh"):
        self.activation = activation

    def forward(self, params, XW, state0, mask=None):
        """Run the recurrence; see :meth:`Cell.forward`."""
        XW, W_h, mask, projection = forward_inputs(params["W_h"], XW, mask)
        n_timesteps, n_samples, n_hidden = XW.shape
        H = np.empty((n_timesteps + 1, n_samples, n_hidden), dtype=XW.dtype)
        H[0] = state0[0]
        code = ACTIVATION_CODES[self.activation]
        _kernels.vanilla_forward(XW, W_h, H, mask, code, **projection)
        return H[1:], VanillaCache(H, mask)

    def backward(self, params, cache, dH, grads):
        """Back-propagate through time; see :meth:`Cell.backward`."""
        H = cache.H
        _, W_h, _ = kernel_inputs(params["W_h"], H, None)
        dH = kernel_array(dH, H.dtype)
        n_timesteps, n_samples, n_hidden = dH.shape
        dXW = np.empty_like(dH)
        dh0 = np.zeros((n_samples, n_hidden), dtype=H.dtype)
        code = ACTIVATION_CODES[self.activation]
        _kernels.vanilla_backward(H, W_h, dH, dXW, dh0, cache.mask, code)
        _kernels.weight_grad(
            H[:-1].reshape(-1, n_hidden),
            dXW.reshape(-1, n_hidden),
            grads["W_h"],
            lengths=valid_lengths(cache.mask),
        )
        return dXW, dh0[None]

    def states(self, cache):
        """Per-step states ``{"h": ...}``; see :meth:`Cell.states`."""
        return named_states(cache.H)
