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
An :class:`~rnnlearn.RNNForecaster` exports whole: its level, linear path and input scaling
are buffers of a submodule ``window`` beside the network, and the module forecasts as
``predict`` does.
"""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ._export_tables import RECURRENT_LAYERS as TORCH_LAYERS
from ._export_tables import TORCH_ACTIVATIONS
from ._fitted import encoding_names, prepare_run, read_model, start_state, write_fitted
from ._network import DIRECTIONS
from ._training import epoch_record
from .cells import GRUCell


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
    for a bidirectional network, three times with ``pooling='concat'``) and ``head.bias``.
    A point regressor's ``normalize_y`` scaling is folded into the head (``W * scale``, ``b
    * scale + mean``): the output is its prediction (other heads: see :func:`to_torch`).

    An :class:`~rnnlearn.RNNForecaster`'s has its window encoding too: ``window.relative``
    (bool, 0-d), ``window.target_features`` (int64), ``window.linear_coef`` ``(k,
    n_features, n_outputs)``, ``window.linear_intercept``, ``window.input_mean`` and
    ``window.input_scale``: ``relative_``, ``target_features_``, ``linear_coef_``,
    ``linear_intercept_`` and the statistics that standardise the network's input.

    Parameters
    ----------
    estimator : RNNRegressor, RNNClassifier or RNNForecaster
        A fitted estimator whose cell has a PyTorch counterpart.

    Returns
    -------
    dict of str to ndarray
        New C-contiguous arrays, the floating ones in the estimator's dtype. rnnlearn's
        bias goes to ``bias_ih`` and ``bias_hh`` is zero, except the GRU's ``b_hn`` in
        the ``n`` block of ``bias_hh``.

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
    model = read_model(estimator)
    *layers, head = estimator.coefs_
    W, b = model.folded_head(head["W"], head["b"])
    return {
        **_layers_state(layers, model.network.n_directions),
        "head.weight": np.array(W.T, order="C"),
        "head.bias": np.array(b),
        **_window_state(model, b.dtype),
    }


def _layers_state(layers, n_directions):
    """The ``layers.{k}.*`` entries of the recurrent layers ``layers`` (``coefs_`` less
    the head) of a network of ``n_directions``."""
    return {
        f"layers.{k}.{name}": value
        for k, layer in enumerate(layers)
        for suffix in DIRECTIONS[:n_directions]
        for name, value in _torch_layer(layer, suffix).items()
    }


def _is_forecaster(encoding):
    """Whether the target ``encoding`` (its entries or their names) is an
    :class:`~rnnlearn.RNNForecaster`'s: it has a window encoding."""
    return "linear_coef_" in encoding


def _window_state(model, dtype):
    """The ``window.*`` entries of a forecaster's state dict (none for another model), the
    floating ones in ``dtype``."""
    if not _is_forecaster(model.encoding):
        return {}
    encoding = model.encoding
    floating = {
        "linear_coef": encoding["linear_coef_"],
        "linear_intercept": encoding["linear_intercept_"],
        "input_mean": encoding["_input_mean"],
        "input_scale": encoding["_input_scale"],
    }
    return {
        "window.relative": np.array(bool(encoding["relative_"])),
        "window.target_features": np.array(encoding["target_features_"], dtype=np.int64),
        **{f"window.{name}": np.array(value, dtype=dtype) for name, value in floating.items()},
    }


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
    ``'after'`` (zero inputs fed after each sequence's last step). A regressor's head has
    its target scaling (``normalize_y``) folded in, and one fitted on one target per step
    drops the last axis, so its output equals ``predict``. A
    classifier's output are logits: ``predict_proba`` is their softmax for multiclass
    targets and their sigmoid for binary (the probability of ``classes_[1]``) and
    multilabel targets. A quantile regressor's (loss :class:`~rnnlearn.losses.Pinball`)
    are its raw outputs too, ``(n_samples, n_targets * n_quantiles)`` grouped by target,
    without its target scaling (which applies after the link, so cannot fold into the
    head): ``loss_function_.link(raw)`` gives the quantiles on the standardised scale,
    and :func:`rnnlearn.onnx.to_onnx` exports the quantiles themselves. So are a
    Gaussian regressor's (:class:`~rnnlearn.losses.GaussianNLL`), ``(n_samples,
    n_targets * 2)``: ``link(raw)`` gives each target's standardised mean and standard
    deviation.

    An :class:`~rnnlearn.RNNForecaster`'s module takes the raw windows and returns its
    forecasts, ``predict``'s ``level + linear + network``: the level (the last valid
    value of each feature, with ``relative_``), the linear path on the last ``k`` valid
    relative steps (front-padded with zeros) and the input scaling are computed by its
    submodule ``window`` (a :class:`~rnnlearn._torch_module.WindowEncoding`), in the
    module's dtype, where ``predict`` computes them in float64: a float32 module agrees
    with ``predict`` to float32 round-off of the forecasts' size.

    Parameters
    ----------
    estimator : RNNRegressor, RNNClassifier or RNNForecaster
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
        If the cell has no PyTorch counterpart (see :func:`check_convertible`), or for an
        RNNForecaster with a quantile or Gaussian loss.
    """
    state = to_torch_state_dict(estimator)  # refuses what PyTorch lacks, torch or not
    model = _check_module_outputs(read_model(estimator))
    import torch

    module = _empty_module(model)
    module.to(torch.from_numpy(state["head.bias"]).dtype)
    module.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    return module.eval()


def _check_module_outputs(model):
    """``model``, unless it is a forecaster with quantiles or a distribution, whose module
    would add the level and linear path to raw outputs that are not yet predictions."""
    if not model.point_head and _is_forecaster(model.encoding):
        raise ValueError(
            f"to_torch cannot export an RNNForecaster with the loss {model.loss!r}: its "
            f"module adds the level and linear path to raw outputs, which are not yet "
            f"predictions. Export it with rnnlearn.onnx.to_onnx, whose graph computes them."
        )
    return model


def _empty_module(model):
    """The torch module of ``model``'s architecture, before its weights are loaded: a
    :class:`~rnnlearn._torch_module.RecurrentModule`, or for a forecaster a
    :class:`~rnnlearn._torch_module.ForecasterModule` with its window encoding."""
    from ._torch_module import ForecasterModule, RecurrentModule, WindowEncoding

    network = model.network
    kind, options = RecurrentModule, {}
    if _is_forecaster(model.encoding):
        window = WindowEncoding(*model.encoding["linear_coef_"].shape)
        kind, options = ForecasterModule, {"window": window}
    return kind(
        TORCH_LAYERS[type(network.cell)],
        network.cell.activation,
        network.n_features,
        network.hidden_layer_sizes,
        network.n_outputs,
        n_steps_out=network.n_steps_out,
        pooling=network.pooling,
        bidirectional=network.bidirectional,
        squeeze_output=model.squeeze_output and model.point_head,
        **options,
    )


def from_torch(source, estimator, X, y, *, classes=None):
    """A fitted copy of ``estimator`` with the weights of a PyTorch module or state dict.

    ``estimator`` describes the architecture (``cell``, ``hidden_layer_sizes``,
    ``output_mode``, ``pooling``) and training settings (a PyTorch model whose head reads
    the last state, ``h_n``, needs ``pooling='last'``, as the default ``'auto'`` pools
    by max); ``X`` and ``y``, a sample of the
    training data, define what the first ``partial_fit`` call would: the number of
    features, the target encoding (with ``classes`` for a classifier, as
    ``partial_fit`` takes them; a regressor's target scaling, fitted on ``y``, which the
    head's weights are taken to have folded in, as :func:`to_torch` folds it) and, for
    ``output_mode='after'``, the output steps. The
    result predicts with the given weights and continues training with ``partial_fit``,
    or a ``warm_start`` fit, from them. Its ``history_`` holds one record with
    ``status='imported'`` and the weights' loss on ``(X, y)``.

    An :class:`~rnnlearn.RNNForecaster` is refused: its window encoding (the ``window.*``
    entries) is what its own fit learns from the data; train it in rnnlearn.

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
        otherwise than the estimator, an entry of the state dict is missing or has a
        shape the estimator's network does not, or ``estimator`` is an
        :class:`~rnnlearn.RNNForecaster`.
    """
    if _is_forecaster(encoding_names(estimator)):
        raise ValueError(
            f"from_torch imports into an RNNRegressor or an RNNClassifier, not an "
            f"{type(estimator).__name__}: a forecaster's window encoding (level, linear "
            f"path, input scaling) is learned by its fit; train it in rnnlearn."
        )
    state_dict = source.state_dict() if hasattr(source, "state_dict") else dict(source)
    estimator = clone(estimator)
    setup, state = prepare_run(estimator, X, y, classes)
    _check_importable(source, state_dict, setup.model.network)
    params = _imported_params(state_dict, setup.model, state.params)
    write_fitted(estimator, setup.model, _imported_state(setup, params, state.rng))
    return estimator


def _check_importable(source, state_dict, network):
    """Raise unless ``network`` can take the weights of ``source`` (its ``state_dict``): its
    cell has a PyTorch counterpart, it pools as a module made by :func:`to_torch` does,
    and it has a place for every entry."""
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


def _imported_params(state_dict, model, params):
    """``params`` with the weights of ``state_dict`` written into them (in place), the
    model's target scaling taken out of the head's."""
    network = model.network
    *layers, head = network.unpack(params)
    for k, layer in enumerate(layers):
        for suffix in DIRECTIONS[: network.n_directions]:
            _rnnlearn_layer(state_dict, f"layers.{k}.", layer, suffix)
    W = _entry(state_dict, "head.weight", head["W"].T.shape).T
    b = _entry(state_dict, "head.bias", head["b"].shape)
    head["W"][...], head["b"][...] = model.unfolded_head(W, b)
    return params


def _imported_state(setup, params, rng):
    """The training state of imported weights: a fresh optimizer state, the generator of
    the run :func:`from_torch` prepared (on an unfitted clone, so nothing else carries
    over), and one history record, ``status='imported'``, with their loss on the sample."""
    network, loss, optimizer = setup.model.network, setup.model.loss, setup.model.optimizer
    X, lengths, y, weights = setup.data.time_major()
    value = float(loss.loss(y, network.predict(params, X, lengths), weights))
    optimizer_state = optimizer.init(params)
    record = epoch_record(1, value, optimizer.learning_rate_at(optimizer_state), status="imported")
    return start_state(params, optimizer_state, rng, history=[record], best_loss=value)


def _key_names(network):
    """The state-dict keys of a network's torch module, in order."""
    names = [
        name + suffix
        for suffix in DIRECTIONS[: network.n_directions]
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    ]
    keys = [f"layers.{k}.{name}" for k in range(len(network.hidden_layer_sizes)) for name in names]
    return [*keys, "head.weight", "head.bias"]
