"""A stack of recurrent layers and a dense output head over one flat parameter vector."""

# SPDX-License-Identifier: BSD-3-Clause

import math
from contextlib import nullcontext
from typing import NamedTuple

import numpy as np

from .cells._base import PROJECTED_MAX_FEATURES, ProjectedInput, column_sums, kernel_array
from .cells._compiled import kernels as _kernels
from .cells._threads import single_threaded_blas

PREDICT_CHUNK_BYTES = 32 * 2**20
"""Default bound on one layer's gate buffer per chunk of :meth:`Network.predict`."""


def _mean_weights(H, valid, last):
    """Weights ``1 / length`` on each sequence's valid steps: the mean over time."""
    counts = valid.sum(axis=0, keepdims=True)
    return (valid / counts).astype(H.dtype)


def _max_steps(H, lengths):
    """``(maximum, step)``, each ``(1, n_samples, units)``: each unit's largest state over
    its sequence's valid steps (``lengths``, or ``None`` when every step is valid) and the
    first step that holds it, found by the compiled kernel in one pass over ``H``."""
    if lengths is not None:
        lengths = np.ascontiguousarray(lengths, dtype=np.intp)
    return _kernels.max_steps(kernel_array(H), lengths)


def _max_weights(H, valid, last):
    """One-hot weights on each unit's largest valid state (the first of ties)."""
    top = _max_steps(H, valid.sum(axis=0)[:, 0])[1]
    weights = np.zeros_like(H)
    np.put_along_axis(weights, top, 1, axis=0)
    return weights


def _concat_weights(H, valid, last):
    """The last state's one-hot weights, the mean's and the max's side by side (ULMFiT's
    concat pooling): three blocks of ``H``'s width."""
    last_weights = np.zeros_like(H)
    last_weights[last] = 1
    mean_weights = np.broadcast_to(_mean_weights(H, valid, last), H.shape)
    return np.concatenate([last_weights, mean_weights, _max_weights(H, valid, last)], axis=-1)


POOLINGS = {"mean": _mean_weights, "max": _max_weights, "concat": _concat_weights}
"""Pooling name -> ``weights(H, valid, last)``, ``last`` indexing the states that ``'last'``
reads: the pooled head input is ``sum(weights * H)`` over time, block by block of ``H``'s
width (one block of width 1 or ``H``'s, or three for ``'concat'``), so its gradient is
``weights * d_pooled`` summed over the blocks. ``'last'`` (no pooling) is not listed."""

POOLED_BLOCKS = {"concat": 3}
"""Pooling name -> how many times the top layer's width the head reads (1 if not listed)."""

_NO_HOLD = nullcontext()
"""What :meth:`Network._blas_hold` returns for a pass that needs no hold (one object for
every such pass: a ``nullcontext`` keeps no state)."""

DIRECTIONS = ("", "_reverse")
"""Suffix of each direction's parameter names in a layer, forward first (PyTorch's names)."""


class LayerCache(NamedTuple):
    """What :meth:`Network.forward` keeps of one recurrent layer.

    Attributes
    ----------
    inputs : ndarray of shape (n_steps, n_samples, n_inputs)
        The layer's input, time-major: the network's input for the bottom layer, the
        hidden states of the layer below otherwise. Forms ``dW_x`` and the input gradient.
    cells : tuple
        The cache the cell's ``forward`` returned (see :meth:`Cell.forward`) for each
        direction, forward first; the reverse direction's is in reversed time.
    """

    inputs: np.ndarray
    cells: tuple


class NetworkCache(NamedTuple):
    """What :meth:`Network.forward` keeps for :meth:`Network.backward`.

    Attributes
    ----------
    layers : tuple of LayerCache
        One per recurrent layer, bottom first.
    head_input : ndarray of shape (n_emitted_steps, n_samples, head_width)
        What the head read, after dropout: the top layer's states, all of them for synced
        output, else the ``n_steps_out`` states from each sequence's last input step on,
        or their pooling over time (see :attr:`Network.head_width`).
    emitted : tuple of ndarray, tuple of slice, or None
        Index ``(steps, samples)`` of ``head_input`` in the top layer's states (``(steps,
        samples, units)`` for a bidirectional last state; ``(steps,)``, a slice, when every
        sequence ends at the last step), or ``None`` when every step is emitted or the
        states are pooled.
    top_shape : tuple of int
        Shape ``(n_steps, n_samples, n_outputs_last)`` of the top layer's states.
    n_timesteps : int
        Input steps, before the zero steps appended when ``n_steps_out > 1``.
    valid_input : ndarray of bool of shape (n_timesteps, n_samples, 1) or None
        Valid input steps, when padding was replaced by zeros (``n_steps_out > 1`` with
        ``lengths``); the input gradient is zero elsewhere.
    pool_weights : ndarray of shape (n_steps, n_samples, 1 or head_width) or None
        With mean or concat pooling, the weight of each top state in ``head_input`` (see
        :data:`POOLINGS`).
    dropout_masks : tuple of ndarray or None
        The masks :meth:`Network.forward` was given.
    reverse_index : ndarray of int of shape (n_timesteps, n_samples) or None
        For a bidirectional network, the permutation of steps that reverses each
        sequence's valid steps (see :func:`reverse_index`); ``None`` otherwise.
    pool_top : ndarray of int of shape (1, n_samples, n_outputs_last) or None
        With max pooling, the step of each unit's largest valid state, which
        ``head_input`` holds (its one-hot weights, without the array of them).

    ``n_outputs_last`` is the top layer's output width: its hidden units, twice that
    when bidirectional.
    """

    layers: tuple
    head_input: np.ndarray
    emitted: tuple | None
    top_shape: tuple
    n_timesteps: int
    valid_input: np.ndarray | None
    pool_weights: np.ndarray | None = None
    dropout_masks: tuple | None = None
    reverse_index: np.ndarray | None = None
    pool_top: np.ndarray | None = None


class Network:
    """Shapes and the forward/backward passes of a stacked recurrent network.

    A network holds shapes only; weights travel as one flat vector ``params`` (so an
    optimizer step, gradient clipping or a best-weights snapshot is one array operation)
    and :meth:`unpack` gives named views into it. Layer ``k`` reads the output of layer
    ``k - 1`` at the same time step; the head is dense, applied to the top layer's states.
    A bidirectional layer runs a second cell, with its own parameters, backward over each
    sequence's valid steps, and outputs ``[forward h_t, backward h_t]`` at each step.

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
    pooling : {'last', 'mean', 'max', 'concat'}, default='last'
        What the head reads when ``n_steps_out=1``: the top layer's state at each
        sequence's last valid step, or the mean or elementwise max of its states over the
        valid steps (Keras' ``GlobalAveragePooling1D`` / ``GlobalMaxPooling1D``), or
        ``'concat'``: ``[last, mean, max]`` side by side, three times the top layer's
        width (ULMFiT's concat pooling).
    dropout : float, default=0.0
        Rate of the inverted dropout on each recurrent layer's output (the input of the
        layer above, or of the head) in training; see :meth:`dropout_masks`.
    bidirectional : bool, default=False
        Also run each layer backward in time within each sequence's valid length (padding
        stays at the end), with parameters ``W_x_reverse``, ``W_h_reverse``, ``b_reverse``
        (and ``b_hn_reverse``), and concatenate both directions' states, as PyTorch's
        ``bidirectional=True`` does: each layer's output is twice its hidden size wide.
        With ``n_steps_out=1`` and ``pooling='last'`` the head reads the forward state at
        each sequence's last valid step and the backward state at its first step (its
        state after reading the whole sequence), PyTorch's ``h_n``. Needs
        ``n_steps_out`` to be ``None`` or 1: after the input ends, nothing runs backward.

    Attributes
    ----------
    layout : list of dict
        Per layer (the head last), parameter name -> ``(offset, shape)`` in the flat vector.
    n_params : int
        Length of the flat parameter vector.
    gate_widths : tuple of int
        Width ``n_gates * n_hidden`` of each recurrent layer's fused gates, bottom first.
    """

    def __init__(
        self,
        cell,
        n_features,
        hidden_layer_sizes,
        n_outputs,
        n_steps_out=None,
        pooling="last",
        dropout=0.0,
        bidirectional=False,
    ):
        if bidirectional and n_steps_out not in (None, 1):
            raise ValueError(
                f"A bidirectional network emits one output per input step or one per "
                f"sequence (n_steps_out=None or 1); got n_steps_out={n_steps_out!r}."
            )
        if pooling != "last" and (pooling not in POOLINGS or n_steps_out != 1):
            raise ValueError(
                f"pooling must be 'last', or one of {sorted(POOLINGS)} with n_steps_out=1; "
                f"got pooling={pooling!r} with n_steps_out={n_steps_out!r}."
            )
        self.cell = cell
        self.n_features = n_features
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.n_outputs = n_outputs
        self.n_steps_out = n_steps_out
        self.pooling = pooling
        self.dropout = dropout
        self.bidirectional = bidirectional
        shapes = []
        n_inputs = n_features
        for n_hidden in self.hidden_layer_sizes:
            one_direction = cell.param_shapes(n_inputs, n_hidden)
            shapes.append(
                {
                    name + suffix: shape
                    for suffix in DIRECTIONS[: self.n_directions]
                    for name, shape in one_direction.items()
                }
            )
            n_inputs = n_hidden * self.n_directions
        shapes.append({"W": (self.head_width, n_outputs), "b": (n_outputs,)})
        self.layout, offset = [], 0
        for layer in shapes:
            entry = {}
            for name, shape in layer.items():
                entry[name] = (offset, shape)
                offset += _size(shape)
            self.layout.append(entry)
        self.n_params = offset

    def __getstate__(self):
        """The network without its cache of weight views (see :meth:`_inference_weights`), so
        that a copy or a saved file holds the architecture only."""
        state = self.__dict__.copy()
        state.pop("_views", None)
        state.pop("_widths", None)
        return state

    ARCHITECTURE = (
        "n_features",
        "hidden_layer_sizes",
        "n_outputs",
        "n_steps_out",
        "pooling",
        "dropout",
        "bidirectional",
    )
    """The constructor's arguments besides the cell, in order."""

    @property
    def architecture(self):
        """The constructor's arguments besides the cell: ``Network(cell, **architecture)``.

        Returns
        -------
        dict of str to object
            Name -> value, for each name in :attr:`ARCHITECTURE`.
        """
        return {name: getattr(self, name) for name in self.ARCHITECTURE}

    def matches(self, other):
        """Whether ``other`` has this network's cell and architecture, dropout aside.

        Training can go on from ``other``'s parameters with this network (a resumed fit may
        change the dropout rate).

        Parameters
        ----------
        other : Network
            The network to compare with.

        Returns
        -------
        bool
        """
        ours, theirs = self.architecture, other.architecture
        ours.pop("dropout"), theirs.pop("dropout")
        return (
            ours == theirs
            and type(self.cell) is type(other.cell)
            and self.cell.get_params() == other.cell.get_params()
        )

    @property
    def n_directions(self):
        """Directions each layer runs in: 2 when bidirectional, else 1.

        Returns
        -------
        int
        """
        return 2 if self.bidirectional else 1

    @property
    def head_width(self):
        """Width of the head's input: the top layer's output width, three times it with
        ``pooling='concat'``.

        Returns
        -------
        int
        """
        top = self.hidden_layer_sizes[-1] * self.n_directions
        return top * POOLED_BLOCKS.get(self.pooling, 1)

    @property
    def gate_widths(self):
        """Width ``n_gates * n_hidden`` of each recurrent layer's fused gates, bottom first.

        Returns
        -------
        tuple of int
            The columns of each layer's input projection ``XW`` (and of its ``W_h``).
        """
        return tuple(self.cell.n_gates * n_hidden for n_hidden in self.hidden_layer_sizes)

    @property
    def dropout_widths(self):
        """Width of each input that dropout acts on: each layer's input above the first, then
        the head's.

        Returns
        -------
        tuple of int
            The output width of each recurrent layer, bottom first (twice its hidden
            units when bidirectional), the top one's being :attr:`head_width`.
        """
        below = self.hidden_layer_sizes[:-1]
        return (*(n_hidden * self.n_directions for n_hidden in below), self.head_width)

    def dropout_masks(self, rng, n_samples, dtype=np.float64):
        """Draw one training step's inverted-dropout masks, or ``None`` without dropout.

        Each sequence keeps or drops each unit for all its steps (Keras' input dropout),
        and a kept unit is scaled by ``1 / (1 - dropout)``, so the expected input is
        unchanged and prediction needs no masks.

        Parameters
        ----------
        rng : numpy.random.RandomState
            Source of the masks (nothing is drawn when ``dropout == 0``).
        n_samples : int
            Sequences in the batch.
        dtype : {numpy.float32, numpy.float64}, default=numpy.float64
            Floating type of the masks.

        Returns
        -------
        list of ndarray of shape (1, n_samples, width) or None
            One mask per entry of :attr:`dropout_widths`, as :meth:`forward` takes them.
        """
        if self.dropout == 0:
            return None
        keep = 1.0 - self.dropout
        return [
            ((rng.uniform(size=(1, n_samples, width)) < keep) / keep).astype(dtype)
            for width in self.dropout_widths
        ]

    def unpack(self, flat):
        """Named views into a flat parameter (or gradient) vector.

        Parameters
        ----------
        flat : ndarray of shape (n_params,)
            Parameters or gradients.

        Returns
        -------
        list of dict of str to ndarray
            One dict per recurrent layer (``W_x``, ``W_h``, ``b``, ..., then ``W_x_reverse``,
            ``W_h_reverse``, ``b_reverse``, ... when bidirectional), then the head (``W``
            of shape ``(n_outputs_last, n_outputs)``, ``b``). Writing to a view writes to
            ``flat``.
        """
        return [
            {
                name: flat[offset : offset + _size(shape)].reshape(shape)
                for name, (offset, shape) in layer.items()
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
            for direction in _directions(layer, self.n_directions):
                self.cell.init_params(direction, rng)
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
            for name, (offset, shape) in layer.items():
                if name.startswith("W"):
                    mask[offset : offset + _size(shape)] = True
        return mask

    @single_threaded_blas()
    def forward(self, params, X, lengths=None, state0=None, dropout_masks=None):
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
            Initial state of each layer and direction (PyTorch's order: layer by layer,
            forward then reverse); ``None`` means zeros.
        dropout_masks : list of ndarray, default=None
            Factors for the inputs of every layer above the first, then for the head's
            input, each broadcastable to it (such as :meth:`dropout_masks` draws); ``None``
            means no dropout.

        Returns
        -------
        raw : ndarray
            ``(n_timesteps, n_samples, n_outputs)`` for synced output, else
            ``(n_steps_out, n_samples, n_outputs)``.
        cache : NetworkCache
            Everything :meth:`backward` and :meth:`hidden_states` need.
        """
        return self._run(params, X, lengths, state0, dropout_masks=dropout_masks)

    def predict(self, params, X, lengths=None, max_chunk_bytes=PREDICT_CHUNK_BYTES):
        """Compute the raw outputs as :meth:`forward` does, keeping nothing for backward.

        Each layer runs :meth:`Cell.predict`, so no gates or caches are stored. Sequences
        go through in chunks of similar length: sorted by length, longest first, each chunk
        cut to its own longest sequence, and as many in a chunk as keep one layer's input
        projection within ``max_chunk_bytes``. So a batch of mixed lengths costs about its
        valid steps, and memory stays bounded for long sequences and large batches. A batch
        of equal lengths that fits one chunk goes through in one pass, without sorting or
        masks. The pass holds BLAS at one thread (:func:`single_threaded_blas`) only when
        one of its products is big enough to split over threads (see :meth:`_blas_hold`).

        Parameters
        ----------
        params, X, lengths
            As for :meth:`forward` (every layer starts from a zero state).
        max_chunk_bytes : int, default=PREDICT_CHUNK_BYTES
            Bound on one layer's gate buffer per chunk (at least 16 sequences per chunk).

        Returns
        -------
        raw : ndarray
            As :meth:`forward`'s; for synced output, padded steps are zero.
        """
        n_timesteps, n_samples, _ = X.shape
        per_sample = n_timesteps * self._product_widths()[0] * params.dtype.itemsize
        chunk = max(16, max_chunk_bytes // max(per_sample, 1))
        with self._blas_hold(n_timesteps, min(chunk, n_samples)):
            if lengths is None and n_samples <= chunk:
                return self._infer(params, X, None)
            return self._predict_chunks(params, X, lengths, chunk)

    def _predict_chunks(self, params, X, lengths, chunk):
        """:meth:`predict` in chunks of ``chunk`` sequences, sorted by length, longest first."""
        n_timesteps, n_samples, _ = X.shape
        if lengths is None:
            order, lengths = None, np.full(n_samples, n_timesteps)
        else:
            order = np.argsort(-np.asarray(lengths), kind="stable")
            lengths = np.asarray(lengths)[order]
        n_steps = n_timesteps if self.n_steps_out is None else self.n_steps_out
        raw = np.zeros((n_steps, n_samples, self.n_outputs), dtype=params.dtype)
        for start in range(0, n_samples, chunk):
            rows = slice(start, start + chunk)
            chunk_lengths = lengths[rows]
            steps = int(chunk_lengths.max(initial=0))
            X_chunk = X[:steps, rows if order is None else order[rows]]
            part_lengths = None if order is None else chunk_lengths  # None: all equal
            part = self._infer(params, X_chunk, part_lengths)
            raw[: part.shape[0], rows] = part
        if order is not None:
            if self.n_steps_out is None:
                raw[~step_mask(lengths, n_timesteps)] = 0
            raw[:, order] = raw.copy()
        return raw

    def _blas_hold(self, n_timesteps, n_samples):
        """:func:`single_threaded_blas` for a prediction pass, or no hold for a small one.

        The hold (threadpoolctl's controllers set to one thread and back) costs more than
        a one-sequence prediction's Python. It only matters when a kernel may split a
        product over threads or the BLAS may thread one call: a product of at least two
        rows and twice the kernels' ``MIN_WORK_PER_THREAD`` multiply-adds (OpenBLAS's own
        threshold is the same). Below that every product runs on one thread either way.
        """
        _, projection, recurrence, head = self._product_widths()
        rows = (n_timesteps + (self.n_steps_out or 1) - 1) * n_samples
        work = max(rows * max(projection, head), (rows if n_samples > 1 else 1) * recurrence)
        return single_threaded_blas() if work >= 2 * _kernels.MIN_WORK_PER_THREAD else _NO_HOLD

    def _product_widths(self):
        """``(gates, projection, recurrence, head)``: the widest layer's fused gates and the
        multiply-adds per row of each product (the widest layer's), computed once (the
        cache is never pickled): a prediction reads them on every call."""
        widths = getattr(self, "_widths", None)
        if widths is None:
            n_inputs = (self.n_features, *self.dropout_widths[:-1])  # each layer's input
            pairs = [(n_inputs, self.gate_widths), (self.hidden_layer_sizes, self.gate_widths)]
            products = [max(a * b for a, b in zip(*pair, strict=True)) for pair in pairs]
            head = self.head_width * self.n_outputs
            widths = self._widths = (max(self.gate_widths), *products, head)
        return widths

    def _kernel_weights(self, params):
        """``(layers, head)``: the weights as the kernels read them, each layer's as the list
        of its directions' (see :func:`_directions`): views into ``params``, or copies of
        them where ``params`` is read-only (the kernels refuse read-only buffers)."""
        *layers, head = self.unpack(params)
        layers = [
            [_kernel_ready(direction) for direction in _directions(layer, self.n_directions)]
            for layer in layers
        ]
        return layers, _kernel_ready(head)

    def _inference_weights(self, params):
        """:meth:`_kernel_weights`, kept for the next prediction with the same array.

        Views follow in-place changes of ``params`` (a read-only array, whose weights are
        copied, cannot change in place); another array (a refit, a load, a copy) gets new
        weights. The cache holds ``params``, so its identity cannot be reused.
        """
        views = getattr(self, "_views", None)  # set by the first prediction; never pickled
        if views is None or views[0] is not params:
            views = self._views = (params, *self._kernel_weights(params))
        return views[1:]

    def _run(self, params, X, lengths, state0, *, dropout_masks=None):
        """The forward pass of training: the raw outputs and the cache that backward needs."""
        n_timesteps = X.shape[0]
        X, valid_input, mask, rev = self._pass_input(X, lengths, params.dtype)
        layers, head = self._kernel_weights(params)
        layer_caches, inputs = [], X
        for k, layer in enumerate(layers):
            if k > 0 and dropout_masks is not None:
                inputs = inputs * dropout_masks[k - 1]
            first = k * self.n_directions
            states0 = None if state0 is None else state0[first : first + self.n_directions]
            H, cell_caches = self._run_layer(layer, inputs, states0, mask, rev, training=True)
            layer_caches.append(LayerCache(inputs, cell_caches))
            inputs = H
        head_input, emitted, pool = self._read_top(inputs, lengths, n_timesteps)
        if dropout_masks is not None:
            head_input = head_input * dropout_masks[-1]
        raw = _head_output(head_input, head)
        cache = NetworkCache(
            tuple(layer_caches),
            head_input,
            emitted,
            inputs.shape,
            n_timesteps,
            valid_input,
            None if self.pooling == "max" else pool,
            None if dropout_masks is None else tuple(dropout_masks),
            rev,
            pool if self.pooling == "max" else None,
        )
        return raw, cache

    def _infer(self, params, X, lengths):
        """The forward pass of prediction: the raw outputs only, every layer from a zero
        state, nothing kept for backward."""
        n_timesteps = X.shape[0]
        H, _, mask, rev = self._pass_input(X, lengths, params.dtype)
        layers, head = self._inference_weights(params)
        for layer in layers:
            H = self._run_layer(layer, H, None, mask, rev, training=False)[0]
        return _head_output(self._read_head(H, lengths, n_timesteps), head)

    def _pass_input(self, X, lengths, dtype):
        """What a forward pass runs on: ``(X, valid_input, mask, rev)``.

        ``X`` C-contiguous in ``dtype``, with the zero steps appended when
        ``n_steps_out > 1`` (the padding of each shorter input zeroed, ``valid_input``
        marking its valid steps, else ``None``); the step mask of :func:`_step_mask`; and
        the reverse index of a bidirectional network (see :func:`reverse_index`), else
        ``None``.
        """
        X = np.ascontiguousarray(X, dtype=dtype)
        n_timesteps, n_samples, _ = X.shape
        extra = 0 if self.n_steps_out is None else self.n_steps_out - 1
        valid_input = None
        if extra:
            if lengths is not None:  # the steps after each input are zeros, not its padding
                valid_input = step_mask(lengths, n_timesteps)[:, :, None]
                X = np.where(valid_input, X, 0)
            X = np.concatenate([X, np.zeros((extra,) + X.shape[1:], dtype=X.dtype)])
        mask = _step_mask(lengths, n_timesteps, extra, X.dtype)
        rev = reverse_index(lengths, n_timesteps, n_samples) if self.bidirectional else None
        return X, valid_input, mask, rev

    def _run_layer(self, directions, inputs, states0, mask, rev, training):
        """One layer in each direction: its output ``H`` and the cells' caches (or ``None``).

        ``directions`` holds each direction's parameters (see :func:`_directions`). The
        reverse direction reads its input permuted by ``rev`` and its states are put back
        in original time, so ``H`` is ``[forward, backward]`` at every step.
        """
        n_samples, outputs, caches = inputs.shape[1], [], []
        projected = (
            self.cell.projects_input
            and inputs.dtype == np.float32
            and inputs.shape[-1] <= PROJECTED_MAX_FEATURES
        )
        for d, direction in enumerate(directions):
            if projected:  # the kernel projects each step's rows where it reads them
                XW = ProjectedInput(
                    _reverse(inputs, rev) if d else inputs, direction["W_x"], direction["b"]
                )
            else:
                XW = _affine(inputs.reshape(-1, inputs.shape[-1]), direction["W_x"], direction["b"])
                XW = XW.reshape(inputs.shape[0], n_samples, -1)
                if d:
                    XW = _reverse(XW, rev)
            s0, dtype = None if states0 is None else states0[d], direction["W_x"].dtype
            if s0 is None:
                n_hidden = direction["W_h"].shape[0]
                s0 = np.zeros((self.cell.n_states, n_samples, n_hidden), dtype=dtype)
            else:
                s0 = np.asarray(s0, dtype=dtype)
            if training:
                H, cell_cache = self.cell.forward(direction, XW, s0, mask)
                caches.append(cell_cache)
            else:
                H = self.cell.predict(direction, XW, s0, mask)
            outputs.append(_reverse(H, rev) if d else H)
        H = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=-1)
        return H, (tuple(caches) if training else None)

    def _read_top(self, H, lengths, n_timesteps):
        """What the head reads of the top states ``H``: ``(head_input, emitted, pool)``.

        ``emitted`` indexes the rows read (``None`` for all of them, or when pooling) and
        ``pool`` weighs each state in the pooled input (``None`` without pooling), or for
        max pooling is the step of each unit's maximum, which it gathers (the same values as
        its one-hot weights would sum to, without their array).
        """
        if self.pooling == "max":
            maximum, top = _max_steps(H, lengths)
            return maximum, None, top
        emitted = self._emitted_rows(lengths, n_timesteps, H.shape[1])
        if self.pooling == "last":
            return (H if emitted is None else H[emitted]), emitted, None
        valid = None if lengths is None else step_mask(lengths, n_timesteps)[:, :, None]
        if valid is None:
            valid = np.ones(H.shape[:2] + (1,), dtype=bool)
        weights = POOLINGS[self.pooling](H, valid, emitted)
        pooled = np.sum(_blocks(weights, H.shape[-1]) * H[:, :, None], axis=0, keepdims=True)
        return pooled.reshape(pooled.shape[:2] + (-1,)), None, weights

    def _read_head(self, H, lengths, n_timesteps):
        """What the head reads of the top states ``H`` in prediction: :meth:`_read_top`'s
        ``head_input``, by a slice (equal lengths) or a maximum (max pooling) where those
        give the same values, without the index and weights that backward needs."""
        if self.pooling == "max":
            if lengths is None:
                return np.maximum.reduce(H, axis=0, keepdims=True)
            return _max_steps(H, lengths)[0]
        if self.pooling == "last" and lengths is None and not self.bidirectional:
            return H if self.n_steps_out is None else H[n_timesteps - 1 :]
        return self._read_top(H, lengths, n_timesteps)[0]

    @single_threaded_blas()
    def backward(self, params, cache, d_raw, input_gradient=False):
        """Back-propagate a gradient of the raw outputs to all parameters.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            As given to :meth:`forward`.
        cache : NetworkCache
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
            Gradient with respect to each layer's initial state (per direction, ordered
            as ``state0``).
        """
        *layers, head = self.unpack(params)
        grads = np.empty_like(params)
        *layer_grads, head_grads = self.unpack(grads)
        dH = self._backward_head(head, head_grads, cache, d_raw, params.dtype)
        masks = cache.dropout_masks
        n_directions = self.n_directions
        dstate0 = [None] * (len(layers) * n_directions)
        dX = None
        for k in range(len(layers) - 1, -1, -1):
            wanted = k > 0 or input_gradient
            dH, dstate0[k * n_directions : (k + 1) * n_directions] = self._backward_layer(
                layers[k], layer_grads[k], cache.layers[k], dH, cache.reverse_index, wanted
            )
            if k > 0 and masks is not None:
                dH = dH * masks[k - 1]
        if input_gradient:
            dX = dH[: cache.n_timesteps]
            if cache.valid_input is not None:
                dX = dX * cache.valid_input
        return grads, dX, dstate0

    def _backward_head(self, head, grads, cache, d_raw, dtype):
        """Back-propagate through the output layer, its dropout and the pooling.

        Writes the output layer's gradients to ``grads``; returns the gradient with respect
        to the top layer's hidden states, ``(n_timesteps, n_samples, n_hidden)``.
        """
        head_input = cache.head_input
        n_hidden = head_input.shape[-1]
        d_raw = kernel_array(np.asarray(d_raw), dtype)
        d_flat = d_raw.reshape(-1, d_raw.shape[-1])
        _affine_grads(head_input.reshape(-1, n_hidden), d_flat, grads["W"], grads["b"])
        d_head_input = _matmul(d_flat, head["W"], transpose_b=True).reshape(
            d_raw.shape[:-1] + (n_hidden,)
        )
        if cache.dropout_masks is not None:
            d_head_input = d_head_input * cache.dropout_masks[-1]
        if cache.pool_top is not None:
            dH = np.zeros(cache.top_shape, dtype=dtype)  # put_along_axis, without its checks
            _, n_samples, width = dH.shape
            samples, units = np.arange(n_samples)[:, None], np.arange(width)
            dH[cache.pool_top[0], samples, units] = d_head_input[0]
            return dH
        if cache.pool_weights is not None:
            width = cache.top_shape[-1]
            blocks = _blocks(cache.pool_weights, width) * _blocks(d_head_input, width)
            return np.sum(blocks, axis=2)
        if cache.emitted is None:
            return d_head_input
        dH = np.zeros(cache.top_shape, dtype=dtype)
        dH[cache.emitted] = d_head_input
        return dH

    def _backward_layer(self, layer, grads, layer_cache, dH, rev, input_gradient):
        """Back-propagate one layer in each direction, writing its gradients to ``grads``.

        Returns the gradient of the layer's input (``None`` unless ``input_gradient``) and
        the list of each direction's initial-state gradient.
        """
        inputs = layer_cache.inputs
        inputs_flat = inputs.reshape(-1, inputs.shape[-1])
        d_inputs, dstate0 = None, []
        pairs = zip(
            _directions(layer, self.n_directions),
            _directions(grads, self.n_directions),
            layer_cache.cells,
            _split_directions(dH, self.n_directions),
            strict=True,
        )
        for d, (direction, direction_grads, cell_cache, dH_d) in enumerate(pairs):
            if d:
                dH_d = _reverse(dH_d, rev)
            dXW, dh0 = self.cell.backward(direction, cell_cache, dH_d, direction_grads)
            if d:
                dXW = _reverse(dXW, rev)  # the permutation is its own inverse
            dstate0.append(dh0)
            dXW_flat = dXW.reshape(-1, dXW.shape[-1])
            _affine_grads(inputs_flat, dXW_flat, direction_grads["W_x"], direction_grads["b"])
            if input_gradient:
                part = _matmul(dXW_flat, direction["W_x"], transpose_b=True).reshape(inputs.shape)
                d_inputs = part if d_inputs is None else d_inputs + part
        return d_inputs, dstate0

    def hidden_states(self, cache):
        """Per-layer named states of the last forward pass (see :meth:`Cell.states`).

        Parameters
        ----------
        cache : NetworkCache
            As returned by :meth:`forward`.

        Returns
        -------
        list of dict of str to ndarray of shape (n_timesteps, n_samples, n_hidden)
            Time-major; with ``n_steps_out > 1`` the steps after the input are included.
            A bidirectional layer adds the reverse direction's states, named with
            ``"_reverse"`` (``"h_reverse"``, ...), in original time.
        """
        return [self._layer_states(layer.cells, cache.reverse_index) for layer in cache.layers]

    def _layer_states(self, cell_caches, rev):
        """Named states of one layer's directions, the reverse one's put in original time."""
        states = dict(self.cell.states(cell_caches[0]))
        for cell_cache in cell_caches[1:]:
            states.update(
                (name + "_reverse", _reverse(value, rev))
                for name, value in self.cell.states(cell_cache).items()
            )
        return states

    def _emitted_rows(self, lengths, n_timesteps, n_samples):
        """Index ``(steps, samples)`` of the emitted top states, or ``None`` for all steps.

        Without ``lengths`` (one direction) it is the slice of steps ``(steps,)``, the same
        rows read as a view, without the index arrays: a minibatch's head reads it twice.
        """
        if self.n_steps_out is None:
            return None
        if lengths is None and not self.bidirectional:
            return (slice(n_timesteps - 1, n_timesteps - 1 + self.n_steps_out),)
        last = np.full(n_samples, n_timesteps - 1) if lengths is None else lengths - 1
        steps = last[None, :] + np.arange(self.n_steps_out)[:, None]
        samples = np.broadcast_to(np.arange(n_samples), steps.shape)
        if not self.bidirectional:
            return steps, samples
        n_hidden = self.hidden_layer_sizes[-1]
        units = np.arange(2 * n_hidden)
        steps = np.where(units >= n_hidden, 0, steps[:, :, None])  # backward: its final state
        return (
            steps,
            np.broadcast_to(samples[:, :, None], steps.shape),
            np.broadcast_to(units, steps.shape),
        )


def _directions(layer, n_directions):
    """Each direction's parameters of one layer, under the cell's own names, forward first."""
    names = list(layer)[: len(layer) // n_directions]
    return [{name: layer[name + suffix] for name in names} for suffix in DIRECTIONS[:n_directions]]


def _split_directions(dH, n_directions):
    """Each direction's part of a layer's output gradient ``dH``, forward first (``dH``
    itself for one direction, sparing ``np.split``'s cost in every backward pass)."""
    return np.split(dH, n_directions, axis=-1) if n_directions > 1 else [dH]


def reverse_index(lengths, n_timesteps, n_samples):
    """Steps that reverse each sequence's valid steps and keep its padding in place.

    ``A[index, np.arange(n_samples)]`` reverses time-major ``A`` within each valid length;
    applied twice it gives ``A`` back.

    Parameters
    ----------
    lengths : ndarray of int of shape (n_samples,) or None
        Valid steps of each sequence; ``None`` means all ``n_timesteps``.
    n_timesteps : int
        Padded length.
    n_samples : int
        Sequences in the batch.

    Returns
    -------
    ndarray of int of shape (n_timesteps, n_samples)
        ``lengths[b] - 1 - t`` at step ``t`` of sequence ``b`` for ``t < lengths[b]``,
        else ``t``.
    """
    lengths = np.full(n_samples, n_timesteps) if lengths is None else np.asarray(lengths)
    steps = np.arange(n_timesteps)[:, None]
    return np.where(steps < lengths[None, :], lengths[None, :] - 1 - steps, steps)


def _reverse(A, index):
    """Time-major ``A`` with its steps permuted by ``index`` (see :func:`reverse_index`)."""
    return A[index, np.arange(A.shape[1])]


def _blocks(A, width):
    """``A`` with its last axis cut into blocks of ``width`` (one block if narrower)."""
    return A.reshape(A.shape[:-1] + (-1, min(width, A.shape[-1])))


def _size(shape):
    """Number of entries of an array of ``shape`` (``math.prod``: :meth:`Network.unpack` calls
    it for every array of every pass, where ``np.prod`` costs ten times as much)."""
    return math.prod(shape)


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


def _matmul(A, B, transpose_b=False, bias=None):
    """``A @ B`` (or ``A @ B.T``), plus ``bias`` if given, through the kernels, in ``A``'s
    dtype."""
    bias = None if bias is None else kernel_array(bias, A.dtype)
    return _kernels.matmul(kernel_array(A), kernel_array(B, A.dtype), transpose_b, bias)


def _head_output(head_input, head):
    """The output layer ``head`` (``W``, ``b``) applied to ``head_input`` ``(..., width)``
    through the kernels: ``(..., n_outputs)``."""
    raw = _affine(head_input.reshape(-1, head_input.shape[-1]), head["W"], head["b"])
    return raw.reshape(*head_input.shape[:-1], raw.shape[-1])


def _affine(A, W, b):
    """``A @ W + b`` through the kernels, in the dtype of ``W`` and ``b``, which must be
    ready for them (see :func:`_kernel_ready`); ``A`` is made so."""
    return _kernels.matmul(kernel_array(A, W.dtype), W, False, b)


def _kernel_ready(weights):
    """``weights`` (name -> array) with each array as the kernels take it (see
    :func:`~.cells._base.kernel_array`): itself, or a copy if it is read-only."""
    return {name: kernel_array(value) for name, value in weights.items()}


def _affine_grads(X, D, out_W, out_b):
    """The gradients of :func:`_affine`'s weights (``X^T D``) and bias (``D``'s column
    sums) from that of its output, ``D``: for an ``X`` of at most ``PROJECTED_MAX_FEATURES``
    columns (one input feature) in one pass over ``D`` (``input_grads``), else a weight
    gradient and :func:`column_sums`. Both give the bias :func:`column_sums`'s bits."""
    one_pass = (
        X.shape[1] <= PROJECTED_MAX_FEATURES
        and D.shape[1] > 1
        and D.dtype == out_b.dtype
        and D.flags.c_contiguous
    )
    if one_pass:
        _kernels.input_grads(kernel_array(X, D.dtype), kernel_array(D), out_W, out_b)
    else:
        _weight_grad(X, D, out_W)
        column_sums(D, out_b)


def _weight_grad(X, D, out):
    """``out[...] = X.T @ D`` through the kernels (in ``out``'s dtype)."""
    _kernels.weight_grad(kernel_array(X, out.dtype), kernel_array(D, out.dtype), out)
