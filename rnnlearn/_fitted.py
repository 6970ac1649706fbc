"""What a fitted estimator holds: the one schema that training and persistence share."""

# SPDX-License-Identifier: BSD-3-Clause

import copy
from dataclasses import dataclass, replace

from ._training import DivergenceGuard, TrainingState


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
        ``_target_kind``; ``_squeeze_output``), named as on the estimator.
    validated : bool
        Whether the fit scored a validation split (early stopping).
    """

    network: object
    optimizer: object
    loss: object
    output_mode: str
    encoding: dict
    validated: bool


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
        "n_outputs_": model.network.n_outputs,
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
        "_rng": copy.deepcopy(state.rng),
        "_no_improvement_count": state.no_improvement,
    }


def read_fitted(estimator):
    """The inverse of :func:`fitted_attributes`: ``(model, state)`` of a fitted estimator.

    The state is a copy that training can continue from; its divergence guard starts at
    the fitted parameters.
    """
    params = estimator._params.copy()
    model = Model(
        network=estimator._network,
        optimizer=estimator.optimizer_,
        loss=estimator.loss_function_,
        output_mode=estimator._output_mode,
        encoding={name: getattr(estimator, name) for name in estimator._encoding_attributes},
        validated=estimator.validation_scores_ is not None,
    )
    state = TrainingState(
        params=params,
        optimizer_state=copy.deepcopy(estimator._optimizer_state),
        rng=copy.deepcopy(estimator._rng),
        history=list(estimator.history_),
        guard=DivergenceGuard(params.copy()),
        no_improvement=estimator._no_improvement_count,
        best_loss=estimator.best_loss_,
        best_score=estimator.best_validation_score_,
        samples_seen=estimator.t_,
    )
    return model, state


def resumed_state(estimator, optimizer):
    """The state a ``warm_start`` fit or ``partial_fit`` continues from.

    The optimizer state carries over when the rule is the same, else starts afresh; the
    best validation score restarts, since a new fit draws a new validation split.
    """
    _, state = read_fitted(estimator)
    if type(optimizer) is not type(estimator.optimizer_):
        state = replace(state, optimizer_state=optimizer.init(state.params))
    return replace(state, best_score=None)
