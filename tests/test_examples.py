"""The example scripts run, with fast settings, and reach their stated results."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    """Import ``examples/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_binary_addition_example_learns_exact_sums_with_every_cell():
    rows = load_example("binary_addition").run(n_train=3000, n_test=500, max_epochs=15)
    assert [row[0] for row in rows] == ["vanilla", "gru", "lstm"]
    for cell, _, epochs, exact, bit in rows:
        assert exact >= 0.99, (cell, exact)
        assert bit >= exact
        assert 1 <= epochs <= 15


@pytest.mark.slow
def test_binary_addition_demo_full_size_is_exact_for_every_cell():
    for cell, _, _, exact, bit in load_example("binary_addition").run():
        assert exact == 1.0 and bit == 1.0, cell


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sine_forecast_example_forecasts_held_out_series():
    assert load_example("sine_forecast").run(n_timesteps=500, window=20, max_iter=8) > 0.8


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_example_searches_cells_and_learning_rates():
    search = load_example("grid_search_cells").run(n_samples=60, max_iter=2, n_jobs=1)
    assert set(search.best_params_) == {"cell", "hidden_layer_sizes", "optimizer__learning_rate"}
    assert len(search.cv_results_["params"]) == 8
