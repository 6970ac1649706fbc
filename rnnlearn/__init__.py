"""Recurrent neural networks (Elman, GRU, LSTM) as scikit-learn estimators, in NumPy."""

# SPDX-License-Identifier: BSD-3-Clause

from . import activations, callbacks, cells, losses, optimizers
from ._classifier import RNNClassifier
from ._regressor import RNNRegressor
from .cells import GRUCell, LSTMCell, VanillaCell
from .exceptions import DivergenceWarning, TrainingInterruptedWarning

__version__ = "0.1.0"

__all__ = [
    "DivergenceWarning",
    "RNNClassifier",
    "RNNRegressor",
    "TrainingInterruptedWarning",
    "callbacks",
    "GRUCell",
    "LSTMCell",
    "VanillaCell",
    "activations",
    "cells",
    "losses",
    "optimizers",
]
