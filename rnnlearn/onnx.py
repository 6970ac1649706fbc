"""Export fitted models to ONNX, with ONNX's own ``RNN``, ``GRU`` and ``LSTM`` operators.

:func:`to_onnx` imports ``onnx`` when called (install it, with ``onnxruntime`` to run the
models, by ``pip install rnnlearn[onnx]``); ``import rnnlearn`` never imports ``onnx``.

Inputs and outputs of an exported model:

- ``X``, batch-first float32 ``(batch, time, n_features)``, both axes dynamic; with
  ``lengths=True`` also ``lengths``, int64 ``(batch,)`` from 1 to ``time``, the valid steps
  of each sequence of a right-padded ``X`` (padding never affects the outputs).
- Outputs equal the estimator's, batch-first: a regressor's ``predictions``
  (``predict``), a classifier's ``label`` (``predict``; ``classes_`` as int64, string, bool
  or float64, multilabel indicators as int64) and ``probabilities`` (``predict_proba``),
  of shape ``(batch[, n])`` for ``output_mode='last'``, ``(batch, time[, n])`` for
  ``'sequence'``, ``(batch, n_steps[, n])`` for ``'after'``; ``n`` counts outputs, classes
  or labels (none for a regressor fitted on one target per sequence or step). With
  ``lengths``, padded ``'sequence'`` steps come out as a raw output of zero would
  (regression: 0): drop them.
- A quantile regressor (loss :class:`~rnnlearn.losses.Pinball`) has ``predictions``, the
  median (``predict``), and ``quantiles`` (``predict_quantiles``), ``(batch[, n],
  n_quantiles)``; a Gaussian one (:class:`~rnnlearn.losses.GaussianNLL`) has
  ``predictions``, the mean, and ``std`` (``predict(X, return_std=True)``).
- An :class:`~rnnlearn.RNNForecaster` exported with ``coverages`` also has ``lower`` and
  ``upper``, ``(batch[, n], n_coverages)``: the ends of ``predict_interval(X, coverage)``
  for each coverage, in the order given.

Design, in brief:

- **Our own graph builder, not skl2onnx converters.** Our inputs are 3-D sequences,
  ``(n_samples, n_timesteps, n_features)``, with an optional second input of lengths that
  must reach the recurrent operators. skl2onnx (1.20) converts a ``Pipeline`` by feeding
  each step's outputs to the next as its only inputs, so a ``lengths`` input could not
  reach the estimator past a scaler without replacing the pipeline parser; its classifier
  parser also wraps probabilities in a ``ZipMap`` unless told not to. Registering
  converters would thus mean overriding most of what skl2onnx does, for a graph of a few
  dozen nodes that :mod:`onnx.helper` builds directly, and ``onnx`` alone suffices.
- **One recurrent operator per layer**, so stacked layers may differ in size; a
  bidirectional layer is one ``direction="bidirectional"`` operator. The weights are those
  :func:`rnnlearn.interop.to_torch_state_dict` lays out for PyTorch (transposed, two
  biases, the GRU's ``b_hn`` in the recurrent bias), with the gate blocks reordered from
  PyTorch's to ONNX's (LSTM ``i, f, g, o`` to ``i, o, f, c``; GRU ``r, z, n`` to
  ``z, r, h``). ``GRUCell(reset_after=True)`` is ``linear_before_reset=1``;
  ``reset_after=False`` (Cho et al.) is ``linear_before_reset=0``.
- **Lengths are opt-in**: ``to_onnx(model)`` takes ``X`` only, every sequence as long as
  ``X``; ``to_onnx(model, lengths=True)`` adds an int64 input ``lengths`` for right-padded
  batches of mixed lengths, given to the operators as ``sequence_lens``. A deployer with
  fixed-length data thus feeds one array, and one with mixed lengths cannot forget them.
- **float32**: onnxruntime (1.32) implements ``RNN``, ``GRU`` and ``LSTM`` for float only,
  so the model computes in float32 whatever the estimator's ``dtype``.
- **A forecaster in float32**: an :class:`~rnnlearn.RNNForecaster`'s graph computes its
  level and linear path in float32, where ``predict`` computes those two in float64: the
  forecasts agree with ``predict`` to float32 round-off of the series' values, not of
  their changes. On the CO2 series of the benchmark (values 313 to 374, windows of 52
  steps) the largest relative difference was 1.1e-7 (4e-5 in absolute terms, a
  ten-thousandth of the model's own mean absolute error, 0.30); the same series shifted to
  around 1e6 kept the relative difference (9e-8) but lost 0.09 in absolute terms, a third
  of that error. For a series whose level is large against its changes, subtract a
  constant before fitting, or serve a float64 module of :func:`rnnlearn.interop.to_torch`.
- **Intervals: the calibration as constants, each window's scale in the graph.** The
  conformal quantile ``Q`` of each column of ``predict_interval(X, coverage)`` depends on
  the calibration windows alone, so :func:`to_onnx` computes it for each coverage (with
  which quantiles a conformalised band widens, and the bands of lower coverage it holds)
  and the graph computes the rest: each window's scale (the standard deviation of its
  one-step changes over its valid steps, floored), ``[lower - Q s, upper + Q s]`` clamped
  at its middle, and the envelope of the nested bands, in float32. A deployed service
  thus serves the coverages chosen at export; another needs a new export.
- **Opset 21, IR version 10**: ``onnx>=1.16`` and ``onnxruntime>=1.18`` read them.
  onnxruntime also refuses the operators' batch-first ``layout=1``, so the graph
  transposes ``X`` to time-major once.
"""

# SPDX-License-Identifier: BSD-3-Clause

import itertools
from numbers import Real
from typing import NamedTuple

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._base import BaseRNN
from ._export_tables import ONNX_ACTIVATIONS
from ._export_tables import RECURRENT_LAYERS as ONNX_LAYERS
from ._fitted import calibrated_band, paired_coverages, read_model
from ._network import DIRECTIONS
from ._validation import check_number
from ._windows import floored
from .cells import GRUCell, LSTMCell, VanillaCell
from .interop import _torch_layer
from .preprocessing import SequenceScaler

ONNX_OPSET = 21
"""The opset of the default ONNX domain that exported models import."""

ONNX_IR_VERSION = 10
"""The ONNX IR version of exported models (that of ``onnx`` 1.16, which added opset 21)."""

ONNX_GATE_ORDER = {VanillaCell: (0,), GRUCell: (1, 0, 2), LSTMCell: (0, 3, 1, 2)}
"""rnnlearn cell class -> rnnlearn's (PyTorch's) gate blocks in ONNX's order."""


def to_onnx(estimator, *, lengths=False, coverages=()):
    """An ONNX model of a fitted estimator, or of a pipeline ending with one.

    The model's inputs are ``X`` (and ``lengths``) and its outputs equal the estimator's
    (``predictions``; ``label`` and ``probabilities``; ``quantiles`` or ``std``; ``lower``
    and ``upper``), as "Inputs and outputs" in :mod:`rnnlearn.onnx` details. An
    :class:`~rnnlearn.RNNForecaster`'s graph computes its whole forecast in float32.

    Parameters
    ----------
    estimator : RNNRegressor, RNNClassifier, RNNForecaster or Pipeline
        A fitted estimator, or a fitted :class:`~sklearn.pipeline.Pipeline` of
        ``SequenceScaler`` steps (or ``'passthrough'``) followed by one.
    lengths : bool, default=False
        Whether the model takes the input ``lengths``.
    coverages : sequence of float, default=()
        A forecaster's: the outputs ``lower`` and ``upper`` hold the interval of
        ``predict_interval(X, coverage)`` for each, its calibration fixed at export time.

    Returns
    -------
    onnx.ModelProto
        In float32 (onnxruntime's recurrent operators compute in float only), opset
        :data:`ONNX_OPSET`, IR version :data:`ONNX_IR_VERSION`; ``onnx.save(model, path)``.

    Raises
    ------
    ImportError
        If ``onnx`` is not installed.
    ValueError
        Before importing ``onnx``, for what has no ONNX counterpart: a cell but
        ``VanillaCell``, ``GRUCell`` and ``LSTMCell``; an activation but ``'tanh'``,
        ``'logistic'``, ``'relu'`` and ``'identity'`` (such as ``'gompertz'``); a regression
        loss with a link of its own (but ``Pinball`` and ``GaussianNLL``); a pipeline step
        but a ``SequenceScaler``. For a coverage outside ``(0, 1)``, or above what the
        forecaster calibrated on enough windows for (as ``predict_interval`` raises).
    TypeError
        If ``estimator`` is not one of the above, ``lengths`` is not a bool, or
        ``coverages`` is not a sequence of floats or is given for another estimator.
    sklearn.exceptions.NotFittedError
        If the estimator or a scaler is not fitted.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from rnnlearn import RNNRegressor
    >>> from rnnlearn.onnx import to_onnx
    >>> X = np.random.RandomState(0).normal(size=(20, 5, 2)).astype(np.float32)
    >>> reg = RNNRegressor((4, 3), cell="gru", max_iter=2).fit(X, X.sum(axis=(1, 2)))
    >>> session = onnxruntime.InferenceSession(to_onnx(reg).SerializeToString())
    >>> (predictions,) = session.run(None, {"X": X})
    >>> predictions.shape, bool(np.allclose(predictions, reg.predict(X), atol=1e-5))
    ((20,), True)
    """
    scalers, estimator, model = _check_exportable(estimator, lengths)
    intervals = _check_coverages(estimator, model, coverages)
    return _graph(scalers, estimator, model, lengths, intervals)


def _graph(scalers, estimator, model, lengths, intervals):
    """The checked ``ModelProto`` of what :func:`to_onnx` checked: its graph, built."""
    graph = _GraphBuilder()  # imports onnx
    X, valid_lengths = _inputs(graph, model, scalers, lengths)
    raw = _graph_output(graph, model, estimator.coefs_, X, valid_lengths)
    outputs = _regressor_outputs if model.point_head else _head_outputs
    (_classifier_outputs if model.target_kind else outputs)(graph, model, raw)
    if intervals is not None:
        _interval_outputs(graph, model, intervals, raw, X, valid_lengths)
    return graph.model(f"{type(estimator).__name__} exported by rnnlearn.onnx.to_onnx")


def _inputs(graph, model, scalers, lengths):
    """The graph's inputs ``X``, standardised by ``scalers``, and ``lengths`` (or ``None``)."""
    X = graph.input("X", np.float32, ["batch", "time", model.network.n_features])
    valid_lengths = graph.input("lengths", np.int64, ["batch"]) if lengths else None
    for scaler in scalers:
        X = graph.op("Sub", X, graph.constant(scaler.mean_))
        X = graph.op("Div", X, graph.constant(scaler.scale_))
    return X, valid_lengths


def _regressor_outputs(graph, model, raw):
    """``predictions`` from a regressor's raw outputs ``raw`` (its link is the identity)."""
    width = None if model.squeeze_output else model.network.n_outputs
    if width is None:
        raw = graph.op("Squeeze", raw, graph.constant([-1]))
    graph.output(raw, "predictions", np.float32, _output_shape(model, width))


def _head_outputs(graph, model, values):
    """``predictions`` and ``quantiles`` (a quantile regressor's) or ``std`` (a Gaussian
    regressor's) from the values ``(batch, n_targets, k)`` of :func:`_head_values`."""
    if model.quantiles is None:  # Gaussian: the mean, then the standard deviation
        name, tail = "std", []
        extra = graph.op("Gather", values, graph.constant(1), axis=2)
    else:
        name, extra, tail = "quantiles", values, [len(model.quantiles)]
    predictions = graph.op("Gather", values, graph.constant(_point_index(model)), axis=2)
    width = model.n_targets
    if model.squeeze_output:
        predictions = graph.op("Squeeze", predictions, graph.constant([1]))
        extra = graph.op("Squeeze", extra, graph.constant([1]))
        width = None
    graph.output(predictions, "predictions", np.float32, _output_shape(model, width))
    graph.output(extra, name, np.float32, _output_shape(model, width) + tail)


def _head_values(graph, model, raw, offset):
    """A quantile or Gaussian regressor's values ``(batch, n_targets, k)`` from its raw
    outputs: the quantiles, or the mean and the standard deviation, as the loss's link and
    the target scaling make them, plus a forecaster's ``offset`` ``(batch, n_targets)``
    (or ``None``) to every quantile or to the mean."""
    k = model.loss.outputs_per_target
    raw = graph.op("Reshape", raw, graph.constant([0, model.n_targets, k]))
    shifted = np.ones(k) if model.quantiles is not None else np.array([1.0, 0.0])
    if k > 1:
        first = graph.op(
            "Slice", raw, graph.constant([0]), graph.constant([1]), graph.constant([2])
        )
        rest = graph.op("Slice", raw, graph.constant([1]), graph.constant([k]), graph.constant([2]))
        rest = graph.op("Softplus", rest)
        if model.gaussian:  # the standard deviation
            rest = graph.op("Add", rest, graph.constant(np.float32(model.loss.min_std)))
        else:  # each quantile above the first
            rest = graph.op("Add", first, graph.op("CumSum", rest, graph.constant(2)))
        raw = graph.op("Concat", first, rest, axis=2)
    if model.target_scaling is not None:
        mean, scale = model.target_scaling
        raw = graph.op("Mul", raw, graph.constant(scale[:, None]))
        raw = graph.op("Add", raw, graph.constant(mean[:, None] * shifted))
    if offset is not None:
        offset = graph.op("Unsqueeze", offset, graph.constant([2]))
        raw = graph.op("Add", raw, graph.op("Mul", offset, graph.constant(shifted)))
    return raw


def _point_index(model):
    """Which of a quantile or Gaussian regressor's values is ``predict``'s: the median, the
    mean (the first value of a point regressor's one)."""
    return 0 if model.quantiles is None else int(np.flatnonzero(model.quantiles == 0.5)[0])


class _Intervals(NamedTuple):
    """What :func:`_interval_outputs` computes, fixed at export time."""

    lower: np.ndarray
    """``(n_bands,)``: which value (see :func:`_head_values`) each band's lower end widens."""
    upper: np.ndarray
    """``(n_bands,)``: which value each band's upper end widens."""
    half_widths: np.ndarray
    """``(n_targets, n_bands)``: the conformal quantile ``Q`` of each column and band (a
    window's half-width is ``Q`` times its scale)."""
    nests: np.ndarray
    """``(n_bands, n_coverages)``: the bands that each coverage's interval holds (its own,
    and a quantile forecaster's of the pairs of levels of lower coverage)."""
    floor: np.ndarray
    """``(n_targets,)``: the floor of a window's scale, as ``max(scale * kept, floor)``."""
    kept: np.ndarray
    """``(n_targets,)``: 1 where the scales are floored, 0 where they are all 1."""


def _check_coverages(estimator, model, coverages):
    """The :class:`_Intervals` of ``predict_interval(X, coverage)`` for each of
    ``coverages`` (``None`` for none), before anything is built; raises what
    :func:`to_onnx` documents."""
    if np.ndim(coverages) != 1:
        raise TypeError(f"coverages must be a sequence of floats; got {coverages!r}.")
    if len(coverages) == 0:
        return None
    if "calibration_residuals_" not in model.encoding:
        raise TypeError(
            f"coverages are the intervals of RNNForecaster.predict_interval; "
            f"{type(estimator).__name__} has none."
        )
    coverages = [check_number("coverage", c, Real, 0, 1, open_ends="low high") for c in coverages]
    held = {c: [c, *paired_coverages(estimator, below=c)] for c in coverages}
    bands = list(dict.fromkeys(itertools.chain(*held.values())))  # the asked ones first
    lower, upper, half_widths = zip(*(_band(estimator, model, c) for c in bands), strict=True)
    reference = model.encoding["calibration_scales_"]
    n_targets = model.n_targets
    # Read off floored itself: it maps 0 to each column's floor (or 1), and keeps an
    # infinite scale where it floors (rather than sets every scale to 1).
    floor = floored(np.zeros((1, n_targets)), reference)[0]
    kept = floored(np.full((1, n_targets), np.inf), reference)[0] == np.inf
    return _Intervals(
        lower=np.array(lower),
        upper=np.array(upper),
        half_widths=np.stack(half_widths, axis=1),
        nests=np.array([[band in held[c] for c in coverages] for band in bands]),
        floor=floor,
        kept=kept.astype(np.float64),
    )


def _band(estimator, model, coverage):
    """``(lower, upper, Q)`` of the calibrated band of one ``coverage``, before nesting, as
    ``predict_interval`` computes it: the values the band widens (see
    :func:`_head_values`; ``predict``'s twice, or a pair of quantiles) and the conformal
    quantile ``Q`` of each column."""
    pair, half_width = calibrated_band(estimator, coverage)  # raises for too few windows
    lower, upper = (_point_index(model),) * 2 if pair is None else pair
    return lower, upper, np.asarray(half_width, dtype=np.float64)


def _interval_outputs(graph, model, intervals, values, X, lengths):
    """``lower`` and ``upper``, ``(batch[, n_targets], n_coverages)``, from the forecasts'
    ``values`` (a point regressor's predictions, or see :func:`_head_values`) and the
    windows ``X`` (and their ``lengths``): ``predict_interval``'s for each coverage."""
    if model.point_head:
        values = graph.op("Unsqueeze", values, graph.constant([2]))
    scale = _window_scale(graph, model, intervals, X, lengths)  # (batch, n_targets, 1)
    margin = graph.op("Mul", scale, graph.constant(intervals.half_widths))
    lower = graph.op("Gather", values, graph.constant(intervals.lower), axis=2)
    upper = graph.op("Gather", values, graph.constant(intervals.upper), axis=2)
    lower, upper = graph.op("Sub", lower, margin), graph.op("Add", upper, margin)
    middle = graph.op("Div", graph.op("Add", lower, upper), graph.constant(np.float32(2)))
    lower, upper = graph.op("Min", lower, middle), graph.op("Max", upper, middle)
    nests = graph.constant(intervals.nests, np.bool_)
    ends = {}
    for name, end, reduce, limit in (
        ("lower", lower, "ReduceMin", np.inf),
        ("upper", upper, "ReduceMax", -np.inf),
    ):
        bands = graph.op("Unsqueeze", end, graph.constant([3]))  # (batch, n_targets, band, 1)
        bands = graph.op("Where", nests, bands, graph.constant(np.float32(limit)))
        ends[name] = graph.op(reduce, bands, graph.constant([2]), keepdims=0)
    width = model.n_targets
    if model.squeeze_output:
        ends = {name: graph.op("Squeeze", end, graph.constant([1])) for name, end in ends.items()}
        width = None
    shape = _output_shape(model, width) + [intervals.nests.shape[1]]
    for name, end in ends.items():
        graph.output(end, name, np.float32, shape)


def _window_scale(graph, model, intervals, X, lengths):
    """``(batch, n_targets, 1)``: the standard deviation of the one-step changes of each
    target's feature over each window's valid steps, floored as ``predict_interval``
    floors it (see :class:`_Intervals`)."""
    values = graph.op("Gather", X, graph.constant(model.encoding["target_features_"]), axis=2)
    end = graph.constant([np.iinfo(np.int64).max])
    changes = graph.op(
        "Sub",
        graph.op("Slice", values, graph.constant([1]), end, graph.constant([1])),
        graph.op("Slice", values, graph.constant([0]), graph.constant([-1]), graph.constant([1])),
    )
    if lengths is None:
        lengths = _full_lengths(graph, X)
    n_timesteps = graph.op("Squeeze", graph.op("Shape", X, start=1, end=2))
    steps = graph.op("Range", graph.constant(1), n_timesteps, graph.constant(1))
    valid = graph.op(  # (batch, time - 1, 1): True on each valid step's change
        "Unsqueeze",
        graph.op(
            "Less",
            graph.op("Unsqueeze", steps, graph.constant([0])),
            graph.op("Unsqueeze", lengths, graph.constant([1])),
        ),
        graph.constant([2]),
    )
    n_changes = graph.op("Max", graph.op("Sub", lengths, graph.constant(1)), graph.constant(1))
    n_changes = graph.op("Cast", n_changes, to=graph.float32)
    n_changes = graph.op("Unsqueeze", n_changes, graph.constant([1, 2]))
    zero = graph.constant(np.float32(0))
    changes = graph.op("Where", valid, changes, zero)
    mean = graph.op("Div", graph.op("ReduceSum", changes, graph.constant([1])), n_changes)
    spread = graph.op("Where", valid, graph.op("Sub", changes, mean), zero)
    spread = graph.op("ReduceSum", graph.op("Mul", spread, spread), graph.constant([1]))
    scale = graph.op("Sqrt", graph.op("Div", spread, n_changes))  # (batch, 1, n_targets)
    scale = graph.op("Mul", scale, graph.constant(intervals.kept))
    scale = graph.op("Max", scale, graph.constant(intervals.floor))
    return graph.op("Transpose", scale, perm=[0, 2, 1])


def _split_pipeline(estimator):
    """The fitted scalers of a pipeline and its final rnnlearn estimator."""
    scalers = []
    if isinstance(estimator, Pipeline):
        *steps, (_, estimator) = estimator.steps
        for name, step in steps:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            if not isinstance(step, SequenceScaler):
                raise ValueError(
                    f"The pipeline step {name!r} ({type(step).__name__}) has no ONNX export: "
                    f"only SequenceScaler steps may precede the rnnlearn estimator."
                )
            scalers.append(step)
    if not isinstance(estimator, BaseRNN):
        raise TypeError(
            f"to_onnx exports an RNNRegressor, an RNNClassifier, an RNNForecaster or a "
            f"Pipeline ending with one; got {type(estimator).__name__}."
        )
    for scaler in scalers:
        check_is_fitted(scaler)
    check_is_fitted(estimator, "n_iter_")
    return scalers, estimator


def _check_exportable(estimator, lengths):
    """``(scalers, estimator, model)`` of what :func:`to_onnx` exports: a pipeline's fitted
    scalers, its final fitted estimator (or ``estimator`` itself) and the estimator's
    :class:`~rnnlearn._fitted.Model`. Raises what :func:`to_onnx` documents."""
    scalers, estimator = _split_pipeline(estimator)
    model = read_model(estimator)
    cell = model.network.cell
    if type(cell) not in ONNX_LAYERS:
        raise ValueError(
            f"{cell!r} has no ONNX counterpart: only VanillaCell (RNN), GRUCell (GRU) and "
            f"LSTMCell (LSTM) export."
        )
    if cell.activation not in ONNX_ACTIVATIONS:
        raise ValueError(
            f"{cell!r} has no ONNX counterpart: the activation {cell.activation!r} is none "
            f"of ONNX's recurrent activations; {sorted(ONNX_ACTIVATIONS)} export."
        )
    if model.target_kind not in (None, "multilabel"):
        _label_array(model.classes)  # raises for labels ONNX cannot hold
    loss = model.loss
    exported = loss.classification or model.point_head or model.quantiles is not None
    if not (exported or model.gaussian):
        raise ValueError(
            f"The loss {loss!r} has its own output link, which ONNX export cannot "
            f"translate; only losses with the identity link, Pinball and GaussianNLL export."
        )
    if not isinstance(lengths, bool):
        raise TypeError(f"lengths must be a bool; got {lengths!r}.")
    return scalers, estimator, model


def _graph_output(graph, model, coefs, X, valid_lengths):
    """The raw output (see :func:`_raw_output`) of the graph's inputs ``X`` and
    ``valid_lengths``, a quantile or Gaussian regressor's as its values (see
    :func:`_head_values`), for an :class:`~rnnlearn.RNNForecaster` with its level and
    linear path added to each target (see :func:`_window_inputs`): its whole forecast,
    the level in float32."""
    offset = None
    if "linear_coef_" in model.encoding:
        X, offset = _window_inputs(graph, model, X, valid_lengths)
    raw = _raw_output(graph, model, coefs, X, valid_lengths)
    if not model.point_head and not model.target_kind:
        return _head_values(graph, model, raw, offset)
    return raw if offset is None else graph.op("Add", raw, offset)


def _window_inputs(graph, model, X, lengths):
    """A forecaster's network input and its ``level + linear`` offset, in the graph.

    The network reads the windows relative to their level (the last valid value of each
    feature), standardised; the offset ``(batch, n_outputs)`` is the level of each
    target's feature plus the linear path on the last ``k`` relative steps (front-padded
    with zeros), as :class:`~rnnlearn.RNNForecaster` predicts.
    """
    encoding = model.encoding
    coef = encoding["linear_coef_"]
    n_lags, n_features, n_outputs = coef.shape
    if lengths is None:
        lengths = _full_lengths(graph, X)
    offset = graph.constant(encoding["linear_intercept_"])
    if encoding["relative_"]:
        level = _steps_before_end(graph, X, lengths, [-1], n_features)  # (batch, 1, features)
        X = graph.op("Sub", X, level)
        level = graph.op("Reshape", level, graph.constant([-1, n_features]))
        features = graph.constant(encoding["target_features_"])
        offset = graph.op("Add", offset, graph.op("Gather", level, features, axis=1))
    if n_lags:
        lagged = _steps_before_end(graph, X, lengths, np.arange(-n_lags, 0), n_features)
        flat = graph.op("Reshape", lagged, graph.constant([-1, n_lags * n_features]))
        linear = graph.op("MatMul", flat, graph.constant(coef.reshape(-1, n_outputs)))
        offset = graph.op("Add", offset, linear)
    X = graph.op("Sub", X, graph.constant(encoding["_input_mean"]))
    return graph.op("Div", X, graph.constant(encoding["_input_scale"])), offset


def _full_lengths(graph, X):
    """``(batch,)``: every sequence as long as ``X``."""
    return graph.op(
        "Expand", graph.op("Shape", X, start=1, end=2), graph.op("Shape", X, start=0, end=1)
    )


def _steps_before_end(graph, X, lengths, shifts, n_features):
    """``(batch, len(shifts), n_features)``: each sequence's steps ``length + shift``, zero
    where that is before its start."""
    steps = graph.op(
        "Add",
        graph.op("Unsqueeze", lengths, graph.constant([1])),
        graph.constant(np.asarray(shifts)),
    )
    shape = graph.op(
        "Concat",
        graph.op("Shape", X, start=0, end=1),
        graph.constant([len(shifts), n_features]),
        axis=0,
    )
    index = graph.op("Unsqueeze", graph.op("Max", steps, graph.constant(0)), graph.constant([2]))
    gathered = graph.op("GatherElements", X, graph.op("Expand", index, shape), axis=1)
    inside = graph.op(
        "Unsqueeze", graph.op("GreaterOrEqual", steps, graph.constant(0)), graph.constant([2])
    )
    return graph.op("Where", inside, gathered, graph.constant(np.float32(0)))


def _raw_output(graph, model, coefs, X, lengths):
    """The network's raw output in the graph, batch-first as the estimator returns it (a
    point regressor's with its target scaling folded into the head: its predictions).

    ``coefs`` are the estimator's ``coefs_``. Everything runs time-major (the recurrent
    operators' layout); the step axis of sequence and 'after' outputs moves to second
    place at the end.
    """
    network, output_mode = model.network, model.output_mode
    *layers, head = coefs
    extra = network.n_steps_out - 1 if output_mode == "after" else 0
    H = graph.op("Transpose", X, perm=[1, 0, 2])
    valid = sequence_lens = None
    if lengths is not None:
        n_timesteps = graph.op("Squeeze", graph.op("Shape", X, start=1, end=2))
        steps = graph.op("Range", graph.constant(0), n_timesteps, graph.constant(1))
        valid = graph.op(  # (time, batch, 1): True on valid steps
            "Unsqueeze",
            graph.op(
                "Less",
                graph.op("Unsqueeze", steps, graph.constant([1])),
                graph.op("Unsqueeze", lengths, graph.constant([0])),
            ),
            graph.constant([2]),
        )
        H = graph.op("Where", valid, H, graph.constant(np.float32(0)))  # any padding is 0
        sequence_lens = graph.op("Add", lengths, graph.constant(extra))
        sequence_lens = graph.op("Cast", sequence_lens, to=graph.int32)
    if extra:  # zero inputs after each sequence, which runs ``extra`` steps longer
        H = graph.op("Pad", H, graph.constant([0, 0, 0, extra, 0, 0]))
    top_states = output_mode != "last" or network.pooling != "last"
    for k, layer in enumerate(layers):
        Y, Y_h = _recurrent_layer(graph, network, layer, H, sequence_lens)
        if top_states or k < len(layers) - 1:
            H = _layer_states(graph, network, Y)
    if output_mode == "last":
        H = _pool(graph, network, H, Y_h, valid, lengths)
    elif output_mode == "after":
        H = _after_steps(graph, H, network.n_steps_out, lengths)
    W, b = model.folded_head(head["W"], head["b"])  # a point regressor's: predictions
    raw = graph.op("Add", graph.op("MatMul", H, graph.constant(W)), graph.constant(b))
    if output_mode == "sequence" and valid is not None:
        raw = graph.op("Where", valid, raw, graph.constant(np.float32(0)))
    if output_mode != "last":
        raw = graph.op("Transpose", raw, perm=[1, 0, 2])
    return raw


def _recurrent_layer(graph, network, layer, H, sequence_lens):
    """One layer's operator over time-major ``H``: its outputs ``Y`` (every step's states)
    and ``Y_h`` (the final states), as ONNX lays them out."""
    cell = network.cell
    weights = _onnx_weights(layer, type(cell), DIRECTIONS[: network.n_directions])
    activation, parameters = ONNX_ACTIVATIONS[cell.activation]
    n_candidates = {VanillaCell: 1, GRUCell: 1, LSTMCell: 2}[type(cell)]
    gates = [] if type(cell) is VanillaCell else ["Sigmoid"]
    attributes = {
        "hidden_size": layer["W_h"].shape[0],
        "direction": "bidirectional" if network.bidirectional else "forward",
        "activations": (gates + [activation] * n_candidates) * network.n_directions,
    }
    if parameters:
        n_parameterised = n_candidates * network.n_directions
        attributes["activation_alpha"] = [parameters[0]] * n_parameterised
        attributes["activation_beta"] = [parameters[1]] * n_parameterised
    if type(cell) is GRUCell:
        attributes["linear_before_reset"] = int(cell.reset_after)
    inputs = [H, *(graph.constant(value) for value in weights)]
    if sequence_lens is not None:
        inputs.append(sequence_lens)
    return graph.op(ONNX_LAYERS[type(cell)], *inputs, n_outputs=2, **attributes)


def _layer_states(graph, network, Y):
    """A layer's states ``(time, batch, width)`` from its operator's ``Y``, ``(time,
    directions, batch, hidden)``: forward then backward at each step."""
    if not network.bidirectional:
        return graph.op("Squeeze", Y, graph.constant([1]))
    Y = graph.op("Transpose", Y, perm=[0, 2, 1, 3])
    return graph.op("Reshape", Y, graph.constant([0, 0, -1]))


def _final_states(graph, network, Y_h):
    """A layer's final states ``(batch, width)`` from its operator's ``Y_h``,
    ``(directions, batch, hidden)``: forward then backward."""
    if not network.bidirectional:
        return graph.op("Squeeze", Y_h, graph.constant([0]))
    Y_h = graph.op("Transpose", Y_h, perm=[1, 0, 2])
    return graph.op("Reshape", Y_h, graph.constant([0, -1]))


def _onnx_weights(layer, kind, suffixes):
    """ONNX's ``W``, ``R`` and ``B`` of one rnnlearn layer running in the directions named
    by ``suffixes``: PyTorch's layout (see :func:`rnnlearn.interop.to_torch_state_dict`),
    gates in ONNX's order, stacked over directions, in float32."""
    order = ONNX_GATE_ORDER[kind]
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    directions = []
    for suffix in suffixes:
        torch_layer = _torch_layer(layer, suffix)
        directions.append([_gate_blocks(torch_layer[name + suffix], order) for name in names])
    W, R, bias_ih, bias_hh = (np.stack(arrays) for arrays in zip(*directions, strict=True))
    return W, R, np.concatenate([bias_ih, bias_hh], axis=1)


def _gate_blocks(array, order):
    """``array``'s gate blocks (along its first axis) in ``order``."""
    blocks = array.reshape(len(order), -1, *array.shape[1:])
    return blocks[list(order)].reshape(array.shape).astype(np.float32)


def _pool(graph, network, H, Y_h, valid, lengths):
    """What the head reads of one output per sequence: the top layer's final states (from
    its operator's ``Y_h``), the mean or max of its states ``H`` over the valid steps, or
    ``[final, mean, max]``."""
    if network.pooling == "concat":
        parts = [_final_states(graph, network, Y_h)]
        parts += [_reduce(graph, pooling, H, valid, lengths) for pooling in ("mean", "max")]
        return graph.op("Concat", *parts, axis=-1)
    if network.pooling == "last":
        return _final_states(graph, network, Y_h)
    return _reduce(graph, network.pooling, H, valid, lengths)


def _reduce(graph, pooling, H, valid, lengths):
    """The mean or max of the time-major states ``H`` over the valid steps."""
    axes = graph.constant([0])
    if pooling == "max":
        if valid is not None:
            H = graph.op("Where", valid, H, graph.constant(np.float32(-np.inf)))
        return graph.op("ReduceMax", H, axes, keepdims=0)
    if valid is None:
        return graph.op("ReduceMean", H, axes, keepdims=0)
    total = graph.op(
        "ReduceSum", graph.op("Where", valid, H, graph.constant(np.float32(0))), axes, keepdims=0
    )
    counts = graph.op("Unsqueeze", graph.op("Cast", lengths, to=graph.float32), graph.constant([1]))
    return graph.op("Div", total, counts)


def _after_steps(graph, H, n_steps_out, lengths):
    """The ``n_steps_out`` states from each sequence's last input step on."""
    if lengths is None:  # every sequence ran the whole padded length: the last steps
        return graph.op(
            "Slice", H, graph.constant([-n_steps_out]), graph.constant([np.iinfo(np.int64).max])
        )
    last = graph.op("Sub", lengths, graph.constant(np.int64(1)))
    steps = graph.op(  # (n_steps_out, batch)
        "Add",
        graph.op("Unsqueeze", last, graph.constant([0])),
        graph.constant(np.arange(n_steps_out, dtype=np.int64)[:, None]),
    )
    steps = graph.op("Unsqueeze", steps, graph.constant([2]))
    width = graph.op("Shape", H, start=2, end=3)
    ones = graph.constant([1, 1])
    steps = graph.op("Expand", steps, graph.op("Concat", ones, width, axis=0))
    return graph.op("GatherElements", H, steps, axis=0)


def _classifier_outputs(graph, model, raw):
    """``label`` and ``probabilities`` from a classifier's logits ``raw``."""
    kind = model.target_kind
    n_classes = len(model.classes)
    if kind == "multiclass":
        probabilities = graph.op("Softmax", raw, axis=-1)
        index = graph.op("ArgMax", raw, axis=-1, keepdims=0)
    else:
        probabilities = graph.op("Sigmoid", raw)
        positive = graph.op(
            "Cast", graph.op("Greater", raw, graph.constant(np.float32(0))), to=graph.int64
        )
        if kind == "multilabel":
            index = None
            label = positive
        else:
            negative = graph.op("Sub", graph.constant(np.float32(1)), probabilities)
            probabilities = graph.op("Concat", negative, probabilities, axis=-1)
            index = graph.op("Squeeze", positive, graph.constant([-1]))
    if index is not None:
        classes = _label_array(model.classes)
        label = graph.op("Gather", graph.constant(classes, classes.dtype), index, axis=0)
        label_type, label_shape = classes.dtype, _output_shape(model, None)
    else:
        label_type, label_shape = np.int64, _output_shape(model, n_classes)
    graph.output(label, "label", label_type, label_shape)
    graph.output(probabilities, "probabilities", np.float32, _output_shape(model, n_classes))


def _label_array(classes):
    """``classes_`` as an array ONNX holds: int64, bool, float64 or strings."""
    kinds = {"i": np.int64, "u": np.int64, "b": np.bool_, "f": np.float64}
    if classes.dtype.kind in kinds:
        return classes.astype(kinds[classes.dtype.kind])
    if all(isinstance(label, str) for label in classes):
        return np.array(classes, dtype=object)
    raise ValueError(
        f"The classes {classes!r} have no ONNX tensor type: labels must be integers, "
        f"bools, floats or strings."
    )


def _output_shape(model, width):
    """The batch-first shape of an output, ``width`` its last axis (``None``: none)."""
    steps = {"last": [], "sequence": ["time"], "after": [model.network.n_steps_out]}
    return ["batch", *steps[model.output_mode], *([] if width is None else [width])]


class _GraphBuilder:
    """Collects nodes, constants, inputs and outputs, naming every value uniquely."""

    def __init__(self):
        import onnx

        self.onnx = onnx
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._count = 0
        self.float32 = onnx.TensorProto.FLOAT
        self.int32 = onnx.TensorProto.INT32
        self.int64 = onnx.TensorProto.INT64

    def _name(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def input(self, name, dtype, shape):
        """Declare a graph input; return its name."""
        self.inputs.append(self._value_info(name, dtype, shape))
        return name

    def output(self, value, name, dtype, shape):
        """Declare ``value`` a graph output called ``name``."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name]))
        self.outputs.append(self._value_info(name, dtype, shape))

    def constant(self, value, dtype=None):
        """Add a constant in ``dtype`` (by default floats in float32, integers in int64);
        return its name."""
        array = np.asarray(value)
        if dtype is None:
            dtype = np.float32 if array.dtype.kind == "f" else np.int64
        array = array.astype(dtype)
        name = self._name("const")
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type, *inputs, n_outputs=1, **attributes):
        """Add a node; return its output's name (a list of ``n_outputs`` names)."""
        outputs = [self._name(op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), outputs, **attributes))
        return outputs[0] if n_outputs == 1 else outputs

    def _value_info(self, name, dtype, shape):
        element_type = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return self.onnx.helper.make_tensor_value_info(name, element_type, shape)

    def model(self, doc_string):
        """The checked ``ModelProto``."""
        helper = self.onnx.helper
        graph = helper.make_graph(
            self.nodes, "rnnlearn", self.inputs, self.outputs, self.initializers
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
            producer_name="rnnlearn",
            doc_string=doc_string,
        )
        model.ir_version = ONNX_IR_VERSION
        self.onnx.checker.check_model(model)
        return model
