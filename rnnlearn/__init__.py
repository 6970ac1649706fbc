"""Recurrent neural networks (Elman, GRU, LSTM) as scikit-learn estimators."""

# SPDX-License-Identifier: BSD-3-Clause

from . import (
    activations,
    callbacks,
    cells,
    datasets,
    inspection,
    interop,
    losses,
    onnx,
    optimizers,
    persistence,
    preprocessing,
    streaming,
)
from ._classifier import RNNClassifier
from ._forecaster import RNNForecaster
from ._regressor import RNNRegressor
from ._version import __version__ as __version__  # re-exported, kept out of __all__
from .cells import GRUCell, LSTMCell, VanillaCell
from .datasets import (
    bin2int,
    int2bin,
    load_ts,
    make_binary_addition,
    make_frequency_classification,
    make_sine_sequences,
)
from .exceptions import CollapseWarning, DivergenceWarning, TrainingInterruptedWarning

__all__ = [
    "CollapseWarning",
    "DivergenceWarning",
    "GRUCell",
    "LSTMCell",
    "RNNClassifier",
    "RNNForecaster",
    "RNNRegressor",
    "TrainingInterruptedWarning",
    "VanillaCell",
    "activations",
    "bin2int",
    "callbacks",
    "cells",
    "datasets",
    "inspection",
    "int2bin",
    "interop",
    "load_ts",
    "losses",
    "make_binary_addition",
    "make_frequency_classification",
    "make_sine_sequences",
    "onnx",
    "optimizers",
    "persistence",
    "preprocessing",
    "streaming",
]
