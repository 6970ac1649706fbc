"""Recurrent cells: the recurrence of one layer over a whole sequence, and its gradient."""

# SPDX-License-Identifier: BSD-3-Clause

from ._base import Cell
from ._gru import GRUCell
from ._lstm import LSTMCell
from ._vanilla import VanillaCell

CELLS = {"vanilla": VanillaCell, "gru": GRUCell, "lstm": LSTMCell}
"""Cell name -> class, for the estimators' ``cell`` string aliases."""

__all__ = ["CELLS", "Cell", "GRUCell", "LSTMCell", "VanillaCell"]
