"""Binary encoding helpers, synthetic sequence data sets and a reader for ``.ts`` files."""

# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ._validation import check_finite_vector, check_number, check_real_array

__all__ = [
    "bin2int",
    "int2bin",
    "load_ts",
    "make_binary_addition",
    "make_frequency_classification",
    "make_sine_sequences",
]

_MAX_BITS = 63  # the largest width whose values all fit in a signed 64-bit integer
_SINE_TIME_STEP = 0.05  # time between two samples of make_sine_sequences
_LOWEST_FREQUENCY = 0.05  # cycles per time step of class 0 in make_frequency_classification
_HIGHEST_FREQUENCY = 0.25  # cycles per time step of the last class


# ---------------------------------------------------------------------------------------------
# int2bin / bin2int


def _first(values, mask):
    """Return the first element (in C order) of ``values`` where ``mask`` is true, as a scalar."""
    return values[mask].flat[0].item()


def _check_encodable(values, length):
    """Raise ValueError unless every element of ``values`` is a whole number in [0, 2**length)."""
    if values.dtype.kind == "f":
        not_whole = ~np.isfinite(values) | (values != np.round(values))
        if np.any(not_whole):
            value = _first(values, not_whole)
            raise ValueError(f"int2bin needs whole numbers, got {value!r} (length={length}).")
        too_large = values >= float(2**length)  # exact: powers of two are floats
    else:
        too_large = values > 2**length - 1  # fits in int64 for length <= 63
    negative = values < 0
    if np.any(negative):
        value = _first(values, negative)
        raise ValueError(
            f"int2bin needs non-negative integers, got {value!r} (length={length}); "
            "unlike R's int2bin, two's-complement bits are not produced."
        )
    if np.any(too_large):
        value = _first(values, too_large)
        raise ValueError(
            f"{value!r} does not fit in length={length} bits "
            f"(the largest value is {2**length - 1})."
        )


def int2bin(integer, length=8):
    """Binary digits of non-negative integers, least significant bit first.

    The port of the R package's ``int2bin``: column ``k`` of the result holds the bit of
    weight ``2**k``, so column 0 is the least significant bit. Unlike R, negative numbers,
    fractional numbers and numbers that need more than ``length`` bits are errors instead
    of being wrapped or truncated.

    Parameters
    ----------
    integer : int or array-like of int
        Non-negative whole numbers of any shape. Python ints, numpy integers and floating
        arrays holding whole numbers (``3.0``) are accepted.
    length : int, default=8
        Number of bits per number, from 1 to 63.

    Returns
    -------
    bits : ndarray of int64 of shape ``np.shape(integer) + (length,)``
        Zeros and ones; ``bits[..., k]`` is the bit of weight ``2**k``. A scalar input gives
        shape ``(length,)``.

    Raises
    ------
    TypeError
        If ``length`` is not an int, or ``integer`` does not hold real numbers.
    ValueError
        If ``length`` is not in 1..63, or a value is negative, not a whole number, or at
        least ``2**length``.

    See Also
    --------
    bin2int : The inverse transformation.

    Examples
    --------
    >>> from rnnlearn.datasets import int2bin
    >>> print(int2bin(6))
    [0 1 1 0 0 0 0 0]
    >>> print(int2bin([1, 255], length=8))
    [[1 0 0 0 0 0 0 0]
     [1 1 1 1 1 1 1 1]]
    >>> int2bin(256, length=8)
    Traceback (most recent call last):
    ...
    ValueError: 256 does not fit in length=8 bits (the largest value is 255).
    """
    length = check_number("length", length, Integral, 1, _MAX_BITS)
    values = check_real_array("integer", integer)
    _check_encodable(values, length)
    as_int = values.astype(np.int64)
    return (as_int[..., np.newaxis] >> np.arange(length)) & 1


def bin2int(binary):
    """Integers from their binary digits, least significant bit first.

    The port of the R package's ``bin2int``, vectorised over all leading axes. Values are
    first rounded half to even (as R's ``round`` and :func:`numpy.round` do, so ``0.5``
    counts as 0 and ``0.51`` as 1); network outputs in [0, 1] can therefore be decoded
    directly.

    Parameters
    ----------
    binary : array-like of shape (..., n_bits)
        Bits (or probabilities of a one) along the last axis, ``binary[..., k]`` having
        weight ``2**k``. ``n_bits`` may be 1 to 63.

    Returns
    -------
    integers : ndarray of int64 of shape ``binary.shape[:-1]``
        The decoded numbers. A 1-D input (one number) gives a 0-d result, a
        :class:`numpy.int64` scalar.

    Raises
    ------
    ValueError
        If ``binary`` is 0-d, has more than 63 or zero bits, or holds a value that does
        not round to 0 or 1 (including NaN).

    See Also
    --------
    int2bin : The inverse transformation.

    Examples
    --------
    >>> from rnnlearn.datasets import bin2int
    >>> print(bin2int([[0.4, 0.6, 0.5, 0.51]]))  # rounds to 0 1 0 1: 2 + 8
    [10]
    >>> int(bin2int([0, 1, 1]))
    6
    """
    bits = check_real_array("binary", binary)
    if bits.ndim == 0:
        raise ValueError("binary must have at least one axis (the bits), got a scalar.")
    n_bits = bits.shape[-1]
    if not 1 <= n_bits <= _MAX_BITS:
        raise ValueError(f"binary must have 1 to {_MAX_BITS} bits on its last axis, got {n_bits}.")
    rounded = np.round(bits) if bits.dtype.kind == "f" else bits
    invalid = (rounded != 0) & (rounded != 1)
    if np.any(invalid):
        value = _first(bits, invalid)
        raise ValueError(f"binary must hold values that round to 0 or 1, got {value!r}.")
    weighted = rounded.astype(np.int64) << np.arange(n_bits)
    return weighted.sum(axis=-1)


# ---------------------------------------------------------------------------------------------
# data set generators


def make_binary_addition(n_samples=10000, n_bits=8, *, random_state=None):
    """Binary addition as a sequence task: the R package's ``?trainr`` example.

    Two integers ``a`` and ``b`` are drawn uniformly from ``0 .. 2**(n_bits - 1) - 1`` so
    that their sum fits in ``n_bits`` bits. Time step ``t`` shows bit ``t`` of both numbers
    (least significant first), and the target at step ``t`` is bit ``t`` of ``a + b``. The
    carry therefore flows forward in time, which a recurrent network can learn.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of sequences, at least 1.
    n_bits : int, default=8
        Number of time steps (bits), from 2 to 63.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the draws; an int gives reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, n_bits, 2)
        ``X[:, :, 0]`` holds the bits of ``a`` and ``X[:, :, 1]`` those of ``b``, as 0.0/1.0.
    y : ndarray of shape (n_samples, n_bits)
        Bits of ``a + b`` as 0.0/1.0; ``bin2int(y)`` decodes the sums.

    See Also
    --------
    int2bin, bin2int : The encoding used for inputs and targets.

    Examples
    --------
    >>> from rnnlearn.datasets import bin2int, make_binary_addition
    >>> X, y = make_binary_addition(n_samples=3, random_state=0)
    >>> X.shape, y.shape
    ((3, 8, 2), (3, 8))
    >>> bool((bin2int(X[:, :, 0]) + bin2int(X[:, :, 1]) == bin2int(y)).all())
    True
    """
    n_samples = check_number("n_samples", n_samples, Integral, low=1)
    n_bits = check_number("n_bits", n_bits, Integral, 2, _MAX_BITS)
    rng = check_random_state(random_state)
    a, b = rng.randint(2 ** (n_bits - 1), size=(2, n_samples), dtype=np.int64)
    X = np.stack([int2bin(a, n_bits), int2bin(b, n_bits)], axis=2).astype(np.float64)
    y = int2bin(a + b, n_bits).astype(np.float64)
    return X, y


def make_sine_sequences(
    n_samples=1000, n_timesteps=50, *, frequencies=(1.0, 2.5, 4.0), noise=0.05, random_state=None
):
    r"""One-step-ahead forecasting of a noisy sum of sines.

    Each sample is an independent series observed every 0.05 time units,

    .. math:: x_t = \frac{1}{K} \sum_{k=1}^{K} \sin(2 \pi f_k \, 0.05 \, t + \phi_k)
              + \varepsilon_t,

    with ``K = len(frequencies)``, phases :math:`\phi_k` drawn uniformly from
    :math:`[0, 2\pi)` per sample and frequency, and Gaussian noise
    :math:`\varepsilon_t` of standard deviation ``noise``. ``X`` is the first
    ``n_timesteps`` values and ``y`` the next one, noise included.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of series, at least 1.
    n_timesteps : int, default=50
        Length of each input window, at least 1.
    frequencies : sequence of float, default=(1.0, 2.5, 4.0)
        Frequencies in cycles per time unit; one sine per entry. With the 0.05 sampling
        interval, a frequency of 4 gives 5 samples per cycle, and 10 is the Nyquist limit.
    noise : float, default=0.05
        Standard deviation of the additive Gaussian noise, at least 0.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 1)
        The observed windows.
    y : ndarray of shape (n_samples,)
        The observation following each window.

    Notes
    -----
    The noise-free signal lies in [-1, 1] and has variance ``1 / (2 K)``. Since the target
    carries its own unpredictable noise, the best possible R² is
    ``var / (var + noise**2)``: about 0.985 with the defaults. The noise-free signal obeys
    a linear recurrence of order ``2 K``, so the task is learnable from a window of at
    least that many steps; even a linear model on the flattened windows comes close to
    the limit.

    Examples
    --------
    >>> from rnnlearn.datasets import make_sine_sequences
    >>> X, y = make_sine_sequences(n_samples=4, n_timesteps=20, random_state=0)
    >>> X.shape, y.shape
    ((4, 20, 1), (4,))
    """
    n_samples = check_number("n_samples", n_samples, Integral, low=1)
    n_timesteps = check_number("n_timesteps", n_timesteps, Integral, low=1)
    frequencies = check_finite_vector("frequencies", frequencies)
    noise = check_number("noise", noise, Real, low=0)
    rng = check_random_state(random_state)
    series = _noisy_sums_of_sines(n_samples, n_timesteps + 1, frequencies, noise, rng)
    return series[:, :-1, np.newaxis], series[:, -1]


def _noisy_sums_of_sines(n_samples, n_timesteps, frequencies, noise, rng):
    """The ``(n_samples, n_timesteps)`` series of :func:`make_sine_sequences`, noise added.

    Draws from ``rng`` the phases, then the noise.
    """
    phases = rng.uniform(0.0, 2 * np.pi, size=(n_samples, 1, frequencies.size))
    times = _SINE_TIME_STEP * np.arange(n_timesteps)
    angles = 2 * np.pi * frequencies * times[:, np.newaxis] + phases
    series = np.sin(angles).mean(axis=2)
    series += noise * rng.standard_normal(series.shape)
    return series


def make_frequency_classification(
    n_samples=1000, n_timesteps=100, n_features=8, n_classes=5, *, noise=1.0, random_state=None
):
    r"""Classify multivariate noisy sinusoids by their frequency.

    Every feature of a sample of class ``k`` is a sinusoid of the class frequency
    ``f_k`` with its own random phase and amplitude, buried in Gaussian noise:

    .. math:: X_{t, j} = a_j \sin(2 \pi f_k t + \phi_j) + \varepsilon_{t, j},

    where ``t`` counts time steps, :math:`\phi_j \sim U[0, 2\pi)`,
    :math:`a_j \sim U[0.5, 1.5]` (both drawn per sample and feature) and
    :math:`\varepsilon \sim N(0, \text{noise}^2)`. The class frequencies are evenly
    spaced from 0.05 to 0.25 cycles per time step (periods of 20 down to 4 steps).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, at least 1.
    n_timesteps : int, default=100
        Length of each sequence, at least 1.
    n_features : int, default=8
        Number of channels per time step, at least 1.
    n_classes : int, default=5
        Number of classes (frequencies), at least 2.
    noise : float, default=1.0
        Standard deviation of the Gaussian noise, at least 0.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, n_features)
        The sequences.
    y : ndarray of int64 of shape (n_samples,)
        Class labels ``0 .. n_classes - 1``. Labels are dealt in turn and then shuffled,
        so every class has ``n_samples // n_classes`` or one more samples.

    Notes
    -----
    With the default noise one step has a signal-to-noise power ratio of about 0.5, and random
    phases make every class mean zero: a linear model on the raw values stays near chance, while
    one that integrates the oscillation over time separates the classes. On the defaults (3-fold
    cross-validation), logistic regression scores 0.24 on the flattened raw values (chance: 0.2)
    and 1.0 on per-frequency Fourier magnitudes averaged over the features (0.99 from one).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.datasets import make_frequency_classification
    >>> X, y = make_frequency_classification(n_samples=10, n_classes=5, random_state=0)
    >>> X.shape, np.bincount(y).tolist()
    ((10, 100, 8), [2, 2, 2, 2, 2])
    """
    n_samples = check_number("n_samples", n_samples, Integral, low=1)
    n_timesteps = check_number("n_timesteps", n_timesteps, Integral, low=1)
    n_features = check_number("n_features", n_features, Integral, low=1)
    n_classes = check_number("n_classes", n_classes, Integral, low=2)
    noise = check_number("noise", noise, Real, low=0)
    rng = check_random_state(random_state)
    y = rng.permutation(np.arange(n_samples, dtype=np.int64) % n_classes)
    return _noisy_sinusoids(y, n_classes, n_timesteps, n_features, noise, rng), y


def _noisy_sinusoids(y, n_classes, n_timesteps, n_features, noise, rng):
    """The sequences of :func:`make_frequency_classification`, one per label in ``y``.

    Each of the ``n_features`` channels of sequence ``i`` oscillates at the frequency of
    class ``y[i]``. Draws from ``rng`` the phases, the amplitudes, then the noise.
    """
    class_frequencies = np.linspace(_LOWEST_FREQUENCY, _HIGHEST_FREQUENCY, n_classes)
    frequencies = class_frequencies[y]
    phases = rng.uniform(0.0, 2 * np.pi, size=(len(frequencies), 1, n_features))
    amplitudes = rng.uniform(0.5, 1.5, size=(len(frequencies), 1, n_features))
    steps = np.arange(n_timesteps)[:, np.newaxis]
    angles = 2 * np.pi * frequencies[:, np.newaxis, np.newaxis] * steps + phases
    X = amplitudes * np.sin(angles)
    X += noise * rng.standard_normal(X.shape)
    return X


# ---------------------------------------------------------------------------------------------
# load_ts: the sktime / aeon .ts text format


def load_ts(path):
    """Read a time-series data set in the sktime / aeon ``.ts`` text format.

    The format of the UCR/UEA classification and Monash regression archives: lines
    starting with ``#`` are comments, ``@`` lines make the header (``@problemName``,
    ``@univariate``, ``@equalLength``, ``@classLabel`` or ``@targetLabel``, ...; keywords
    in any case), and after ``@data`` each line is one case. A case's channels are
    separated by ``:`` and the values of a channel by ``,``; with ``@classLabel true`` or
    ``@targetLabel true`` the last ``:`` field is the class label or regression target.

    Parameters
    ----------
    path : str or path-like
        The ``.ts`` file, read as UTF-8.

    Returns
    -------
    X : ndarray of float64 of shape (n_cases, n_timesteps, n_channels) or list of ndarray
        The series: a 3-D array when all cases have the same length, otherwise a list of
        ``(n_timesteps_i, n_channels)`` arrays, the variable-length input that rnnlearn's
        estimators take. Missing values, written ``?``, become NaN; the estimators reject
        NaN, so fill them in before fitting.
    y : ndarray of shape (n_cases,) or None
        Class labels as strings (``@classLabel true``), regression targets as float64
        (``@targetLabel true``), or None when the header declares neither.

    Raises
    ------
    ValueError
        If the file has no ``@data`` line or no cases, declares timestamps (unsupported), or
        has a malformed header line, a non-numeric value or target, a case whose channel count
        differs from the first's (or from 1 under ``@univariate true``) or whose channels differ
        in length, a class label not declared by ``@classLabel``, or cases of different
        lengths under ``@equalLength true``. The message names the file and the line.

    Examples
    --------
    >>> from pathlib import Path
    >>> from tempfile import TemporaryDirectory
    >>> from rnnlearn.datasets import load_ts
    >>> text = '''# two cases of different lengths, two channels each
    ... @problemName Toy
    ... @univariate false
    ... @classLabel true up down
    ... @data
    ... 1,2,3:0,0,1:up
    ... 3,?:1,0:down
    ... '''
    >>> with TemporaryDirectory() as folder:
    ...     path = Path(folder) / "toy.ts"
    ...     _ = path.write_text(text)
    ...     X, y = load_ts(path)
    >>> [x.shape for x in X], y.tolist()
    ([(3, 2), (2, 2)], ['up', 'down'])
    >>> print(X[1])
    [[ 3.  1.]
     [nan  0.]]
    """
    header, data = _read_ts_header(path)
    return _parse_ts_data(path, header, data)


def _read_ts_header(path):
    """Read a ``.ts`` file: its header and data lines, as :func:`_split_ts_header` returns."""
    with open(path, encoding="utf-8-sig") as file:
        lines = list(enumerate(file, start=1))
    header, data = _split_ts_header(path, lines)
    if _ts_flag(path, header, "timestamps"):
        raise ValueError(f"{path}: files with @timeStamps true are not supported.")
    return header, data


def _parse_ts_data(path, header, data):
    """Parse the data lines into the ``X`` and ``y`` that :func:`load_ts` returns.

    Every error names the file and the line.
    """
    kind, labels = _ts_target(path, header)
    channels = 1 if _ts_flag(path, header, "univariate") else None
    source = "@univariate true" if channels else "as the first case"
    cases, targets = [], []
    for number, line in data:
        try:
            case, target = _parse_ts_case(line, kind, labels)
            channels = _check_ts_channels(case, channels, source)
        except ValueError as error:
            raise ValueError(f"{path}, line {number}: {error}") from None
        cases.append(case)
        targets.append(target)
    y = None if kind is None else np.array(targets, dtype=None if kind == "class" else float)
    return _ts_series(path, header, data, cases), y


def _split_ts_header(path, lines):
    """Split numbered lines into the header and the data lines, dropping comments.

    Returns ``header``, a dict from each lower-case ``@`` keyword to ``(line number,
    words after it)``, and ``data``, the ``(line number, text)`` of each non-empty line
    after ``@data``.
    """
    header = {}
    for index, (number, line) in enumerate(lines):
        if _is_ts_blank(line):
            continue
        text = line.strip()
        if not text.startswith("@"):
            raise ValueError(
                f"{path}, line {number}: expected a '#' comment or an '@' header line "
                f"before @data, got {text[:40]!r}."
            )
        keyword, *words = text[1:].split() or [""]
        if keyword.lower() == "data":
            data = [(n, t) for n, t in lines[index + 1 :] if not _is_ts_blank(t)]
            if not data:
                raise ValueError(f"{path}: no cases after @data (line {number}).")
            return header, data
        header[keyword.lower()] = (number, words)
    raise ValueError(f"{path}: no @data line, so no cases; is this a .ts file?")


def _is_ts_blank(line):
    """Whether a line is empty or a ``#`` comment."""
    text = line.strip()
    return not text or text.startswith("#")


def _ts_flag(path, header, keyword):
    """The boolean value of header line ``@keyword``, or None when it is absent."""
    if keyword not in header:
        return None
    number, words = header[keyword]
    if not words or words[0].lower() not in ("true", "false"):
        raise ValueError(f"{path}, line {number}: @{keyword} must be followed by true or false.")
    return words[0].lower() == "true"


def _ts_target(path, header):
    """``(kind, labels)``: kind "class", "target" or None; the declared class labels."""
    is_class = _ts_flag(path, header, "classlabel")
    is_target = _ts_flag(path, header, "targetlabel")
    if is_class and is_target:
        raise ValueError(f"{path}: both @classLabel and @targetLabel are true.")
    if is_class:
        return "class", header["classlabel"][1][1:]
    return ("target" if is_target else None), None


def _parse_ts_case(line, kind, labels):
    """One data line as a ``(n_timesteps, n_channels)`` array and its label or target."""
    fields = line.strip().split(":")
    target = None
    if kind is not None:
        if len(fields) < 2:
            raise ValueError("expected channels and a final ':' field with the label or target.")
        *fields, target = fields
        target = target.strip() if kind == "class" else _ts_number(target, "the target")
    if kind == "class" and not target:
        raise ValueError("the class label (the last ':' field) is empty.")
    if kind == "class" and labels and target not in labels:
        raise ValueError(f"class label {target!r} is not among those of @classLabel: {labels}.")
    series = [_ts_values(field, channel) for channel, field in enumerate(fields)]
    lengths = sorted({len(values) for values in series})
    if len(lengths) > 1:
        raise ValueError(f"the channels of a case have different lengths {lengths}.")
    return np.stack(series, axis=1), target


def _ts_number(text, what):
    """``text`` as a float, or a ValueError naming ``what``."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} {text.strip()!r} is not a number.") from None


def _ts_values(field, channel):
    """The comma-separated values of one channel as float64, ``?`` as NaN."""
    what = f"channel {channel}: value"
    values = field.split(",")
    return np.array([np.nan if v.strip() == "?" else _ts_number(v, what) for v in values])


def _check_ts_channels(case, expected, source):
    """Return the channel count of ``case``, checked against ``expected`` (None: any)."""
    channels = case.shape[1]
    if expected is not None and channels != expected:
        raise ValueError(f"the case has {channels} channels; expected {expected} ({source}).")
    return channels


def _ts_series(path, header, data, cases):
    """The cases as one 3-D array if they share their length, else as a list."""
    lengths = [len(case) for case in cases]
    if all(length == lengths[0] for length in lengths):
        return np.stack(cases)
    if _ts_flag(path, header, "equallength"):
        index = next(i for i, length in enumerate(lengths) if length != lengths[0])
        raise ValueError(
            f"{path}, line {data[index][0]}: @equalLength true, but this case has "
            f"{lengths[index]} steps and the first {lengths[0]}."
        )
    return cases
