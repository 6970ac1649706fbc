"""The ``Cell`` contract: a recurrence over a whole sequence, with its backward pass."""

# SPDX-License-Identifier: BSD-3-Clause

from abc import ABC, abstractmethod
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator

from .._validation import ConstrainedHyperparameters, Options
from ..activations import ACTIVATIONS
from ._compiled import kernels as _kernels
from ._threads import single_threaded_blas


class Cell(ConstrainedHyperparameters, BaseEstimator, ABC):
    """Base class of the recurrent cells.

    A cell is a hyperparameter object: it holds its constructor arguments only, so
    :func:`sklearn.base.clone` and nested ``cell__<name>`` parameters work. Weights live in
    the ``params`` dictionaries passed to every method, and everything ``forward`` computes
    for ``backward`` travels in the returned cache. One instance can serve every layer.

    The layer around a cell computes the input projection of all time steps at once,
    ``XW = X @ W_x + b`` with the gates fused in columns (``n_gates * n_hidden`` of them),
    and hands ``XW`` of shape ``(n_timesteps, n_samples, n_gates * n_hidden)`` to the cell,
    which runs the recurrence and, in ``backward``, returns the gradient with respect to
    ``XW`` for all steps, from which the layer forms the gradients of ``W_x``, ``b`` and the
    layer input with single matrix products.

    The built-in cells also take, in place of ``XW``, a :class:`ProjectedInput`: the layer's
    float32 input of one feature with ``W_x`` and ``b``, whose projection their kernels
    compute step by step, with the same bits (``projects_input`` is true for them and false
    by default; a subclass that replaces their ``forward`` sets it back to false).

    A cell of your own follows the same contract: subclass ``Cell``, take hyperparameters
    as constructor arguments, and implement :meth:`forward`, :meth:`backward` and
    :meth:`states`. The cache ``forward`` returns may be any object the cell's own
    ``backward`` and ``states`` understand. :meth:`validate_hyperparameters` checks
    ``activation`` if the cell has one; to check more, extend the class's
    ``_parameter_constraints`` table (parameter name -> ``constraint(value, name)``, which
    returns the value or raises), as the built-in cells do.

    The built-in cells run compiled kernels (``rnnlearn/cells/_kernels.pyx``): per step one
    BLAS product accumulated into the step's gates, then one fused pass over the gate
    nonlinearities and the state update. ``backward`` consumes their cache (it turns the
    stored gates into gate gradients in place). They return :class:`typing.NamedTuple`
    caches (``VanillaCache``, ``GRUCache``, ``LSTMCache``) holding the arrays the kernels
    fill. Their state histories (``H``, and ``C`` for the LSTM) have ``n_timesteps + 1``
    rows: the initial state, then the state after each step, carried unchanged over padding. Their
    ``gates`` are the activated gate values of every step, fused in the cell's gate order
    and held in the ``XW`` buffer (which ``forward`` overwrites). Their ``mask`` is the
    one given to ``forward``.

    Attributes
    ----------
    n_gates : int
        Number of fused gate blocks in ``W_x``, ``W_h`` and ``b``.
    n_states : int
        Number of state vectors carried between steps (2 for the LSTM's ``h`` and ``c``).
    projects_input : bool
        Whether :meth:`forward` and :meth:`predict` take a :class:`ProjectedInput` for
        ``XW``.
    """

    n_gates = 1
    n_states = 1
    projects_input = False
    _parameter_constraints = {"activation": Options(*sorted(ACTIVATIONS))}

    def param_shapes(self, n_inputs, n_hidden):
        """Shapes of this cell's parameters in one layer.

        Parameters
        ----------
        n_inputs : int
            Number of input features of the layer.
        n_hidden : int
            Number of hidden units of the layer.

        Returns
        -------
        dict of str to tuple
            ``W_x`` of shape ``(n_inputs, n_gates * n_hidden)``, ``W_h`` of shape
            ``(n_hidden, n_gates * n_hidden)`` and ``b`` of shape ``(n_gates * n_hidden,)``,
            plus any parameter a subclass adds.
        """
        n_fused = self.n_gates * n_hidden
        return {"W_x": (n_inputs, n_fused), "W_h": (n_hidden, n_fused), "b": (n_fused,)}

    def init_params(self, params, rng):
        """Initialise one layer's parameters in place.

        Input weights are Glorot-uniform per gate block, recurrent weights orthogonal per
        gate block, biases zero (the Keras defaults). Subclasses may adjust biases.

        Parameters
        ----------
        params : dict of str to ndarray
            The layer's parameter views, as shaped by :meth:`param_shapes`; overwritten.
        rng : numpy.random.RandomState
            Source of randomness.
        """
        n_inputs, n_fused = params["W_x"].shape
        n_hidden = n_fused // self.n_gates
        limit = np.sqrt(6.0 / (n_inputs + n_hidden))
        params["W_x"][...] = rng.uniform(-limit, limit, size=(n_inputs, n_fused))
        for gate in range(self.n_gates):
            block = slice(gate * n_hidden, (gate + 1) * n_hidden)
            params["W_h"][:, block] = _orthogonal(n_hidden, rng)
        for name, value in params.items():
            if name not in ("W_x", "W_h"):
                value[...] = 0.0

    @abstractmethod
    def forward(self, params, XW, state0, mask=None):
        """Run the recurrence over a whole batch of sequences.

        Parameters
        ----------
        params : dict of str to ndarray
            The layer's parameters.
        XW : ndarray of shape (n_timesteps, n_samples, n_gates * n_hidden)
            Input projection ``X @ W_x + b`` of every step, time-major. The cell may
            overwrite it (the built-in gated cells compute their gates in this buffer).
        state0 : ndarray of shape (n_states, n_samples, n_hidden)
            Initial state.
        mask : ndarray of shape (n_timesteps, n_samples, 1), default=None
            1 where a step belongs to its sequence, 0 on right padding. On padding the state
            is carried unchanged. ``None`` means every step is valid.

        Returns
        -------
        H : ndarray of shape (n_timesteps, n_samples, n_hidden)
            Hidden state after every step (the layer's output).
        cache : object
            Everything :meth:`backward` and :meth:`states` need, in any form they
            understand (the built-in cells return a :class:`typing.NamedTuple`).
        """

    def predict(self, params, XW, state0, mask=None):
        """Run the recurrence for prediction, keeping nothing for backward.

        The built-in cells run an inference kernel that stores no gates; this default runs
        :meth:`forward` and drops its cache, so a cell of your own needs no override.

        Parameters
        ----------
        params, XW, state0, mask
            As for :meth:`forward` (``XW`` may be overwritten).

        Returns
        -------
        H : ndarray of shape (n_timesteps, n_samples, n_hidden)
            Hidden state after every step.
        """
        return self.forward(params, XW, state0, mask)[0]

    @abstractmethod
    def backward(self, params, cache, dH, grads):
        """Back-propagate through time.

        Parameters
        ----------
        params : dict of str to ndarray
            The layer's parameters, as given to :meth:`forward`.
        cache : object
            As returned by :meth:`forward`.
        dH : ndarray of shape (n_timesteps, n_samples, n_hidden)
            Gradient of the loss with respect to the hidden state after every step.
        grads : dict of str to ndarray
            Output buffers, keyed like ``params``. The cell writes the gradients of its
            recurrent parameters (every key but ``W_x`` and ``b``).

        Returns
        -------
        dXW : ndarray of shape (n_timesteps, n_samples, n_gates * n_hidden)
            Gradient with respect to the input projection.
        dstate0 : ndarray of shape (n_states, n_samples, n_hidden)
            Gradient with respect to the initial state.
        """

    @abstractmethod
    def states(self, cache):
        """Named per-step internal states, for inspection.

        Parameters
        ----------
        cache : object
            As returned by :meth:`forward`.

        Returns
        -------
        dict of str to ndarray of shape (n_timesteps, n_samples, n_hidden)
            Always contains ``"h"``; gated cells add their gates.
        """


def _orthogonal(n, rng):
    """Return a random ``(n, n)`` orthogonal matrix (QR of a Gaussian, signs fixed).

    The QR runs on one BLAS thread, as training does, so that the initial weights cannot
    depend on the thread count either."""
    gaussian = rng.standard_normal((n, n))
    with single_threaded_blas():
        q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))


PROJECTED_MAX_FEATURES = 1
"""Input features up to which a layer hands the built-in cells a :class:`ProjectedInput`
and forms its input weights' and bias's gradients in one pass (``input_grads``).

With one feature the projection ``X @ W_x + b`` of a whole pass costs little arithmetic but
writes its ``(n_timesteps, n_samples, n_gates * n_hidden)`` result to memory and the kernel
reads it back a step at a time: a default ``RNNClassifier`` spent 4 % of an OSULeaf epoch
there. Computed at each step, the step's rows stay in cache, and forward passes took 3 to
9 % less time. With two features the whole pass's packed product was faster (forward 6 to
15 % slower step by step, ``benchmarks/ab_kernels.py --features 2``), so the limit is one;
the kernels take any number."""


class ProjectedInput(NamedTuple):
    """A layer's input projection ``X @ W_x + b``, for a forward kernel to compute step by
    step into its gates buffer (see :class:`Cell`).

    Attributes
    ----------
    X : ndarray of shape (n_timesteps, n_samples, n_features)
        The layer's input, time-major, C-contiguous float32.
    W_x : ndarray of shape (n_features, n_gates * n_hidden)
        Input weights.
    b : ndarray of shape (n_gates * n_hidden,)
        Bias.
    """

    X: np.ndarray
    W_x: np.ndarray
    b: np.ndarray


def forward_inputs(W_h, XW, mask):
    """What a forward kernel takes: ``(gates, W_h, mask, projection)``.

    For an ``XW`` array, :func:`kernel_inputs` and no ``projection``; for a
    :class:`ProjectedInput`, a new gates buffer and the keywords ``X``, ``W_x`` and ``b``
    with which the kernel fills it at every step.
    """
    if not isinstance(XW, ProjectedInput):
        return (*kernel_inputs(W_h, XW, mask), {})
    X = kernel_array(XW.X)
    gates = np.empty((*X.shape[:2], XW.W_x.shape[1]), dtype=X.dtype)
    projection = {"X": X, "W_x": kernel_array(XW.W_x, X.dtype), "b": kernel_array(XW.b, X.dtype)}
    return (*kernel_inputs(W_h, gates, mask), projection)


def split_gates(gates, n_gates):
    """Views of the ``n_gates`` equal blocks of the last axis of ``gates``.

    Parameters
    ----------
    gates : ndarray of shape (..., n_gates * n_hidden)
        Fused gate values (or their gradients), blocks in the cell's gate order.
    n_gates : int
        Number of blocks.

    Returns
    -------
    tuple of ndarray of shape (..., n_hidden)
        One view per gate, in order.
    """
    n_hidden = gates.shape[-1] // n_gates
    return tuple(gates[..., k * n_hidden : (k + 1) * n_hidden] for k in range(n_gates))


def named_states(H, gate_names="", gates=None, **histories):
    """The dictionary :meth:`Cell.states` returns, from a built-in cell's cache fields.

    Parameters
    ----------
    H : ndarray of shape (n_timesteps + 1, n_samples, n_hidden)
        Hidden-state history, the initial state first (it is left out).
    gate_names : str, default=""
        One letter per fused gate block of ``gates``, in order.
    gates : ndarray of shape (n_timesteps, n_samples, n_gates * n_hidden), default=None
        Activated gate values of every step.
    **histories : ndarray of shape (n_timesteps + 1, n_samples, n_hidden)
        Further state histories (the LSTM's ``c``), initial state first.

    Returns
    -------
    dict of str to ndarray of shape (n_timesteps, n_samples, n_hidden)
        ``"h"``, then each of ``histories``, then each gate.
    """
    named = {"h": H[1:]}
    named.update((name, history[1:]) for name, history in histories.items())
    if gate_names:
        named.update(zip(gate_names, split_gates(gates, len(gate_names)), strict=True))
    return named


def kernel_inputs(W_h, XW, mask):
    """``XW``, ``W_h`` and ``mask`` as the compiled kernels take them.

    C-contiguous, writeable (the kernels' typed memoryviews refuse read-only buffers, such
    as weights loaded from a memory map; those are copied) and of ``XW``'s dtype.
    """
    XW = np.ascontiguousarray(XW)
    return XW, kernel_array(W_h, XW.dtype), None if mask is None else kernel_array(mask, XW.dtype)


def valid_lengths(mask):
    """Each sequence's steps up to its last valid one, as weight_grad takes them.

    Parameters
    ----------
    mask : ndarray of shape (n_timesteps, n_samples, 1) or None
        Step mask (1 on valid steps), or ``None`` when every step is valid.

    Returns
    -------
    ndarray of intp of shape (n_samples,) or None
        The steps after these are padding, whose gradients are zero, so a weight gradient
        skips their rows; ``None`` without a mask.
    """
    if mask is None:
        return None
    reversed_valid = mask[::-1, :, 0] != 0
    last = len(mask) - reversed_valid.argmax(axis=0)
    return np.where(reversed_valid.any(axis=0), last, 0).astype(np.intp)


def kernel_array(array, dtype=None):
    """``array`` as a C-contiguous, writeable array of ``dtype`` (``None``: its own),
    copied only if needed.

    An array that already is so comes back at once, sparing ``np.require``'s cost, which
    a prediction pays for every weight it passes to a kernel."""
    if isinstance(array, np.ndarray) and (dtype is None or array.dtype == dtype):
        flags = array.flags
        if flags.c_contiguous and flags.writeable:
            return array
    return np.require(array, dtype=dtype, requirements=["C", "W"])


def column_sums(D, out, col0=0):
    """``out[...] = D[:, col0 : col0 + len(out)].sum(axis=0)``: a bias gradient, bit for bit.

    NumPy sums two columns or more of a C-contiguous ``D`` a row at a time, from zero, as
    the compiled kernel does in one call (NumPy pays an inner-loop call a row), but a
    single column pairwise, so that one (and a ``D`` of another layout or dtype, from a
    cell of one's own) is NumPy's.

    Parameters
    ----------
    D : ndarray of shape (n_rows, n_columns)
        Gradients of every step and sequence, such as ``dXW`` flattened.
    out : ndarray of shape (n,)
        Where the sums go.
    col0 : int, default=0
        First column summed.
    """
    n = len(out)
    if n == 1 or D.dtype != out.dtype or not D.flags.c_contiguous:
        np.add.reduce(D[:, col0 : col0 + n], axis=0, out=out)  # np.sum, without its wrapper
    else:
        _kernels.column_sums(kernel_array(D), out, col0)  # a read-only D is copied
