"""The long short-term memory cell."""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Real
from typing import NamedTuple

import numpy as np

from .._validation import check_number
from ..activations import ACTIVATIONS, DERIVATIVES
from ._base import Cell, carry_padding, named_states, split_gates


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

    def __init__(self, activation="tanh", forget_bias=1.0):
        self.activation = activation
        self.forget_bias = forget_bias

    def validate_hyperparameters(self, prefix=""):
        """Check ``activation`` and that ``forget_bias`` is a finite real number.

        See :meth:`Cell.validate_hyperparameters`.
        """
        super().validate_hyperparameters(prefix)
        check_number(prefix + "forget_bias", self.forget_bias, Real)

    def init_params(self, params, rng):
        """Initialise as :meth:`Cell.init_params`, then set the forget-gate bias."""
        super().init_params(params, rng)
        n_hidden = params["W_h"].shape[0]
        params["b"][n_hidden : 2 * n_hidden] = self.forget_bias

    def forward(self, params, XW, state0, mask=None):
        """Run the recurrence; see :meth:`Cell.forward`. The gates overwrite ``XW``."""
        function = ACTIVATIONS[self.activation]
        n_timesteps, n_samples, n_fused = XW.shape
        n_hidden = n_fused // 4
        # The gates are computed in XW's buffer: row t holds step t's input projection
        # until the step turns it into the activated gates i, f, g, o. The sigmoid is
        # taken as (tanh(x / 2) + 1) / 2, so the i, f, o columns of XW and of W_h are
        # halved once here, and each step needs tanh only (one call for all gates when the
        # candidate's activation is tanh too).
        scale = _sigmoid_prescale(n_hidden, XW.dtype)
        gates = XW
        gates *= scale
        W_h_scaled = params["W_h"] * scale
        sigmoid_blocks = (slice(0, 2 * n_hidden), slice(3 * n_hidden, n_fused))
        candidate = slice(2 * n_hidden, 3 * n_hidden)
        H = np.empty((n_timesteps + 1, n_samples, n_hidden), dtype=XW.dtype)
        C = np.empty_like(H)
        cell_out = np.empty_like(H[1:])
        recurrent = np.empty((n_samples, n_fused), dtype=XW.dtype)
        H[0], C[0] = state0
        for t in range(n_timesteps):
            step = gates[t]
            step += np.dot(H[t], W_h_scaled, out=recurrent)  # pre-activations, i f o halved
            if self.activation == "tanh":
                np.tanh(step, out=step)
            else:
                for block in sigmoid_blocks:
                    np.tanh(step[:, block], out=step[:, block])
                function(step[:, candidate], out=step[:, candidate])
            for block in sigmoid_blocks:
                step[:, block] *= 0.5
                step[:, block] += 0.5
            i, f, g, o = split_gates(step, 4)  # all four activated now
            c = np.multiply(f, C[t], out=C[t + 1])
            c += i * g
            function(c, out=cell_out[t])
            np.multiply(o, cell_out[t], out=H[t + 1])
            if mask is not None:
                carry_padding(C[t + 1], C[t], mask[t])
                carry_padding(H[t + 1], H[t], mask[t])
        return H[1:], LSTMCache(H, C, gates, cell_out, mask)

    def backward(self, params, cache, dH, grads):
        """Back-propagate through time; see :meth:`Cell.backward`."""
        H, C, gates, cell_out, mask = cache.H, cache.C, cache.gates, cache.cell_out, cache.mask
        derivative, sigmoid_derivative = DERIVATIVES[self.activation], DERIVATIVES["logistic"]
        W_h_T = np.ascontiguousarray(params["W_h"].T)
        n_timesteps, n_samples, n_hidden = dH.shape
        i, f, g, o = split_gates(gates, 4)
        # Factors that do not depend on the incoming gradient, for all steps at once:
        # d(pre-activation of gate k) = factor[k] * (dc for i, f, g; dh for o). The loop
        # turns each step's factors into that step's gradient in place, so that afterwards
        # the buffer holds the gradient w.r.t. the pre-activations, i.e. w.r.t. XW.
        factor = np.empty_like(gates).reshape(n_timesteps, n_samples, 4, n_hidden)
        np.multiply(g, sigmoid_derivative(i), out=factor[:, :, 0])
        np.multiply(C[:-1], sigmoid_derivative(f), out=factor[:, :, 1])
        np.multiply(i, derivative(g), out=factor[:, :, 2])
        np.multiply(cell_out, sigmoid_derivative(o), out=factor[:, :, 3])
        dc_from_dh = o * derivative(cell_out)
        carry = f
        if mask is not None:
            factor *= mask[:, :, None]
            dc_from_dh *= mask
            keep = 1 - mask
            carry = f * mask + keep
        dXW = factor.reshape(gates.shape)  # the same buffer, gates fused
        dh = np.zeros((n_samples, n_hidden), dtype=dH.dtype)
        dc = np.zeros_like(dh)
        for t in range(n_timesteps - 1, -1, -1):
            dh += dH[t]
            dc += dh * dc_from_dh[t]
            factor[t, :, :3] *= dc[:, None, :]
            factor[t, :, 3] *= dh
            dc *= carry[t]
            if mask is None:
                dh = np.dot(dXW[t], W_h_T, out=dh)
            else:
                dh *= keep[t]
                dh += dXW[t] @ W_h_T
        n_fused = 4 * n_hidden
        np.dot(H[:-1].reshape(-1, n_hidden).T, dXW.reshape(-1, n_fused), out=grads["W_h"])
        return dXW, np.stack([dh, dc])

    def states(self, cache):
        """Per-step ``h``, ``c`` and gates ``i, f, g, o``; see :meth:`Cell.states`."""
        return named_states(cache.H, "ifgo", cache.gates, c=cache.C)


def _sigmoid_prescale(n_hidden, dtype):
    """Column factors ``0.5`` for the sigmoid gates ``i, f, o`` and ``1`` for ``g``."""
    scale = np.full(4 * n_hidden, 0.5, dtype=dtype)
    scale[2 * n_hidden : 3 * n_hidden] = 1.0
    return scale
