"""Optimizers as hyperparameter objects over explicit state, plus clipping and L2 helpers."""

# SPDX-License-Identifier: BSD-3-Clause

from abc import ABC, abstractmethod
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator

from ._validation import ConstrainedHyperparameters, Flag, Interval


class Optimizer(ConstrainedHyperparameters, BaseEstimator, ABC):
    """Base class of the optimizers.

    An optimizer holds hyperparameters only. Its working state (velocities, accumulators,
    counters) is a dict made by :meth:`init` and carried by the caller, so the same object
    can be cloned, grid-searched and pickled, and a fit can resume exactly from a stored
    state. :meth:`update` steps the caller's parameter and state arrays in place (they are
    the training loop's working copies) and never changes the optimizer object.

    Every optimizer has ``learning_rate`` and ``decay``: the rate used during epoch ``e``
    (counted from 0) is ``learning_rate * decay**e * scale``, with ``decay`` the R package's
    ``learningrate_decay`` and ``scale`` (1 at first) the state's ``"learning_rate_scale"``,
    which a plateau schedule lowers (see :func:`cut_learning_rate_on_plateau`).
    """

    _parameter_constraints = {
        "learning_rate": Interval(Real, 0, open_ends="low"),
        "decay": Interval(Real, 0, 1, open_ends="low"),
        "epsilon": Interval(Real, 0),
        "momentum": Interval(Real, 0, 1, open_ends="high"),
        "rho": Interval(Real, 0, 1, open_ends="high"),
        "beta_1": Interval(Real, 0, 1, open_ends="high"),
        "beta_2": Interval(Real, 0, 1, open_ends="high"),
        "nesterov": Flag(),
    }
    """Parameter name -> constraint, for every built-in optimizer's hyperparameters."""

    _unlisted_constraint = Interval(Real)
    """The hyperparameters of an optimizer of your own need only be finite numbers."""

    def init(self, params):
        """Make the state for a parameter vector.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            Flat parameters.

        Returns
        -------
        dict
            ``"epoch"`` and ``"step"`` counters, the ``"learning_rate_scale"`` (1.0), and
            the optimizer's arrays, shaped and typed like ``params``.
        """
        state = {"epoch": 0, "step": 0, "learning_rate_scale": 1.0}
        for name in self._state_arrays:
            state[name] = np.zeros_like(params)
        return state

    def learning_rate_at(self, state):
        """The learning rate of the current epoch, ``learning_rate * decay**epoch * scale``.

        Parameters
        ----------
        state : dict
            As made by :meth:`init`.

        Returns
        -------
        float
        """
        scale = state["learning_rate_scale"]
        return self.learning_rate * self.decay ** state["epoch"] * scale

    def end_epoch(self, state):
        """Advance the epoch counter (and so the learning-rate decay) in ``state``."""
        state["epoch"] += 1

    def update(self, params, grads, state):
        """Take one step: change ``params`` and ``state`` in place.

        Parameters
        ----------
        params : ndarray of shape (n_params,)
            Flat parameters, updated in place.
        grads : ndarray of shape (n_params,)
            Gradient of the loss; may be overwritten.
        state : dict
            As made by :meth:`init`, updated in place.
        """
        state["step"] += 1
        self._step(params, grads, state, self.learning_rate_at(state))

    @abstractmethod
    def _step(self, params, grads, state, learning_rate):
        """The update rule proper, given the current learning rate."""


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and per-epoch learning-rate decay.

    Parameters
    ----------
    learning_rate : float, default=0.01
        Step size.
    momentum : float, default=0.9
        Momentum factor ``mu`` in ``[0, 1)``.
    nesterov : bool, default=False
        Use Nesterov's momentum.
    decay : float, default=1.0
        Learning-rate multiplier applied after every epoch (the R package's
        ``learningrate_decay``); 1 means no decay.

    Notes
    -----
    PyTorch's formulation: :math:`v \\leftarrow \\mu v + g`, then
    :math:`w \\leftarrow w - \\eta v` (or :math:`w - \\eta (g + \\mu v)` with Nesterov).
    The R package's momentum is multiplied by the learning rate again at each step (its
    effective momentum is ``lr * momentum``); this one is not.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.optimizers import SGD
    >>> sgd = SGD(learning_rate=0.1, momentum=0.5)
    >>> w = np.array([1.0]); state = sgd.init(w)
    >>> sgd.update(w, np.array([2.0]), state); w
    array([0.8])
    >>> sgd.update(w, np.array([2.0]), state); w
    array([0.5])
    """

    _state_arrays = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=False, decay=1.0):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.decay = decay

    def _step(self, params, grads, state, learning_rate):
        velocity = state["velocity"]
        velocity *= self.momentum
        velocity += grads
        if self.nesterov:
            grads += self.momentum * velocity
            step = grads
        else:
            step = velocity
        params -= learning_rate * step


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): per-parameter steps scaled by accumulated squares.

    Parameters
    ----------
    learning_rate : float, default=0.01
        Step size.
    epsilon : float, default=1e-10
        Added to the denominator.
    decay : float, default=1.0
        Learning-rate multiplier applied after every epoch.

    Notes
    -----
    :math:`G \\leftarrow G + g^2`, :math:`w \\leftarrow w - \\eta g / (\\sqrt{G} + \\epsilon)`.
    The R package's ``adagrad`` divides by a running sum of raw updates without squares
    or a square root; that is not reproduced.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.optimizers import Adagrad
    >>> opt = Adagrad(learning_rate=0.5, epsilon=0.0)
    >>> w = np.array([1.0]); state = opt.init(w)
    >>> opt.update(w, np.array([4.0]), state); w
    array([0.5])
    """

    _state_arrays = ("sum_of_squares",)

    def __init__(self, learning_rate=0.01, epsilon=1e-10, decay=1.0):
        self.learning_rate = learning_rate
        self.epsilon = epsilon
        self.decay = decay

    def _step(self, params, grads, state, learning_rate):
        squares = state["sum_of_squares"]
        squares += grads * grads
        grads /= np.sqrt(squares) + self.epsilon
        params -= learning_rate * grads


class RMSprop(Optimizer):
    """RMSprop (Tieleman and Hinton, 2012): steps scaled by a running mean of squares.

    Parameters
    ----------
    learning_rate : float, default=0.001
        Step size.
    rho : float, default=0.9
        Decay of the running mean of squared gradients, in ``[0, 1)``.
    epsilon : float, default=1e-8
        Added to the denominator.
    decay : float, default=1.0
        Learning-rate multiplier applied after every epoch.

    Notes
    -----
    :math:`s \\leftarrow \\rho s + (1 - \\rho) g^2`,
    :math:`w \\leftarrow w - \\eta g / (\\sqrt{s} + \\epsilon)`.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.optimizers import RMSprop
    >>> opt = RMSprop(learning_rate=0.1, rho=0.75, epsilon=0.0)
    >>> w = np.array([1.0]); state = opt.init(w)
    >>> opt.update(w, np.array([2.0]), state); w
    array([0.8])
    """

    _state_arrays = ("mean_square",)

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-8, decay=1.0):
        self.learning_rate = learning_rate
        self.rho = rho
        self.epsilon = epsilon
        self.decay = decay

    def _step(self, params, grads, state, learning_rate):
        mean_square = state["mean_square"]
        mean_square *= self.rho
        mean_square += (1 - self.rho) * grads * grads
        grads /= np.sqrt(mean_square) + self.epsilon
        params -= learning_rate * grads


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015) with bias correction.

    Parameters
    ----------
    learning_rate : float, default=0.003
        Step size: three times Keras' and PyTorch's default, which, with the estimators'
        gradient clipping and plateau schedule, trained clearly better on the real series
        the defaults were chosen on (see the user guide's "Default settings").
    beta_1, beta_2 : float, default=0.9, 0.999
        Decays of the first and second moment estimates, in ``[0, 1)``.
    epsilon : float, default=1e-8
        Added to the denominator.
    decay : float, default=1.0
        Learning-rate multiplier applied after every epoch.

    Notes
    -----
    With step count :math:`t`: :math:`m \\leftarrow \\beta_1 m + (1 - \\beta_1) g`,
    :math:`v \\leftarrow \\beta_2 v + (1 - \\beta_2) g^2`,
    :math:`w \\leftarrow w - \\eta \\hat m / (\\sqrt{\\hat v} + \\epsilon)` with
    :math:`\\hat m = m / (1 - \\beta_1^t)` and :math:`\\hat v = v / (1 - \\beta_2^t)`.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.optimizers import Adam
    >>> opt = Adam(learning_rate=0.1, epsilon=0.0)
    >>> w = np.array([1.0]); state = opt.init(w)
    >>> opt.update(w, np.array([3.0]), state); w
    array([0.9])
    """

    _state_arrays = ("first_moment", "second_moment")

    def __init__(self, learning_rate=0.003, beta_1=0.9, beta_2=0.999, epsilon=1e-8, decay=1.0):
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.decay = decay

    def _step(self, params, grads, state, learning_rate):
        first, second, t = state["first_moment"], state["second_moment"], state["step"]
        first *= self.beta_1
        first += (1 - self.beta_1) * grads
        second *= self.beta_2
        grads *= grads
        second += (1 - self.beta_2) * grads
        corrected_rate = learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        denominator = np.sqrt(second)
        denominator += self.epsilon * np.sqrt(1 - self.beta_2**t)
        params -= corrected_rate * first / denominator


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}
"""Optimizer name -> class, for the estimators' ``optimizer`` string aliases."""


PLATEAU_FACTOR = 0.2
"""What the plateau schedule multiplies the learning rate by (divides it by 5)."""

PLATEAU_MIN_SCALE = 1e-2
"""The plateau schedule cuts no lower than this fraction of the initial learning rate: two
cuts, to 1/5 and 1/25 of it. (It was 1e-3, four cuts; on the real series of
``benchmarks/bench_real_data.py`` the last two never improved a test score and cost 22
epochs a fit.)"""


def cut_learning_rate_on_plateau(state):
    """Divide the learning rate by 5, unless that takes it below its floor.

    The estimators' ``learning_rate_schedule="plateau"``, as scikit-learn's MLP
    ``learning_rate="adaptive"``: where training would stop because the training loss (or,
    with early stopping, the validation score) has not improved by ``tol`` for
    ``n_iter_no_change`` epochs, the learning rate is cut instead and training goes on;
    it stops when a cut would take the rate below ``PLATEAU_MIN_SCALE`` times its initial
    value. The cut lives in the optimizer state, so it is saved, restored and resumed
    with it, and it works with every optimizer.

    Parameters
    ----------
    state : dict
        Optimizer state, as made by :meth:`Optimizer.init`; its ``"learning_rate_scale"``
        is multiplied by ``PLATEAU_FACTOR`` in place, unless that goes below the floor.

    Returns
    -------
    bool
        Whether the learning rate was cut (``False``: training should stop).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn.optimizers import Adam, cut_learning_rate_on_plateau
    >>> adam = Adam(learning_rate=0.01)
    >>> state = adam.init(np.zeros(3))
    >>> [cut_learning_rate_on_plateau(state) for _ in range(5)]
    [True, True, False, False, False]
    >>> round(adam.learning_rate_at(state), 8)
    0.0004
    """
    scale = state["learning_rate_scale"] * PLATEAU_FACTOR
    if scale < PLATEAU_MIN_SCALE:
        return False
    state["learning_rate_scale"] = scale
    return True


def clip_by_global_norm(grads, max_norm):
    """Scale ``grads`` in place so that its Euclidean norm is at most ``max_norm``.

    Parameters
    ----------
    grads : ndarray of shape (n_params,)
        Flat gradient, rescaled in place when too long.
    max_norm : float or None
        Largest allowed norm; ``None`` leaves ``grads`` alone.

    Returns
    -------
    float
        The norm before clipping.
    """
    norm = float(np.sqrt(np.dot(grads, grads)))
    if max_norm is not None and norm > max_norm:
        grads *= max_norm / norm
    return norm


def add_l2_penalty(grads, params, alpha, weight_mask):
    """Add the gradient of ``alpha / 2 * ||weights||**2`` to ``grads`` in place.

    Parameters
    ----------
    grads, params : ndarray of shape (n_params,)
        Flat gradient (changed) and parameters.
    alpha : float
        Penalty strength; 0 does nothing.
    weight_mask : ndarray of bool of shape (n_params,)
        Which entries are weights; biases are not penalised.

    Returns
    -------
    float
        The penalty's value, ``alpha / 2 * ||params[weight_mask]||**2``.
    """
    if alpha == 0:
        return 0.0
    weights = np.where(weight_mask, params, 0)
    grads += alpha * weights
    return 0.5 * alpha * float(np.dot(weights, weights))
