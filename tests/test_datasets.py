"""Tests for rnnlearn.datasets: binary encoding helpers, synthetic data sets, the .ts reader."""

# SPDX-License-Identifier: BSD-3-Clause

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import Ridge, RidgeClassifier

from rnnlearn._validation import check_sequences
from rnnlearn.datasets import (
    bin2int,
    int2bin,
    load_ts,
    make_binary_addition,
    make_frequency_classification,
    make_sine_sequences,
)


@st.composite
def lengths_and_values(draw):
    """A bit width and a list of integers that fit in it."""
    length = draw(st.integers(1, 63))
    values = draw(st.lists(st.integers(0, 2**length - 1), min_size=1, max_size=5))
    return length, values


# ---------------------------------------------------------------------------------------------
# int2bin / bin2int: R reference values (r-rnn-behaviour.md §14)


def test_int2bin_matches_r_reference_rows():
    expected = [
        [1, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 1, 1, 1],
    ]
    assert_array_equal(int2bin([1, 6, 255]), expected)


def test_bin2int_matches_r_reference_rounding_half_to_even():
    # .4 -> 0, .6 -> 1, .5 -> 0 (half to even), .51 -> 1: 2 + 8
    assert_array_equal(bin2int([[0.4, 0.6, 0.5, 0.51]]), [10])


def test_bin2int_int2bin_round_trips_r_issue_28_range():
    values = np.arange(1, 155)
    assert_array_equal(bin2int(int2bin(values, length=15)), values)


# ---------------------------------------------------------------------------------------------
# int2bin / bin2int: properties


@settings(deadline=None)
@given(lengths_and_values())
def test_bin2int_inverts_int2bin(length_values):
    length, values = length_values
    assert bin2int(int2bin(values, length)).tolist() == values


@settings(deadline=None)
@given(lengths_and_values())
def test_int2bin_bits_are_python_binary_digits_reversed(length_values):
    length, values = length_values
    expected = [[int(c) for c in reversed(format(v, f"0{length}b"))] for v in values]
    assert int2bin(values, length).tolist() == expected


@pytest.mark.parametrize(
    ("integer", "shape"),
    [(5, (8,)), (np.int32(5), (8,)), ([1, 2], (2, 8)), (np.zeros((3, 4), dtype=int), (3, 4, 8))],
)
def test_int2bin_shape_appends_bit_axis(integer, shape):
    assert int2bin(integer).shape == shape


def test_int2bin_accepts_whole_floats_unsigned_and_the_full_63_bits():
    assert_array_equal(int2bin(np.array([6.0, 1.0]), 4), [[0, 1, 1, 0], [1, 0, 0, 0]])
    assert_array_equal(int2bin(np.uint64(5), 3), [1, 0, 1])
    assert int2bin(2**63 - 1, 63).sum() == 63
    assert int2bin(np.float64(2.0**62), 63)[62] == 1


def test_bin2int_is_vectorised_over_leading_axes():
    bits = int2bin(np.arange(24).reshape(2, 3, 4), length=5)
    result = bin2int(bits)
    assert result.shape == (2, 3, 4)
    assert result.dtype == np.int64
    assert_array_equal(result, np.arange(24).reshape(2, 3, 4))


def test_bin2int_of_one_number_is_zero_dimensional():
    result = bin2int([1, 1, 0, 1])
    assert np.ndim(result) == 0
    assert result == 11


def test_bin2int_handles_63_bits():
    assert bin2int(np.ones(63)) == 2**63 - 1


@pytest.mark.parametrize(
    ("integer", "length", "fragment"),
    [
        (-3, 8, "-3"),
        ([1, -1], 8, "-1"),
        (256, 8, "256"),
        (2**63, 63, "9223372036854775808"),
        (np.float64(2.0**63), 63, "e+18"),
        (8, 3, "length=3"),
        (2.5, 8, "2.5"),
        (np.nan, 8, "nan"),
        (np.inf, 8, "inf"),
    ],
)
def test_int2bin_rejects_unencodable_values_naming_them(integer, length, fragment):
    with pytest.raises(ValueError, match="length=") as info:
        int2bin(integer, length)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("length", "error", "message"),
    [
        (0, ValueError, r"length must be in \[1, 63\]"),
        (64, ValueError, r"length must be in \[1, 63\]"),
        (2.0, TypeError, "length must be an int"),
        (True, TypeError, "length must be an int"),
        ("8", TypeError, "length must be an int"),
        (None, TypeError, "length must be an int"),
    ],
)
def test_int2bin_rejects_bad_length(length, error, message):
    with pytest.raises(error, match=message):
        int2bin(3, length)


def test_int2bin_rejects_non_numbers():
    with pytest.raises(TypeError, match="real numbers"):
        int2bin(["a"])


@pytest.mark.parametrize("binary", [[[1.6, 0.0]], [[-0.6, 1.0]], [[1.5]], [[np.nan, 0.0]], [2]])
def test_bin2int_rejects_values_not_rounding_to_bits(binary):
    with pytest.raises(ValueError, match="round to 0 or 1"):
        bin2int(binary)


@pytest.mark.parametrize("binary", [1, np.zeros((2, 0)), np.zeros((1, 64))])
def test_bin2int_rejects_bad_bit_axis(binary):
    with pytest.raises(ValueError, match="bits|axis"):
        bin2int(binary)


# ---------------------------------------------------------------------------------------------
# make_binary_addition


def test_binary_addition_targets_are_the_sums_of_the_inputs():
    X, y = make_binary_addition(n_samples=500, n_bits=8, random_state=0)
    assert X.shape == (500, 8, 2)
    assert y.shape == (500, 8)
    assert X.dtype == y.dtype == np.float64
    a, b = bin2int(X[:, :, 0]), bin2int(X[:, :, 1])
    assert_array_equal(a + b, bin2int(y))


def test_binary_addition_operands_span_the_half_range():
    X, _ = make_binary_addition(n_samples=3000, n_bits=8, random_state=1)
    operands = bin2int(np.concatenate([X[:, :, 0], X[:, :, 1]]))
    assert operands.min() == 0
    assert operands.max() == 127  # 2**(n_bits - 1) - 1: the top input bit is always 0
    assert np.all(X[:, -1, :] == 0)


def test_binary_addition_time_step_zero_is_the_least_significant_bit():
    X, y = make_binary_addition(n_samples=200, random_state=2)
    a = bin2int(X[:, :, 0])
    assert_array_equal(X[:, 0, 0], a % 2)
    assert_array_equal(y[:, 0], (a + bin2int(X[:, :, 1])) % 2)


def test_binary_addition_is_reproducible_and_seed_dependent():
    X1, y1 = make_binary_addition(50, random_state=3)
    X2, y2 = make_binary_addition(50, random_state=np.random.RandomState(3))
    X3, _ = make_binary_addition(50, random_state=4)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_binary_addition_supports_63_bits():
    X, y = make_binary_addition(n_samples=20, n_bits=63, random_state=0)
    assert_array_equal(bin2int(X[:, :, 0]) + bin2int(X[:, :, 1]), bin2int(y))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"n_samples": 0}, "n_samples"), ({"n_bits": 1}, "n_bits"), ({"n_bits": 64}, "n_bits")],
)
def test_binary_addition_validates_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_binary_addition(**kwargs)


# ---------------------------------------------------------------------------------------------
# make_sine_sequences


def test_sine_sequences_shapes_and_reproducibility():
    X, y = make_sine_sequences(n_samples=7, n_timesteps=12, random_state=0)
    X2, y2 = make_sine_sequences(n_samples=7, n_timesteps=12, random_state=0)
    assert X.shape == (7, 12, 1)
    assert y.shape == (7,)
    assert_array_equal(X, X2)
    assert_array_equal(y, y2)
    assert not np.array_equal(y, make_sine_sequences(7, 12, random_state=1)[1])


def test_sine_sequences_target_is_the_next_value_of_the_series():
    # One noise-free sine obeys x[t + 1] = 2 cos(w) x[t] - x[t - 1], w = 2 pi f dt.
    X, y = make_sine_sequences(
        n_samples=30, n_timesteps=5, frequencies=[2.0], noise=0.0, random_state=0
    )
    w = 2 * np.pi * 2.0 * 0.05
    assert_allclose(X[:, 2:, 0], 2 * np.cos(w) * X[:, 1:-1, 0] - X[:, :-2, 0], atol=1e-12)
    assert_allclose(y, 2 * np.cos(w) * X[:, -1, 0] - X[:, -2, 0], atol=1e-12)


def test_sine_sequences_noise_free_signal_is_bounded_and_noise_is_added():
    X, _ = make_sine_sequences(n_samples=200, noise=0.0, random_state=0)
    X_noisy, _ = make_sine_sequences(n_samples=200, noise=0.3, random_state=0)
    assert np.abs(X).max() <= 1.0
    assert 0.25 < np.std(X_noisy - X) < 0.35  # same phases, so the difference is the noise


def test_sine_sequences_are_learnable_to_high_r2():
    X, y = make_sine_sequences(n_samples=1500, random_state=0)
    model = Ridge(alpha=1e-3).fit(X[:1000, :, 0], y[:1000])
    assert model.score(X[1000:, :, 0], y[1000:]) > 0.95


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_timesteps": 0}, "n_timesteps"),
        ({"frequencies": []}, "frequencies"),
        ({"frequencies": [1.0, np.nan]}, "frequencies"),
        ({"noise": -0.1}, "noise"),
    ],
)
def test_sine_sequences_validate_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_sine_sequences(**kwargs)


# ---------------------------------------------------------------------------------------------
# make_frequency_classification


def test_frequency_classification_shapes_labels_and_balance():
    X, y = make_frequency_classification(
        n_samples=103, n_timesteps=20, n_features=3, n_classes=4, random_state=0
    )
    assert X.shape == (103, 20, 3)
    assert X.dtype == np.float64
    assert y.shape == (103,)
    assert y.dtype.kind == "i"
    counts = np.bincount(y)
    assert counts.size == 4
    assert counts.max() - counts.min() <= 1
    assert not np.array_equal(y, np.sort(y))  # shuffled


def test_frequency_classification_is_reproducible():
    first = make_frequency_classification(n_samples=20, random_state=5)
    second = make_frequency_classification(n_samples=20, random_state=5)
    third = make_frequency_classification(n_samples=20, random_state=6)
    assert_array_equal(first[0], second[0])
    assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], third[0])


def test_frequency_classification_class_sets_the_frequency():
    # Without noise, 100 steps and classes at 0.05 .. 0.25 cycles/step peak at bins 5 .. 25.
    X, y = make_frequency_classification(n_samples=40, noise=0.0, random_state=0)
    peak_bins = np.abs(np.fft.rfft(X, axis=1)).argmax(axis=1)
    assert_array_equal(peak_bins, np.repeat(5 * (y + 1)[:, np.newaxis], 8, axis=1))


def test_frequency_classification_is_learnable_but_not_linearly():
    X, y = make_frequency_classification(n_samples=600, random_state=0)
    train, test = slice(0, 400), slice(400, None)
    spectra = np.abs(np.fft.rfft(X, axis=1)).mean(axis=2)
    spectral = RidgeClassifier().fit(spectra[train], y[train]).score(spectra[test], y[test])
    flat = X.reshape(len(X), -1)
    raw = RidgeClassifier().fit(flat[train], y[train]).score(flat[test], y[test])
    assert spectral > 0.9
    assert raw < 0.4  # chance is 0.2


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_timesteps": 0}, "n_timesteps"),
        ({"n_features": 0}, "n_features"),
        ({"n_classes": 1}, "n_classes"),
        ({"noise": np.inf}, "noise"),
    ],
)
def test_frequency_classification_validates_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_frequency_classification(**kwargs)


# ---------------------------------------------------------------------------------------------
# load_ts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # ../shared/data


def write_ts(folder, text):
    """Write ``text`` to ``folder/data.ts`` and return the path."""
    path = folder / "data.ts"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_ts_equal_lengths_give_a_3d_array_and_string_labels(tmp_path):
    path = write_ts(tmp_path, "@equalLength true\n@classLabel true 1 2\n@data\n1,2,3:1\n4,5,6:2\n")
    X, y = load_ts(path)
    assert X.dtype == np.float64
    assert_array_equal(X, [[[1], [2], [3]], [[4], [5], [6]]])
    assert y.dtype.kind == "U"
    assert y.tolist() == ["1", "2"]


def test_load_ts_unequal_lengths_give_a_list_the_estimators_take(tmp_path):
    text = "@equalLength false\n@classLabel true a b\n@data\n1,2,3:a\n4:b\n5,6:a\n"
    X, y = load_ts(write_ts(tmp_path, text))
    assert isinstance(X, list)
    assert [x.shape for x in X] == [(3, 1), (1, 1), (2, 1)]
    assert_array_equal(X[2], [[5.0], [6.0]])
    assert y.tolist() == ["a", "b", "a"]
    padded, lengths = check_sequences(X)
    assert padded.shape == (3, 3, 1)
    assert lengths.tolist() == [3, 1, 2]


def test_load_ts_multichannel_cases_have_one_column_per_channel(tmp_path):
    text = "@univariate false\n@classLabel true x\n@data\n1,2:10,20:30,40:x\n3:4:5:x\n"
    X, _ = load_ts(write_ts(tmp_path, text))
    assert_array_equal(X[0], [[1, 10, 30], [2, 20, 40]])
    assert_array_equal(X[1], [[3, 4, 5]])


def test_load_ts_regression_targets_are_floats(tmp_path):
    text = "@targetLabel true\n@data\n1,2:0.5\n3,4:-1e-3\n"
    X, y = load_ts(write_ts(tmp_path, text))
    assert X.shape == (2, 2, 1)
    assert y.dtype == np.float64
    assert_allclose(y, [0.5, -0.001])


def test_load_ts_without_labels_returns_no_targets(tmp_path):
    X, y = load_ts(write_ts(tmp_path, "@classLabel false\n@data\n1,2:3,4\n"))
    assert_array_equal(X, [[[1, 3], [2, 4]]])
    assert y is None


def test_load_ts_skips_comments_blank_lines_and_reads_keywords_in_any_case(tmp_path):
    text = (
        "\ufeff# a comment, with : and , and @data inside\n"
        "\n"
        "@problemName Demo\r\n"
        "#\n"
        "@UNIVARIATE TRUE\r\n"
        "@classlabel True up down\n"
        "@DATA\n"
        "# a comment among the cases\n"
        " 1.5 , 2 :up \r\n"
        "\n"
        "3,4:down\n"
    )
    X, y = load_ts(write_ts(tmp_path, text))
    assert_array_equal(X[:, :, 0], [[1.5, 2], [3, 4]])
    assert y.tolist() == ["up", "down"]


def test_load_ts_reads_missing_values_as_nan(tmp_path):
    X, _ = load_ts(write_ts(tmp_path, "@missing true\n@targetLabel true\n@data\n1,?,3:0\n"))
    assert_array_equal(np.isnan(X[0, :, 0]), [False, True, False])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# only comments\n@problemName X\n", "no @data line"),
        ("@classLabel true a\n@data\n\n# nothing\n", "no cases after @data"),
        ("@problemName X\n1,2:a\n@data\n1:a\n", "line 2: expected a '#' comment"),
        ("@classLabel maybe\n@data\n1:a\n", "line 1: @classlabel must be followed by"),
        ("@classLabel true a\n@targetLabel true\n@data\n1:a\n", "both @classLabel"),
        ("@timeStamps true\n@data\n(0,1):a\n", "@timeStamps true are not supported"),
        ("@classLabel true a\n@data\n1,2:3,4:a\n1,2:a\n", r"line 4: .* 1 channels; expected 2"),
        ("@univariate true\n@classLabel true a\n@data\n1:2:a\n", r"line 4: .*@univariate"),
        ("@classLabel true a\n@data\n1,2:3:a\n", "line 3: the channels of a case have"),
        ("@classLabel true a\n@data\n1,x,3:a\n", "line 3: channel 0: value 'x' is not"),
        ("@classLabel true a\n@data\n1,,3:a\n", "line 3: channel 0: value '' is not"),
        ("@targetLabel true\n@data\n1,2:0.1\n1,2:high\n", "line 4: the target 'high' is"),
        ("@classLabel true a b\n@data\n1,2:c\n", "line 3: class label 'c' is not among"),
        ("@classLabel true a\n@data\n1,2:\n", "line 3: the class label .* is empty"),
        ("@classLabel true a\n@data\n1,2\n", "line 3: expected channels and a final"),
        ("@equalLength true\n@classLabel true a\n@data\n1,2:a\n1:a\n", "line 5: @equalLength"),
    ],
)
def test_load_ts_rejects_bad_files_naming_the_line(tmp_path, text, message):
    path = write_ts(tmp_path, text)
    with pytest.raises(ValueError, match=message) as error:
        load_ts(path)
    assert str(path) in str(error.value)


# (set, task, train cases, test cases, shortest, longest over both parts, classes)
REAL_SETS = [
    ("OSULeaf", "class", 200, 242, 427, 427, 6),
    ("PLAID", "class", 537, 537, 100, 1344, 11),
    ("Covid3Month", "target", 140, 61, 84, 84, None),
]


@pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} (the shared data sets) is absent")
@pytest.mark.parametrize(
    ("name", "task", "n_train", "n_test", "shortest", "longest", "n_classes"),
    REAL_SETS,
    ids=[row[0] for row in REAL_SETS],
)
def test_load_ts_reads_the_shared_data_sets(
    name, task, n_train, n_test, shortest, longest, n_classes
):
    (X_train, y_train), (X_test, y_test) = (
        load_ts(DATA / f"{name}_{part}.ts") for part in ("TRAIN", "TEST")
    )
    assert len(X_train) == len(y_train) == n_train
    assert len(X_test) == len(y_test) == n_test
    lengths = [len(x) for x in [*X_train, *X_test]]
    assert (min(lengths), max(lengths)) == (shortest, longest)
    assert isinstance(X_train, list) == (shortest != longest)
    assert all(x.shape[1] == 1 and np.all(np.isfinite(x)) for x in [*X_train, *X_test])
    if task == "class":
        assert len(set(y_train.tolist())) == n_classes
        assert set(y_test.tolist()) <= set(y_train.tolist())
    else:
        assert y_train.dtype == np.float64
        assert np.all(np.isfinite(y_train))
