"""Training from a stream of chunks (``rnnlearn.streaming.fit_chunks``) gives fit's guarantees.

One chunk holding everything trains fit's model bit for bit; several chunks are visited in a
seeded order each epoch; early stopping restores the best epoch; bad sources raise before the
estimator changes. The dask tests stream a lazily generated array through a
``distributed.LocalCluster`` and measure the peak memory of the workers (their peak resident
size, ``VmHWM``) and of the training process (``tracemalloc``); the one whose array is over
four times a worker's memory limit is slow.
"""

import os
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from rnnlearn import DivergenceWarning, RNNClassifier, RNNForecaster, RNNRegressor
from rnnlearn._fitted import read_model
from rnnlearn.optimizers import SGD
from rnnlearn.streaming import fit_chunks

pytestmark = [  # one-epoch fits: what they learn is not what these tests check
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::rnnlearn.exceptions.CollapseWarning"),
]

SMALL = {"hidden_layer_sizes": (4,), "batch_size": 8, "random_state": 0}


def chunk(i, n=24, n_timesteps=6, n_features=2):
    """Chunk ``i`` of a stream: sequences and a real target, seeded by ``i``."""
    X = np.random.RandomState(i).normal(size=(n, n_timesteps, n_features))
    return X, X[:, :3, 0].sum(axis=1)


class Loader:
    """A callable source that records which chunks it loaded, in order."""

    def __init__(self, n_chunks, **shape):
        self.n_chunks, self.shape, self.loaded = n_chunks, shape, []

    def __call__(self, i):
        self.loaded.append(i)
        return chunk(i, **self.shape)


def stream_epochs(loader, n_chunks, epochs):
    """The chunks loaded in each epoch of a regressor's run. Before the epochs, the first
    pass (``normalize_y``) loads every chunk in order and the run starts on chunk 0;
    after them the check for a collapsed model reloads the last chunk trained."""
    loads = loader.loaded
    assert loads[: n_chunks + 1] == [*range(n_chunks), 0]
    assert len(loads) == n_chunks + 1 + n_chunks * epochs + 1
    loads = loads[n_chunks + 1 :]
    return [loads[n_chunks * e : n_chunks * (e + 1)] for e in range(epochs)]


@pytest.mark.parametrize(
    "estimator, target",
    [
        (RNNRegressor(dropout=0.3, max_iter=6, **SMALL), lambda y: y),
        (RNNRegressor(normalize_y=False, max_iter=6, **SMALL), lambda y: y),
        (RNNClassifier(max_iter=6, **SMALL), lambda y: y > 0),
        (RNNClassifier(class_weight="balanced", max_iter=6, **SMALL), lambda y: (y > 0.5) * 1),
    ],
)
def test_one_chunk_holding_everything_trains_fits_model_bit_for_bit(estimator, target):
    X, y = chunk(0)
    streamed = fit_chunks(estimator.__class__(**estimator.get_params()), [(X, target(y))])
    fitted = estimator.fit(X, target(y))
    for ours, theirs in zip(streamed.coefs_, fitted.coefs_, strict=True):
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name])
    assert streamed.loss_curve_ == fitted.loss_curve_
    assert (streamed.n_iter_, streamed.t_) == (fitted.n_iter_, fitted.t_)


def test_chunks_are_visited_in_a_fresh_seeded_order_every_epoch():
    runs = []
    for seed in (0, 0, 1):
        loader = Loader(5)
        model = RNNRegressor((4,), max_iter=3, tol=0, n_iter_no_change=50, random_state=seed)
        fit_chunks(model, loader, n_chunks=5)
        runs.append((stream_epochs(loader, 5, 3), model.predict(chunk(9)[0])))
    (order, predicted), (same_order, same_predicted), (other_order, _) = runs
    assert all(sorted(epoch) == [0, 1, 2, 3, 4] for epoch in order)
    assert len({tuple(epoch) for epoch in order}) > 1  # a fresh order each epoch
    assert order == same_order and other_order != order
    np.testing.assert_array_equal(predicted, same_predicted)


def test_without_shuffle_chunks_and_rows_keep_their_order():
    loader = Loader(4)
    model = RNNRegressor((4,), batch_size=8, max_iter=2, shuffle=False, tol=0, random_state=0)
    fit_chunks(model, loader, n_chunks=4)
    assert stream_epochs(loader, 4, 2) == [[0, 1, 2, 3], [0, 1, 2, 3]]
    # unshuffled chunks one after the other are one unshuffled set, the chunk size a
    # multiple of the batch size: the same minibatches, the same model as fit on all of them
    X, y = (np.concatenate(part) for part in zip(*[chunk(i) for i in range(4)], strict=True))
    fitted = RNNRegressor((4,), batch_size=8, max_iter=2, shuffle=False, tol=0, random_state=0).fit(
        X, y
    )
    np.testing.assert_array_equal(model.predict(X), fitted.predict(X))
    assert model.t_ == fitted.t_ == 2 * len(X)


def test_an_epoch_is_one_pass_over_the_stream_for_history_callbacks_and_verbose(capsys):
    records = []
    model = RNNRegressor(
        max_iter=4,
        tol=0,
        n_iter_no_change=50,
        verbose=1,
        callbacks=[lambda estimator, record: records.append(record["epoch"])],
        **SMALL,
    )
    fit_chunks(model, [chunk(i) for i in range(3)])
    assert records == [1, 2, 3, 4] and model.n_iter_ == len(model.history_) == 4
    assert model.t_ == 4 * 3 * 24
    assert capsys.readouterr().out.count("epoch ") == 4


def test_early_stopping_restores_the_best_epochs_weights():
    scores = []
    X_val, y_val = chunk(50, n=60)
    model = RNNRegressor(
        hidden_layer_sizes=(8,),
        optimizer=SGD(learning_rate=0.5, momentum=0.9),
        early_stopping=True,
        n_iter_no_change=2,
        learning_rate_schedule="constant",
        max_iter=40,
        random_state=0,
        callbacks=[lambda estimator, record: scores.append(estimator.score(X_val, y_val))],
    )
    fit_chunks(model, [chunk(i, n=12) for i in range(4)], validation_data=(X_val, y_val))
    best = int(np.argmax(scores))
    assert best < len(scores) - 1  # later epochs were worse: something to restore
    assert model.n_iter_ < 40  # it stopped early
    assert model.score(X_val, y_val) == pytest.approx(scores[best], rel=1e-6)
    assert model.best_validation_score_ == pytest.approx(scores[best], rel=1e-6)
    # float32 round-off: on an AVX-512 machine one score differed by 1.2e-7 (rel. 1.5e-6)
    assert model.validation_scores_ == pytest.approx(scores, rel=1e-5, abs=1e-6)


def test_the_first_pass_learns_the_classes_and_scaling_of_the_whole_stream():
    X0, y0 = chunk(0)
    X1, y1 = chunk(1)
    labels = [np.where(y0 > 0, "b", "a"), np.full(len(y1), "c")]  # 'c' only in chunk 1
    classifier = fit_chunks(RNNClassifier(max_iter=1, **SMALL), [(X0, labels[0]), (X1, labels[1])])
    assert list(classifier.classes_) == ["a", "b", "c"]
    regressor = fit_chunks(RNNRegressor(max_iter=1, **SMALL), [(X0, y0), (X1, 10 + 3 * y1)])
    everything = np.concatenate([y0, 10 + 3 * y1])
    mean, scale = read_model(regressor).target_scaling
    np.testing.assert_allclose(mean, [everything.mean()], rtol=1e-12)
    np.testing.assert_allclose(scale, [everything.std()], rtol=1e-12)


def test_the_divergence_guard_keeps_finite_weights():
    model = RNNRegressor(optimizer=SGD(learning_rate=1e8), max_grad_norm=None, **SMALL)
    with pytest.warns(DivergenceWarning):
        fit_chunks(model, [chunk(i) for i in range(3)])
    assert all(np.all(np.isfinite(value)) for layer in model.coefs_ for value in layer.values())


def shifted_features(i):
    X, y = chunk(i)
    return (X, y) if i == 0 else (X[:, :, :1], y)


def short_targets(i):
    X, y = chunk(i)
    return (X, y) if i < 2 else (X, y[:-1])


@pytest.mark.parametrize(
    "arguments, error, match",
    [
        ({"chunks": shifted_features, "n_chunks": 3}, ValueError, r"chunk \d has 1 features"),
        ({"chunks": short_targets, "n_chunks": 3}, ValueError, "chunk 2"),
        ({"chunks": [chunk(0), chunk(1)[0]]}, ValueError, r"chunk 1 must be an \(X, y\) pair"),
        ({"chunks": chunk, "n_chunks": None}, ValueError, "needs n_chunks"),
        ({"chunks": np.zeros((4, 3, 2))}, TypeError, "use fit"),
        ({"chunks": [chunk(0)], "y": np.zeros(24)}, ValueError, "only for a dask array"),
        ({"chunks": []}, ValueError, "no chunks"),
        ({"chunks": [chunk(0)], "validation_data": chunk(1)[0]}, ValueError, "validation_data"),
        (
            {"chunks": [chunk(0)], "validation_data": shifted_features(1)},
            ValueError,
            "validation_data has 1 features",
        ),
    ],
)
def test_bad_sources_raise_before_the_estimator_changes(arguments, error, match):
    model = RNNRegressor(max_iter=2, **SMALL).fit(*chunk(7))
    before = [value.copy() for layer in model.coefs_ for value in layer.values()]
    with pytest.raises(error, match=match):
        fit_chunks(model, **arguments)
    after = [value for layer in model.coefs_ for value in layer.values()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert model.n_iter_ == 2


@pytest.mark.parametrize(
    "estimator, match",
    [
        (RNNRegressor(early_stopping=True), "needs validation_data"),
        (RNNRegressor(warm_start=True), "warm_start=False"),
        (RNNForecaster(), "RNNRegressor or an RNNClassifier"),
        (RNNRegressor(batch_size=0), "batch_size"),
    ],
)
def test_settings_fit_chunks_cannot_honour_are_refused(estimator, match):
    with pytest.raises((TypeError, ValueError), match=match):
        fit_chunks(estimator, [chunk(0)])
    assert not hasattr(estimator, "n_iter_")


# ---------------------------------------------------------------------- dask


def seeded_block(n_timesteps, n_features):
    """A per-block function for ``dask.array.map_blocks``: each block's sequences drawn
    from a generator seeded by the block's first row, on whichever worker computes it."""

    def block(block_info=None):
        info = block_info[None]
        rng = np.random.default_rng(info["array-location"][0][0])
        return rng.standard_normal((info["chunk-shape"][0], n_timesteps, n_features))

    return block


def lazy_array(n_chunks, chunk_size, n_timesteps, n_features):
    """A lazily generated dask array of sequences and its target, chunked along samples."""
    da = pytest.importorskip("dask.array")
    X = da.map_blocks(
        seeded_block(n_timesteps, n_features),
        chunks=((chunk_size,) * n_chunks, (n_timesteps,), (n_features,)),
        dtype=np.float64,
    )
    return X, X[:, :3, 0].sum(axis=1)


def test_a_dask_array_trains_as_its_chunks_in_memory_do():
    dask = pytest.importorskip("dask")
    X, y = lazy_array(4, 24, 6, 2)
    with dask.config.set(scheduler="synchronous"):
        streamed = fit_chunks(RNNRegressor(max_iter=3, **SMALL), X, y)
        pairs = [dask.compute(X.blocks[i], y.blocks[i]) for i in range(4)]
        y_numpy = y.compute()
        with_numpy_y = fit_chunks(RNNRegressor(max_iter=3, **SMALL), X, y_numpy)
    in_memory = fit_chunks(RNNRegressor(max_iter=3, **SMALL), pairs)
    X_test = chunk(9)[0]
    np.testing.assert_array_equal(streamed.predict(X_test), in_memory.predict(X_test))
    np.testing.assert_array_equal(with_numpy_y.predict(X_test), in_memory.predict(X_test))
    with pytest.raises(ValueError, match="one target per sequence"):
        fit_chunks(RNNRegressor(), X, y_numpy[:-1])


def peak_resident_size():
    """This process's peak resident memory, in bytes: Linux's ``VmHWM``, which starts afresh
    when a process starts a new program (``getrusage``'s peak does not: a worker spawned by a
    large process would report that process's size)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def stream_on_a_cluster(memory_limit, n_chunks, chunk_size, n_timesteps, n_features):
    """Train on a lazily generated array through a local cluster of two worker processes.

    Returns the array's size, one chunk's size, the peak ``tracemalloc`` memory of the
    training, the workers' peak resident sizes and whether any worker was restarted.
    """
    distributed = pytest.importorskip("dask.distributed")
    environ = dict(os.environ)
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit,
        dashboard_address=None,
    )
    try:
        with cluster, distributed.Client(cluster) as client:
            X, y = lazy_array(n_chunks, chunk_size, n_timesteps, n_features)
            workers = client.run(os.getpid)
            idle = max(client.run(peak_resident_size).values())
            model = RNNRegressor((4,), batch_size=250, max_iter=1, random_state=0)
            tracemalloc.start()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    fit_chunks(model, X, y)
                training_peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            worker_peaks = list(client.run(peak_resident_size).values())
            restarted = client.run(os.getpid) != workers
    finally:
        os.environ.clear()
        os.environ.update(environ)
    assert model.t_ == n_chunks * chunk_size
    print(
        f"array {X.nbytes / 1e6:.0f} MB, chunk {X.blocks[0].nbytes / 1e6:.1f} MB, training "
        f"peak {training_peak / 1e6:.1f} MB, workers' peaks {max(worker_peaks) / 1e6:.0f} MB "
        f"(idle {idle / 1e6:.0f} MB, limit {memory_limit / 1e6:.0f} MB)"
    )
    return X.nbytes, X.blocks[0].nbytes, training_peak, worker_peaks, idle, restarted


def check_memory(memory_limit, array, one_chunk, training_peak, worker_peaks, idle, restarted):
    """No worker restarted or went over its limit, or held more than a few chunks beyond its
    idle peak; the training held less than four chunks at once."""
    assert not restarted  # no worker was killed for going over its limit
    assert len(worker_peaks) == 2 and max(worker_peaks) < memory_limit
    assert max(worker_peaks) - idle < 6 * one_chunk
    assert training_peak < 4 * one_chunk


LINUX = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="reads the peak memory in /proc"
)


@LINUX
def test_a_dask_array_streams_through_a_cluster_holding_a_few_chunks():
    limit = 400e6
    figures = stream_on_a_cluster(limit, n_chunks=6, chunk_size=200, n_timesteps=20, n_features=500)
    check_memory(limit, *figures)


@pytest.mark.slow
@LINUX
def test_an_array_over_four_times_a_workers_memory_streams_within_the_limit():
    limit = 500e6
    figures = stream_on_a_cluster(
        limit, n_chunks=60, chunk_size=500, n_timesteps=20, n_features=500
    )
    assert figures[0] > 4 * limit  # 2.4 GB through workers limited to 500 MB
    check_memory(limit, *figures)
