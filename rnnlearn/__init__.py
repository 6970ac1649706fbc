"""Recurrent neural networks (Elman, GRU, LSTM) as scikit-learn estimators, in NumPy."""

# SPDX-License-Identifier: BSD-3-Clause

from . import activations, cells, losses, optimizers
from .cells import GRUCell, LSTMCell, VanillaCell

__version__ = "0.1.0"

__all__ = [
    "GRUCell",
    "LSTMCell",
    "VanillaCell",
    "activations",
    "cells",
    "losses",
    "optimizers",
]
