"""Recurrent cells: the recurrence of one layer over a whole sequence, and its gradient."""

# SPDX-License-Identifier: BSD-3-Clause

from ._base import Cell
from ._gru import GRUCache, GRUCell
from ._lstm import LSTMCache, LSTMCell
from ._vanilla import VanillaCache, VanillaCell

CELLS = {"vanilla": VanillaCell, "gru": GRUCell, "lstm": LSTMCell}
"""Cell name -> class, for the estimators' ``cell`` string aliases."""

__all__ = [
    "CELLS",
    "Cell",
    "GRUCache",
    "GRUCell",
    "LSTMCache",
    "LSTMCell",
    "VanillaCache",
    "VanillaCell",
]
