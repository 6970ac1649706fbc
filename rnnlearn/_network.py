"""A stack of recurrent layers and a dense output head over one flat parameter vector."""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np


class Network:
    """Shapes and the forward/backward passes of a stacked recurrent network.

    A network holds shapes only; weights travel as one flat vector ``params`` (so an
    optimizer step, gradient clipping or a best-weights snapshot is one array operation)
    and :meth:`unpack` gives named views into it. Layer ``k`` reads the output of layer
    ``k - 1`` at the same time step; the head is dense, applied to the top layer's states.

    Parameters
    ----------
    cell : Cell
        The recurrence of every layer (a cell holds no weights, so one serves all).
    n_features : int
        Features per time step of the input.
    hidden_layer_sizes : tuple of int
        Hidden units of each recurrent layer, bottom first; sizes may differ.
    n_outputs : int
        Outputs of the head per emitted step.
    n_steps_out : int or None, default=None
        ``None`` emits one output per input step (synced sequence to sequence). An integer
        ``k`` emits ``k`` outputs starting at each sequence's last input step, feeding zero
        inputs after it (the R package's ``seq_to_seq_unsync``); ``k = 1`` is many-to-one.

    Attributes
    ----------
    layout : list of dict
        Per layer (the head last), parameter name -> ``(offset, shape)`` in the flat vector.
    n_params : int
        Length of the flat parameter vector.
    """

    def __init__(self, cell, n_features, hidden_layer_sizes, n_outputs, n_steps_out=None):
        self.cell = cell
        self.n_features = n_features
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.n_outputs = n_outputs
        self.n_steps_out = n_steps_out
        shapes = []
        n_inputs = n_features
        for n_hidden in self.hidden_layer_sizes:
            shapes.append(cell.param_shapes(n_inputs, n_hidden))
            n_inputs = n_hidden
        shapes.append({"W": (n_inputs, n_outputs), "b": (n_outputs,)})
        self.layout, offset = [], 0
        for layer in shapes:
            entry = {}
            for name, shape in layer.items():
                entry[name] = (offset, shape)
                offset += int(np.prod(shape))
            self.layout.append(entry)
        self.n_params = offset

    def unpack(self, flat):
        """Named views into a flat parameter (or gradient) vector.

        Parameters
        ----------
        flat : ndarray of shape (n_params,)
            Parameters or gradients.

        Returns
        -------
        list of dict of str to ndarray
            One dict per recurrent layer (``W_x``, ``W_h``, ``b``, ...), then the head
            (``W`` of shape ``(n_hidden_last, n_outputs)``, ``b``). Writing to a view
            writes to ``flat``.
        """
        return [
            {
                name: flat[start : start + int(np.prod(shape))].reshape(shape)
                for name, (start, shape) in layer.items()
            }
            for layer in self.layout
        ]

    def init_params(self, rng, dtype=np.float64):
        """Draw initial parameters (see :meth:`Cell.init_params`; the head is Glorot-uniform).

        Parameters
        ----------
        rng : numpy.random.RandomState
            Source of randomness.
        dtype : {numpy.float32, numpy.float64}, default=numpy.float64
            Floating type of the whole network.

        Returns
        -------
        ndarray of shape (n_params,)
        """
        flat = np.zeros(self.n_params, dtype=dtype)
        *layers, head = self.unpack(flat)
        for layer in layers:
            self.cell.init_params(layer, rng)
        n_inputs, n_outputs = head["W"].shape
        limit = np.sqrt(6.0 / (n_inputs + n_outputs))
        head["W"][...] = rng.uniform(-limit, limit, size=head["W"].shape)
        return flat

    def weight_mask(self):
        """Boolean mask of the entries that are weights (not biases), for L2 penalties.

        Returns
        -------
        ndarray of bool of shape (n_params,)
        """
        mask = np.zeros(self.n_params, dtype=bool)
        for layer in self.layout:
            for name, (start, shape) in layer.items():
                if name.startswith("W"):
                    mask[start : start + int(np.prod(shape))] = True
        return mask

    def forward(self, params, X, lengths=None, state0=None):
        """Compute the raw (pre-link) outputs.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            Flat parameters; their dtype is the computation's.
        X : ndarray of shape (n_timesteps, n_samples, n_features)
            Time-major, right-padded input.
        lengths : ndarray of int of shape (n_samples,), default=None
            Valid steps of each sequence; ``None`` means all ``n_timesteps``.
        state0 : list of ndarray of shape (n_states, n_samples, n_hidden), default=None
            Initial state of each layer; ``None`` means zeros.

        Returns
        -------
        raw : ndarray
            ``(n_timesteps, n_samples, n_outputs)`` for synced output, else
            ``(n_steps_out, n_samples, n_outputs)``.
        cache : tuple
            Everything :meth:`backward` needs.
        """
        X = np.ascontiguousarray(X, dtype=params.dtype)
        n_timesteps, n_samples, _ = X.shape
        extra = 0 if self.n_steps_out is None else self.n_steps_out - 1
        valid = None
        if extra:
            if lengths is not None:  # the steps after each input are zeros, not its padding
                valid = step_mask(lengths, n_timesteps)[:, :, None]
                X = np.where(valid, X, 0)
            X = np.concatenate([X, np.zeros((extra,) + X.shape[1:], dtype=X.dtype)])
        mask = _step_mask(lengths, n_timesteps, extra, X.dtype)
        *layers, head = self.unpack(params)
        layer_caches, inputs = [], X
        for k, layer in enumerate(layers):
            n_hidden = layer["W_h"].shape[0]
            XW = inputs.reshape(-1, inputs.shape[-1]) @ layer["W_x"]
            XW += layer["b"]
            XW = XW.reshape(inputs.shape[0], n_samples, -1)
            if state0 is None or state0[k] is None:
                s0 = np.zeros((self.cell.n_states, n_samples, n_hidden), dtype=X.dtype)
            else:
                s0 = np.asarray(state0[k], dtype=X.dtype)
            H, cell_cache = self.cell.forward(layer, XW, s0, mask)
            layer_caches.append((inputs, cell_cache))
            inputs = H
        rows = self._emitted_rows(lengths, n_timesteps, n_samples)
        top = inputs if rows is None else inputs[rows]
        raw = top @ head["W"]
        raw += head["b"]
        return raw, (layer_caches, top, rows, inputs.shape, n_timesteps, valid)

    def backward(self, params, cache, d_raw, input_gradient=False):
        """Back-propagate a gradient of the raw outputs to all parameters.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            As given to :meth:`forward`.
        cache : tuple
            As returned by :meth:`forward`.
        d_raw : ndarray, shaped like the raw output
            Gradient of the loss with respect to the raw output.
        input_gradient : bool, default=False
            Also compute the gradient with respect to ``X`` (skipped in training).

        Returns
        -------
        grads : ndarray of shape (n_params,)
            Flat gradient, laid out like ``params``.
        dX : ndarray of shape (n_timesteps, n_samples, n_features) or None
            Gradient with respect to the input, if asked for.
        dstate0 : list of ndarray of shape (n_states, n_samples, n_hidden)
            Gradient with respect to each layer's initial state.
        """
        layer_caches, top, rows, top_shape, n_timesteps, valid = cache
        *layers, head = self.unpack(params)
        grads = np.empty_like(params)
        *layer_grads, head_grads = self.unpack(grads)
        n_hidden = top.shape[-1]
        d_raw = np.asarray(d_raw, dtype=params.dtype)
        d_flat = d_raw.reshape(-1, d_raw.shape[-1])
        np.dot(top.reshape(-1, n_hidden).T, d_flat, out=head_grads["W"])
        np.sum(d_flat, axis=0, out=head_grads["b"])
        d_top = d_raw @ head["W"].T
        if rows is None:
            dH = d_top
        else:
            dH = np.zeros(top_shape, dtype=params.dtype)
            dH[rows] = d_top
        dstate0 = [None] * len(layers)
        dX = None
        for k in range(len(layers) - 1, -1, -1):
            inputs, cell_cache = layer_caches[k]
            dXW, dstate0[k] = self.cell.backward(layers[k], cell_cache, dH, layer_grads[k])
            dXW_flat = dXW.reshape(-1, dXW.shape[-1])
            np.dot(inputs.reshape(-1, inputs.shape[-1]).T, dXW_flat, out=layer_grads[k]["W_x"])
            np.sum(dXW_flat, axis=0, out=layer_grads[k]["b"])
            if k > 0 or input_gradient:
                dH = (dXW_flat @ layers[k]["W_x"].T).reshape(inputs.shape)
        if input_gradient:
            dX = dH[:n_timesteps] if valid is None else dH[:n_timesteps] * valid
        return grads, dX, dstate0

    def hidden_states(self, cache):
        """Per-layer named states of the last forward pass (see :meth:`Cell.states`).

        Parameters
        ----------
        cache : tuple
            As returned by :meth:`forward`.

        Returns
        -------
        list of dict of str to ndarray of shape (n_timesteps, n_samples, n_hidden)
            Time-major; with ``n_steps_out > 1`` the steps after the input are included.
        """
        return [self.cell.states(cell_cache) for _, cell_cache in cache[0]]

    def _emitted_rows(self, lengths, n_timesteps, n_samples):
        """Index ``(steps, samples)`` of the emitted top states, or ``None`` for all steps."""
        if self.n_steps_out is None:
            return None
        last = np.full(n_samples, n_timesteps - 1) if lengths is None else lengths - 1
        steps = last[None, :] + np.arange(self.n_steps_out)[:, None]
        return steps, np.broadcast_to(np.arange(n_samples), steps.shape)


def _step_mask(lengths, n_timesteps, extra, dtype):
    """``(T + extra, n_samples, 1)`` mask of valid steps, or ``None`` when all are valid."""
    if lengths is None or np.all(lengths == n_timesteps):
        return None
    valid = np.arange(n_timesteps + extra)[:, None] < (np.asarray(lengths) + extra)[None, :]
    return valid[:, :, None].astype(dtype)


def step_mask(lengths, n_timesteps):
    """Boolean ``(n_timesteps, n_samples)`` mask: ``True`` on each sequence's valid steps.

    Parameters
    ----------
    lengths : ndarray of int of shape (n_samples,)
        Valid steps of each sequence.
    n_timesteps : int
        Padded length.

    Returns
    -------
    ndarray of bool of shape (n_timesteps, n_samples)
    """
    return np.arange(n_timesteps)[:, None] < np.asarray(lengths)[None, :]
