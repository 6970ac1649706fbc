"""Training on data larger than memory: a stream of chunks, trained as ``fit`` trains.

:func:`fit_chunks` trains an :class:`~rnnlearn.RNNRegressor` or
:class:`~rnnlearn.RNNClassifier` from a source of chunks (a dask array chunked along its
samples, a sequence of ``(X, y)`` pairs, or a function loading chunk ``i``), holding one
chunk in memory at a time. It runs ``fit``'s own epoch loop over the stream: ``max_iter``
epochs, each visiting every chunk once (chunks in a fresh order, and the sequences of each
chunk in a fresh order, drawn from the generator seeded by ``random_state``), the
divergence guard, the convergence rule (``tol``, ``n_iter_no_change``, the learning-rate
plateau), early stopping on a held-out set with the best weights restored, ``verbose``,
``callbacks`` and ``history_``.
"""

# SPDX-License-Identifier: BSD-3-Clause

from collections.abc import Sequence
from dataclasses import replace
from numbers import Integral
from typing import NamedTuple

import numpy as np

from ._classifier import RNNClassifier
from ._fitted import check_hyperparameters, prepare_run, train_prepared, with_target_scaling
from ._forecaster import RNNForecaster
from ._regressor import RNNRegressor
from .callbacks import PrintProgress

__all__ = ["fit_chunks"]


def fit_chunks(estimator, chunks, y=None, *, n_chunks=None, validation_data=None, classes=None):
    """Train an estimator on a stream of chunks, as :meth:`~rnnlearn.RNNRegressor.fit` would.

    One chunk is in memory at a time. Each of up to ``max_iter`` epochs visits every chunk
    once, with ``shuffle`` the chunks and each chunk's sequences in a fresh order from the
    generator seeded by ``random_state`` (an int makes fits reproducible bit for bit); one
    chunk of all the data trains ``fit``'s model. Stopping, learning-rate cuts, the
    divergence guard, best weights and ``callbacks`` are ``fit``'s. A first pass over the
    targets, only when needed, learns what ``fit`` learns up front: ``normalize_y``'s
    scaling, the classes (unless given), ``class_weight='balanced'``'s weights. Training
    starts afresh; bad chunks raise before the estimator changes.

    Parameters
    ----------
    estimator : RNNRegressor or RNNClassifier
        Trained in place; ``early_stopping=True`` requires ``validation_data``
        (``validation_fraction`` is not used), ``warm_start`` must be ``False``.
    chunks : dask array, sequence of (X, y) pairs, or callable
        A dask array of sequences ``(n_samples, n_timesteps[, n_features])`` chunked along
        its samples (other axes are merged into one chunk lazily), with ``y``; a sequence
        of ``(X_chunk, y_chunk)`` pairs, each as ``fit`` takes them (a list, or an object
        whose ``__getitem__`` loads chunk ``i``); or a callable ``load(i)`` returning
        chunk ``i``'s pair, with ``n_chunks``.
    y : dask array or array-like, default=None
        The targets of a dask array ``chunks``, as ``fit`` takes them (numpy or dask,
        split like ``chunks``); ``None`` for the other sources.
    n_chunks : int, default=None
        The number of chunks of a callable source.
    validation_data : tuple of (X, y), default=None
        A held-out set, in memory, scored after every epoch (R² or accuracy): training
        stops when the score has not improved by ``tol`` for ``n_iter_no_change`` epochs
        and the best epoch's weights are restored, as ``fit`` does with
        ``early_stopping=True`` on its own random split.
    classes : array-like, default=None
        A classifier's labels; found in the first pass when ``None``.

    Returns
    -------
    estimator
        The fitted estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnlearn import RNNRegressor
    >>> from rnnlearn.streaming import fit_chunks
    >>> def load(i):
    ...     X = np.random.RandomState(i).uniform(-1, 1, size=(50, 8, 1))
    ...     return X, X.sum(axis=(1, 2))
    >>> model = RNNRegressor((8,), max_iter=20, random_state=0)
    >>> model = fit_chunks(model, load, n_chunks=4, validation_data=load(99))
    >>> model.n_iter_ > 1, model.score(*load(100)) > 0.5
    (True, True)
    """
    source = _as_source(chunks, y, n_chunks)
    _check_estimator(estimator, validation_data)
    setup, state = _stream_run(estimator, source, validation_data, classes)
    return train_prepared(estimator, setup, state, chunks)


def _stream_run(estimator, source, validation_data, classes):
    """The ``(setup, state)`` of a fresh run over ``source``, as ``fit`` would prepare
    it, its training data the stream; loads what it checks, changes nothing."""
    encoder = _Encoder(estimator, _survey(estimator, source, classes))
    setup, state = encoder.start(*source.load(0))
    stream = _ChunkStream(source, encoder, setup.model.network)
    validation = None
    if validation_data is not None:
        validation = stream.checked(*_pair(validation_data, "validation_data"), "validation_data")
    hyper = check_hyperparameters(estimator)
    setup = replace(
        setup,
        model=encoder.model(setup.model, validated=validation is not None),
        data=stream,
        validation=validation,
        batch_size=estimator.batch_size,
        callbacks=(PrintProgress(),) * bool(estimator.verbose) + hyper.callbacks,
    )
    return setup, state


def _check_estimator(estimator, validation_data):
    """Refuse what :func:`fit_chunks` cannot train as ``fit`` would; changes nothing."""
    if not isinstance(estimator, RNNRegressor | RNNClassifier) or isinstance(
        estimator, RNNForecaster
    ):
        raise TypeError(
            f"fit_chunks trains an RNNRegressor or an RNNClassifier; got "
            f"{type(estimator).__name__}."
        )
    check_hyperparameters(estimator)
    if estimator.warm_start:
        raise ValueError(
            "fit_chunks starts a fresh model; set warm_start=False (continue a fitted model "
            "with partial_fit, one chunk per call)."
        )
    if estimator.early_stopping and validation_data is None:
        raise ValueError(
            "early_stopping=True needs validation_data=(X_val, y_val) with fit_chunks: a "
            "stream has no random validation_fraction to hold out."
        )


def _pair(item, what):
    """``item`` as an ``(X, y)`` pair, else a ``ValueError`` naming ``what``."""
    if not isinstance(item, tuple | list) or len(item) != 2:
        raise ValueError(f"{what} must be an (X, y) pair; got {type(item).__name__}.")
    return item


# ---------------------------------------------------------------------- sources


class _Loaded:
    """Chunks from a loader: ``load(i)`` gives chunk ``i``'s ``(X, y)``."""

    def __init__(self, load, n_chunks):
        self._load, self.n_chunks, self.n_samples = load, n_chunks, None

    def __len__(self):
        return self.n_chunks

    def load(self, i):
        """Chunk ``i``'s ``(X, y)``."""
        return _pair(self._load(i), f"chunk {i}")

    def load_targets(self, i):
        """Chunk ``i``'s ``y`` (loading the whole chunk)."""
        return self.load(i)[1]


class _Dask:
    """Chunks of a dask array along its samples, with their targets (dask or numpy)."""

    def __init__(self, X, y):
        import dask.array as da

        if X.ndim not in (2, 3) or any(np.isnan(size) for size in X.chunks[0]):
            raise ValueError(
                "chunks must be a dask array of shape (n_samples, n_timesteps[, n_features]) "
                f"with known chunk sizes; got shape {X.shape} (call compute_chunk_sizes())."
            )
        if y is None or len(y) != X.shape[0]:
            raise ValueError(
                f"y must give one target per sequence of the dask array: X has {X.shape[0]} "
                f"sequences, y {'none' if y is None else len(y)}."
            )
        self.X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
        self.offsets = np.cumsum((0, *self.X.chunks[0]))
        self.y = y
        if isinstance(y, da.Array):
            rest = {axis: -1 for axis in range(1, y.ndim)}
            self.y = y.rechunk({0: self.X.chunks[0], **rest})
        self.n_samples = X.shape[0]

    def __len__(self):
        return self.X.numblocks[0]

    def load(self, i):
        """Chunk ``i``'s ``(X, y)``, computed together."""
        import dask

        return dask.compute(self.X.blocks[i], self.load_targets(i, lazy=True))

    def load_targets(self, i, lazy=False):
        """Chunk ``i``'s ``y`` (computed unless ``lazy``), without computing its ``X``."""
        if hasattr(self.y, "blocks"):
            block = self.y.blocks[i]
            return block if lazy else block.compute()
        return self.y[self.offsets[i] : self.offsets[i + 1]]


def _as_source(chunks, y, n_chunks):
    """The chunk source of :func:`fit_chunks`'s arguments; raises for anything else."""
    if getattr(chunks, "__dask_graph__", None) is not None:
        source = _Dask(chunks, y)
    elif y is not None:
        raise ValueError("y is only for a dask array; other sources give (X, y) pairs.")
    elif callable(chunks):
        if not isinstance(n_chunks, Integral) or isinstance(n_chunks, bool):
            raise ValueError(f"A callable source needs n_chunks, an int; got {n_chunks!r}.")
        source = _Loaded(chunks, int(n_chunks))
    elif isinstance(chunks, Sequence) and not isinstance(chunks, str):
        source = _Loaded(chunks.__getitem__, len(chunks))
    else:
        raise TypeError(
            "chunks must be a dask array, a sequence of (X, y) pairs or a callable loading "
            f"chunk i; got {type(chunks).__name__} (for data in memory, use fit)."
        )
    if len(source) < 1:
        raise ValueError("The source has no chunks.")
    return source


# ---------------------------------------------------------------------- first pass


class _Survey(NamedTuple):
    """What ``fit`` would learn from the whole data before training, from the stream."""

    classes: object  # a classifier's labels, or None (the estimator's own rule)
    class_weight: object  # 'balanced' resolved to a dict over the stream, or None
    scaling: object  # a regressor's (mean, scale) per output column, or None


def _survey(estimator, source, classes):
    """A first pass over the targets, only for what the estimator needs of them."""
    if isinstance(estimator, RNNRegressor):
        if not estimator.normalize_y:
            return _Survey(None, None, None)
        moments = _Moments()
        for i in range(len(source)):
            moments.add(_target_columns(source.load_targets(i), estimator.output_mode, i))
        return _Survey(None, None, moments.scaling())
    weight = estimator.class_weight
    balanced = isinstance(weight, str) and weight == "balanced"
    if classes is not None and not balanced:
        return _Survey(classes, None, None)
    counts = {}
    for i in range(len(source)):
        labels = source.load_targets(i)
        if estimator.output_mode == "last" and np.ndim(labels) == 2:
            return _Survey(classes, None, None)  # multilabel: no classes, no class weights
        values, numbers = np.unique(_flat_labels(labels), return_counts=True)
        for value, number in zip(values.tolist(), numbers.tolist(), strict=True):
            counts[value] = counts.get(value, 0) + number
    found = np.unique(np.array(list(counts)))
    total, present = sum(counts.values()), len(counts)
    weights = {label: total / (present * n) for label, n in counts.items()} if balanced else None
    return _Survey(found if classes is None else classes, weights, None)


def _flat_labels(y):
    """Every label of ``y`` (a list of per-sequence label arrays, or an array), flat."""
    if isinstance(y, list | tuple) and len(y) and not np.isscalar(y[0]):
        return np.concatenate([np.ravel(labels) for labels in y])
    return np.ravel(y)


def _target_columns(y, output_mode, i):
    """Regression targets as rows of their output columns (float64): one row per
    sequence, or per step of sequence targets (a list: one array per sequence)."""
    try:
        if isinstance(y, list | tuple) and len(y) and not np.isscalar(y[0]):
            parts = [np.asarray(part, dtype=np.float64) for part in y]
            return np.concatenate([part.reshape(len(part), -1) for part in parts])
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"chunk {i}: y must be numeric for a regressor ({error}).") from error
    if values.ndim == (1 if output_mode == "last" else 2):
        return values.reshape(-1, 1)
    return values.reshape(-1, values.shape[-1])


class _Moments:
    """Mean and standard deviation of each column over rows added in parts (Chan et al.'s
    pairwise update), as ``normalize_y`` computes them over all rows at once."""

    def __init__(self):
        self.count, self.mean, self.m2, self.low, self.high = 0, 0.0, 0.0, np.inf, -np.inf

    def add(self, rows):
        """Take in ``rows`` ``(n_rows, n_columns)``."""
        if len(rows) == 0:
            return
        mean = rows.mean(axis=0)
        count, delta = self.count + len(rows), mean - self.mean
        self.m2 = (
            self.m2 + ((rows - mean) ** 2).sum(axis=0) + delta**2 * self.count * len(rows) / count
        )
        self.mean = self.mean + delta * len(rows) / count
        self.count = count
        self.low, self.high = np.minimum(self.low, rows.min(0)), np.maximum(self.high, rows.max(0))

    def scaling(self):
        """``(mean, scale)`` per column, scale 1 for a constant column (only centred)."""
        if not np.all(np.isfinite(self.mean)):
            raise ValueError("y has non-finite values; normalize_y needs finite targets.")
        scale = np.sqrt(self.m2 / self.count)
        return self.mean, np.where(self.low == self.high, 1.0, scale)


# ---------------------------------------------------------------------- encoding, stream


class _Encoder:
    """Encodes chunks as the estimator's ``partial_fit`` would, with what the first pass
    learned: a copy of the estimator's settings, given the classes and the resolved class
    weights, and, for a regressor, targets standardised by the stream's scaling (so its own
    scaling is off). ``fresh`` starts the run from the estimator's ``random_state``, as
    ``fit`` does; ``scratch`` encodes chunks without drawing from it."""

    def __init__(self, estimator, survey):
        settings = {"warm_start": False, "verbose": 0, "callbacks": None}
        if isinstance(estimator, RNNRegressor):
            settings["normalize_y"] = False
        if survey.class_weight is not None:
            settings["class_weight"] = survey.class_weight
        params = {**estimator.get_params(deep=False), **settings}  # callbacks are not copied
        self.fresh = type(estimator)(**params)
        self.scratch = type(estimator)(**{**params, "random_state": 0})  # leaves the generator
        self.survey = survey

    def _targets(self, y):
        if self.survey.scaling is None:
            return y
        mean, scale = self.survey.scaling
        if isinstance(y, list | tuple) and len(y) and not np.isscalar(y[0]):
            return [(np.asarray(part, dtype=np.float64) - mean) / scale for part in y]
        return (np.asarray(y, dtype=np.float64) - mean) / scale

    def start(self, X, y):
        """The run's ``(setup, state)``, started afresh on one chunk as ``fit`` starts."""
        return prepare_run(self.fresh, X, self._targets(y), classes=self.survey.classes)

    def prepared(self, X, y, what):
        """The ``setup`` of a run on ``(X, y)``, errors prefixed with ``what``."""
        try:
            return prepare_run(self.scratch, X, self._targets(y), self.survey.classes)[0]
        except ValueError as error:
            raise ValueError(f"{what}: {error}") from error

    def model(self, model, *, validated):
        """The run's model with the stream's target scaling (if any)."""
        model = with_target_scaling(model, self.survey.scaling)
        return replace(model, validated=validated)


class _ChunkStream:
    """The training data of a run over a source, one chunk in memory at a time: what the
    epoch loop reads of training data (``epoch``, ``n_samples``, ``time_major``)."""

    def __init__(self, source, encoder, network):
        self.source, self.encoder, self.network = source, encoder, network
        self.n_samples = source.n_samples or 0  # rows of a whole epoch, once known
        self.last = 0

    def checked(self, X, y, what):
        """``(X, y)`` as training data (a :class:`~rnnlearn._training.TrainingData`);
        refuses data of another shape than chunk 0's, naming it ``what``."""
        setup = self.encoder.prepared(X, y, what)
        network = setup.model.network
        if not network.matches(self.network):
            raise ValueError(
                f"{what} has {network.n_features} features per step and "
                f"{network.n_outputs} outputs (steps: {network.n_steps_out}); chunk 0 "
                f"has {self.network.n_features} and {self.network.n_outputs} "
                f"({self.network.n_steps_out}): every chunk needs the same."
            )
        return setup.data

    def chunk(self, i):
        """Chunk ``i`` as training data (see :meth:`checked`)."""
        data = self.checked(*self.source.load(i), f"chunk {i}")
        self.last = i
        return data

    def epoch(self, batch_size, shuffle, rng):
        """Yield an epoch's ``(batch, weight_per_sample)`` (see
        :meth:`~rnnlearn._training.TrainingData.epoch`): the chunks in a fresh order when
        ``shuffle``, each chunk's minibatches in turn, one chunk loaded at a time."""
        order = rng.permutation(len(self.source)) if shuffle else range(len(self.source))
        rows = 0
        for i in order:
            data = self.chunk(int(i))
            rows += data.n_samples
            yield from data.epoch(batch_size, shuffle, rng)
            del data  # before the next chunk loads
        self.n_samples = rows

    def time_major(self):
        """The last chunk trained, as one batch: what the final check for a collapsed
        model reads (the whole stream would not fit)."""
        return self.chunk(self.last).time_major()
