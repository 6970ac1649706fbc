"""The defaults learn real series (../shared/data): learning tests with thresholds.

Each threshold sits well below what the defaults reach and well above what a broken
feature leaves (figures in the comments, measured with random_state=0).
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_squared_error
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from rnnlearn import RNNClassifier, RNNRegressor, load_ts

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # ../shared/data

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} (the shared data sets) is absent"),
    pytest.mark.filterwarnings("ignore", category=ConvergenceWarning),
]


def load(name, every=1):
    """Train and test splits, standardised with the training statistics, every n-th step."""
    X_train, y_train = load_ts(DATA / f"{name}_TRAIN.ts")
    X_test, y_test = load_ts(DATA / f"{name}_TEST.ts")
    mean, std = X_train.mean(), X_train.std()
    return (X_train[:, ::every] - mean) / std, y_train, (X_test[:, ::every] - mean) / std, y_test


def test_default_classifier_beats_the_nearest_neighbour_on_osuleaf():
    """OSULeaf at every 8th step (54 steps), 60 epochs: 0.719 with the defaults' max
    pooling, 0.587 reading the last state, 0.525 for 1-NN."""
    X, y, X_test, y_test = load("OSULeaf", every=8)
    flat = X.reshape(len(X), -1), X_test.reshape(len(X_test), -1)
    nearest = KNeighborsClassifier(n_neighbors=1).fit(flat[0], y).score(flat[1], y_test)
    scores = {
        pooling: RNNClassifier(pooling=pooling, max_iter=60, random_state=0)
        .fit(X, y)
        .score(X_test, y_test)
        for pooling in ("auto", "last")
    }
    assert scores["auto"] >= 0.65
    assert scores["auto"] > nearest + 0.1
    assert scores["auto"] > scores["last"] + 0.05


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
