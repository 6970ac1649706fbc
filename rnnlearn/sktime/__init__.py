"""Recurrent networks as sktime estimators: a classifier and a regressor of panels, a forecaster.

They take sktime's panels as any sktime estimator does (``numpy3D`` arrays ``(n_instances,
n_columns, n_timepoints)``, lists of data frames of different lengths, multi-indexed data
frames, and whatever sktime converts to those), hand them time first to an
:class:`~rnnlearn.RNNClassifier` or :class:`~rnnlearn.RNNRegressor` built from their own
hyperparameters, and keep it fitted as ``estimator_``. The forecaster does the same for
sktime's series with an :class:`~rnnlearn.RNNForecaster`. Needs sktime: ``pip install
rnnlearn[sktime]``.
"""

# SPDX-License-Identifier: BSD-3-Clause

try:
    import sktime as _sktime  # noqa: F401  (the rest of rnnlearn never imports sktime)
except ImportError as error:
    raise ImportError(
        "rnnlearn.sktime needs sktime; install it with: pip install rnnlearn[sktime]"
    ) from error

from ._forecaster import RNNForecasterSktime
from ._panel import RNNClassifier, RNNRegressor

__all__ = ["RNNClassifier", "RNNForecasterSktime", "RNNRegressor"]
