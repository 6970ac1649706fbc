"""Move fitted models between rnnlearn and PyTorch (``torch.nn.RNN`` / ``GRU`` / ``LSTM``).

:func:`to_torch_state_dict` needs NumPy only; :func:`to_torch` and :func:`from_torch` of a
module import ``torch`` when called (install it with ``pip install rnnlearn[torch]``).
``import rnnlearn`` never imports ``torch``.

The layouts match one to one: rnnlearn's fused gates are in PyTorch's order (LSTM ``i, f, g,
o``; GRU ``r, z, n``), PyTorch's weights are rnnlearn's transposed, and PyTorch's two biases
sum to rnnlearn's one, except the GRU's recurrent candidate bias ``b_hn``, which is the ``n``
block of ``bias_hh``. Each rnnlearn layer becomes its own one-layer torch module
(``layers.{k}``), so stacked layers may differ in size; the head is an ``nn.Linear``
(``head``). A bidirectional layer is a ``bidirectional=True`` torch layer whose
``*_reverse`` weights are rnnlearn's ``*_reverse`` ones; the module runs it on packed
sequences, so both directions see only each sequence's valid steps, as rnnlearn's do.
"""

# SPDX-License-Identifier: BSD-3-Clause

import functools

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ._training import DivergenceGuard
from .cells import GRUCell, LSTMCell, VanillaCell

TORCH_LAYERS = {VanillaCell: "RNN", GRUCell: "GRU", LSTMCell: "LSTM"}
"""rnnlearn cell class -> name of the ``torch.nn`` recurrent layer that computes the same."""

TORCH_ACTIVATIONS = {VanillaCell: ("tanh", "relu"), GRUCell: ("tanh",), LSTMCell: ("tanh",)}
"""rnnlearn cell class -> the activations its ``torch.nn`` counterpart offers."""


def check_convertible(cell):
    """Raise unless ``cell`` has a ``torch.nn`` counterpart.

    Parameters
    ----------
    cell : Cell
        A resolved cell, such as a fitted estimator's ``cell_``.

    Raises
    ------
    ValueError
        Naming the configuration PyTorch lacks: a cell class other than
        :class:`~rnnlearn.VanillaCell`, :class:`~rnnlearn.GRUCell` and
        :class:`~rnnlearn.LSTMCell`, an activation other than ``'tanh'`` (or ``'relu'``
        for the vanilla cell), or ``GRUCell(reset_after=False)``.
    """
    kind = type(cell)
    if kind not in TORCH_LAYERS:
        raise ValueError(
            f"{cell!r} has no PyTorch counterpart: only VanillaCell (nn.RNN), GRUCell "
            f"(nn.GRU) and LSTMCell (nn.LSTM) convert."
        )
    if cell.activation not in TORCH_ACTIVATIONS[kind]:
        raise ValueError(
            f"{cell!r} has no PyTorch counterpart: nn.{TORCH_LAYERS[kind]} offers the "
            f"activations {list(TORCH_ACTIVATIONS[kind])}, not {cell.activation!r}."
        )
    if kind is GRUCell and not cell.reset_after:
        raise ValueError(
            f"{cell!r} has no PyTorch counterpart: nn.GRU applies the reset gate after the "
            f"recurrent product, which is GRUCell(reset_after=True)."
        )


def to_torch_state_dict(estimator):
    """The fitted weights of ``estimator`` as a PyTorch state dict of NumPy arrays.

    Needs no ``torch``. The keys are those of the module :func:`to_torch` builds:
    ``layers.{k}.weight_ih_l0`` ``(n_gates * n_hidden, n_inputs)``,
    ``layers.{k}.weight_hh_l0`` ``(n_gates * n_hidden, n_hidden)``,
    ``layers.{k}.bias_ih_l0`` and ``layers.{k}.bias_hh_l0`` ``(n_gates * n_hidden,)`` for
    each recurrent layer ``k`` (bottom first, one ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` of
    one layer each), the same names ending in ``_reverse`` for the backward direction of a
    bidirectional layer, then ``head.weight`` ``(n_outputs, n_hidden_last)`` (twice as wide
    for a bidirectional network) and ``head.bias``.

    Parameters
    ----------
    estimator : RNNRegressor or RNNClassifier
        A fitted estimator whose cell has a PyTorch counterpart.

    Returns
    -------
    dict of str to ndarray
        New C-contiguous arrays in the estimator's dtype. rnnlearn's bias goes to
        ``bias_ih`` and ``bias_hh`` is zero, except the GRU's ``b_hn`` in the ``n`` block
        of ``bias_hh``.

    Raises
    ------
    ValueError
        If the cell has no PyTorch counterpart (see :func:`check_convertible`).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn import RNNRegressor
    >>> from rnnlearn.interop import to_torch_state_dict
    >>> X = np.random.RandomState(0).normal(size=(20, 5, 2))
    >>> reg = RNNRegressor(hidden_layer_sizes=(4, 3), cell="lstm", max_iter=2)
    >>> reg = reg.fit(X, X.sum(axis=(1, 2)))
    >>> state = to_torch_state_dict(reg)
    >>> state["layers.1.weight_hh_l0"].shape
    (12, 3)
    """
    check_is_fitted(estimator, "n_iter_")
    check_convertible(estimator.cell_)
    *layers, head = estimator.coefs_
    state = {}
    for k, layer in enumerate(layers):
        for suffix in _directions(estimator._network):
            for name, value in _torch_layer(layer, suffix).items():
                state[f"layers.{k}.{name}"] = value
    state["head.weight"] = np.array(head["W"].T, order="C")
    state["head.bias"] = head["b"].copy()
    return state


def _directions(network):
    """The name suffixes of a network's directions: rnnlearn's and PyTorch's alike."""
    return ("", "_reverse") if network.bidirectional else ("",)


def _torch_layer(layer, suffix=""):
    """One direction (``suffix``: ``""`` or ``"_reverse"``) of an rnnlearn layer, its
    ``W_x``, ``W_h``, ``b`` (, ``b_hn``), in ``torch.nn``'s layout and names."""
    b, b_hn = layer["b" + suffix], layer.get("b_hn" + suffix)
    bias_hh = np.zeros_like(b)
    if b_hn is not None:
        bias_hh[-b_hn.shape[0] :] = b_hn
    return {
        "weight_ih_l0" + suffix: np.array(layer["W_x" + suffix].T, order="C"),
        "weight_hh_l0" + suffix: np.array(layer["W_h" + suffix].T, order="C"),
        "bias_ih_l0" + suffix: b.copy(),
        "bias_hh_l0" + suffix: bias_hh,
    }


def _rnnlearn_layer(state, prefix, layer, suffix=""):
    """Write one direction of a torch layer, entries ``prefix + name + suffix`` of
    ``state``, into rnnlearn's views."""
    W_x, W_h, b = layer["W_x" + suffix], layer["W_h" + suffix], layer["b" + suffix]
    W_x[...] = _entry(state, f"{prefix}weight_ih_l0{suffix}", W_x.T.shape).T
    W_h[...] = _entry(state, f"{prefix}weight_hh_l0{suffix}", W_h.T.shape).T
    bias_ih = _entry(state, f"{prefix}bias_ih_l0{suffix}", b.shape)
    bias_hh = _entry(state, f"{prefix}bias_hh_l0{suffix}", b.shape)
    b[...] = bias_ih + bias_hh
    if "b_hn" + suffix in layer:
        b_hn = layer["b_hn" + suffix]
        b[-b_hn.shape[0] :] = bias_ih[-b_hn.shape[0] :]
        b_hn[...] = bias_hh[-b_hn.shape[0] :]


def _entry(state, name, shape):
    """``state[name]`` as a NumPy array, checked to have ``shape``."""
    if name not in state:
        raise ValueError(f"The state dict has no entry {name!r}, which the estimator needs.")
    value = state[name]
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    value = np.asarray(value)
    if value.shape != shape:
        raise ValueError(
            f"The state dict's {name!r} has shape {value.shape}; the estimator's network "
            f"needs {shape}. Set hidden_layer_sizes, cell and the outputs to match the module."
        )
    return value


def to_torch(estimator):
    """A ``torch.nn.Module`` that computes the raw outputs of a fitted estimator.

    The module's ``forward(X, lengths=None)`` takes a batch-first float tensor ``X`` of
    shape ``(n_samples, n_timesteps, n_features)``, right-padded, and optionally the valid
    steps of each sequence ``lengths`` ``(n_samples,)``. It returns what ``predict``
    computes before the output link, batch-first: ``(n_samples, n_outputs)`` for
    ``output_mode='last'`` (any pooling), ``(n_samples, n_timesteps, n_outputs)`` for
    ``'sequence'`` (zero on padded steps) and ``(n_samples, n_steps_out, n_outputs)`` for
    ``'after'`` (zero inputs fed after each sequence's last step). A regressor fitted on
    one target per step drops the last axis, so its output equals ``predict``. A
    classifier's output are logits: ``predict_proba`` is their softmax for multiclass
    targets and their sigmoid for binary (the probability of ``classes_[1]``) and
    multilabel targets.

    Parameters
    ----------
    estimator : RNNRegressor or RNNClassifier
        A fitted estimator whose cell has a PyTorch counterpart.

    Returns
    -------
    torch.nn.Module
        In the estimator's dtype (``float64`` for ``dtype='float64'``), in eval mode;
        ``module.float()`` or ``module.double()`` change it. Its ``state_dict()`` has the
        keys of :func:`to_torch_state_dict`.

    Raises
    ------
    ImportError
        If ``torch`` is not installed.
    ValueError
        If the cell has no PyTorch counterpart (see :func:`check_convertible`).
    """
    state = to_torch_state_dict(estimator)  # refuses what PyTorch lacks, torch or not
    import torch

    network = estimator._network
    module = _module_class()(
        TORCH_LAYERS[type(network.cell)],
        network.cell.activation,
        network.n_features,
        network.hidden_layer_sizes,
        network.n_outputs,
        n_steps_out=network.n_steps_out,
        pooling=network.pooling,
        bidirectional=network.bidirectional,
        squeeze_output=bool(getattr(estimator, "_squeeze_output", False)),
    )
    module.to(torch.from_numpy(state["head.bias"]).dtype)
    module.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    return module.eval()


@functools.cache
def _module_class():
    """The ``nn.Module`` class :func:`to_torch` builds (defined once ``torch`` imports)."""
    import torch
    from torch import nn

    class RecurrentModule(nn.Module):
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
        pooling : {'last', 'mean', 'max'}
            What the head reads when ``n_steps_out == 1``.
        bidirectional : bool
            Whether each layer also runs backward within each sequence's valid steps
            (``bidirectional=True`` layers on packed sequences); ``'last'`` then reads
            the forward state at the last valid step and the backward one at the first.
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
            options = {"nonlinearity": activation} if layer == "RNN" else {}
            width = 2 if bidirectional else 1
            inputs = (n_features, *(width * n for n in hidden_layer_sizes[:-1]))
            self.layers = nn.ModuleList(
                getattr(nn, layer)(
                    n_in, n_hidden, batch_first=True, bidirectional=bidirectional, **options
                )
                for n_in, n_hidden in zip(inputs, hidden_layer_sizes, strict=True)
            )
            self.head = nn.Linear(width * hidden_layer_sizes[-1], n_outputs)
            self.bidirectional = bidirectional
            self.n_steps_out = n_steps_out
            self.pooling = pooling
            self.squeeze_output = squeeze_output

        def forward(self, X, lengths=None):
            """Raw outputs of a batch-first ``X``; see :func:`rnnlearn.interop.to_torch`."""
            n_samples, n_timesteps, _ = X.shape
            if lengths is None:
                lengths = torch.full((n_samples,), n_timesteps, device=X.device)
            lengths = torch.as_tensor(lengths, device=X.device).long()
            valid = torch.arange(n_timesteps, device=X.device)[None, :] < lengths[:, None]
            if self.n_steps_out is not None and self.n_steps_out > 1:
                extra = X.new_zeros((n_samples, self.n_steps_out - 1, X.shape[2]))
                X = torch.cat([X * valid[..., None], extra], dim=1)
            H = X
            for layer in self.layers:
                H = self._run_layer(layer, H, lengths)
            raw = self.head(self._read_top(H, lengths, valid))
            if self.n_steps_out is None:
                raw = raw * valid[..., None]
            return raw[..., 0] if self.squeeze_output else raw

        def _run_layer(self, layer, H, lengths):
            """One layer over ``H``; a bidirectional one on packed sequences, so that its
            backward direction starts at each sequence's last valid step."""
            if not self.bidirectional:  # causal: padding never reaches a valid step
                return layer(H)[0]
            packed = nn.utils.rnn.pack_padded_sequence(
                H, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            output = layer(packed)[0]
            return nn.utils.rnn.pad_packed_sequence(
                output, batch_first=True, total_length=H.shape[1]
            )[0]

        def _read_top(self, H, lengths, valid):
            """What the head reads of the top states ``H`` (batch-first)."""
            if self.n_steps_out is None:
                return H
            if self.pooling == "mean":
                weights = valid[..., None].to(H.dtype) / lengths[:, None, None]
                return (H * weights).sum(dim=1)
            if self.pooling == "max":
                return H.masked_fill(~valid[..., None], -torch.inf).amax(dim=1)
            steps = lengths[:, None] - 1 + torch.arange(self.n_steps_out, device=H.device)
            rows = torch.arange(H.shape[0], device=H.device)[:, None]
            top = H[rows, steps]
            if self.bidirectional:  # the backward direction's final state is at step 0
                n_hidden = H.shape[2] // 2
                top = torch.cat([top[..., :n_hidden], H[:, :1, n_hidden:]], dim=-1)
            return top[:, 0] if self.n_steps_out == 1 else top

    return RecurrentModule


def from_torch(source, estimator, X, y, *, classes=None):
    """A fitted copy of ``estimator`` with the weights of a PyTorch module or state dict.

    ``estimator`` describes the architecture (``cell``, ``hidden_layer_sizes``,
    ``output_mode``, ``pooling``) and training settings (a PyTorch model whose head reads
    the last state, ``h_n``, needs ``pooling='last'``, as the default ``'auto'`` pools
    by max); ``X`` and ``y``, a sample of the
    training data, define what the first ``partial_fit`` call would: the number of
    features, the target encoding (with ``classes`` for a classifier, as
    ``partial_fit`` takes them) and, for ``output_mode='after'``, the output steps. The
    result predicts with the given weights and continues training with ``partial_fit``,
    or a ``warm_start`` fit, from them. Its ``history_`` holds one record with
    ``status='imported'`` and the weights' loss on ``(X, y)``.

    Parameters
    ----------
    source : torch.nn.Module or dict of str to array-like
        A module whose ``state_dict()``, or a state dict whose entries, have the keys and
        shapes of :func:`to_torch_state_dict` (tensors or NumPy arrays).
    estimator : RNNRegressor or RNNClassifier
        The template; it is cloned, not changed.
    X : array-like of shape (n_samples, n_timesteps, n_features) or list of arrays
        Sample input, as ``fit`` takes it.
    y : array-like
        Its targets, as ``fit`` takes them.
    classes : array-like of shape (n_classes,), default=None
        Every class (classifier only), when ``y`` may lack some.

    Returns
    -------
    RNNRegressor or RNNClassifier
        The fitted estimator.

    Raises
    ------
    ValueError
        If the cell has no PyTorch counterpart, a module made by :func:`to_torch` pools
        otherwise than the estimator, or an entry of the state dict is missing or has a
        shape the estimator's network does not.
    """
    state_dict = source.state_dict() if hasattr(source, "state_dict") else dict(source)
    estimator = clone(estimator)
    setup, state = estimator._prepare(X, y, None, incremental=True, classes=classes)
    network = setup.model.network
    check_convertible(network.cell)
    pooling = getattr(source, "pooling", network.pooling)  # a module made by to_torch
    if pooling != network.pooling:
        raise ValueError(
            f"The module pools its outputs with {pooling!r}, the estimator with "
            f"{network.pooling!r}; set pooling={pooling!r} on the estimator."
        )
    unexpected = set(state_dict) - set(_key_names(network))
    if unexpected:
        raise ValueError(
            f"The state dict has entries the estimator's network lacks: {sorted(unexpected)}."
        )
    *layers, head = network.unpack(state.params)
    for k, layer in enumerate(layers):
        for suffix in _directions(network):
            _rnnlearn_layer(state_dict, f"layers.{k}.", layer, suffix)
    head["W"][...] = _entry(state_dict, "head.weight", head["W"].T.shape).T
    head["b"][...] = _entry(state_dict, "head.bias", head["b"].shape)
    state.optimizer_state = setup.model.optimizer.init(state.params)
    state.guard = DivergenceGuard(state.params.copy())
    state.best_loss = _imported_loss(setup, state)
    state.history.append(_import_record(state.best_loss, setup, state))
    estimator._commit(setup.model, state)
    return estimator


def _key_names(network):
    """The state-dict keys of a network's torch module, in order."""
    names = [
        name + suffix
        for suffix in _directions(network)
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    ]
    keys = [f"layers.{k}.{name}" for k in range(len(network.hidden_layer_sizes)) for name in names]
    return [*keys, "head.weight", "head.bias"]


def _imported_loss(setup, state):
    """The loss of the imported weights on the sample data."""
    data = setup.data
    raw = setup.model.network.predict(state.params, data.X, data.lengths)
    return float(setup.model.loss.loss(data.y, raw, data.weights))


def _import_record(loss, setup, state):
    """The ``history_`` record of an import."""
    return {
        "epoch": len(state.history) + 1,
        "loss": loss,
        "validation_score": None,
        "learning_rate": setup.model.optimizer.learning_rate_at(state.optimizer_state),
        "duration": 0.0,
        "status": "imported",
    }
