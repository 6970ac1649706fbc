"""The one door into a fitted estimator: what it learned, read and written in one place.

Everything outside the estimator classes (``_base.py``, ``_regressor.py``,
``_classifier.py``) that reads or writes an estimator's learned state goes through this
module and touches no private attribute or method of an estimator (``tests/test_one_door.py``
scans the source): saving and loading (:mod:`rnnlearn.persistence`), PyTorch and ONNX
export and import (:mod:`rnnlearn.interop`, :mod:`rnnlearn.onnx`), future adapters.

Reading a fitted estimator:

- :func:`read_model`: its :class:`Model` (network, optimizer, loss, output mode, target
  encoding), what an export format reads;
- :func:`read_fitted`: its ``(Model, TrainingState)``, what saving reads;
- :func:`calibrated_band` and :func:`paired_coverages`: what a forecaster's
  ``predict_interval`` reads of its calibration for a coverage, which an exporter of its
  intervals fixes at export time.

Writing one:

- :func:`start_state` is the only constructor of a :class:`TrainingState` (and its
  divergence guard);
- :func:`write_fitted` makes an estimator hold a ``(Model, TrainingState)``, setting every
  attribute :func:`fitted_attributes` lists;
- :func:`resumed_state`: the state that ``partial_fit`` or a ``warm_start`` fit continues
  from.

Building a fitted estimator from elsewhere (loading a file, importing weights):
:func:`check_hyperparameters`, :func:`encoding_names` (with :func:`encoding_defaults`)
and :func:`prepare_run` give an estimator's checked hyperparameters, the names of its
target encoding (and the entries older files lack), and the model and fresh state a
training run on sample data would start from.

Training from elsewhere (:mod:`rnnlearn.streaming`): :func:`prepare_run` gives a run's
model and fresh state, :func:`with_target_scaling` sets a target scaling computed over a
stream, and :func:`train_prepared` trains the run as ``fit`` does.

Where new features plug in:

- **A new output head** (quantiles, a distribution, target scaling) keeps what it learns
  in the model's ``encoding``: fitted attributes named by the estimator's
  ``_encoding_attributes``, set by its ``_encode_targets`` hook. Saving stores every
  encoding entry already (JSON, or ``encoding__<name>`` arrays), so no other module
  changes (files saved before the entry existed load with the value its estimator's
  ``_encoding_defaults`` gives); a property here (as :attr:`Model.squeeze_output`,
  :attr:`Model.target_kind`, :attr:`Model.target_scaling`) names it for exporters, which
  read it or refuse what they cannot express. A head with several raw outputs per target
  (:attr:`Model.quantiles`, :attr:`Model.gaussian`) is the loss's: its levels are the
  loss's hyperparameters, saved with it, so the encoding holds only the target scaling.
- **A new export format** is its own module that reads :func:`read_model` (and the
  public ``coefs_``); if it maps cells or activations, its table goes to
  ``_export_tables`` beside PyTorch's and ONNX's. An import builds its estimator with
  :func:`prepare_run`, :func:`start_state` and :func:`write_fitted`, as
  :func:`rnnlearn.interop.from_torch` does.
"""

# SPDX-License-Identifier: BSD-3-Clause

import copy
from dataclasses import dataclass, replace

import numpy as np

from ._training import DivergenceGuard, TrainingState
from .losses import GaussianNLL, Loss


@dataclass(frozen=True)
class Model:
    """A fitted model apart from its training progress; fixed during a training run.

    Parameters
    ----------
    network : Network
        Architecture, cell included.
    optimizer : Optimizer
        The resolved update rule.
    loss : Loss
        The training loss, whose link maps raw outputs to predictions.
    output_mode : {'last', 'sequence', 'after'}
        What the model emits.
    encoding : dict
        The fitted attributes that the target encoding defines (``classes_``,
        ``_target_kind``; ``_squeeze_output``, ``_y_mean``, ``_y_scale``), named as on
        the estimator.
    validated : bool
        Whether the fit scored a validation split (early stopping).
    """

    network: object
    optimizer: object
    loss: object
    output_mode: str
    encoding: dict
    validated: bool

    @property
    def squeeze_output(self):
        """Whether predictions drop their last axis (a regressor fitted on 1-D targets)."""
        return bool(self.encoding.get("_squeeze_output", False))

    @property
    def target_kind(self):
        """A classifier's ``'binary'``, ``'multiclass'`` or ``'multilabel'``; else ``None``."""
        return self.encoding.get("_target_kind")

    @property
    def classes(self):
        """A classifier's class labels (``classes_``); else ``None``."""
        return self.encoding.get("classes_")

    @property
    def target_scaling(self):
        """A regressor's ``(mean, scale)`` of each output column (``normalize_y``); else
        ``None``: predictions are ``link(raw) * scale + mean``."""
        mean = self.encoding.get("_y_mean")
        return None if mean is None else (mean, self.encoding["_y_scale"])

    @property
    def n_targets(self):
        """Targets per emitted step: the network's outputs over the loss's outputs per
        target (``n_outputs_``)."""
        return self.network.n_outputs // self.loss.outputs_per_target

    @property
    def quantiles(self):
        """A quantile regressor's levels (its :class:`~rnnlearn.losses.Pinball` loss's), as
        an array; else ``None``. Its raw outputs are grouped by target, one per level, and
        its quantiles are ``loss.link(raw) * scale + mean`` per target."""
        levels = getattr(self.loss, "quantiles", None)
        return None if levels is None else np.asarray(levels, dtype=float)

    @property
    def gaussian(self):
        """Whether the model predicts a normal distribution (its loss is
        :class:`~rnnlearn.losses.GaussianNLL`): raw outputs ``(mean, r)`` per target, the
        mean ``mean * scale + shift`` and the standard deviation ``(softplus(r) +
        min_std) * scale`` with the target scaling ``(shift, scale)``."""
        return isinstance(self.loss, GaussianNLL)

    @property
    def point_head(self):
        """Whether the raw outputs are the predictions up to the target scaling: a loss
        with the identity link and one output per target (no quantiles, no distribution)."""
        return type(self.loss).link is Loss.link and self.loss.outputs_per_target == 1

    @property
    def folds_scaling(self):
        """Whether :meth:`folded_head` folds a target scaling into the output layer: only
        a scaled regressor with a :attr:`point_head`."""
        return self.target_scaling is not None and self.point_head

    def folded_head(self, W, b):
        """The output layer ``(W, b)`` with the target scaling folded in (``W * scale``,
        ``b * scale + mean``), so that its raw output is the prediction; in ``W``'s dtype.

        Unchanged unless :attr:`folds_scaling` (the raw outputs of quantiles or a
        distribution go through the loss's link before the scaling applies).
        """
        if not self.folds_scaling:
            return W, b
        mean, scale = self.target_scaling
        return (W * scale).astype(W.dtype), (b * scale + mean).astype(b.dtype)

    def unfolded_head(self, W, b):
        """The inverse of :meth:`folded_head`: the output layer that predicts through the
        target scaling as a layer ``(W, b)`` without it does."""
        if not self.folds_scaling:
            return W, b
        mean, scale = self.target_scaling
        return (W / scale).astype(W.dtype), ((b - mean) / scale).astype(b.dtype)


def start_state(
    params,
    optimizer_state,
    rng,
    *,
    history=(),
    no_improvement=0,
    best_loss=None,
    best_score=None,
    samples_seen=0,
):
    """A :class:`TrainingState` at ``params`` (the only place one is made).

    Parameters
    ----------
    params : ndarray of shape (n_params,)
        Flat network parameters, owned by the state from now on.
    optimizer_state : dict
        As made by :meth:`Optimizer.init`.
    rng : numpy.random.RandomState
        The training generator.
    history : sequence of dict, default=()
        Earlier epochs' records (copied).
    no_improvement : int, default=0
        Epochs in a row without progress.
    best_loss, best_score : float or None, default=None
        Lowest training loss; best validation score.
    samples_seen : int, default=0
        Training samples seen so far.

    Returns
    -------
    TrainingState
        Its divergence guard starts at ``params``.
    """
    return TrainingState(
        params=params,
        optimizer_state=optimizer_state,
        rng=rng,
        history=list(history),
        guard=DivergenceGuard(params.copy()),
        no_improvement=no_improvement,
        best_loss=best_loss,
        best_score=best_score,
        samples_seen=samples_seen,
    )


def fitted_attributes(model, state):
    """Every fitted attribute of an estimator holding ``model`` trained to ``state``.

    Parameters
    ----------
    model : Model
        The fitted model.
    state : TrainingState
        Its training progress; arrays and the generator are copied.

    Returns
    -------
    dict of str to object
        Attribute name -> value, the public ones (``n_iter_``, ``history_``, ...) and the
        private ones that prediction and resumed training read.
    """
    history = list(state.history)
    losses = [record["loss"] for record in history]
    return {
        "cell_": model.network.cell,
        "optimizer_": model.optimizer,
        "loss_function_": model.loss,
        "n_features_in_": model.network.n_features,
        "n_outputs_": model.n_targets,
        "history_": history,
        "loss_curve_": losses,
        "loss_": losses[-1],
        "n_iter_": len(history),
        "t_": state.samples_seen,
        "best_loss_": None if model.validated else state.best_loss,
        "validation_scores_": (
            [r["validation_score"] for r in history if r["validation_score"] is not None]
            if model.validated
            else None
        ),
        "best_validation_score_": state.best_score if model.validated else None,
        **model.encoding,
        "_output_mode": model.output_mode,
        "_network": model.network,
        "_params": state.params.copy(),
        "_optimizer_state": copy.deepcopy(state.optimizer_state),
        "_rng": _copy_generator(state.rng),
        "_no_improvement_count": state.no_improvement,
    }


def read_model(estimator):
    """The :class:`Model` a fitted estimator holds, without its training progress.

    What an export format reads: the network (cell and architecture), the loss (whose
    link maps raw outputs to predictions), the output mode and the target encoding.
    Its objects are the estimator's own, not copies: read them, do not change them.

    Parameters
    ----------
    estimator : RNNRegressor or RNNClassifier
        A fitted estimator.

    Returns
    -------
    Model
    """
    return Model(
        network=estimator._network,
        optimizer=estimator.optimizer_,
        loss=estimator.loss_function_,
        output_mode=estimator._output_mode,
        encoding={name: getattr(estimator, name) for name in estimator._encoding_attributes},
        validated=estimator.validation_scores_ is not None,
    )


def read_fitted(estimator):
    """The inverse of :func:`fitted_attributes`: ``(model, state)`` of a fitted estimator.

    The model is :func:`read_model`'s; the state is a copy that training can continue
    from, its divergence guard at the fitted parameters.
    """
    params = estimator._params.copy()
    model = read_model(estimator)
    state = start_state(
        params,
        copy.deepcopy(estimator._optimizer_state),
        _copy_generator(estimator._rng),
        history=estimator.history_,
        no_improvement=estimator._no_improvement_count,
        best_loss=estimator.best_loss_,
        best_score=estimator.best_validation_score_,
        samples_seen=estimator.t_,
    )
    return model, state


def calibrated_band(estimator, coverage):
    """What a forecaster's calibration fixes of the band of ``predict_interval(X,
    coverage)`` before nesting (its ``ValueError`` if the fit calibrated on too few
    windows).

    Parameters
    ----------
    estimator : RNNForecaster
        A fitted forecaster.
    coverage : float
        In ``(0, 1)``, checked.

    Returns
    -------
    pair : tuple of int or None
        The indices of the quantile levels at the band's ends (conformalised quantiles), or
        ``None`` for ``predict`` at both ends.
    half_width : ndarray of shape (n_outputs,)
        The conformal quantile ``Q`` of each column: a window's half-width is ``Q`` times
        its floored scale.
    """
    return estimator._calibrated_band(coverage)


def paired_coverages(estimator, below):
    """The coverages under ``below`` whose calibrated bands a forecaster's
    ``predict_interval(X, below)`` holds, so that bands nest: those of the pairs of levels
    of a quantile forecaster calibrated on them; none for any other model."""
    return estimator._paired_coverages(below)


def resumed_state(estimator, optimizer):
    """The state a ``warm_start`` fit or ``partial_fit`` continues from.

    The optimizer state carries over when the rule is the same, else starts afresh; the
    best validation score restarts, since a new fit draws a new validation split.
    """
    _, state = read_fitted(estimator)
    if type(optimizer) is not type(estimator.optimizer_):
        state = replace(state, optimizer_state=optimizer.init(state.params))
    return replace(state, best_score=None)


def _copy_generator(rng):
    """A copy of the ``RandomState`` ``rng`` at the same point of its stream.

    Made after every epoch (the fitted attributes) and by every ``partial_fit`` (its
    state), so made cheaply: ``copy.deepcopy`` seeds a new Mersenne Twister from the
    system's entropy before it gives it ``rng``'s state, which takes three times as long.
    """
    state = rng.get_state(legacy=False)
    if state["bit_generator"] != "MT19937":  # a RandomState of another bit generator
        return copy.deepcopy(rng)
    copied = np.random.RandomState(0)
    copied.set_state(state)
    return copied


def write_fitted(estimator, model, state):
    """Make ``estimator`` hold ``model`` trained to ``state`` (every fitted attribute).

    Parameters
    ----------
    estimator : RNNRegressor or RNNClassifier
        Changed in place.
    model : Model
        The fitted model.
    state : TrainingState
        Its training progress (copied).
    """
    for name, value in fitted_attributes(model, state).items():
        setattr(estimator, name, value)


def check_hyperparameters(estimator):
    """An estimator's hyperparameters, checked and resolved to objects; changes nothing.

    Raises ``ValueError`` or ``TypeError`` for an invalid one, as ``fit`` does.
    """
    return estimator._check_params()


def encoding_names(estimator):
    """The names of the fitted attributes that an estimator's target encoding defines."""
    return tuple(estimator._encoding_attributes)


def encoding_defaults(estimator):
    """The target-encoding entries that models saved before them lack, with the value
    that means what those models did (``None``: no target scaling)."""
    return dict(getattr(estimator, "_encoding_defaults", {}))


def prepare_run(estimator, X, y, classes=None):
    """The ``(setup, state)`` a ``partial_fit`` on ``(X, y)`` would train from.

    Validates as ``partial_fit`` does and changes nothing; the estimator starts afresh
    unless it is fitted.
    """
    return estimator._prepare(X, y, None, incremental=True, classes=classes)


def with_target_scaling(model, scaling):
    """``model`` with the target scaling ``(mean, scale)`` of each output column in its
    encoding (what ``normalize_y`` fits), or unchanged for ``None``; for a regressor whose
    scaling was computed elsewhere, such as over a stream of chunks."""
    if scaling is None:
        return model
    mean, scale = scaling
    return replace(model, encoding={**model.encoding, "_y_mean": mean, "_y_scale": scale})


def train_prepared(estimator, setup, state, source):
    """Train ``estimator`` on a prepared run as :meth:`fit` trains: up to ``max_iter``
    epochs under its epoch policy and callbacks, committing every epoch. ``setup`` and
    ``state`` come from :func:`prepare_run` (``setup.data`` may be a stream of chunks);
    ``source`` is what the callbacks receive as ``X``. Returns the estimator."""
    return estimator._run(setup, state, source, None, None, incremental=False)
