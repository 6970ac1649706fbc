"""Tests of rnnlearn.losses."""

import numpy as np
import pytest
from _gradcheck import max_relative_error, numerical_gradient
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from rnnlearn.losses import (
    LOSSES,
    AbsoluteError,
    GaussianNLL,
    Huber,
    LogLoss,
    Pinball,
    SquaredError,
)

ALL_LOSSES = [
    SquaredError(),
    AbsoluteError(),
    Huber(delta=0.7),
    LogLoss(link_function="logistic"),
    LogLoss(link_function="softmax"),
]


def _targets(loss, raw, rng):
    """Targets suited to ``loss`` for raw outputs ``raw`` of shape (..., n_outputs)."""
    if isinstance(loss, LogLoss) and loss.link_function == "softmax":
        return np.eye(raw.shape[-1])[rng.randint(raw.shape[-1], size=raw.shape[:-1])]
    if isinstance(loss, LogLoss):
        return rng.randint(2, size=raw.shape).astype(float)
    if isinstance(loss, AbsoluteError):  # no kink near raw
        return raw + rng.choice([-1.0, 1.0], size=raw.shape) * rng.uniform(0.5, 2, raw.shape)
    # Huber: residuals in both regimes (delta=0.7), away from the switch point.
    return raw + rng.choice([-0.3, 0.2, 1.5, -2.0], size=raw.shape)


def _hand_pointwise(loss, y, raw):
    """Per-row loss from the textbook formula, written independently of rnnlearn."""
    r = raw - y
    if isinstance(loss, SquaredError):
        return np.mean(r**2, axis=-1) / 2
    if isinstance(loss, AbsoluteError):
        return np.mean(np.abs(r), axis=-1)
    if isinstance(loss, Huber):
        d = loss.delta
        return np.mean(np.where(np.abs(r) <= d, r**2 / 2, d * np.abs(r) - d**2 / 2), axis=-1)
    if loss.link_function == "logistic":
        p = 1 / (1 + np.exp(-raw))
        return -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p), axis=-1)
    p = np.exp(raw) / np.exp(raw).sum(axis=-1, keepdims=True)
    return -np.sum(y * np.log(p), axis=-1)


def _hand_gradient(loss, y, raw):
    """Per-row d loss / d raw from the textbook formula."""
    r, n_outputs = raw - y, raw.shape[-1]
    if isinstance(loss, SquaredError):
        return r / n_outputs
    if isinstance(loss, AbsoluteError):
        return np.sign(r) / n_outputs
    if isinstance(loss, Huber):
        return np.where(np.abs(r) <= loss.delta, r, loss.delta * np.sign(r)) / n_outputs
    if loss.link_function == "logistic":
        return 1 / (1 + np.exp(-raw)) - y
    return np.exp(raw) / np.exp(raw).sum(axis=-1, keepdims=True) - y


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_value_and_gradient_match_hand_formulas(loss):
    rng = np.random.RandomState(0)
    raw = rng.normal(size=(5, 3))
    y = _targets(loss, raw, rng)
    weights = rng.uniform(0.5, 2, size=5)
    value, gradient = loss.loss_gradient(y, raw)
    assert_allclose(value, _hand_pointwise(loss, y, raw).mean(), rtol=1e-12)
    assert_allclose(gradient, _hand_gradient(loss, y, raw) / 5, rtol=1e-12, atol=1e-15)
    value, gradient = loss.loss_gradient(y, raw, weights)
    expected = np.sum(weights * _hand_pointwise(loss, y, raw)) / weights.sum()
    assert_allclose(value, expected, rtol=1e-12)
    expected = _hand_gradient(loss, y, raw) * weights[:, None] / weights.sum()
    assert_allclose(gradient, expected, rtol=1e-12, atol=1e-15)
    assert loss.loss(y, raw, weights) == value


def test_squared_error_docstring_values_by_hand():
    value, gradient = SquaredError().loss_gradient(
        np.array([[1.0], [3.0]]), np.array([[0.0], [3.5]])
    )
    assert value == pytest.approx((0.5 * 1.0 + 0.5 * 0.25) / 2, rel=1e-15)
    assert_allclose(gradient, [[-0.5], [0.25]], rtol=1e-15)


def test_huber_regimes_by_hand():
    loss = Huber(delta=1.0)
    value, gradient = loss.loss_gradient(np.zeros((3, 1)), np.array([[0.5], [3.0], [-2.0]]))
    assert value == pytest.approx((0.125 + 2.5 + 1.5) / 3, rel=1e-15)
    assert_allclose(gradient, [[0.5 / 3], [1 / 3], [-1 / 3]], rtol=1e-15)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_gradient_matches_finite_differences(loss, gradcheck_errors):
    rng = np.random.RandomState(1)
    raw = rng.normal(size=(2, 4, 3))
    y = _targets(loss, raw, rng)
    weights = rng.uniform(0, 2, size=(2, 4))
    weights[1, 2:] = 0.0
    analytic = loss.loss_gradient(y, raw, weights)[1]
    numeric = numerical_gradient(lambda: loss.loss_gradient(y, raw, weights)[0], raw)
    error = max_relative_error(analytic, numeric)
    gradcheck_errors[f"loss-alone[{loss!r}]"] = error
    assert error <= 1e-6


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_sample_weights_equal_duplicated_rows(loss):
    rng = np.random.RandomState(2)
    raw = rng.normal(size=(2, 3))
    y = _targets(loss, raw, rng)
    value, gradient = loss.loss_gradient(y, raw, np.array([1.0, 3.0]))
    repeat = [0, 1, 1, 1]
    value_dup, gradient_dup = loss.loss_gradient(y[repeat], raw[repeat])
    assert value == pytest.approx(value_dup, rel=1e-12)
    assert_allclose(gradient[0], gradient_dup[0], rtol=1e-12)
    assert_allclose(gradient[1], gradient_dup[1:].sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_zero_weights_give_zero(loss):
    rng = np.random.RandomState(3)
    raw = rng.normal(size=(4, 3))
    y = _targets(loss, raw, rng)
    value, gradient = loss.loss_gradient(y, raw, np.zeros(4))
    assert value == 0.0
    assert gradient.shape == raw.shape
    assert_array_equal(gradient, 0.0)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_total_weight_is_the_divisor(loss):
    rng = np.random.RandomState(10)
    raw = rng.normal(size=(4, 3))
    y = _targets(loss, raw, rng)
    weights = np.array([1.0, 0.5, 2.0, 0.0])
    value, gradient = loss.loss_gradient(y, raw, weights, total_weight=7.0)
    assert value == pytest.approx(np.sum(weights * _hand_pointwise(loss, y, raw)) / 7.0, rel=1e-12)
    expected = _hand_gradient(loss, y, raw) * weights[:, None] / 7.0
    assert_allclose(gradient, expected, rtol=1e-12, atol=1e-15)
    value, gradient = loss.loss_gradient(y, raw, None, total_weight=2.0)
    assert value == pytest.approx(_hand_pointwise(loss, y, raw).sum() / 2.0, rel=1e-12)
    value, gradient = loss.loss_gradient(y, raw, weights, total_weight=0.0)
    assert value == 0.0
    assert_array_equal(gradient, 0.0)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_zero_weighted_rows_are_ignored(loss):
    rng = np.random.RandomState(4)
    raw = rng.normal(size=(4, 3))
    y = _targets(loss, raw, rng)
    weights = np.array([1.0, 0.0, 2.0, 0.0])
    value, gradient = loss.loss_gradient(y, raw, weights)
    raw_changed = raw.copy()
    raw_changed[[1, 3]] += 100.0
    assert loss.loss_gradient(y, raw_changed, weights)[0] == pytest.approx(value, rel=1e-14)
    assert_array_equal(gradient[[1, 3]], 0.0)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_keeps_float32(loss):
    rng = np.random.RandomState(5)
    raw = rng.normal(size=(4, 3)).astype(np.float32)
    y = _targets(loss, raw.astype(np.float64), rng)
    value, gradient = loss.loss_gradient(y, raw, np.ones(4, dtype=np.float32))
    assert gradient.dtype == np.float32
    assert isinstance(value, float)
    value64, gradient64 = loss.loss_gradient(y, raw.astype(np.float64), np.ones(4))
    assert value == pytest.approx(value64, rel=1e-5)
    assert_allclose(gradient, gradient64, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("raw_value", [1e4, -1e4])
def test_logistic_log_loss_is_stable_at_huge_logits(raw_value):
    loss = LogLoss("logistic")
    raw = np.array([[raw_value], [raw_value]])
    y = np.array([[1.0], [0.0]])
    loss_rows, gradient = loss.pointwise(y, raw)
    assert np.all(np.isfinite(loss_rows)) and np.all(np.isfinite(gradient))
    # y=1 costs ~0 at raw=+1e4 and 1e4 at raw=-1e4; y=0 the other way round.
    expected = [0.0, 1e4] if raw_value > 0 else [1e4, 0.0]
    assert_allclose(loss_rows, expected, atol=1e-12)
    sign = 1.0 if raw_value > 0 else 0.0
    assert_allclose(gradient, [[sign - 1.0], [sign]], atol=1e-12)


def test_softmax_log_loss_is_stable_at_huge_logits():
    loss = LogLoss("softmax")
    raw = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    loss_rows, gradient = loss.pointwise(y, raw)
    assert np.all(np.isfinite(loss_rows)) and np.all(np.isfinite(gradient))
    assert_allclose(loss_rows, [0.0, 2e4], atol=1e-12)
    assert_allclose(gradient, [[0.0, 0.0, 0.0], [1.0, -1.0, 0.0]], atol=1e-12)
    assert_allclose(loss.link(raw), [[1.0, 0.0, 0.0]] * 2, atol=1e-12)


def test_softmax_link_gives_distributions():
    raw = np.random.RandomState(6).normal(scale=5, size=(3, 4, 5))
    probabilities = LogLoss("softmax").link(raw)
    assert probabilities.shape == raw.shape
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-14)
    expected = np.exp(raw) / np.exp(raw).sum(axis=-1, keepdims=True)
    assert_allclose(probabilities, expected, rtol=1e-12)
    assert_array_equal(np.argmax(probabilities, -1), np.argmax(raw, -1))


def test_logistic_link_gives_probabilities():
    raw = np.random.RandomState(7).normal(scale=5, size=(6, 2))
    probabilities = LogLoss("logistic").link(raw)
    assert_allclose(probabilities, 1 / (1 + np.exp(-raw)), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("loss", [SquaredError(), AbsoluteError(), Huber()], ids=repr)
def test_regression_link_is_identity(loss):
    raw = np.random.RandomState(8).normal(size=(4, 2))
    assert_array_equal(loss.link(raw), raw)


def test_perfect_prediction_costs_nothing():
    y = np.random.RandomState(9).normal(size=(4, 2))
    for loss in (SquaredError(), AbsoluteError(), Huber()):
        value, gradient = loss.loss_gradient(y, y.copy())
        assert value == 0.0
        assert_array_equal(gradient, 0.0)


@pytest.mark.parametrize("delta", [0.0, -1.0, np.nan])
def test_huber_rejects_bad_delta(delta):
    with pytest.raises(ValueError, match="loss__delta must be in"):
        Huber(delta=delta).validate_hyperparameters(prefix="loss__")


def test_log_loss_rejects_unknown_link():
    with pytest.raises(ValueError, match="link_function"):
        LogLoss(link_function="probit").validate_hyperparameters()


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_accepts_its_defaults(loss):
    loss.validate_hyperparameters()


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_loss_clone_keeps_parameters(loss):
    copy = clone(loss)
    assert type(copy) is type(loss)
    assert copy.get_params() == loss.get_params()


def test_losses_table_names_classes():
    assert {
        "squared_error": SquaredError,
        "absolute_error": AbsoluteError,
        "huber": Huber,
        "log_loss": LogLoss,
        "quantile": Pinball,
        "gaussian_nll": GaussianNLL,
    } == LOSSES
