"""The NumPy cells the compiled kernels replaced: the readable reference they are checked against.

Each class subclasses the library's cell (same hyperparameters, cache and ``states``) and
runs the recurrence with NumPy array operations, one step at a time.
"""

import numpy as np

from rnnlearn.activations import ACTIVATIONS, DERIVATIVES
from rnnlearn.cells import GRUCell, LSTMCell, VanillaCell
from rnnlearn.cells._base import split_gates
from rnnlearn.cells._gru import GRUCache
from rnnlearn.cells._lstm import LSTMCache
from rnnlearn.cells._vanilla import VanillaCache


class ReferenceVanillaCell(VanillaCell):
    """VanillaCell computed step by step in NumPy."""

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


class ReferenceGRUCell(GRUCell):
    """GRUCell computed step by step in NumPy."""

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
        if mask is not None:  # the kernels' convention: no gates on padding
            gates *= mask
            reset_term *= mask
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


class ReferenceLSTMCell(LSTMCell):
    """LSTMCell computed step by step in NumPy."""

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
        if mask is not None:  # the kernels' convention: no gates on padding
            gates *= mask
            cell_out *= mask
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


def _sigmoid_prescale(n_hidden, dtype):
    """Column factors ``0.5`` for the sigmoid gates ``i, f, o`` and ``1`` for ``g``."""
    scale = np.full(4 * n_hidden, 0.5, dtype=dtype)
    scale[2 * n_hidden : 3 * n_hidden] = 1.0
    return scale


def carry_padding(h_new, h_prev, mask_t):
    """Keep ``h_prev`` where the step is padding: ``h_new = h_prev + m * (h_new - h_prev)``.

    Parameters
    ----------
    h_new : ndarray of shape (n_samples, n_hidden)
        Freshly computed state; overwritten with the result.
    h_prev : ndarray of shape (n_samples, n_hidden)
        State before the step.
    mask_t : ndarray of shape (n_samples, 1)
        1 for valid steps, 0 for padding.
    """
    h_new -= h_prev
    h_new *= mask_t
    h_new += h_prev
