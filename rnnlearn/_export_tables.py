"""What PyTorch and ONNX call rnnlearn's cells and activations: the tables exporters share.

:mod:`rnnlearn.interop` and :mod:`rnnlearn.onnx` read these and restate none of them. The
keys are rnnlearn's own: cell classes of :mod:`rnnlearn.cells` and activation names of
:data:`rnnlearn.activations.ACTIVATIONS` (a test checks that every name here is one). A new
export format adds its table here when it maps cells or activations too.
"""

# SPDX-License-Identifier: BSD-3-Clause

from .cells import GRUCell, LSTMCell, VanillaCell

RECURRENT_LAYERS = {VanillaCell: "RNN", GRUCell: "GRU", LSTMCell: "LSTM"}
"""rnnlearn cell class -> the recurrent layer that computes the same, named alike by
``torch.nn`` (the module) and ONNX (the operator)."""

TORCH_ACTIVATIONS = {VanillaCell: ("tanh", "relu"), GRUCell: ("tanh",), LSTMCell: ("tanh",)}
"""rnnlearn cell class -> the activations its ``torch.nn`` counterpart offers, by
rnnlearn's names (which ``nn.RNN``'s ``nonlinearity`` shares)."""

ONNX_ACTIVATIONS = {
    "logistic": ("Sigmoid", ()),
    "tanh": ("Tanh", ()),
    "relu": ("Relu", ()),
    "identity": ("Affine", (1.0, 0.0)),
}
"""rnnlearn activation -> ``(ONNX activation, (alpha, beta) or ())``: the exact matches."""
