"""What every probabilistic head does, whatever it predicts: one table of heads × properties.

Each head is a row of ``HEADS``: its loss and how to read what it predicts beyond
:meth:`predict` (the quantiles of :class:`~rnnlearn.losses.Pinball`, the standard deviation
of :class:`~rnnlearn.losses.GaussianNLL`). The properties below run for every row; what only
one head does (its gradient checks, link, value formula, calibration) stays in
``test_quantiles.py`` and ``test_gaussian_head.py``, which share the helpers of this module.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from _gradcheck import max_relative_error, numerical_gradient
from numpy.testing import assert_allclose, assert_array_equal
from test_network import PADDED_LENGTHS, _gradient_errors

from rnnlearn import RNNForecaster, RNNRegressor
from rnnlearn.losses import GaussianNLL, Loss, Pinball, SquaredError
from rnnlearn.persistence import load, save
from rnnlearn.preprocessing import make_windows

LEVELS = (0.1, 0.5, 0.9)
EXACT = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=8, random_state=0, dropout=0.0)
EXACT.update(tol=0.0, n_iter_no_change=1000)


def _data(n=40, n_targets=None, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5, 2))
    y = X.sum(axis=(1, 2)) + rng.normal(scale=0.3, size=n)
    if n_targets:
        y = np.column_stack([y * (k + 1) + 10 * k for k in range(n_targets)])
    return X, y


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def _fitted(loss, n_targets=None, **params):
    """``(model, X, y)``: a regressor fitted briefly with ``loss`` on :func:`_data`."""
    X, y = _data(n_targets=n_targets)
    return _quiet(RNNRegressor(**dict(EXACT, loss=loss, **params)).fit, X, y), X, y


def _forecaster(loss):
    """``(model, X)``: a forecaster fitted briefly with ``loss`` on a random walk near 50."""
    series = np.cumsum(np.random.RandomState(0).normal(size=200)) + 50
    X, y = make_windows(series, 8)
    return _quiet(RNNForecaster(loss=loss, max_iter=3, random_state=0).fit, X, y), X


def _noisy(n, seed):
    """Sums of random windows plus Gaussian noise of sd 0.6 where the last value is
    positive and 0.2 elsewhere."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, size=(n, 6, 1))
    sd = np.where(X[:, -1, 0] > 0, 0.6, 0.2)
    return X, X.sum(axis=(1, 2)) + rng.normal(size=n) * sd, sd


def _calibrated(loss):
    """``(model, X, y, sd)``: a model fitted with ``loss`` on 1000 :func:`_noisy` windows,
    and 2000 fresh ones with their targets and the true noise's sd."""
    X, y, _ = _noisy(1000, 0)
    model = RNNRegressor(
        (16,),
        loss=loss,
        pooling="last",
        dropout=0.0,
        batch_size=64,
        learning_rate_schedule="constant",
        max_iter=100,
        random_state=0,
    )
    _quiet(model.fit, X, y)
    return (model, *_noisy(2000, 1))


def _onnx_outputs(model, X, lengths=None):
    onnxruntime = pytest.importorskip("onnxruntime")
    from rnnlearn.onnx import to_onnx

    onnx_model = to_onnx(model, lengths=lengths is not None)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString())
    feed = {"X": X.astype(np.float32)}
    if lengths is not None:
        feed["lengths"] = lengths
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, feed), strict=True))


def _loss_gradient_error(loss, y, raw, rng):
    """The largest relative error of ``loss``'s gradient with respect to ``raw``
    ``(n_steps, n_samples, n_outputs)`` against finite differences, under random sample
    weights of which some are 0."""
    weights = rng.uniform(0, 2, size=raw.shape[:2])
    weights[1, 2:] = 0.0
    analytic = loss.loss_gradient(y, raw, weights)[1]
    numeric = numerical_gradient(lambda: loss.loss_gradient(y, raw, weights)[0], raw)
    return max_relative_error(analytic, numeric)


def _network_gradient_errors(loss, y, setup):
    """The relative errors, block by block, of the gradients of ``loss`` through the
    network of ``setup`` (what ``test_network._setup`` returns) against finite
    differences, under fixed unequal sample weights."""
    network, params, X, state0, _ = setup
    weights = np.broadcast_to(np.array([0.5, 2.0, 1.5]), y.shape[:2])

    def objective(raw):
        return loss.loss_gradient(y, raw, weights)

    return _gradient_errors(network, params, X, PADDED_LENGTHS, state0, objective, False)


@dataclass(frozen=True)
class Head:
    """One probabilistic head and how to read its predictions.

    ``read(model, X)`` is everything the head predicts as one array; ``spread(model, X)``
    what it predicts beyond :meth:`predict`, exported to ONNX as ``spread_name``;
    ``located`` whether the spread moves with the targets' level (quantiles) or only scales
    with them (a standard deviation); ``from_raw(model, raw)`` is ``read`` computed from
    the network's raw outputs.
    """

    name: str
    loss: Loss
    read: Callable
    spread: Callable
    spread_name: str
    located: bool
    from_raw: Callable


def _quantiles_from_raw(model, raw):
    standardised = model.loss_function_.link(raw).reshape(len(raw), model.n_outputs_, -1)
    # The quantiles are the link's, mapped to the targets' scale target by target.
    return standardised * model._y_scale[:, None] + model._y_mean[:, None]


def _mean_std_from_raw(model, raw):
    mean = raw[:, 0::2] * model._y_scale + model._y_mean
    return np.array((mean, model.loss_function_.std(raw) * model._y_scale))


HEADS = [
    Head(
        name="quantile",
        loss=Pinball(LEVELS),
        read=lambda model, X: model.predict_quantiles(X),
        spread=lambda model, X: model.predict_quantiles(X),
        spread_name="quantiles",
        located=True,
        from_raw=_quantiles_from_raw,
    ),
    Head(
        name="gaussian_nll",
        loss=GaussianNLL(),
        read=lambda model, X: np.array(model.predict(X, return_std=True)),
        spread=lambda model, X: model.predict(X, return_std=True)[1],
        spread_name="std",
        located=False,
        from_raw=_mean_std_from_raw,
    ),
]
heads = pytest.mark.parametrize("head", HEADS, ids=lambda head: head.name)


@heads
def test_other_output_modes_are_refused_clearly(head):
    X, y = _data()
    with pytest.raises(ValueError, match="output_mode='last'"):
        RNNRegressor(loss=head.name, output_mode="sequence").fit(X, np.repeat(y[:, None], 5, 1))


@heads
def test_sample_weight_equals_duplicated_rows(head):
    X, y = _data(n=24)
    params = dict(EXACT, dtype="float64", batch_size=64, shuffle=False, loss=head.loss)
    weights = np.where(np.arange(24) % 3 == 0, 2.0, 1.0)
    rows = np.repeat(np.arange(24), weights.astype(int))
    weighted = _quiet(RNNRegressor(**params).fit, X, y, sample_weight=weights)
    duplicated = _quiet(RNNRegressor(**params).fit, X[rows], y[rows])
    plain = _quiet(RNNRegressor(**params).fit, X, y)
    assert_allclose(head.read(weighted, X), head.read(duplicated, X), rtol=1e-8)
    assert not np.allclose(head.read(weighted, X), head.read(plain, X))


@heads
def test_warm_start_and_partial_fit_resume_exactly(head):
    X, y = _data()
    params = dict(EXACT, loss=head.loss)
    once = _quiet(RNNRegressor(**dict(params, max_iter=5)).fit, X, y)
    warm = _quiet(RNNRegressor(**dict(params, max_iter=2)).fit, X, y)
    _quiet(warm.set_params(warm_start=True, max_iter=3).fit, X, y)
    partial = RNNRegressor(**params)
    for _ in range(5):
        _quiet(partial.partial_fit, X, y)
    for model in (warm, partial):
        assert_array_equal(head.read(model, X), head.read(once, X))
        assert model.loss_curve_ == once.loss_curve_


@heads
@pytest.mark.parametrize("n_targets", [None, 2])
def test_npz_round_trip(head, n_targets, tmp_path):
    model, X, y = _fitted(head.loss, n_targets)
    save(model, tmp_path / "model.npz")
    loaded = load(tmp_path / "model.npz")
    assert_array_equal(head.read(loaded, X), head.read(model, X))
    assert loaded.loss_function_.get_params() == head.loss.get_params()
    _quiet(loaded.partial_fit, X, y)
    _quiet(model.partial_fit, X, y)
    assert_array_equal(head.read(loaded, X), head.read(model, X))


@heads
def test_skops_round_trip(head, tmp_path):
    pytest.importorskip("skops")
    from rnnlearn.persistence import load_skops, save_skops

    model, X, _ = _fitted(head.loss, 2)
    save_skops(model, tmp_path / "model.skops")
    loaded = load_skops(tmp_path / "model.skops")
    assert_array_equal(head.read(loaded, X), head.read(model, X))


@heads
@pytest.mark.parametrize("n_targets", [None, 2])
def test_onnx_exports_the_prediction_and_the_spread(head, n_targets):
    model, X, _ = _fitted(head.loss, n_targets)
    outputs = _onnx_outputs(model, X)
    assert list(outputs) == ["predictions", head.spread_name]
    spread = outputs[head.spread_name]
    assert_allclose(spread, head.spread(model, X), rtol=1e-5, atol=1e-6)
    assert_allclose(outputs["predictions"], model.predict(X), rtol=1e-5, atol=1e-5)
    lengths = np.array([5, 3] * (len(X) // 2))
    sequences = [x[:n] for x, n in zip(X, lengths, strict=True)]
    zeroed = X.copy()
    zeroed[lengths == 3, 3:] = 0.0
    for padded in (X, zeroed):  # whatever lies past a sequence's length is ignored
        spread = _onnx_outputs(model, padded, lengths)[head.spread_name]
        assert_allclose(spread, head.spread(model, sequences), atol=1e-5)


@heads
def test_a_forecasters_level_moves_the_prediction_and_a_located_spread(head):
    model, X = _forecaster(head.loss)
    outputs = _onnx_outputs(model, X)
    assert_allclose(outputs["predictions"], model.predict(X), rtol=1e-5)
    assert_allclose(outputs[head.spread_name], head.spread(model, X), rtol=1e-5)
    shifted = _onnx_outputs(model, X + 1000.0)
    assert_allclose(shifted["predictions"], outputs["predictions"] + 1000.0, rtol=1e-5)
    moved = outputs[head.spread_name] + (1000.0 if head.located else 0.0)
    assert_allclose(shifted[head.spread_name], moved, rtol=1e-4)
    from rnnlearn.interop import to_torch

    with pytest.raises(ValueError, match="to_onnx"):
        to_torch(model)


@heads
def test_to_torch_returns_raw_outputs_and_from_torch_reads_them_back(head):
    torch = pytest.importorskip("torch")
    from rnnlearn.interop import from_torch, to_torch

    model, X, y = _fitted(head.loss, 2, dtype="float64")
    raw = to_torch(model)(torch.from_numpy(X)).detach().numpy()
    assert raw.shape == (len(X), 2 * head.loss.outputs_per_target)
    expected = head.read(model, X)
    assert_allclose(head.from_raw(model, raw), expected, rtol=1e-12)
    template = RNNRegressor(**model.get_params(deep=False))
    imported = _quiet(from_torch, to_torch(model), template, X, y)
    assert_allclose(head.read(imported, X), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "loss", [SquaredError(), Pinball(LEVELS), Pinball((0.5, 0.7)), GaussianNLL()], ids=repr
)
def test_raw_for_point_predicts_the_values(loss):
    values = np.array([-1.5, 0.0, 2.5])
    raw = loss.raw_for_point(values)
    assert raw.shape == (3 * loss.outputs_per_target,)
    assert_allclose(loss.point(raw[None]), values[None], rtol=1e-12, atol=1e-12)
