"""rnnlearn's estimators as sktime estimators (``pip install rnnlearn[sktime]``).

Importing this module imports sktime; ``import rnnlearn`` does not.
"""

# SPDX-License-Identifier: BSD-3-Clause

from ._forecaster import RNNForecasterSktime

__all__ = ["RNNForecasterSktime"]
