"""rnnlearn's warnings point at the user's line, however deep the call that raised them."""

import linecache
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from rnnlearn import DivergenceWarning, RNNRegressor
from rnnlearn.exceptions import warn_at_call_site
from rnnlearn.optimizers import SGD

pytestmark = pytest.mark.usefixtures("single_blas_thread")


def _data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4, 1))
    return X, X.sum(axis=(1, 2))


def _caught(category, call):
    """The warnings of ``category`` that ``call()`` raises, each with its location."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    found = [w for w in caught if issubclass(w.category, category)]
    assert found, f"no {category.__name__} was raised"
    return found


def test_fit_warns_at_the_users_line():
    X, y = _data()
    model = RNNRegressor(hidden_layer_sizes=2, max_iter=1, random_state=0)
    (warning,) = _caught(ConvergenceWarning, lambda: model.fit(X, y))
    assert warning.filename == __file__
    assert "model.fit(X, y)" in linecache.getline(__file__, warning.lineno)


def test_partial_fit_warns_at_the_users_line():
    X, y = _data()
    model = RNNRegressor(
        hidden_layer_sizes=2, optimizer=SGD(learning_rate=1e8), max_grad_norm=None, batch_size=5
    )
    with np.errstate(all="ignore"):
        (warning,) = _caught(DivergenceWarning, lambda: model.partial_fit(X, 1e3 * y))
    assert warning.filename == __file__


def test_a_search_warns_at_the_users_line():
    X, y = _data()
    search = GridSearchCV(
        RNNRegressor(hidden_layer_sizes=2, random_state=0), {"max_iter": [1, 2]}, cv=2
    )
    found = _caught(ConvergenceWarning, lambda: search.fit(X, y))
    assert len(found) == 5  # 2 candidates x 2 folds, and the refit
    assert {warning.filename for warning in found} == {__file__}


def test_warn_at_call_site_from_user_code_points_at_its_caller():
    def helper():
        warn_at_call_site("from a helper", UserWarning)

    (warning,) = _caught(UserWarning, helper)
    assert warning.filename == __file__
    assert "warn_at_call_site(" in linecache.getline(__file__, warning.lineno)
