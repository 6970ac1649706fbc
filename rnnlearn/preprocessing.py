"""Sequence preprocessing: padding, per-feature scaling and sliding windows over time series."""

# SPDX-License-Identifier: BSD-3-Clause

import functools
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ._validation import check_dense, check_number, check_sequence_list, check_series, right_pad

__all__ = [
    "SequenceScaler",
    "SlidingWindow",
    "make_windows",
    "pad_sequences",
    "unpad_sequences",
]


# ---------------------------------------------------------------------------------------------
# variable-length sequences


def _as_2d(sequence):
    """Return a sequence as ``(n_timesteps, n_features)``, a 1-D one as a single column."""
    return sequence[:, np.newaxis] if sequence.ndim == 1 else sequence


def pad_sequences(sequences, *, max_length=None, value=0.0, dtype=None):
    """Right-pad variable-length sequences into one 3-D array.

    Parameters
    ----------
    sequences : sequence of array-like
        Each of shape ``(n_timesteps_i, n_features)``, or ``(n_timesteps_i,)`` for one
        feature; all with the same number of features and at least one time step.
    max_length : int, default=None
        Number of time steps of the result; None uses the longest sequence. Longer
        sequences are an error, never truncated.
    value : float, default=0.0
        Fill value of the padding.
    dtype : data-type, default=None
        Data type of the result. None keeps the common floating type of the sequences
        and uses float64 for integer or boolean input.

    Returns
    -------
    padded : ndarray of shape (n_sequences, max_length, n_features)
        ``padded[i, :lengths[i]]`` is sequence ``i``; the rest is ``value``.
    lengths : ndarray of int64 of shape (n_sequences,)
        Number of time steps of each sequence.

    Raises
    ------
    TypeError
        If ``max_length`` is not an int.
    ValueError
        If there are no sequences, one is not as described above, or is longer than
        ``max_length``.

    See Also
    --------
    unpad_sequences : The inverse operation.

    Examples
    --------
    >>> from rnnlearn.preprocessing import pad_sequences
    >>> padded, lengths = pad_sequences([[1.0, 2.0, 3.0], [4.0]])
    >>> padded.shape
    (2, 3, 1)
    >>> print(padded[:, :, 0])
    [[1. 2. 3.]
     [4. 0. 0.]]
    >>> print(lengths)
    [3 1]
    """
    arrays = [_as_2d(array) for array in check_sequence_list("sequences", sequences)]
    lengths = np.array([len(array) for array in arrays], dtype=np.int64)
    if max_length is None:
        max_length = int(lengths.max())
    max_length = check_number("max_length", max_length, Integral, low=1)
    i = int(np.argmax(lengths > max_length))  # the first sequence too long, if any
    if lengths[i] > max_length:
        raise ValueError(
            f"sequences[{i}] has {lengths[i]} time steps, more than max_length={max_length}."
        )
    dtype = _padding_dtype(arrays) if dtype is None else np.dtype(dtype)
    return right_pad(arrays, max_length, dtype, value), lengths


def _padding_dtype(arrays):
    """Return the common floating dtype of ``arrays`` (float64 if none is floating)."""
    common = functools.reduce(np.promote_types, (array.dtype for array in arrays))
    return common if common.kind == "f" else np.dtype(np.float64)


def unpad_sequences(padded, lengths):
    """Split a padded array back into a list of sequences.

    Parameters
    ----------
    padded : array-like of shape (n_sequences, max_length, n_features) or \
(n_sequences, max_length)
        Right-padded sequences, e.g. from :func:`pad_sequences`.
    lengths : array-like of int of shape (n_sequences,)
        Number of real time steps of each sequence, from 1 to ``max_length``.

    Returns
    -------
    sequences : list of ndarray
        ``sequences[i]`` is a copy of ``padded[i, :lengths[i]]``: shape
        ``(lengths[i], n_features)`` for 3-D input, ``(lengths[i],)`` for 2-D input.

    Raises
    ------
    ValueError
        If ``padded`` is not 2-D or 3-D, or ``lengths`` is not as described above.

    See Also
    --------
    pad_sequences : The inverse operation.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.preprocessing import unpad_sequences
    >>> padded = np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    >>> [seq.tolist() for seq in unpad_sequences(padded, [3, 1])]
    [[1.0, 2.0, 3.0], [4.0]]
    """
    padded = np.asarray(padded)
    if padded.ndim not in (2, 3):
        raise ValueError(f"padded must be 2-D or 3-D, got shape {padded.shape}.")
    lengths = np.asarray(lengths)
    if lengths.dtype.kind not in "iu" or lengths.shape != padded.shape[:1]:
        raise ValueError(
            f"lengths must be {padded.shape[0]} integers (one per sequence), "
            f"got {lengths.dtype} of shape {lengths.shape}."
        )
    out_of_range = np.flatnonzero((lengths < 1) | (lengths > padded.shape[1]))
    if out_of_range.size:
        i = out_of_range[0]
        raise ValueError(f"lengths[{i}] = {lengths[i]} is outside 1..{padded.shape[1]}.")
    return [padded[i, :length].copy() for i, length in enumerate(lengths)]


# ---------------------------------------------------------------------------------------------
# SequenceScaler


def _to_frames(X):
    """Validate ``X`` and stack its time steps as rows; return them with ``X``'s layout."""
    check_dense("X", X)
    if isinstance(X, (list, tuple)):
        arrays = check_sequence_list("X", X)
        frames = np.concatenate([_as_2d(array) for array in arrays])
        layout = [array.shape for array in arrays]
    else:
        X = np.asarray(X)
        if X.ndim not in (2, 3):
            raise ValueError(
                "X must be 3-D (n_samples, n_timesteps, n_features), 2-D (n_samples, "
                f"n_timesteps) or a list of sequences, got an array of shape {X.shape}."
            )
        n_features = X.shape[2] if X.ndim == 3 else 1
        frames = X.reshape(X.shape[0] * X.shape[1], n_features)
        layout = X.shape
    frames = check_array(frames, dtype=(np.float64, np.float32), input_name="X")
    return frames, layout


def _from_frames(frames, layout):
    """Give ``frames`` the array shape or list of shapes ``layout`` (inverse of ``_to_frames``)."""
    if isinstance(layout, tuple):
        return frames.reshape(layout)
    ends = np.cumsum([shape[0] for shape in layout])[:-1]
    return [part.reshape(shape) for part, shape in zip(np.split(frames, ends), layout, strict=True)]


def _scale_from_variance(variance, mean, n_frames):
    """Return ``sqrt(variance)``, with 1 where it is rounding error (a constant feature)."""
    rounding_bound = (n_frames * np.finfo(np.float64).eps * mean) ** 2
    return np.where(variance <= rounding_bound, 1.0, np.sqrt(variance))


class SequenceScaler(TransformerMixin, BaseEstimator):
    """Standardise each feature over all samples and time steps.

    Like :class:`~sklearn.preprocessing.StandardScaler`, but for sequences: every time
    step of every sample is one observation of the ``n_features`` features, so the
    statistics have shape ``(n_features,)`` whatever the sequence lengths. The output has
    the same form as the input.

    Parameters
    ----------
    with_mean : bool, default=True
        Subtract the per-feature mean.
    with_std : bool, default=True
        Divide by the per-feature standard deviation.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Offset subtracted by :meth:`transform`: the per-feature mean, or zeros when
        ``with_mean=False``.
    scale_ : ndarray of shape (n_features,)
        Divisor used by :meth:`transform`: the per-feature standard deviation (1 for a
        constant feature), or ones when ``with_std=False``.
    n_features_in_ : int
        Number of features per time step seen in :meth:`fit`.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same for tabular data.

    Notes
    -----
    Accepted inputs: a 3-D array ``(n_samples, n_timesteps, n_features)``; a 2-D array
    ``(n_samples, n_timesteps)``, read as univariate sequences (one feature, as
    everywhere in rnnlearn); or a list or tuple of arrays ``(n_timesteps_i, n_features)``
    or ``(n_timesteps_i,)`` of varying lengths. :meth:`transform` returns a 3-D array, a
    2-D array or a list of arrays of the same shapes, respectively. Padding from
    :func:`pad_sequences` would enter the statistics, so scale the list before padding.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.preprocessing import SequenceScaler
    >>> X = np.array([[[0.0, 5.0], [2.0, 5.0]], [[4.0, 5.0], [6.0, 5.0]]])
    >>> scaler = SequenceScaler().fit(X)
    >>> print(scaler.mean_, scaler.scale_.round(3))
    [3. 5.] [2.236 1.   ]
    >>> print(scaler.transform(X)[:, :, 0].round(3))
    [[-1.342 -0.447]
     [ 0.447  1.342]]
    >>> [seq.shape for seq in scaler.transform([np.ones((3, 2)), np.ones((1, 2))])]
    [(3, 2), (1, 2)]
    """

    def __init__(self, with_mean=True, with_std=True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None):
        """Compute the per-feature mean and standard deviation.

        Parameters
        ----------
        X : array-like or list of array-like
            Training sequences, in a form listed in the class Notes.
        y : None
            Ignored.

        Returns
        -------
        self : SequenceScaler
            The fitted scaler.
        """
        frames, _ = _to_frames(X)
        mean = frames.mean(axis=0, dtype=np.float64)
        variance = frames.var(axis=0, dtype=np.float64)
        self.mean_ = mean if self.with_mean else np.zeros_like(mean)
        self.scale_ = (
            _scale_from_variance(variance, mean, len(frames))
            if self.with_std
            else np.ones_like(mean)
        )
        self.n_features_in_ = frames.shape[1]
        return self

    def transform(self, X):
        """Standardise sequences with the fitted statistics.

        Parameters
        ----------
        X : array-like or list of array-like
            Sequences with ``n_features_in_`` features per time step.

        Returns
        -------
        X_scaled : ndarray or list of ndarray
            ``(X - mean_) / scale_``, in the same form and shape as ``X``.
        """
        frames, layout = self._fitted_frames(X)
        scaled = (frames - self.mean_) / self.scale_
        return _from_frames(scaled.astype(frames.dtype, copy=False), layout)

    def inverse_transform(self, X):
        """Undo :meth:`transform`.

        Parameters
        ----------
        X : array-like or list of array-like
            Scaled sequences with ``n_features_in_`` features per time step.

        Returns
        -------
        X_original : ndarray or list of ndarray
            ``X * scale_ + mean_``, in the same form and shape as ``X``.
        """
        frames, layout = self._fitted_frames(X)
        restored = frames * self.scale_ + self.mean_
        return _from_frames(restored.astype(frames.dtype, copy=False), layout)

    def _fitted_frames(self, X):
        """Return ``_to_frames(X)`` after checking that the scaler is fitted for ``X``."""
        check_is_fitted(self)
        frames, layout = _to_frames(X)
        if frames.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frames.shape[1]} features per time step, but SequenceScaler is "
                f"expecting {self.n_features_in_} features as input."
            )
        return frames, layout

    def __sklearn_tags__(self):
        """Declare 3-D input support and float32 preservation."""
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# ---------------------------------------------------------------------------------------------
# sliding windows


def _window_starts(n_timesteps, window, horizon, step, name="The series"):
    """Check the window parameters; return the start of every window that has a target."""
    window = check_number("window", window, Integral, low=1)
    horizon = check_number("horizon", horizon, Integral, low=1)
    step = check_number("step", step, Integral, low=1)
    needed = window + horizon
    if n_timesteps < needed:
        raise ValueError(
            f"{name} has {n_timesteps} time steps, but window={window} and "
            f"horizon={horizon} need at least {needed}."
        )
    return np.arange(0, n_timesteps - needed + 1, step)


def _target_columns(values, target):
    """Return the ``target`` column(s) of a series (all of it for None), checking the index."""
    if target is None:
        return values
    columns = _as_2d(values)
    index = np.asarray(target)
    n_features = columns.shape[1]
    if index.dtype.kind not in "iu" or index.ndim > 1 or index.size == 0:
        raise ValueError(f"target must be a column index or a list of them, got {target!r}.")
    if np.any((index < -n_features) | (index >= n_features)):
        raise ValueError(f"target {target!r} is out of range for {n_features} feature(s).")
    return columns[:, index]


def _series_list(series):
    """``[(name, values), ...]``: the checked series of a list of arrays, or the one series.

    A list or tuple whose items are all arrays of at least one dimension (not nested
    lists, which stay one series, as before) is a collection of series.
    """
    listed = isinstance(series, (list, tuple)) and len(series) > 0
    if not listed or any(isinstance(item, (list, tuple)) or np.ndim(item) < 1 for item in series):
        return [("The series", check_series("series", series))]
    named = [(f"series[{i}]", check_series(f"series[{i}]", s)) for i, s in enumerate(series)]
    layouts = {values.shape[1:] for _, values in named}
    if len(layouts) > 1:
        raise ValueError(
            "The series of a list must all be 1-D or all have the same number of features; "
            f"got trailing shapes {sorted(layouts)}."
        )
    return named


def _cut(values, name, window, horizon, step, target, all_steps):
    """``(X, y, ends)`` of one checked series; ``ends`` counts the steps after each window."""
    starts = _window_starts(len(values), window, horizon, step, name)
    X = _as_2d(values)[starts[:, np.newaxis] + np.arange(window)]
    columns = _target_columns(values, target)
    if all_steps:
        y = columns[starts[:, np.newaxis] + window + np.arange(horizon)].reshape(len(X), -1)
    else:
        y = columns[starts + window - 1 + horizon]
    return X, y, len(values) - starts - window


def _cut_all(named, window, horizon, step, target, all_steps):
    """``(X, y)`` of the series, windows ordered by their end counted from their series'."""
    if not isinstance(all_steps, (bool, np.bool_)):
        raise TypeError(f"all_steps must be a bool; got {all_steps!r}.")
    parts = [_cut(values, name, window, horizon, step, target, all_steps) for name, values in named]
    X, y, ends = (np.concatenate(arrays) for arrays in zip(*parts, strict=True))
    order = np.argsort(-ends, kind="stable")
    return X[order], y[order]


def make_windows(series, window, *, horizon=1, step=1, target=None, all_steps=False):
    """Cut a time series, or several, into windows and the values that follow them.

    Window ``i`` covers time steps ``i * step`` to ``i * step + window - 1``; its target is
    the value ``horizon`` steps after its last step, or with ``all_steps=True`` the values
    1 to ``horizon`` steps after it. Only windows with every target are returned.

    Parameters
    ----------
    series : array-like of shape (n_timesteps,) or (n_timesteps, n_features), or list
        A time series, or a list of NumPy arrays: series of any lengths with the same
        features, for one model over all (a nested list of numbers is one series).
    window : int
        Number of time steps per window, at least 1.
    horizon : int, default=1
        Steps from a window's last step to its (last) target, at least 1.
    step : int, default=1
        Distance between the starts of consecutive windows, at least 1.
    target : int, sequence of int or None, default=None
        Feature column(s) to forecast. None forecasts the whole series.
    all_steps : bool, default=False
        Targets for every step 1 to ``horizon`` (multi-horizon forecasting).

    Returns
    -------
    X : ndarray of shape (n_windows, window, n_features)
        The windows (``n_features`` is 1 for a 1-D series), a copy of the data.
    y : ndarray of shape (n_windows,) or (n_windows, n_columns)
        1-D for a 1-D series or an int ``target``, else one column per target. With
        ``all_steps``, ``horizon`` columns for one target, else ``horizon * n_targets``
        step-major: column ``s * n_targets + j`` is target ``j``, ``s + 1`` steps ahead.

    Raises
    ------
    TypeError, ValueError
        For parameters of the wrong type or below 1, a series shorter than ``window +
        horizon``, listed series with different features, a bad ``target`` or sparse input.

    Notes
    -----
    ``n_windows = (n_timesteps - window - horizon) // step + 1`` per series. A list's
    windows are ordered by their last step counted back from their series' end, ties in
    list order, so that the latest are the latest of every series, as the chronological
    hold-out of :class:`~rnnlearn.RNNForecaster` needs (:class:`SlidingWindow` cuts ``X``).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.preprocessing import make_windows
    >>> X, y = make_windows(np.arange(5.0), window=3)
    >>> print(X[:, :, 0], y)
    [[0. 1. 2.]
     [1. 2. 3.]] [3. 4.]
    >>> print(make_windows(np.arange(6.0), window=2, horizon=3, all_steps=True)[1])
    [[2. 3. 4.]
     [3. 4. 5.]]
    >>> print(make_windows([np.arange(4.0), np.arange(10.0, 14.0)], window=2)[1])
    [ 2. 12.  3. 13.]
    """
    return _cut_all(_series_list(series), window, horizon, step, target, all_steps)


class SlidingWindow(TransformerMixin, BaseEstimator):
    """Transformer that cuts a time series into windows: the ``X`` of :func:`make_windows`.

    A pipeline passes ``y`` through untouched, so the windowing of the targets happens
    once, up front, with :func:`make_windows` and the same parameters; the windows that
    this transformer produces line up with those targets. ``Pipeline([("window",
    SlidingWindow(window=10)), ("rnn", estimator)]).fit(series, y)`` then trains on the
    windows, and ``predict(other_series)`` forecasts from every window of a new series
    that has a value ``horizon`` steps after it.

    Parameters
    ----------
    window : int, default=10
        Number of time steps per window, at least 1.
    horizon : int, default=1
        Distance from a window's last step to its target, at least 1; only windows with a
        target exist.
    step : int, default=1
        Distance between the starts of consecutive windows, at least 1.

    Attributes
    ----------
    n_features_in_ : int
        Number of features of the series seen in :meth:`fit` (1 for a 1-D series).

    See Also
    --------
    make_windows : Windows and their targets in one call.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.preprocessing import SlidingWindow, make_windows
    >>> series = np.sin(np.arange(30.0))
    >>> windows = SlidingWindow(window=5, step=2).fit_transform(series)
    >>> X, y = make_windows(series, 5, step=2)
    >>> windows.shape, y.shape, bool(np.array_equal(windows, X))
    ((13, 5, 1), (13,), True)
    """

    def __init__(self, window=10, horizon=1, step=1):
        self.window = window
        self.horizon = horizon
        self.step = step

    def fit(self, X, y=None):
        """Check the parameters and record the number of features.

        Parameters
        ----------
        X : array-like of shape (n_timesteps,) or (n_timesteps, n_features)
            The time series.
        y : None
            Ignored.

        Returns
        -------
        self : SlidingWindow
            The fitted transformer.
        """
        values = check_series("series", X)
        _window_starts(len(values), self.window, self.horizon, self.step)
        self.n_features_in_ = _as_2d(values).shape[1]
        return self

    def transform(self, X):
        """Cut a series into windows.

        Parameters
        ----------
        X : array-like of shape (n_timesteps,) or (n_timesteps, n_features)
            A time series with ``n_features_in_`` features.

        Returns
        -------
        windows : ndarray of shape (n_windows, window, n_features)
            The windows, as in :func:`make_windows`.
        """
        check_is_fitted(self)
        values = check_series("series", X)
        n_features = _as_2d(values).shape[1]
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but SlidingWindow is expecting "
                f"{self.n_features_in_} features as input."
            )
        return make_windows(values, self.window, horizon=self.horizon, step=self.step)[0]

    def __sklearn_tags__(self):
        """Declare that the input is one series, 1-D or 2-D."""
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        return tags
