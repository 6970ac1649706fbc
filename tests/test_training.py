"""The training run's pieces: data batches, one epoch, and the policy between epochs."""

import warnings
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning

import rnnlearn._training
from rnnlearn import CollapseWarning, DivergenceWarning, RNNRegressor, TrainingInterruptedWarning
from rnnlearn._fitted import prepare_run, start_state
from rnnlearn._training import EpochPolicy, TrainingData, epoch_record, fit_epoch, run_epoch
from rnnlearn.optimizers import PLATEAU_FACTOR, PLATEAU_MIN_SCALE, SGD, Adam


def _data(synced, lengths=(2, 5, 3)):
    n_timesteps, n_samples = 7, len(lengths)
    X = np.arange(n_timesteps * n_samples * 2, dtype=float).reshape(n_samples, n_timesteps, 2)
    n_steps = n_timesteps if synced else 1
    y = np.ones((n_samples, n_steps, 1))
    weights = np.ones((n_samples, n_steps))
    return TrainingData(X, np.array(lengths), y, weights, np.float64, synced=synced)


@pytest.mark.parametrize("synced", [True, False])
def test_batch_cuts_steps_past_its_longest_sequence(synced):
    data = _data(synced)
    X, lengths, y, weights = data.batch(np.array([0, 2]))
    assert_array_equal(lengths, [2, 3])
    assert_array_equal(X, data.X[[0, 2], :3].transpose(1, 0, 2))  # time-major
    assert X.flags.c_contiguous
    assert y.shape[0] == weights.shape[0] == (3 if synced else 1)


def test_batch_without_lengths_keeps_every_step():
    data = _data(False)
    data.lengths = None
    X, lengths, _, _ = data.batch(slice(0, 2))
    assert lengths is None and X.shape[0] == 7


@pytest.mark.parametrize("shuffle", [True, False])
def test_epoch_orders_each_batch_longest_first_and_covers_every_sample(shuffle):
    """The kernels' products stop at a step's last running sequence, so each batch comes
    longest first; the samples, with their targets, are those of the epoch's batches."""
    lengths = (2, 5, 3, 7, 1, 5, 4)
    data = _data(True, lengths)
    data.y = np.arange(len(lengths), dtype=float)[:, None, None] * np.ones((1, 7, 1))
    seen = []
    for (X, batch_lengths, y, _), _ in data.epoch(3, shuffle, np.random.RandomState(0)):
        samples = y[0, :, 0].astype(int)
        assert list(batch_lengths) == sorted(batch_lengths, reverse=True)
        assert_array_equal(np.asarray(lengths)[samples], batch_lengths)
        assert_array_equal(X.transpose(1, 0, 2), data.X[samples, : len(X)])
        seen.extend(samples)
    assert sorted(seen) == list(range(len(lengths)))


def test_subset_keeps_synced():
    subset = _data(True).subset(np.array([0]))
    assert subset.synced and subset.X.shape[1] == 2


# ---------------------------------------------------------------------------- run_epoch, fit_epoch


def _run(batch_size=40, shuffle=False, learning_rate=0.01, seed=0):
    """A partial_fit run's ``(setup, state)`` on a small regression task."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(40, 5, 2))
    model = RNNRegressor(
        hidden_layer_sizes=3,
        batch_size=batch_size,
        shuffle=shuffle,
        optimizer=SGD(learning_rate=learning_rate, momentum=0.0),
        max_grad_norm=None,
        dropout=0.0,
        random_state=seed,
    )
    return prepare_run(model, X, X.sum(axis=(1, 2)))


def _loss_at(setup, params):
    X, lengths, y, weights = setup.data.time_major()
    raw = setup.model.network.forward(params, X, lengths)[0]
    return setup.model.loss.loss_gradient(y, raw, weights)[0]


def test_run_epoch_of_one_batch_reports_the_loss_before_its_step():
    setup, state = _run()
    start = state.params.copy()
    loss, diverged = run_epoch(setup, state)
    assert not diverged
    assert loss == pytest.approx(_loss_at(setup, start), rel=1e-6)
    assert state.guard.reference == pytest.approx(loss, rel=1e-6)
    assert_array_equal(state.guard.last_good, start)
    assert not np.array_equal(state.params, start)
    assert _loss_at(setup, state.params) < loss


def test_run_epoch_rolls_back_a_diverging_step():
    setup, state = _run(batch_size=10, learning_rate=1e8)
    with np.errstate(all="ignore"):
        loss, diverged = run_epoch(setup, state)
    assert diverged and np.isnan(loss)
    assert_array_equal(state.params, state.guard.last_good)
    assert np.all(np.isfinite(state.params))


def test_fit_epoch_records_scores_and_counts():
    setup, state = _run(batch_size=8)
    scored = []

    def score(raw, y, weights, loss):
        scored.append(raw.shape)
        return 0.5

    setup = replace(setup, validation=setup.data)
    record = fit_epoch(setup, state, score)
    assert record["epoch"] == 1 and record["status"] == "ok" and np.isfinite(record["loss"])
    assert record["validation_score"] == 0.5 and scored == [(1, 40, 1)]
    assert record["learning_rate"] == 0.01 and record["duration"] >= 0
    assert state.samples_seen == 40 and state.optimizer_state["epoch"] == 1


def test_fit_epoch_restarts_the_optimizer_after_a_divergence():
    setup, state = _run(batch_size=10, learning_rate=1e8)
    with np.errstate(all="ignore"):
        record = fit_epoch(setup, state, None)
    assert record["status"] == "diverged" and record["validation_score"] is None
    assert state.optimizer_state["step"] == 0 and state.optimizer_state["epoch"] == 0


def test_fit_epoch_turns_ctrl_c_into_an_interrupted_record(monkeypatch):
    setup, state = _run()

    def interrupted(setup, state):
        raise KeyboardInterrupt

    monkeypatch.setattr(rnnlearn._training, "run_epoch", interrupted)
    record = fit_epoch(setup, state, None)
    assert record["status"] == "interrupted" and np.isnan(record["loss"])
    assert state.optimizer_state["epoch"] == 0


# ---------------------------------------------------------------------------- EpochPolicy


def _state(n_params=3):
    params = np.zeros(n_params)
    return start_state(params, Adam().init(params), np.random.RandomState(0))


def _policy(state, tol=0.1, n_iter_no_change=2, plateau=False, validated=False, incremental=False):
    return EpochPolicy(
        tol,
        n_iter_no_change,
        plateau=plateau,
        validated=validated,
        incremental=incremental,
        state=state,
    )


def _play(policy, state, losses=(), scores=(), status="ok"):
    """Feed one record per loss (or score); the parameters are the epoch number."""
    stops = []
    values = scores if scores else losses
    for value in values:
        epoch = len(state.history) + 1
        state.params[...] = epoch
        record = epoch_record(epoch, np.nan if scores else value, 0.01, status=status)
        record["validation_score"] = value if scores else None
        stops.append(policy.end_epoch(record, state))
        state.history.append(record)
    return stops


def test_policy_stops_after_n_iter_no_change_epochs_without_tol_gain():
    state = _state()
    policy = _policy(state)
    # 0.95, 0.93 and 0.92 each gain less than tol=0.1 on the best: the third is one too many.
    assert _play(policy, state, [1.0, 0.95, 0.93, 0.92]) == [False, False, False, True]
    assert policy.no_improvement == state.no_improvement == 3
    assert policy.best_loss == state.best_loss == 0.92 and policy.best_epoch == 4


def test_policy_counts_from_the_last_real_gain():
    state = _state()
    policy = _policy(state)
    assert _play(policy, state, [1.0, 0.95, 0.5, 0.45, 0.44]) == [False] * 5
    assert policy.no_improvement == 2


def test_policy_cuts_the_rate_on_a_plateau_and_starts_counting_again():
    state = _state()
    policy = _policy(state, plateau=True)
    assert _play(policy, state, [1.0, 0.95, 0.93, 0.92]) == [False] * 4
    assert state.optimizer_state["learning_rate_scale"] == pytest.approx(PLATEAU_FACTOR)
    assert policy.no_improvement == 0


def test_policy_stops_on_a_plateau_when_no_cut_is_left():
    state = _state()
    state.optimizer_state["learning_rate_scale"] = PLATEAU_MIN_SCALE
    policy = _policy(state, plateau=True)
    assert _play(policy, state, [1.0, 1.0, 1.0, 1.0]) == [False, False, False, True]
    assert state.optimizer_state["learning_rate_scale"] == PLATEAU_MIN_SCALE


def test_policy_restores_the_weights_of_the_lowest_loss():
    state = _state()
    policy = _policy(state, n_iter_no_change=10)
    _play(policy, state, [3.0, 1.0, 2.0])
    assert policy.finish(state, exhausted=False)
    assert_array_equal(state.params, 2.0)  # epoch 2's parameters
    assert policy.best_epoch == 2


def test_policy_follows_the_validation_score_when_validated():
    state = _state()
    policy = _policy(state, validated=True, n_iter_no_change=1)
    assert _play(policy, state, scores=[0.5, 0.9, 0.95, 0.8]) == [False, False, False, True]
    assert policy.best_score == state.best_score == 0.95 and policy.best_loss is None
    assert policy.finish(state, exhausted=False)
    assert_array_equal(state.params, 3.0)


def test_policy_in_partial_fit_never_converges_nor_restores():
    state = _state()
    policy = _policy(state, n_iter_no_change=1, incremental=True)
    assert _play(policy, state, [1.0, 1.0, 1.0, 1.0]) == [False] * 4
    assert policy.best_loss == 1.0 and policy.best_params is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not policy.finish(state, exhausted=True)
    assert_array_equal(state.params, 4.0)


def test_policy_resumes_from_the_state():
    state = _state()
    _play(_policy(state), state, [1.0, 0.95])
    policy = _policy(state)
    assert policy.no_improvement == 1 and policy.best_loss == 0.95
    assert _play(policy, state, [0.95, 0.95]) == [False, True]


@pytest.mark.parametrize(
    ("status", "category"),
    [("diverged", DivergenceWarning), ("interrupted", TrainingInterruptedWarning)],
)
def test_policy_stops_on_a_failed_epoch_and_keeps_its_last_weights(status, category):
    state = _state()
    policy = _policy(state, n_iter_no_change=10)
    _play(policy, state, [3.0, 1.0, 2.0])
    with pytest.warns(category, match=f"{status} in epoch 4"):
        assert _play(policy, state, [np.nan], status=status) == [True]
    assert policy.failed and policy.no_improvement == 1  # a failed epoch counts nothing
    assert not policy.finish(state, exhausted=False)
    assert_array_equal(state.params, 4.0)


def test_policy_warns_when_max_iter_runs_out():
    state = _state()
    _play(_policy(state), state, [2.0])
    policy = _policy(state)
    _play(policy, state, [1.0, 0.5, 0.25])
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        policy.finish(state, exhausted=True)


def test_policy_check_collapse_warns_on_an_unstable_fit_and_a_degenerate_model():
    setup, state = _run()
    policy = _policy(state, n_iter_no_change=10)
    _play(policy, state, [1.0, 0.2, 0.9])
    with pytest.warns(CollapseWarning) as caught:
        policy.check_collapse(setup, state, lambda raw, y, weights, loss: "is useless")
    messages = [str(w.message) for w in caught]
    assert "rose from 0.2 (epoch 2) to 0.9 (epoch 3)" in messages[0]
    assert "the fitted model is useless" in messages[1]


def test_policy_check_collapse_is_quiet_on_a_steady_fit():
    setup, state = _run()
    policy = _policy(state, n_iter_no_change=10)
    _play(policy, state, [1.0, 0.5, 0.55])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        policy.check_collapse(setup, state, lambda raw, y, weights, loss: None)
