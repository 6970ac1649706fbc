"""The example scripts run with their fast settings, reach their stated results and draw."""

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = [
    "plot_binary_addition",
    "plot_dask_search",
    "plot_default_settings",
    "plot_grid_search_cells",
    "plot_hidden_state_features",
    "plot_onnx_deployment",
    "plot_partial_fit_stream",
    "plot_plaid_classification",
    "plot_sine_forecast",
]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def load_example(name):
    """Import ``examples/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_fast(tmp_path):
    """Run an example's ``main`` in fast mode; return its result and its saved figure."""

    def run(name, argv=("--fast",)):
        output = tmp_path / f"{name}.png"
        result, figure = load_example(name).main([*argv, "--output", str(output)])
        assert output.stat().st_size > 0
        return result, figure

    yield run
    import matplotlib.pyplot as plt

    plt.close("all")


def test_every_example_is_listed_here():
    assert sorted(path.stem for path in EXAMPLES.glob("*.py")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_example_starts_with_a_gallery_docstring(name):
    text = (EXAMPLES / f"{name}.py").read_text()
    match = re.match(r'"""\n(.+)\n(=+)\n\n(\S.+)', text)
    assert match, name
    title, underline, _ = match.groups()
    assert len(underline) >= len(title)


def test_binary_addition_learns_exact_sums_with_every_cell(run_fast, monkeypatch):
    monkeypatch.setenv("RNNLEARN_EXAMPLES_FAST", "1")
    rows, figure = run_fast("plot_binary_addition", argv=())
    assert [row["cell"] for row in rows] == ["vanilla", "gru", "lstm"]
    for row in rows:
        assert row["exact"] >= 0.99, row["cell"]
        assert row["bits"] >= row["exact"]
        assert 1 <= row["epochs"] <= 15
        assert len(row["loss_curve"]) == row["epochs"]
        assert row["loss_curve"][-1] < 0.01  # stopped by the callback, not by max_iter
    assert len(figure.axes[0].lines) == 4  # one curve per cell and the threshold


@pytest.mark.slow
def test_binary_addition_full_size_is_exact_for_every_cell():
    for row in load_example("plot_binary_addition").run():
        assert row["exact"] == 1.0 and row["bits"] == 1.0, row["cell"]


def test_sine_forecast_follows_the_held_out_series(run_fast):
    result, figure = run_fast("plot_sine_forecast")
    assert result["score"] > 0.8
    assert result["forecast"].shape == result["truth"].shape == result["time"].shape
    assert len(figure.axes[0].lines) == 2


def test_plaid_classifier_beats_the_majority_class(run_fast):
    folder = load_example("plot_plaid_classification").data_folder()
    if not (folder / "PLAID_TRAIN.ts").exists():
        pytest.skip(f"PLAID is not in {folder} (set RNNLEARN_DATA)")
    result, figure = run_fast("plot_plaid_classification")
    assert len(result["y_pred"]) == len(result["y_test"]) == 537
    assert result["accuracy"] > result["majority"] + 0.05
    assert figure.axes[0].images[0].get_array().shape == (11, 11)


@pytest.mark.parametrize("name", ["plot_plaid_classification", "plot_default_settings"])
def test_data_folder_is_found_without_file(monkeypatch, name):
    """sphinx-gallery runs an example from its folder, with no ``__file__``."""
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.delenv("RNNLEARN_DATA", raising=False)
    path = EXAMPLES / f"{name}.py"
    namespace = {"__name__": "gallery"}
    exec(compile(path.read_text(), path.name, "exec"), namespace)
    expected = EXAMPLES.parent.parent / "shared" / "data"
    assert namespace["data_folder"]() == expected
    assert load_example(name).data_folder() == expected


def test_default_settings_beat_the_last_state_and_the_nearest_neighbour(run_fast):
    """Fast mode (every 8th step, 30 epochs), measured: defaults 0.711, pooling="last"
    0.587, 1-NN 0.525."""
    module = load_example("plot_default_settings")
    folder = module.data_folder()
    if not (folder / "OSULeaf_TRAIN.ts").exists():
        pytest.skip(f"OSULeaf is not in {folder} (set RNNLEARN_DATA)")
    result, figure = run_fast("plot_default_settings")
    nearest, last, defaults = (result["accuracy"][name] for name in module.NAMES)
    assert nearest == pytest.approx(0.525, abs=0.005)  # deterministic: 127 of 242
    assert defaults >= 0.65
    assert defaults > nearest + 0.1
    assert defaults > last + 0.05
    assert result["X_train"].shape == (200, 54, 1)
    *series_axes, loss_ax, bar_ax = figure.axes
    assert len(series_axes) == 2
    assert [len(line.get_xdata()) for line in loss_ax.lines] == [30, 30]
    heights = [bar.get_height() for bar in bar_ax.containers[0]]
    assert heights == [nearest, last, defaults]


def test_grid_search_searches_cells_optimizers_and_learning_rates(run_fast):
    search, figure = run_fast("plot_grid_search_cells")
    assert set(search.best_params_) == {"cell", "optimizer", "optimizer__learning_rate"}
    assert len(search.cv_results_["params"]) == 18
    best = search.best_estimator_.optimizer
    assert type(best).__name__.lower() == search.best_params_["optimizer"]
    assert best.learning_rate == search.best_params_["optimizer__learning_rate"]
    assert [len(ax.containers) for ax in figure.axes] == [3, 3]


def test_hidden_states_make_better_features_than_raw_values(run_fast):
    result, figure = run_fast("plot_hidden_state_features")
    assert result["hidden_score"] > result["raw_score"]
    assert result["features"].shape == (len(result["labels"]), 16)
    assert len(figure.axes[0].collections[0].get_offsets()) == len(result["labels"])


def test_partial_fit_stream_learns_chunk_by_chunk(run_fast):
    result, figure = run_fast("plot_partial_fit_stream")
    assert list(result["seen"]) == list(range(50, 1001, 50))
    assert result["accuracy"][-1] > 0.5  # four classes: chance is 0.25
    assert result["loss"][-1] < result["loss"][0]
    assert np.array_equal(figure.axes[0].lines[0].get_ydata(), result["accuracy"])


def test_onnx_deployment_matches_rnnlearn_and_beats_the_last_value(run_fast):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    result, figure = run_fast("plot_onnx_deployment")
    truth, lengths = result["truth"], result["lengths"]
    assert result["max_difference"] < 1e-5
    assert np.abs(result["onnxruntime"] - result["rnnlearn"]).max() == result["max_difference"]
    assert lengths.min() >= 10 and lengths.max() == 20  # mixed lengths, padded to 20
    error = np.sqrt(np.mean((result["rnnlearn"] - truth) ** 2))
    naive_error = np.sqrt(np.mean((result["naive"] - truth) ** 2))
    assert error < 0.5 * naive_error
    for seconds in result["latency"].values():
        assert sorted(seconds) == [1, 32]
        assert all(0 < value < 1 for value in seconds.values())
    forecast_ax, latency_ax = figure.axes
    assert len(forecast_ax.lines) == 3
    assert np.array_equal(forecast_ax.lines[2].get_ydata(), result["onnxruntime"][-len(truth) :])
    assert [len(bars) for bars in latency_ax.containers] == [2, 2]


def test_onnx_deployment_names_the_extra_without_onnxruntime(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=re.escape("pip install rnnlearn[onnx]")):
        load_example("plot_onnx_deployment")


def test_dask_search_runs_on_two_workers(run_fast):
    pytest.importorskip("dask.distributed")
    (search, workers), figure = run_fast("plot_dask_search")
    assert workers == 2
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 6 and np.all(np.isfinite(scores))
    assert search.best_score_ > 1 / 3  # three classes
    assert len(figure.axes[0].texts) == 6
