"""rnnlearn's models as ``torch.nn.Module``: what :func:`rnnlearn.interop.to_torch` builds.

:class:`RecurrentModule` is the network of every estimator; :class:`ForecasterModule`
extends it with an :class:`~rnnlearn.RNNForecaster`'s window encoding
(:class:`WindowEncoding`: level, linear path, input scaling).

:mod:`rnnlearn.interop` imports this module only when it builds a module, after importing
``torch`` itself (whose ``ImportError`` says what to install); ``import rnnlearn`` never
imports it. Without ``torch`` the module still imports, so that tools which import every
module (``pytest --doctest-modules``) work, but its classes cannot be instantiated.
"""

# SPDX-License-Identifier: BSD-3-Clause

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - exercised by a test without torch
    torch = nn = None

_Module = object if nn is None else nn.Module


class RecurrentModule(_Module):
    """rnnlearn's network in PyTorch: one recurrent module per layer, a linear head.

    Parameters
    ----------
    layer : {'RNN', 'GRU', 'LSTM'}
        The ``torch.nn`` recurrent layer.
    activation : {'tanh', 'relu'}
        Nonlinearity of ``nn.RNN`` (the others take only ``'tanh'``).
    n_features : int
        Features per time step.
    hidden_layer_sizes : tuple of int
        Hidden units per layer, bottom first.
    n_outputs : int
        Outputs per emitted step.
    n_steps_out : int or None
        ``None`` for one output per input step, else the outputs from each sequence's
        last step on (``1``: one per sequence).
    pooling : {'last', 'mean', 'max', 'concat'}
        What the head reads when ``n_steps_out == 1`` (``'concat'``: ``[last, mean, max]``,
        three times the top layer's width).
    bidirectional : bool
        Whether each layer also runs backward within each sequence's valid steps
        (``bidirectional=True`` layers on packed sequences); ``'last'`` then reads the
        forward state at the last valid step and the backward one at the first.
    squeeze_output : bool
        Whether to drop the last axis (one output per step).
    """

    def __init__(
        self,
        layer,
        activation,
        n_features,
        hidden_layer_sizes,
        n_outputs,
        *,
        n_steps_out,
        pooling,
        bidirectional,
        squeeze_output,
    ):
        super().__init__()
        width = 2 if bidirectional else 1
        self.layers = nn.ModuleList(
            _recurrent_layer(layer, activation, n_in, n_hidden, bidirectional)
            for n_in, n_hidden in zip(
                (n_features, *(width * n for n in hidden_layer_sizes[:-1])),
                hidden_layer_sizes,
                strict=True,
            )
        )
        blocks = 3 if pooling == "concat" else 1
        self.head = nn.Linear(blocks * width * hidden_layer_sizes[-1], n_outputs)
        self.bidirectional = bidirectional
        self.n_steps_out = n_steps_out
        self.pooling = pooling
        self.squeeze_output = squeeze_output

    def forward(self, X, lengths=None):
        """Raw outputs of a batch-first ``X``; see :func:`rnnlearn.interop.to_torch`.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_timesteps, n_features)
            Right-padded inputs, in the module's dtype.
        lengths : array-like of int of shape (n_samples,), default=None
            Valid steps of each sequence; ``None``: all of them.

        Returns
        -------
        torch.Tensor
            ``(n_samples[, n_steps], n_outputs)``, the last axis dropped with
            ``squeeze_output``.
        """
        lengths, valid = _valid_steps(X, lengths)
        H = self._with_steps_after(X, valid)
        for layer in self.layers:
            H = self._run_layer(layer, H, lengths)
        raw = self.head(self._read_top(H, lengths, valid))
        if self.n_steps_out is None:
            raw = raw * valid[..., None]
        return raw[..., 0] if self.squeeze_output else raw

    def _with_steps_after(self, X, valid):
        """``X`` with its padding zeroed and ``n_steps_out - 1`` zero steps appended, the
        inputs after each sequence's end (``X`` itself for one output or one per step)."""
        if self.n_steps_out is None or self.n_steps_out == 1:
            return X
        extra = X.new_zeros((X.shape[0], self.n_steps_out - 1, X.shape[2]))
        return torch.cat([X * valid[..., None], extra], dim=1)

    def _run_layer(self, layer, H, lengths):
        """One layer over ``H``; a bidirectional one on packed sequences, so that its
        backward direction starts at each sequence's last valid step."""
        if not self.bidirectional:  # causal: padding never reaches a valid step
            return layer(H)[0]
        packed = nn.utils.rnn.pack_padded_sequence(
            H, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        output, _ = nn.utils.rnn.pad_packed_sequence(
            layer(packed)[0], batch_first=True, total_length=H.shape[1]
        )
        return output

    def _read_top(self, H, lengths, valid):
        """What the head reads of the top states ``H`` (batch-first)."""
        if self.n_steps_out is None:
            return H
        if self.pooling == "concat":
            last = self._read_last(H, lengths)
            return torch.cat(
                [last, _pool(H, "mean", lengths, valid), _pool(H, "max", lengths, valid)], dim=-1
            )
        if self.pooling == "last":
            return self._read_last(H, lengths)
        return _pool(H, self.pooling, lengths, valid)

    def _read_last(self, H, lengths):
        """The top states from each sequence's last valid step on (``n_steps_out`` of
        them); a bidirectional layer's backward half from its first step."""
        steps = lengths[:, None] - 1 + torch.arange(self.n_steps_out, device=H.device)
        rows = torch.arange(H.shape[0], device=H.device)[:, None]
        top = H[rows, steps]
        if self.bidirectional:  # the backward direction's final state is at step 0
            n_hidden = H.shape[2] // 2
            top = torch.cat([top[..., :n_hidden], H[:, :1, n_hidden:]], dim=-1)
        return top[:, 0] if self.n_steps_out == 1 else top


class ForecasterModule(RecurrentModule):
    """An :class:`~rnnlearn.RNNForecaster` in PyTorch: its network beside its window encoding.

    The network is :class:`RecurrentModule`'s (its ``layers`` and ``head``, keys as for a
    regressor); the submodule ``window`` (:class:`WindowEncoding`) holds the level, the
    linear path and the input scaling as buffers. ``forward`` returns ``level + linear +
    network``, what :meth:`~rnnlearn.RNNForecaster.predict` returns.

    Parameters
    ----------
    *args
        The network's positional parameters, as for :class:`RecurrentModule`.
    window : WindowEncoding
        The forecaster's window encoding.
    **kwargs
        The network's keyword parameters, as for :class:`RecurrentModule`.
    """

    def __init__(self, *args, window, **kwargs):
        super().__init__(*args, **kwargs)
        self.window = window

    def forward(self, X, lengths=None):
        """Forecast the value after each window of ``X``; see :func:`rnnlearn.interop.to_torch`.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_timesteps, n_features)
            Right-padded raw windows, in the module's dtype.
        lengths : array-like of int of shape (n_samples,), default=None
            Valid steps of each window; ``None``: all of them.

        Returns
        -------
        torch.Tensor of shape (n_samples,) or (n_samples, n_outputs)
            ``level + linear + network``, the last axis dropped with ``squeeze_output``.
        """
        lengths, valid = _valid_steps(X, lengths)
        network_input, offset = self.window(X, lengths, valid)
        raw = super().forward(network_input, lengths)
        return raw + (offset[:, 0] if self.squeeze_output else offset)


class WindowEncoding(_Module):
    """What an :class:`~rnnlearn.RNNForecaster` computes of its windows, as buffers.

    The buffers are the forecaster's fitted encoding: ``relative`` (bool, 0-d),
    ``target_features`` (int64, ``(n_outputs,)``), ``linear_coef`` ``(k, n_features,
    n_outputs)``, ``linear_intercept`` ``(n_outputs,)``, ``input_mean`` and ``input_scale``
    ``(n_features,)``. Built empty (zero-sized ``linear_coef``) for ``k`` lags; its
    values come with ``load_state_dict``.

    Parameters
    ----------
    n_lags : int
        Steps ``k`` the linear path reads (0 without it).
    n_features : int
        Features per time step.
    n_outputs : int
        Forecasts per window.
    """

    def __init__(self, n_lags, n_features, n_outputs):
        super().__init__()
        self.register_buffer("relative", torch.tensor(True))
        self.register_buffer("target_features", torch.zeros(n_outputs, dtype=torch.long))
        self.register_buffer("linear_coef", torch.zeros(n_lags, n_features, n_outputs))
        self.register_buffer("linear_intercept", torch.zeros(n_outputs))
        self.register_buffer("input_mean", torch.zeros(n_features))
        self.register_buffer("input_scale", torch.ones(n_features))

    def forward(self, X, lengths, valid):
        """``(network_input, offset)`` of windows, as ``RNNForecaster._apply`` computes them.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_timesteps, n_features)
            Right-padded raw windows.
        lengths : torch.Tensor of int64 of shape (n_samples,)
            Valid steps of each window.
        valid : torch.Tensor of bool of shape (n_samples, n_timesteps)
            Whether each step is valid.

        Returns
        -------
        network_input : torch.Tensor of shape (n_samples, n_timesteps, n_features)
            The windows relative to their level (the last valid value of each feature,
            with ``relative``), zero on padding, then standardised per feature.
        offset : torch.Tensor of shape (n_samples, n_outputs)
            The level of each target's feature plus the linear path on the last ``k``
            relative steps, front-padded with zeros.
        """
        rows = torch.arange(X.shape[0], device=X.device)
        level = torch.where(self.relative, X[rows, lengths - 1], 0.0)
        relative = torch.where(valid[..., None], X - level[:, None], 0.0)
        n_lags = self.linear_coef.shape[0]
        steps = lengths[:, None] - n_lags + torch.arange(n_lags, device=X.device)
        lagged = relative[rows[:, None], steps.clamp(min=0)]
        lagged = torch.where(steps[..., None] >= 0, lagged, 0.0)
        offset = level[:, self.target_features] + self.linear_intercept
        offset = offset + torch.einsum("nkf,kft->nt", lagged, self.linear_coef)
        return (relative - self.input_mean) / self.input_scale, offset


def _pool(H, pooling, lengths, valid):
    """The mean or max of the batch-first states ``H`` over each sequence's valid steps."""
    if pooling == "mean":
        weights = valid[..., None].to(H.dtype) / lengths[:, None, None]
        return (H * weights).sum(dim=1)
    return H.masked_fill(~valid[..., None], -torch.inf).amax(dim=1)


def _valid_steps(X, lengths):
    """``(lengths, valid)``: each sequence's valid steps as int64 (all of ``X``'s for
    ``None``) and the mask ``(n_samples, n_timesteps)`` of those steps."""
    n_samples, n_timesteps, _ = X.shape
    if lengths is None:
        lengths = torch.full((n_samples,), n_timesteps, device=X.device)
    lengths = torch.as_tensor(lengths, device=X.device).long()
    return lengths, torch.arange(n_timesteps, device=X.device)[None, :] < lengths[:, None]


def _recurrent_layer(layer, activation, n_inputs, n_hidden, bidirectional):
    """One batch-first ``torch.nn`` recurrent layer of one level."""
    options = {"nonlinearity": activation} if layer == "RNN" else {}
    return getattr(nn, layer)(
        n_inputs, n_hidden, batch_first=True, bidirectional=bidirectional, **options
    )
