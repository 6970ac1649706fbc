"""The gated recurrent unit, in PyTorch's form and in Cho et al.'s."""

# SPDX-License-Identifier: BSD-3-Clause

from typing import NamedTuple

import numpy as np

from .._validation import Flag
from ._base import (
    Cell,
    column_sums,
    forward_inputs,
    kernel_array,
    kernel_inputs,
    named_states,
    valid_lengths,
)
from ._compiled import ACTIVATION_CODES
from ._compiled import kernels as _kernels


class GRUCache(NamedTuple):
    """What :meth:`GRUCell.forward` keeps for the backward pass (see :class:`Cell`).

    Attributes
    ----------
    H : ndarray of shape (n_timesteps + 1, n_samples, n_hidden)
        Hidden-state history.
    gates : ndarray of shape (n_timesteps, n_samples, 3 * n_hidden)
        Activated gates ``r, z, n``, in ``XW``'s buffer.
    reset_term : ndarray of shape (n_timesteps, n_samples, n_hidden)
        Where the reset gate meets the state, per step: with ``reset_after=True`` the
        recurrent candidate term ``h_{t-1} W^n_h + b_hn`` that ``r`` scales; with
        ``reset_after=False`` the reset state ``r * h_{t-1}`` that multiplies ``W^n_h``.
    mask : ndarray of shape (n_timesteps, n_samples, 1) or None
        Step mask.
    """

    H: np.ndarray
    gates: np.ndarray
    reset_term: np.ndarray
    mask: np.ndarray | None


class GRUCell(Cell):
    """Gated recurrent unit, gates in PyTorch's order ``r, z, n``.

    Parameters
    ----------
    activation : {'tanh', 'logistic', 'gompertz', 'relu', 'identity'}, default='tanh'
        Nonlinearity of the candidate state ``n``. Gates are always logistic.
    reset_after : bool, default=True
        ``True`` applies the reset gate after the recurrent product, as PyTorch and Keras
        do; this needs a second bias ``b_hn`` on the recurrent candidate term. ``False``
        applies it before the product (Cho et al., 2014), as the R package does.

    See Also
    --------
    LSTMCell : Long short-term memory cell.
    VanillaCell : Elman recurrent cell.

    Notes
    -----
    With input projection :math:`a_t = x_t W_x + b` split into blocks ``r, z, n`` and
    :math:`W_h` split likewise,

    .. math::

        r = \\sigma(a^r_t + h_{t-1} W^r_h), \\quad z = \\sigma(a^z_t + h_{t-1} W^z_h), \\\\
        n = \\phi(a^n_t + r \\odot (h_{t-1} W^n_h + b_{hn})) \\quad
        \\text{or, with reset_after=False,} \\quad n = \\phi(a^n_t + (r \\odot h_{t-1}) W^n_h),
        \\\\ h_t = (1 - z) \\odot n + z \\odot h_{t-1}.

    The R package writes ``h = (1 - z) h_prev + z n``: the same model with ``z`` negated.

    Examples
    --------
    >>> from rnnlearn import RNNClassifier
    >>> from rnnlearn.cells import GRUCell
    >>> RNNClassifier(cell=GRUCell(reset_after=False))
    RNNClassifier(cell=GRUCell(reset_after=False))
    """

    n_gates = 3
    projects_input = True
    _parameter_constraints = {**Cell._parameter_constraints, "reset_after": Flag()}

    def __init__(self, activation="tanh", reset_after=True):
        self.activation = activation
        self.reset_after = reset_after

    def param_shapes(self, n_inputs, n_hidden):
        """Shapes as :meth:`Cell.param_shapes`, plus ``b_hn`` when ``reset_after``."""
        shapes = super().param_shapes(n_inputs, n_hidden)
        if self.reset_after:
            shapes["b_hn"] = (n_hidden,)
        return shapes

    def forward(self, params, XW, state0, mask=None):
        """Run the recurrence; see :meth:`Cell.forward`. The gates overwrite ``XW``."""
        return self._run(params, XW, state0, mask, training=True)

    def predict(self, params, XW, state0, mask=None):
        """Run the recurrence without storing gates; see :meth:`Cell.predict`."""
        return self._run(params, XW, state0, mask, training=False)[0]

    def _run(self, params, XW, state0, mask, training):
        """``(H, cache)`` as :meth:`forward` returns them; without ``training`` the kernel
        keeps one step of ``reset_term`` only, so the cache serves no backward."""
        gates, W_h, mask, projection = forward_inputs(params["W_h"], XW, mask)
        n_timesteps, n_samples, n_fused = gates.shape
        H = np.empty((n_timesteps + 1, n_samples, n_fused // 3), dtype=gates.dtype)
        reset_term = np.empty((n_timesteps if training else 1, *H.shape[1:]), dtype=H.dtype)
        H[0] = state0[0]
        b_hn = kernel_array(params["b_hn"], gates.dtype) if self.reset_after else None
        code = ACTIVATION_CODES[self.activation]
        _kernels.gru_forward(
            gates,
            W_h,
            b_hn,
            H,
            reset_term,
            mask,
            self.reset_after,
            code,
            training=training,
            **projection,
        )
        return H[1:], GRUCache(H, gates, reset_term, mask)

    def backward(self, params, cache, dH, grads):
        """Back-propagate through time; see :meth:`Cell.backward`. Consumes the cache."""
        d_gates, W_h, _ = kernel_inputs(params["W_h"], cache.gates, None)
        dH = kernel_array(dH, d_gates.dtype)
        n_timesteps, n_samples, n_hidden = dH.shape
        dh0 = np.zeros((n_samples, n_hidden), dtype=dH.dtype)
        # PyTorch form: the kernel leaves the gradient w.r.t. the recurrent product h W_h
        # (+ b_hn) in d_gates and that of the candidate's pre-activation in d_new.
        d_new = np.empty_like(dH) if self.reset_after else None
        _kernels.gru_backward(
            d_gates,
            cache.H,
            cache.reset_term,
            W_h,
            dH,
            dh0,
            d_new,
            cache.mask,
            self.reset_after,
            ACTIVATION_CODES[self.activation],
        )
        flat, H_prev = d_gates.reshape(-1, 3 * n_hidden), cache.H[:-1].reshape(-1, n_hidden)
        lengths = valid_lengths(cache.mask)
        if self.reset_after:
            _kernels.weight_grad(H_prev, flat, grads["W_h"], lengths=lengths)
            column_sums(flat, grads["b_hn"], 2 * n_hidden)
            d_gates[..., 2 * n_hidden :] = d_new  # now the gradient w.r.t. XW
        else:
            reset_input = cache.reset_term.reshape(-1, n_hidden)
            _kernels.weight_grad(H_prev, flat, grads["W_h"], 0, 2 * n_hidden, 0, lengths=lengths)
            _kernels.weight_grad(
                reset_input,
                flat,
                grads["W_h"],
                2 * n_hidden,
                n_hidden,
                2 * n_hidden,
                lengths=lengths,
            )
        return d_gates, dh0[None]

    def states(self, cache):
        """Per-step ``h`` and gates ``r, z, n``; see :meth:`Cell.states`."""
        return named_states(cache.H, "rzn", cache.gates)
