"""The gated recurrent unit, in PyTorch's form and in Cho et al.'s."""

# SPDX-License-Identifier: BSD-3-Clause

from typing import NamedTuple

import numpy as np

from ..activations import ACTIVATIONS, DERIVATIVES
from ._base import Cell, carry_padding, named_states, split_gates


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

    def __init__(self, activation="tanh", reset_after=True):
        self.activation = activation
        self.reset_after = reset_after

    def validate_hyperparameters(self, prefix=""):
        """Check ``activation`` and that ``reset_after`` is a bool.

        See :meth:`Cell.validate_hyperparameters`.
        """
        super().validate_hyperparameters(prefix)
        if not isinstance(self.reset_after, bool | np.bool_):
            raise TypeError(f"{prefix}reset_after must be a bool; got {self.reset_after!r}.")

    def param_shapes(self, n_inputs, n_hidden):
        """Shapes as :meth:`Cell.param_shapes`, plus ``b_hn`` when ``reset_after``."""
        shapes = super().param_shapes(n_inputs, n_hidden)
        if self.reset_after:
            shapes["b_hn"] = (n_hidden,)
        return shapes

    def forward(self, params, XW, state0, mask=None):
        """Run the recurrence; see :meth:`Cell.forward`. The gates overwrite ``XW``."""
        function = ACTIVATIONS[self.activation]
        n_timesteps, n_samples, n_fused = XW.shape
        n_hidden = n_fused // 3
        rz, new = slice(0, 2 * n_hidden), slice(2 * n_hidden, n_fused)
        # The gates are computed in XW's buffer: row t holds step t's input projection
        # until the step turns it into the activated gates r, z, n. The sigmoid is taken
        # as (tanh(x / 2) + 1) / 2, so the r, z columns of XW and of W_h are halved once
        # here, and each step needs only tanh.
        gates = XW
        gates[..., rz] *= 0.5
        W_h_scaled = params["W_h"].copy()
        W_h_scaled[:, rz] *= 0.5
        H = np.empty((n_timesteps + 1, n_samples, n_hidden), dtype=XW.dtype)
        reset_term = np.empty_like(H[1:])
        recurrent = np.empty(
            (n_samples, n_fused if self.reset_after else 2 * n_hidden), dtype=XW.dtype
        )
        H[0] = state0[0]
        for t in range(n_timesteps):
            r_and_z, (r, z, n) = gates[t, :, rz], split_gates(gates[t], 3)
            if self.reset_after:
                np.dot(H[t], W_h_scaled, out=recurrent)
                np.add(recurrent[:, new], params["b_hn"], out=reset_term[t])
            else:
                np.dot(H[t], W_h_scaled[:, rz], out=recurrent)
            r_and_z += recurrent[:, rz]  # halved pre-activations of r and z
            np.tanh(r_and_z, out=r_and_z)
            r_and_z *= 0.5
            r_and_z += 0.5  # r and z activated
            if self.reset_after:
                n += r * reset_term[t]
            else:
                np.multiply(r, H[t], out=reset_term[t])
                n += reset_term[t] @ W_h_scaled[:, new]  # (the n block is not halved)
            function(n, out=n)  # n activated
            # h = n + z * (h_prev - n)
            h = np.subtract(H[t], n, out=H[t + 1])
            h *= z
            h += n
            if mask is not None:
                carry_padding(h, H[t], mask[t])
        return H[1:], GRUCache(H, gates, reset_term, mask)

    def backward(self, params, cache, dH, grads):
        """Back-propagate through time; see :meth:`Cell.backward`."""
        H, mask = cache.H, cache.mask
        r, z, n = split_gates(cache.gates, 3)
        # Factors independent of the incoming gradient, for all steps at once:
        # dh -> d(pre-activation of n), dh -> d(pre-activation of z), dh -> dh_prev directly.
        d_new = (1 - z) * DERIVATIVES[self.activation](n)
        d_update = (H[:-1] - n) * DERIVATIVES["logistic"](z)
        carry = z
        if mask is not None:
            d_new *= mask
            d_update *= mask
            carry = z * mask + (1 - mask)
        loop = self._bptt_reset_after if self.reset_after else self._bptt_reset_before
        dXW, dh = loop(params, H, dH, r, cache.reset_term, d_new, d_update, carry, grads)
        return dXW, dh[None]

    @staticmethod
    def _bptt_reset_after(params, H, dH, r, reset_term, d_new, d_update, carry, grads):
        """Time loop of the PyTorch form; fills ``grads``, returns ``(dXW, dh0)``.

        ``reset_term`` is ``h_{t-1} W^n_h + b_hn`` of every step (see :class:`GRUCache`).
        """
        n_timesteps, n_samples, n_hidden = dH.shape
        W_h_T = np.ascontiguousarray(params["W_h"].T)
        d_reset = reset_term * DERIVATIVES["logistic"](r)
        # Gradient w.r.t. the recurrent product h W_h (+ b_hn), blocks r, z, n.
        d_recurrent = np.empty((n_timesteps, n_samples, 3 * n_hidden), dtype=dH.dtype)
        dn = np.empty_like(dH)
        dh = np.zeros((n_samples, n_hidden), dtype=dH.dtype)
        for t in range(n_timesteps - 1, -1, -1):
            dh += dH[t]
            np.multiply(dh, d_new[t], out=dn[t])
            np.multiply(dn[t], d_reset[t], out=d_recurrent[t, :, :n_hidden])
            np.multiply(dh, d_update[t], out=d_recurrent[t, :, n_hidden : 2 * n_hidden])
            np.multiply(dn[t], r[t], out=d_recurrent[t, :, 2 * n_hidden :])
            dh *= carry[t]
            dh += d_recurrent[t] @ W_h_T
        flat = d_recurrent.reshape(-1, 3 * n_hidden)
        np.dot(H[:-1].reshape(-1, n_hidden).T, flat, out=grads["W_h"])
        np.sum(flat[:, 2 * n_hidden :], axis=0, out=grads["b_hn"])
        d_recurrent[..., 2 * n_hidden :] = dn  # now the gradient w.r.t. XW
        return d_recurrent, dh

    @staticmethod
    def _bptt_reset_before(params, H, dH, r, reset_term, d_new, d_update, carry, grads):
        """Time loop of the Cho et al. form; fills ``grads``, returns ``(dXW, dh0)``.

        ``reset_term`` is the reset state ``r * h_{t-1}`` of every step.
        """
        n_timesteps, n_samples, n_hidden = dH.shape
        rz, new = slice(0, 2 * n_hidden), slice(2 * n_hidden, 3 * n_hidden)
        W_rz_T = np.ascontiguousarray(params["W_h"][:, rz].T)
        W_n_T = np.ascontiguousarray(params["W_h"][:, new].T)
        d_reset = H[:-1] * DERIVATIVES["logistic"](r)  # d(r * h_prev) -> d(pre-act of r)
        dXW = np.empty((n_timesteps, n_samples, 3 * n_hidden), dtype=dH.dtype)
        dh = np.zeros((n_samples, n_hidden), dtype=dH.dtype)
        for t in range(n_timesteps - 1, -1, -1):
            dh += dH[t]
            dn = np.multiply(dh, d_new[t], out=dXW[t, :, new])
            np.multiply(dh, d_update[t], out=dXW[t, :, n_hidden : new.start])
            d_reset_term = dn @ W_n_T
            np.multiply(d_reset_term, d_reset[t], out=dXW[t, :, :n_hidden])
            dh *= carry[t]
            dh += d_reset_term * r[t]
            dh += dXW[t, :, rz] @ W_rz_T
        flat = dXW.reshape(-1, 3 * n_hidden)
        grads["W_h"][:, rz] = H[:-1].reshape(-1, n_hidden).T @ flat[:, rz]
        grads["W_h"][:, new] = reset_term.reshape(-1, n_hidden).T @ flat[:, new]
        return dXW, dh

    def states(self, cache):
        """Per-step ``h`` and gates ``r, z, n``; see :meth:`Cell.states`."""
        return named_states(cache.H, "rzn", cache.gates)
