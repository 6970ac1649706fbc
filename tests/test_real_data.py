"""The defaults learn real series (../shared/data): learning tests with thresholds.

Each threshold sits well below what the defaults reach and well above what a broken
feature leaves (figures in the comments, measured with random_state=0). The classifier's
test on OSULeaf (against 1-NN and the last state) is the default-settings example's, in
tests/test_examples.py.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error
from sklearn.preprocessing import StandardScaler

from rnnlearn import RNNRegressor, load_ts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # ../shared/data

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} (the shared data sets) is absent"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]


def load(name):
    """Train and test splits, standardised with the training statistics."""
    X_train, y_train = load_ts(DATA / f"{name}_TRAIN.ts")
    X_test, y_test = load_ts(DATA / f"{name}_TEST.ts")
    mean, std = X_train.mean(), X_train.std()
    return (X_train - mean) / std, y_train, (X_test - mean) / std, y_test


def test_default_regressor_beats_the_mean_on_covid3month():
    """Covid3Month (84 steps): RMSE 0.0430 with the defaults; 0.0447 for the training mean."""
    X, y, X_test, y_test = load("Covid3Month")
    model = TransformedTargetRegressor(RNNRegressor(random_state=0), transformer=StandardScaler())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no CollapseWarning, no DivergenceWarning
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    rmse = np.sqrt(mean_squared_error(y_test, model.predict(X_test)))
    baseline = np.sqrt(mean_squared_error(y_test, np.full_like(y_test, y.mean())))
    assert rmse < baseline - 0.001
