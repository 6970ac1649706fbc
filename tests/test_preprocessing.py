"""Tests for rnnlearn.preprocessing: padding, SequenceScaler and sliding windows."""

# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from rnnlearn.datasets import make_sine_sequences
from rnnlearn.preprocessing import (
    SequenceScaler,
    SlidingWindow,
    make_windows,
    pad_sequences,
    unpad_sequences,
)


def _flatten(X):
    """Reshape (n_samples, n_timesteps, n_features) to (n_samples, n_timesteps * n_features)."""
    return X.reshape(len(X), -1)


def _random_sequences(seed, lengths, n_features, univariate=False):
    """Sequences of the given lengths with reproducible random values."""
    rng = np.random.default_rng(seed)
    shape = (lambda n: (n,)) if univariate else (lambda n: (n, n_features))
    return [rng.normal(size=shape(n)) for n in lengths]


# ---------------------------------------------------------------------------------------------
# pad_sequences / unpad_sequences


def test_pad_sequences_pads_on_the_right_with_value():
    padded, lengths = pad_sequences([np.ones((2, 2)), 2 * np.ones((3, 2))], value=-1.0)
    assert padded.shape == (2, 3, 2)
    assert_array_equal(lengths, [2, 3])
    assert lengths.dtype == np.int64
    assert_array_equal(padded[0], [[1, 1], [1, 1], [-1, -1]])
    assert_array_equal(padded[1], 2 * np.ones((3, 2)))


def test_pad_sequences_treats_1d_sequences_as_one_feature_and_respects_max_length():
    padded, lengths = pad_sequences([[1, 2], [3]], max_length=4)
    assert padded.shape == (2, 4, 1)
    assert_array_equal(padded[:, :, 0], [[1, 2, 0, 0], [3, 0, 0, 0]])
    assert_array_equal(lengths, [2, 1])


def test_pad_sequences_dtype_rules():
    assert pad_sequences([[1, 2], [3]])[0].dtype == np.float64
    assert pad_sequences([np.ones(2, dtype=np.float32)])[0].dtype == np.float32
    assert pad_sequences([[1.5]], dtype=np.float32)[0].dtype == np.float32
    assert np.isnan(pad_sequences([[1.0, 2.0], [3.0]], value=np.nan)[0][1, 1, 0])


@pytest.mark.parametrize(
    ("sequences", "kwargs", "message"),
    [
        ([], {}, "empty"),
        ([np.ones((2, 1)), np.ones((0, 1))], {}, r"sequences\[1\].*must not be empty"),
        ([np.ones((2, 2)), np.ones((2, 3))], {}, r"sequences\[1\] has 3 features.* has 2"),
        ([np.ones((2, 2, 2))], {}, r"sequences\[0\] has shape \(2, 2, 2\)"),
        ([np.ones(2), np.ones(5)], {"max_length": 4}, r"sequences\[1\] has 5 .*max_length=4"),
        ([np.ones(2)], {"max_length": 0}, "max_length"),
    ],
)
def test_pad_sequences_errors(sequences, kwargs, message):
    with pytest.raises(ValueError, match=message):
        pad_sequences(sequences, **kwargs)


@settings(deadline=None, max_examples=50)
@given(
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    n_features=st.integers(1, 3),
    extra=st.integers(0, 3),
    seed=st.integers(0, 2**16),
)
def test_unpad_inverts_pad(lengths, n_features, extra, seed):
    sequences = _random_sequences(seed, lengths, n_features)
    padded, found = pad_sequences(sequences, max_length=max(lengths) + extra, value=np.nan)
    assert padded.shape == (len(lengths), max(lengths) + extra, n_features)
    assert_array_equal(found, lengths)
    restored = unpad_sequences(padded, found)
    assert len(restored) == len(sequences)
    for original, back in zip(sequences, restored, strict=True):
        assert_array_equal(back, original)


def test_unpad_sequences_of_2d_input_returns_1d_copies():
    padded = np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    first, second = unpad_sequences(padded, [3, 1])
    assert_array_equal(first, [1.0, 2.0, 3.0])
    assert_array_equal(second, [4.0])
    first[0] = 99.0
    assert padded[0, 0] == 1.0


@pytest.mark.parametrize(
    ("padded", "lengths", "message"),
    [
        (np.zeros(3), [1], "2-D or 3-D"),
        (np.zeros((2, 3)), [1], "2 integers"),
        (np.zeros((2, 3)), [1.0, 2.0], "integers"),
        (np.zeros((2, 3)), [1, 4], r"lengths\[1\] = 4 is outside 1..3"),
        (np.zeros((2, 3)), [0, 1], r"lengths\[0\] = 0"),
    ],
)
def test_unpad_sequences_errors(padded, lengths, message):
    with pytest.raises(ValueError, match=message):
        unpad_sequences(padded, lengths)


# ---------------------------------------------------------------------------------------------
# SequenceScaler


def test_scaler_standardises_each_feature_over_samples_and_time():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[5.0, -2.0, 0.0], scale=[3.0, 0.5, 10.0], size=(20, 15, 3))
    scaler = SequenceScaler().fit(X)
    assert scaler.n_features_in_ == 3
    assert_allclose(scaler.mean_, X.reshape(-1, 3).mean(axis=0))
    assert_allclose(scaler.scale_, X.reshape(-1, 3).std(axis=0))
    Xt = scaler.transform(X)
    assert Xt.shape == X.shape
    assert_allclose(Xt.mean(axis=(0, 1)), 0.0, atol=1e-12)
    assert_allclose(Xt.std(axis=(0, 1)), 1.0)
    assert_allclose(scaler.inverse_transform(Xt), X)


def test_scaler_treats_2d_input_as_one_univariate_feature():
    X = np.arange(12.0).reshape(3, 4)
    scaler = SequenceScaler().fit(X)
    assert scaler.n_features_in_ == 1
    assert_allclose(scaler.mean_, [5.5])
    Xt = scaler.transform(X)
    assert Xt.shape == (3, 4)
    assert_allclose(Xt, (X - X.mean()) / X.std())
    assert_allclose(scaler.inverse_transform(Xt), X)


def test_scaler_list_in_list_out_with_statistics_of_all_time_steps():
    sequences = _random_sequences(1, [3, 7, 1], n_features=2)
    scaler = SequenceScaler().fit(sequences)
    stacked = np.concatenate(sequences)
    assert_allclose(scaler.mean_, stacked.mean(axis=0))
    assert_allclose(scaler.scale_, stacked.std(axis=0))
    scaled = scaler.transform(sequences)
    assert isinstance(scaled, list)
    assert [s.shape for s in scaled] == [(3, 2), (7, 2), (1, 2)]
    assert_allclose(scaled[1], (sequences[1] - stacked.mean(axis=0)) / stacked.std(axis=0))
    for original, back in zip(sequences, scaler.inverse_transform(scaled), strict=True):
        assert_allclose(back, original)


def test_scaler_keeps_1d_sequences_1d():
    sequences = [np.array([1.0, 2.0, 3.0]), np.array([5.0])]
    scaled = SequenceScaler().fit_transform(sequences)
    assert [s.shape for s in scaled] == [(3,), (1,)]
    assert_allclose(np.concatenate(scaled), (np.r_[1, 2, 3, 5] - 2.75) / np.std([1, 2, 3, 5]))


def test_scaler_with_mean_and_with_std_switches():
    X = np.array([[[1.0], [3.0]], [[5.0], [7.0]]])  # mean 4, std sqrt(5)
    only_scale = SequenceScaler(with_mean=False).fit(X)
    assert_allclose(only_scale.transform(X), X / np.sqrt(5))
    only_center = SequenceScaler(with_std=False).fit(X)
    assert_allclose(only_center.transform(X), X - 4.0)
    assert_allclose(SequenceScaler(with_mean=False, with_std=False).fit_transform(X), X)


def test_scaler_constant_feature_gets_unit_scale():
    X = np.stack([np.full((10, 10), 0.7), np.arange(100.0).reshape(10, 10)], axis=2)
    assert X.reshape(-1, 2).var(axis=0)[0] > 0  # rounding leaves a tiny non-zero variance
    scaler = SequenceScaler().fit(X)
    assert scaler.scale_[0] == 1.0
    Xt = scaler.transform(X)
    assert np.all(np.isfinite(Xt))
    assert_allclose(Xt[:, :, 0], 0.0, atol=1e-9)


def test_scaler_preserves_float32():
    X = np.random.default_rng(0).normal(size=(4, 5, 2)).astype(np.float32)
    scaler = SequenceScaler().fit(X)
    assert scaler.transform(X).dtype == np.float32
    assert scaler.inverse_transform(scaler.transform(X)).dtype == np.float32
    assert SequenceScaler().fit_transform(X.astype(int)).dtype == np.float64


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_scaler_rejects_non_finite_values(bad):
    X = np.ones((2, 3, 2))
    X[1, 2, 0] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        SequenceScaler().fit(X)
    with pytest.raises(ValueError, match="NaN|infinity"):
        SequenceScaler().fit(np.ones((2, 3, 2))).transform(X)


def test_scaler_rejects_other_feature_counts_naming_both():
    scaler = SequenceScaler().fit(np.ones((2, 3, 2)))
    with pytest.raises(ValueError, match="X has 3 features per time step.*expecting 2"):
        scaler.transform(np.ones((2, 3, 3)))
    with pytest.raises(ValueError, match="X has 1 features per time step.*expecting 2"):
        scaler.inverse_transform(np.ones((2, 3)))


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.ones(5), "3-D"),
        (np.ones((2, 2, 2, 2)), "3-D"),
        ([], "empty"),
        ([np.ones((2, 2)), np.ones((3, 1))], r"X\[1\] has 1 features"),
    ],
)
def test_scaler_rejects_bad_shapes(X, message):
    with pytest.raises(ValueError, match=message):
        SequenceScaler().fit(X)


def test_sparse_input_is_rejected_clearly():
    matrix = sparse.csr_matrix(np.ones((4, 3)))
    with pytest.raises(TypeError, match="Sparse input is not supported"):
        SequenceScaler().fit(matrix)
    with pytest.raises(TypeError, match="Sparse input is not supported"):
        make_windows(matrix, 2)


def test_scaler_must_be_fitted_and_clones_cleanly():
    scaler = SequenceScaler(with_std=False)
    with pytest.raises(NotFittedError):
        scaler.transform(np.ones((2, 3)))
    clone_ = clone(scaler.fit(np.ones((2, 3))))
    assert clone_.get_params() == {"with_mean": True, "with_std": False}
    assert not hasattr(clone_, "mean_")


def test_scaler_tags_declare_3d_input():
    tags = SequenceScaler().__sklearn_tags__()
    assert tags.input_tags.three_d_array
    assert "float32" in tags.transformer_tags.preserves_dtype


def test_scaler_in_a_pipeline_before_a_flattening_ridge():
    X, y = make_sine_sequences(n_samples=600, n_timesteps=30, random_state=0)
    X = 50.0 + 20.0 * X  # far from standardised
    pipe = Pipeline(
        [
            ("scale", SequenceScaler()),
            ("flatten", FunctionTransformer(_flatten)),
            ("ridge", Ridge(alpha=1e-3)),
        ]
    )
    pipe.fit(X[:400], y[:400])
    assert_allclose(pipe.named_steps["scale"].mean_, [X[:400].mean()])
    assert pipe.score(X[400:], y[400:]) > 0.9
    assert pipe.predict(X[400:]).shape == (200,)


# ---------------------------------------------------------------------------------------------
# make_windows / SlidingWindow


def test_make_windows_by_hand_on_a_tiny_series():
    X, y = make_windows([10.0, 11.0, 12.0, 13.0, 14.0, 15.0], window=2)
    assert X.shape == (4, 2, 1)
    assert_array_equal(X[:, :, 0], [[10, 11], [11, 12], [12, 13], [13, 14]])
    assert_array_equal(y, [12, 13, 14, 15])


def test_make_windows_horizon_and_step():
    X, y = make_windows(np.arange(10), window=3, horizon=2, step=3)
    # starts 0, 3 (a start at 6 would need index 6 + 3 - 1 + 2 = 10)
    assert_array_equal(X[:, :, 0], [[0, 1, 2], [3, 4, 5]])
    assert_array_equal(y, [4, 7])


def test_make_windows_multivariate_and_target_selection():
    series = np.arange(12).reshape(6, 2)  # column 0 even, column 1 odd numbers
    X, y = make_windows(series, window=4)
    assert X.shape == (2, 4, 2)
    assert_array_equal(X[1], series[1:5])
    assert_array_equal(y, [[8, 9], [10, 11]])
    _, y_one = make_windows(series, window=4, target=1)
    assert_array_equal(y_one, [9, 11])
    _, y_list = make_windows(series, window=4, target=[1])
    assert y_list.shape == (2, 1)
    _, y_last = make_windows(series, window=4, target=-1)
    assert_array_equal(y_last, [9, 11])


@settings(deadline=None, max_examples=50)
@given(
    n_timesteps=st.integers(2, 30),
    window=st.integers(1, 10),
    horizon=st.integers(1, 5),
    step=st.integers(1, 4),
)
def test_make_windows_matches_slicing_definition(n_timesteps, window, horizon, step):
    series = np.arange(n_timesteps, dtype=float) ** 2
    if n_timesteps < window + horizon:
        with pytest.raises(ValueError, match="time steps"):
            make_windows(series, window, horizon=horizon, step=step)
        return
    X, y = make_windows(series, window, horizon=horizon, step=step)
    assert len(X) == (n_timesteps - window - horizon) // step + 1
    for i in range(len(X)):
        start = i * step
        assert_array_equal(X[i, :, 0], series[start : start + window])
        assert y[i] == series[start + window - 1 + horizon]


def test_make_windows_too_short_series_message():
    with pytest.raises(
        ValueError, match="5 time steps, but window=4 and horizon=2 need at least 6"
    ):
        make_windows(np.ones(5), window=4, horizon=2)


@pytest.mark.parametrize(
    ("series", "kwargs", "message"),
    [
        (np.ones((3, 2, 2)), {}, "series must have shape"),
        (np.ones((5, 0)), {}, "series must have shape"),
        (np.ones(9), {"window": 0}, "window"),
        (np.ones(9), {"step": 0}, "step"),
        (np.ones(9), {"horizon": 0}, "horizon"),
        (np.ones((9, 2)), {"target": 2}, "out of range"),
        (np.ones((9, 2)), {"target": 0.5}, "column index"),
        (np.ones((9, 2)), {"target": []}, "column index"),
    ],
)
def test_make_windows_errors(series, kwargs, message):
    kwargs = {"window": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_windows(series, **kwargs)


@settings(deadline=None, max_examples=50)
@given(
    n_timesteps=st.integers(2, 30),
    window=st.integers(1, 10),
    horizon=st.integers(1, 5),
    step=st.integers(1, 4),
)
def test_make_windows_all_steps_gives_every_step_up_to_the_horizon(
    n_timesteps, window, horizon, step
):
    series = np.arange(n_timesteps, dtype=float) ** 2
    if n_timesteps < window + horizon:
        with pytest.raises(ValueError, match="time steps"):
            make_windows(series, window, horizon=horizon, step=step, all_steps=True)
        return
    X, y = make_windows(series, window, horizon=horizon, step=step, all_steps=True)
    X_last, y_last = make_windows(series, window, horizon=horizon, step=step)
    assert y.shape == (len(X), horizon)
    assert_array_equal(X, X_last)
    assert_array_equal(y[:, -1], y_last)
    for i in range(len(X)):
        start = i * step
        assert_array_equal(y[i], series[start + window : start + window + horizon])


def test_make_windows_all_steps_of_several_targets_are_step_major():
    series = np.arange(30).reshape(10, 3)  # value 3 * t + feature
    _, y = make_windows(series, window=4, horizon=2, all_steps=True)
    assert y.shape == (5, 6)
    assert_array_equal(y[0], [12, 13, 14, 15, 16, 17])  # steps 4 and 5, features 0, 1, 2
    _, y = make_windows(series, window=4, horizon=3, target=[2, 0], all_steps=True)
    assert_array_equal(y[1], [17, 15, 20, 18, 23, 21])  # steps 5, 6, 7; features 2, 0
    _, y = make_windows(series, window=4, horizon=3, target=1, all_steps=True)
    assert_array_equal(y[1], [16, 19, 22])
    _, y = make_windows(series[:, :1], window=4, horizon=3, all_steps=True)
    assert y.shape == (4, 3)


@settings(deadline=None, max_examples=40)
@given(
    lengths=st.lists(st.integers(5, 20), min_size=1, max_size=4),
    window=st.integers(1, 3),
    horizon=st.integers(1, 2),
    all_steps=st.booleans(),
)
def test_make_windows_of_a_list_are_every_series_windows_aligned_at_their_ends(
    lengths, window, horizon, all_steps
):
    rng = np.random.default_rng(len(lengths))
    series = [rng.normal(size=(n, 2)) for n in lengths]
    X, y = make_windows(series, window, horizon=horizon, all_steps=all_steps, target=1)
    parts = [
        make_windows(s, window, horizon=horizon, all_steps=all_steps, target=1) for s in series
    ]
    assert len(X) == sum(len(part[0]) for part in parts)
    # Position of every window counted back from its series' end, in list order per series.
    ends = np.concatenate(
        [n - window - np.arange(len(p[0])) for n, p in zip(lengths, parts, strict=True)]
    )
    order = np.argsort(-ends, kind="stable")
    assert_array_equal(X, np.concatenate([part[0] for part in parts])[order])
    assert_array_equal(y, np.concatenate([part[1] for part in parts])[order])
    assert np.all(np.diff(ends[order]) <= 0)  # the latest windows come last


def test_make_windows_of_a_list_interleaves_series_by_their_ends():
    X, y = make_windows((np.arange(5.0), np.arange(10.0, 13.0)), window=2)
    assert_array_equal(X[:, :, 0], [[0, 1], [1, 2], [2, 3], [10, 11]])
    assert_array_equal(y, [2, 3, 4, 12])  # both series end with their last windows
    X, y = make_windows([np.arange(10.0, 13.0), np.arange(5.0)], window=2)
    assert_array_equal(y, [2, 3, 12, 4])
    X, _ = make_windows([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], window=2)  # one series
    assert X.shape == (1, 2, 2)


@pytest.mark.parametrize(
    ("series", "kwargs", "error", "message"),
    [
        ([np.ones(9), np.ones(3)], {}, ValueError, "series\\[1\\] has 3 time steps"),
        ([np.ones(9), np.ones((9, 2))], {}, ValueError, "same number of features"),
        ([np.ones((9, 2)), np.ones((9, 3))], {}, ValueError, "same number of features"),
        ([np.ones(9), np.ones((9, 2, 2))], {}, ValueError, "series\\[1\\] must have shape"),
        (np.ones(9), {"all_steps": 1}, TypeError, "all_steps must be a bool"),
        (np.ones(9), {"horizon": 7, "all_steps": True}, ValueError, "at least 10"),
    ],
)
def test_make_windows_list_and_all_steps_errors(series, kwargs, error, message):
    with pytest.raises(error, match=message):
        make_windows(series, **{"window": 3, **kwargs})


def test_sliding_window_transform_matches_make_windows():
    series = np.random.default_rng(0).normal(size=(40, 3))
    windows = SlidingWindow(window=6, horizon=2, step=3).fit(series).transform(series)
    expected, _ = make_windows(series, 6, horizon=2, step=3)
    assert_array_equal(windows, expected)
    with pytest.raises(ValueError, match="X has 2 features, but SlidingWindow is expecting 3"):
        SlidingWindow(window=6).fit(series).transform(series[:, :2])
    with pytest.raises(ValueError, match="window"):
        SlidingWindow(window=0).fit(series)
    assert SlidingWindow().__sklearn_tags__().input_tags.one_d_array


def test_sliding_window_in_a_pipeline_forecasts_a_series():
    t = np.arange(400)
    series = np.sin(0.3 * t) + 0.5 * np.sin(0.7 * t)
    _, y = make_windows(series[:300], 12)
    pipe = Pipeline(
        [
            ("window", SlidingWindow(window=12)),
            ("flatten", FunctionTransformer(_flatten)),
            ("ridge", Ridge(alpha=1e-6)),
        ]
    )
    pipe.fit(series[:300], y)
    _, y_test = make_windows(series[300:], 12)
    assert_allclose(pipe.predict(series[300:]), y_test, atol=1e-3)
