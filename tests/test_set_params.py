import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from rnnlearn import RNNClassifier, RNNRegressor, make_frequency_classification
from rnnlearn.cells import GRUCell, LSTMCell
from rnnlearn.losses import Huber
from rnnlearn.optimizers import SGD, Adam


def test_nested_setting_on_the_default_string_optimizer_makes_the_object():
    model = RNNClassifier().set_params(optimizer__learning_rate=0.01)
    assert isinstance(model.optimizer, Adam) and model.optimizer.learning_rate == 0.01
    assert RNNClassifier().optimizer == "adam"  # the default stays an immutable string


def test_alias_and_nested_setting_in_one_call():
    model = RNNRegressor().set_params(optimizer="sgd", optimizer__momentum=0.5)
    assert isinstance(model.optimizer, SGD) and model.optimizer.momentum == 0.5
    model = RNNRegressor().set_params(cell="gru", cell__reset_after=False)
    assert isinstance(model.cell, GRUCell) and model.cell.reset_after is False


def test_nested_setting_on_the_regressors_string_loss():
    model = RNNRegressor(loss="huber").set_params(loss__delta=0.5)
    assert isinstance(model.loss, Huber) and model.loss.delta == 0.5


def test_objects_are_set_as_before():
    cell = LSTMCell()
    model = RNNRegressor(cell=cell).set_params(cell__forget_bias=0.0)
    assert model.cell is cell and cell.forget_bias == 0.0


def test_unknown_nested_parameter_still_fails():
    with pytest.raises(ValueError, match="learning_rat"):
        RNNRegressor().set_params(optimizer__learning_rat=0.01)


def test_plain_settings_and_clone_unchanged():
    model = RNNRegressor().set_params(max_iter=3)
    assert model.max_iter == 3 and clone(model).optimizer == "adam"


def test_the_grid_users_write_first_runs():
    X, y = make_frequency_classification(
        60, n_timesteps=8, n_features=2, n_classes=2, random_state=0
    )
    search = GridSearchCV(
        RNNClassifier(hidden_layer_sizes=4, max_iter=2, random_state=0),
        {"optimizer__learning_rate": [1e-3, 1e-2], "cell__activation": ["tanh", "logistic"]},
        cv=2,
    ).fit(X, y)
    assert search.best_params_["optimizer__learning_rate"] in (1e-3, 1e-2)
    assert isinstance(search.best_estimator_.optimizer, Adam)
