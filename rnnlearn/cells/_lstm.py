"""The long short-term memory cell."""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Real
from typing import NamedTuple

import numpy as np

from .._validation import Interval
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


class LSTMCache(NamedTuple):
    """What :meth:`LSTMCell.forward` keeps for the backward pass (see :class:`Cell`).

    Attributes
    ----------
    H, C : ndarray of shape (n_timesteps + 1, n_samples, n_hidden)
        Histories of the hidden state ``h`` and the cell state ``c``.
    gates : ndarray of shape (n_timesteps, n_samples, 4 * n_hidden)
        Activated gates ``i, f, g, o``, in ``XW``'s buffer.
    cell_out : ndarray of shape (n_timesteps, n_samples, n_hidden)
        The activated cell state ``phi(c_t)`` of every step (before padding is carried),
        so that ``h_t = o * cell_out[t]`` on valid steps.
    mask : ndarray of shape (n_timesteps, n_samples, 1) or None
        Step mask.
    """

    H: np.ndarray
    C: np.ndarray
    gates: np.ndarray
    cell_out: np.ndarray
    mask: np.ndarray | None


class LSTMCell(Cell):
    """Long short-term memory cell without peepholes, gates in PyTorch's order ``i, f, g, o``.

    Parameters
    ----------
    activation : {'tanh', 'logistic', 'gompertz', 'relu', 'identity'}, default='tanh'
        Nonlinearity of the candidate ``g`` and of the cell state on output. Gates are
        always logistic.
    forget_bias : float, default=1.0
        Initial value of the forget-gate bias (Keras' ``unit_forget_bias``). ``0.0``
        starts like PyTorch's zero-bias layout.

    See Also
    --------
    GRUCell : Gated recurrent unit.
    VanillaCell : Elman recurrent cell.

    Notes
    -----
    With input projection :math:`a_t = x_t W_x + b` split into four blocks,

    .. math::

        [i, f, g, o] = [\\sigma, \\sigma, \\phi, \\sigma](a_t + h_{t-1} W_h), \\quad
        c_t = f \\odot c_{t-1} + i \\odot g, \\quad h_t = o \\odot \\phi(c_t),

    as PyTorch's ``nn.LSTM`` (whose two biases sum to ``b``). The state is ``(h, c)``.

    Examples
    --------
    >>> from rnnlearn import RNNRegressor
    >>> from rnnlearn.cells import LSTMCell
    >>> RNNRegressor(cell=LSTMCell(forget_bias=0.0))
    RNNRegressor(cell=LSTMCell(forget_bias=0.0))
    """

    n_gates = 4
    n_states = 2
    projects_input = True
    _parameter_constraints = {**Cell._parameter_constraints, "forget_bias": Interval(Real)}

    def __init__(self, activation="tanh", forget_bias=1.0):
        self.activation = activation
        self.forget_bias = forget_bias

    def init_params(self, params, rng):
        """Initialise as :meth:`Cell.init_params`, then set the forget-gate bias."""
        super().init_params(params, rng)
        n_hidden = params["W_h"].shape[0]
        params["b"][n_hidden : 2 * n_hidden] = self.forget_bias

    def forward(self, params, XW, state0, mask=None):
        """Run the recurrence; see :meth:`Cell.forward`. The gates overwrite ``XW``."""
        return self._run(params, XW, state0, mask, training=True)

    def predict(self, params, XW, state0, mask=None):
        """Run the recurrence without storing gates; see :meth:`Cell.predict`."""
        return self._run(params, XW, state0, mask, training=False)[0]

    def _run(self, params, XW, state0, mask, training):
        """``(H, cache)`` as :meth:`forward` returns them; without ``training`` the kernel
        keeps one step of ``C`` and ``cell_out`` only, so the cache serves no backward."""
        gates, W_h, mask, projection = forward_inputs(params["W_h"], XW, mask)
        n_timesteps, n_samples, n_fused = gates.shape
        H = np.empty((n_timesteps + 1, n_samples, n_fused // 4), dtype=gates.dtype)
        C = np.empty((n_timesteps + 1 if training else 1, *H.shape[1:]), dtype=H.dtype)
        cell_out = np.empty((n_timesteps if training else 1, *H.shape[1:]), dtype=H.dtype)
        H[0], C[0] = state0[0], state0[1]
        code = ACTIVATION_CODES[self.activation]
        _kernels.lstm_forward(
            gates, W_h, H, C, cell_out, mask, code, training=training, **projection
        )
        return H[1:], LSTMCache(H, C, gates, cell_out, mask)

    def backward(self, params, cache, dH, grads):
        """Back-propagate through time; see :meth:`Cell.backward`. Consumes the cache."""
        dXW, W_h, _ = kernel_inputs(params["W_h"], cache.gates, None)
        dH = kernel_array(dH, dXW.dtype)
        n_hidden = dH.shape[-1]
        dstate = np.zeros((2, dH.shape[1], n_hidden), dtype=dXW.dtype)
        code = ACTIVATION_CODES[self.activation]
        _kernels.lstm_backward(dXW, cache.C, cache.cell_out, W_h, dH, dstate, cache.mask, code)
        H_prev, dXW_flat = cache.H[:-1].reshape(-1, n_hidden), dXW.reshape(-1, 4 * n_hidden)
        _kernels.weight_grad(H_prev, dXW_flat, grads["W_h"], lengths=valid_lengths(cache.mask))
        return dXW, dstate

    def states(self, cache):
        """Per-step ``h``, ``c`` and gates ``i, f, g, o``; see :meth:`Cell.states`."""
        return named_states(cache.H, "ifgo", cache.gates, c=cache.C)
