"""Argument and input checks shared by rnnlearn, raising clear errors in one style.

Wrong types raise ``TypeError`` and wrong values ``ValueError``; messages name the argument.
"""

# SPDX-License-Identifier: BSD-3-Clause

import math
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.utils import check_array


def check_number(name, value, kind, low=None, high=None, *, open_ends="", allow_none=False):
    """Check that ``value`` is a finite number of type ``kind`` within the bounds.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : object
        The argument to check. Bools are not numbers.
    kind : {numbers.Integral, numbers.Real}
        Accepted type.
    low, high : int or float, default=None
        Bounds, or None for no bound on that side.
    open_ends : {"", "low", "high", "low high"}, default=""
        The bounds that are excluded.
    allow_none : bool, default=False
        Whether None is accepted (and returned as is).

    Returns
    -------
    value : int, float or None
        ``value`` as a Python int for ``kind=Integral``, otherwise as a float.

    Raises
    ------
    TypeError
        If ``value`` is not a ``kind`` (or is a bool).
    ValueError
        If ``value`` is out of bounds, NaN or infinite.

    Examples
    --------
    >>> from numbers import Integral
    >>> check_number("n", 3, Integral, low=1)
    3
    >>> check_number("n", 0, Integral, low=1)
    Traceback (most recent call last):
    ...
    ValueError: n must be in [1, inf); got 0.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        article = "an int" if kind is Integral else "a number"
        raise TypeError(f"{name} must be {article}; got {value!r}.")
    below = low is not None and (value <= low if "low" in open_ends else value < low)
    above = high is not None and (value >= high if "high" in open_ends else value > high)
    finite = isinstance(value, Integral) or math.isfinite(value)
    if below or above or not finite:
        interval = (
            f"{'(' if 'low' in open_ends else '['}{low}, "
            f"{'inf)' if high is None else str(high) + (')' if 'high' in open_ends else ']')}"
        )
        raise ValueError(f"{name} must be in {interval}; got {value!r}.")
    return int(value) if kind is Integral else float(value)


class Interval:
    """Constraint: a finite number of type ``kind`` within bounds.

    Parameters
    ----------
    kind, low, high, open_ends, allow_none
        As for :func:`check_number`, which checks the values.
    """

    def __init__(self, kind, low=None, high=None, *, open_ends="", allow_none=False):
        self.kind, self.low, self.high = kind, low, high
        self.open_ends, self.allow_none = open_ends, allow_none

    def __call__(self, value, name):
        """Return ``value`` checked, as :func:`check_number` does; ``name`` is for messages."""
        return check_number(
            name,
            value,
            self.kind,
            self.low,
            self.high,
            open_ends=self.open_ends,
            allow_none=self.allow_none,
        )


class Options:
    """Constraint: one of a few strings, listed in messages in the order given.

    Parameters
    ----------
    *values : str
        The accepted strings.
    """

    def __init__(self, *values):
        self.values = values

    def __call__(self, value, name):
        """Return ``value`` if it is one of the options, else raise ``ValueError``."""
        if not isinstance(value, str) or value not in self.values:
            raise ValueError(f"{name} must be one of {list(self.values)}; got {value!r}.")
        return value


class Flag:
    """Constraint: a bool (Python's or NumPy's)."""

    def __call__(self, value, name):
        """Return ``value`` if it is a bool, else raise ``TypeError``."""
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{name} must be a bool; got {value!r}.")
        return value


class Component:
    """Constraint: a hyperparameter object, given as one or by a string alias.

    An alias gives a fresh object of its class, an object gives a clone; either way the
    object's own hyperparameters are checked, named ``<name>__<parameter>`` in messages.

    Parameters
    ----------
    aliases : dict of str to type
        Alias -> class.
    base : type
        The class every object must be an instance of.
    """

    def __init__(self, aliases, base):
        self.aliases, self.base = aliases, base

    def __call__(self, value, name):
        """Return the resolved and checked object; raise ``ValueError`` or ``TypeError``."""
        choices = f"{name} must be one of {sorted(self.aliases)} or a {self.base.__name__}"
        if isinstance(value, str):
            if value not in self.aliases:
                raise ValueError(f"{choices}; got {value!r}.")
            component = self.aliases[value]()
        elif isinstance(value, self.base):
            component = clone(value)
        else:
            raise TypeError(f"{choices} instance; got {value!r}.")
        component.validate_hyperparameters(prefix=name + "__")
        return component


DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}
"""Name -> dtype: the floating types a network can train and predict in."""


def check_dtype(value, name="dtype"):
    """The dtype that ``value`` names: ``'float32'``, ``'float64'``, a NumPy type or dtype."""
    if isinstance(value, str):
        dtype_name = value
    elif isinstance(value, np.dtype):
        dtype_name = value.name
    elif value is np.float32 or value is np.float64:
        dtype_name = value.__name__
    else:
        dtype_name = None
    if dtype_name not in DTYPES:
        raise ValueError(
            f"{name} must be one of {sorted(DTYPES)} (or numpy.float32, numpy.float64); "
            f"got {value!r}."
        )
    return DTYPES[dtype_name]


def check_layer_sizes(value, name):
    """Layer sizes as a tuple of ints: a positive int or a non-empty sequence of them."""
    sizes = (value,) if isinstance(value, Integral) else value
    if (
        not isinstance(sizes, tuple | list | np.ndarray)
        or len(sizes) == 0
        or not all(isinstance(n, Integral) and not isinstance(n, bool) and n > 0 for n in sizes)
    ):
        raise ValueError(
            f"{name} must be a positive int or a non-empty tuple of positive ints; got {value!r}."
        )
    return tuple(int(n) for n in sizes)


def check_verbosity(value, name):
    """A verbosity level: a non-negative int, or a bool (0 or 1)."""
    return Interval(Integral, 0)(int(value) if isinstance(value, bool) else value, name)


def check_callback_list(value, name):
    """Callbacks as a tuple: ``None`` (none) or a list or tuple of callables."""
    callbacks = value if value is not None else []
    if not isinstance(callbacks, list | tuple) or not all(callable(c) for c in callbacks):
        raise TypeError(
            f"{name} must be a list of Callback objects or functions "
            f"f(estimator, record); got {value!r}."
        )
    return tuple(callbacks)


def check_params(params, constraints, *, prefix="", unlisted=None):
    """Check each parameter against its constraint; return the checked values.

    Parameters
    ----------
    params : dict of str to object
        Parameter name -> value, as ``get_params(deep=False)`` gives them.
    constraints : dict of str to callable or None
        Parameter name -> ``constraint(value, name)``, which returns the checked (or
        resolved) value or raises ``TypeError`` or ``ValueError`` naming ``name``; ``None``
        leaves the parameter to be checked where it is used.
    prefix : str, default=""
        Put before each name in messages (``"cell__"`` for a cell in an estimator).
    unlisted : callable or None, default=None
        The constraint of parameters missing from ``constraints``.

    Returns
    -------
    dict of str to object
        Name -> checked value, for every parameter.
    """
    checked = {}
    for name, value in params.items():
        constraint = constraints.get(name, unlisted)
        checked[name] = value if constraint is None else constraint(value, prefix + name)
    return checked


class ConstrainedHyperparameters:
    """Mixin of hyperparameter objects (cells, optimizers, losses) checked from a table.

    A subclass declares ``_parameter_constraints``, parameter name -> constraint
    (:class:`Interval`, :class:`Options`, :class:`Flag` or any ``constraint(value, name)``),
    extending its parent's table; ``_unlisted_constraint`` checks the parameters the
    table leaves out (``None``: they are not checked).
    """

    _parameter_constraints = {}
    _unlisted_constraint = None

    def validate_hyperparameters(self, prefix=""):
        """Raise ``TypeError`` or ``ValueError`` for an invalid hyperparameter.

        Estimators call this once before training, so a bad value fails before anything
        happens; the object is not changed.

        Parameters
        ----------
        prefix : str, default=""
            Put before each parameter's name in messages (``"cell__"``,
            ``"optimizer__"`` or ``"loss__"`` in an estimator).
        """
        check_params(
            self.get_params(deep=False),
            self._parameter_constraints,
            prefix=prefix,
            unlisted=self._unlisted_constraint,
        )


def check_dense(name, value, expected=""):
    """Raise ``TypeError`` if ``value`` is a scipy sparse matrix or array.

    ``expected`` is appended to the message, e.g. ``", e.g. a 3-D array"``.
    """
    if sparse.issparse(value):
        raise TypeError(f"Sparse input is not supported: {name} must be dense{expected}.")


def check_real_array(name, values):
    """Return ``values`` as an ndarray of bool, integer or floating dtype.

    Object arrays of real numbers (e.g. ints too large for 64 bits) become float64; other
    dtypes raise ``TypeError``.
    """
    array = np.asarray(values)
    if array.dtype.kind == "O" and all(isinstance(v, Real) for v in array.flat):
        array = array.astype(np.float64)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}.")
    return array


def check_finite_vector(name, values):
    """Return ``values`` as a non-empty 1-D float64 array of finite numbers."""
    array = check_real_array(name, values).astype(np.float64)
    if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers, got {values!r}.")
    return array


def check_sequence_list(name, sequences):
    """Return a collection of sequences as numeric arrays of their own shapes.

    Each sequence must be non-empty, ``(n_timesteps_i,)`` or ``(n_timesteps_i,
    n_features)``, with as many features as the first (a 1-D sequence has one); NaN is
    allowed. Raises ``ValueError`` otherwise, and if there are no sequences.
    """
    arrays = [check_real_array(f"{name}[{i}]", seq) for i, seq in enumerate(sequences)]
    if not arrays:
        raise ValueError(f"{name} is empty: at least one sequence is needed.")
    for i, array in enumerate(arrays):
        if array.ndim not in (1, 2):
            raise ValueError(
                f"{name}[{i}] has shape {array.shape}; each sequence must be "
                "(n_timesteps,) or (n_timesteps, n_features)."
            )
        if array.size == 0:
            raise ValueError(f"{name}[{i}] has shape {array.shape}: sequences must not be empty.")
        width, n_features = _n_features(array), _n_features(arrays[0])
        if width != n_features:
            raise ValueError(f"{name}[{i}] has {width} features, but {name}[0] has {n_features}.")
    return arrays


def _n_features(sequence):
    """Number of features of a 1-D or 2-D sequence."""
    return sequence.shape[1] if sequence.ndim == 2 else 1


def check_series(name, series):
    """Return a dense numeric time series of shape (n_timesteps,) or (n_timesteps, n_features).

    Raises ``TypeError`` for sparse or non-numeric input and ``ValueError`` for other
    shapes or no features. The series is not copied.
    """
    check_dense(name, series)
    values = check_real_array(name, series)
    if values.ndim not in (1, 2) or (values.ndim == 2 and values.shape[1] == 0):
        raise ValueError(
            f"{name} must have shape (n_timesteps,) or (n_timesteps, n_features), "
            f"got {values.shape}."
        )
    return values


def check_sequences(X, *, dtype=(np.float64, np.float32)):
    """Validate sequences and return them as one right-padded 3-D array.

    Parameters
    ----------
    X : array-like or list of array-like
        ``(n_samples, n_timesteps, n_features)``; ``(n_samples, n_timesteps)`` for
        univariate series; or a list of ``(n_timesteps_i, n_features)`` or
        ``(n_timesteps_i,)`` arrays of possibly different lengths.
    dtype : type or tuple of types, default=(numpy.float64, numpy.float32)
        Accepted floating types; other inputs are converted to the first.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, n_features)
        Right-padded with zeros when lengths differ.
    lengths : ndarray of int of shape (n_samples,) or None
        Length of each sequence, or ``None`` when all have ``n_timesteps`` steps.

    Raises
    ------
    TypeError
        For sparse matrices.
    ValueError
        For empty input, non-numeric or non-finite values, and shapes that are not
        sequences.
    """
    if X is None:
        raise ValueError("X is None; pass sequences as an array or a list of arrays.")
    check_dense(
        "X", X, ", e.g. an (n_samples, n_timesteps[, n_features]) array or a list of arrays"
    )
    if isinstance(X, list | tuple) and len(X) and not np.isscalar(X[0]):
        return _pad([_as_sequence(x, i, dtype) for i, x in enumerate(X)])
    X = check_array(X, dtype=dtype, allow_nd=True, ensure_2d=False, input_name="X")
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3:
        raise ValueError(
            f"X must be 2-D (n_samples, n_timesteps) or 3-D (n_samples, n_timesteps, "
            f"n_features), or a list of sequences; got an array of shape {X.shape}. Reshape "
            f"your data: a single series of shape (n_timesteps,) is X.reshape(1, -1)."
        )
    if X.shape[1] == 0 or X.shape[2] == 0:
        raise ValueError(f"X has shape {X.shape}: sequences need at least one step and feature.")
    return X, None


def check_fitted_sequences(X, n_features, dtype, estimator):
    """Validate sequences for a fitted model: ``(X_time_major, lengths, input_dtype)``.

    A ready float array (see :func:`ready_time_major`) goes straight through; anything else
    gets :func:`check_sequences`, the feature count and :func:`check_representable`.

    Parameters
    ----------
    X : array-like or list of array-like
        Sequences, as :func:`check_sequences` takes them.
    n_features : int
        Features per step the model was fitted with.
    dtype : numpy.dtype
        The model's floating type.
    estimator : str
        The estimator's class name, for the message of a wrong feature count.

    Returns
    -------
    X_time_major : ndarray of shape (n_timesteps, n_samples, n_features)
        C-contiguous, in ``dtype``, right-padded.
    lengths : ndarray of int of shape (n_samples,) or None
        As :func:`check_sequences` returns them.
    input_dtype : numpy.dtype
        What predictions come back in: float32 for float32 input, float64 for any other.
    """
    X_tm = ready_time_major(X, n_features, dtype)
    if X_tm is not None:
        return X_tm, None, X.dtype
    X, lengths = check_sequences(X)
    if X.shape[2] != n_features:
        raise ValueError(
            f"X has {X.shape[2]} features per time step, but {estimator} is expecting "
            f"{n_features} features as input."
        )
    return check_representable("X", X.transpose(1, 0, 2), dtype), lengths, X.dtype


def ready_time_major(X, n_features, dtype):
    """``X`` time-major in ``dtype`` if it is a ready array of sequences, else ``None``.

    The fast path of prediction: an ``ndarray`` (not a subclass) of native float32 or
    float64, ``(n_samples, n_timesteps[, n_features])`` with no empty axis, ``n_features``
    features and finite values passes :func:`check_sequences` unchanged, so only
    :func:`check_representable` remains (which refuses float64 values too large for
    ``dtype``). For anything else the caller runs the full checks, which raise their
    usual errors.

    Parameters
    ----------
    X : object
        What the user passed.
    n_features : int
        Features per step the model reads.
    dtype : numpy.dtype
        The model's floating type.

    Returns
    -------
    ndarray of shape (n_timesteps, n_samples, n_features) or None
        C-contiguous, in ``dtype``; ``None`` when ``X`` needs the full checks.
    """
    if type(X) is not np.ndarray or X.dtype not in DTYPES.values() or X.ndim not in (2, 3):
        return None
    if X.ndim == 2:
        X = X[:, :, None]
    if 0 in X.shape or X.shape[2] != n_features:
        return None
    if not np.isfinite(X).all():  # one test per value (min and max took two reductions)
        return None
    if X.dtype != dtype:
        return check_representable("X", X.transpose(1, 0, 2), dtype)
    return np.ascontiguousarray(X.transpose(1, 0, 2))


def _as_sequence(x, index, dtype):
    """One sequence of a list as a 2-D ``(n_timesteps, n_features)`` array."""
    check_dense(f"X[{index}]", x)
    if np.shape(x)[:1] == (0,):
        raise ValueError(f"X[{index}] has no time steps; every sequence needs at least one.")
    x = check_array(x, dtype=dtype, ensure_2d=False, input_name=f"X[{index}]")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(
            f"Each sequence in a list X must be 1-D (n_timesteps,) or 2-D (n_timesteps, "
            f"n_features); X[{index}] has shape {x.shape}."
        )
    if x.shape[1] == 0:
        raise ValueError(f"X[{index}] has no features.")
    return x


def _pad(sequences):
    """Right-pad 2-D sequences into ``(n, T_max, F)`` and return it with the lengths."""
    n_features = {x.shape[1] for x in sequences}
    if len(n_features) > 1:
        raise ValueError(
            f"All sequences in X must have the same number of features; got {sorted(n_features)}."
        )
    lengths = np.array([len(x) for x in sequences])
    X = right_pad(sequences)
    return X, (None if np.all(lengths == X.shape[1]) else lengths)


def right_pad(arrays, n_steps=None, dtype=None, value=None):
    """Right-pad 2-D arrays ``(n_steps_i, width)`` of one width into one 3-D array.

    The one padding routine of rnnlearn (sequences, targets, ``pad_sequences``).

    Parameters
    ----------
    arrays : sequence of ndarray of shape (n_steps_i, width)
        At least one array, none longer than ``n_steps``.
    n_steps : int, default=None
        Steps of the result; ``None`` takes the longest array's.
    dtype : data-type, default=None
        Type of the result; ``None`` takes the arrays' common type.
    value : object, default=None
        Fill value of the padding; ``None`` fills with zeros of ``dtype`` (empty strings
        for text labels).

    Returns
    -------
    ndarray of shape (len(arrays), n_steps, width)
        ``result[i, :len(arrays[i])]`` is ``arrays[i]``; the rest is padding.
    """
    n_steps = max(len(array) for array in arrays) if n_steps is None else n_steps
    dtype = np.result_type(*arrays) if dtype is None else dtype
    shape = (len(arrays), n_steps, arrays[0].shape[1])
    padded = np.zeros(shape, dtype) if value is None else np.full(shape, value, dtype)
    for row, array in zip(padded, arrays, strict=True):
        row[: len(array)] = array
    return padded


def check_targets(y, n_samples, lengths, *, sequence, numeric=True):
    """Validate targets and return them with an output axis.

    Parameters
    ----------
    y : array-like or list of array-like
        Many-to-one: ``(n_samples,)`` or ``(n_samples, n_outputs)``. Sequence output:
        ``(n_samples, n_steps)`` or ``(n_samples, n_steps, n_outputs)``, or, for
        variable-length synced sequences, a list of ``(n_timesteps_i[, n_outputs])``.
    n_samples : int
        Number of samples in ``X``.
    lengths : ndarray of int or None
        Sequence lengths of ``X`` (see :func:`check_sequences`).
    sequence : bool
        Whether there is one target per step.
    numeric : bool, default=True
        Convert to float (regression) or keep labels as they are (classification).

    Returns
    -------
    y : ndarray of shape (n_samples, n_steps, n_outputs)
        With ``n_steps = 1`` for many-to-one.
    squeeze : bool
        Whether the user gave no output axis (so predictions drop it too).
    """
    if y is None:
        raise ValueError("This estimator requires y to be passed, but the target y is None.")
    dtype = "numeric" if numeric else None
    if sequence and isinstance(y, list | tuple) and len(y) and not np.isscalar(y[0]):
        y, squeeze = _padded_target_list(y, dtype, n_samples, lengths)
    else:
        y = check_array(y, dtype=dtype, ensure_2d=False, allow_nd=True, input_name="y")
        squeeze = y.ndim == (2 if sequence else 1)
        if sequence:
            if y.ndim not in (2, 3):
                raise ValueError(
                    f"With sequence output, y must be (n_samples, n_steps[, "
                    f"n_outputs]); got shape {y.shape}."
                )
        elif y.ndim not in (1, 2):
            raise ValueError(
                f"With output_mode='last', y must be (n_samples,) or (n_samples, "
                f"n_outputs); got shape {y.shape}."
            )
        y = y.reshape(y.shape[0], -1 if sequence else 1, y.shape[-1] if not squeeze else 1)
    if len(y) != n_samples:
        raise ValueError(f"X and y have inconsistent numbers of samples: {n_samples} and {len(y)}.")
    return y, squeeze


def _padded_target_list(y, dtype, n_samples, lengths):
    """Synced targets given as a list of sequences: ``(padded, squeeze)`` (see check_targets)."""
    parts = [check_array(v, dtype=dtype, ensure_2d=False, input_name="y") for v in y]
    squeeze = parts[0].ndim == 1
    parts = [v[:, None] if v.ndim == 1 else v for v in parts]
    if lengths is not None and len(parts) == n_samples:
        bad = [i for i, v in enumerate(parts) if len(v) != lengths[i]]
        if bad:
            raise ValueError(
                f"y[{bad[0]}] has {len(parts[bad[0]])} steps but X[{bad[0]}] has {lengths[bad[0]]}."
            )
    return right_pad(parts), squeeze


def check_sample_weight(sample_weight, n_samples, dtype):
    """Validate ``sample_weight`` and return it as a float array of shape ``(n_samples,)``."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, sample_weight, dtype=dtype)
    sample_weight = check_array(
        sample_weight, dtype=dtype, ensure_2d=False, input_name="sample_weight"
    )
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},); got {sample_weight.shape}."
        )
    if np.any(sample_weight < 0):
        raise ValueError("sample_weight must be non-negative.")
    if not np.any(sample_weight > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def check_representable(name, values, dtype):
    """Return finite ``values`` as a C-contiguous ``dtype`` array, refusing overflow.

    Raises ``ValueError`` if a value is too large for ``dtype`` (float64 data beyond
    float32's range), advising ``dtype='float64'``.
    """
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(values, dtype=dtype)
    if converted.dtype != values.dtype and not np.all(np.isfinite(converted)):
        raise ValueError(
            f"{name} has values too large for {converted.dtype.name} (whose largest is "
            f"{np.finfo(converted.dtype).max:.3g}); use dtype='float64' or rescale {name}."
        )
    return converted
