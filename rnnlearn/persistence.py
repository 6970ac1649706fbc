"""Save fitted estimators to ``.npz`` files and load them back without pickle.

Pickle runs code from the file while loading, so a pickled model is only as safe as its
source. :func:`save` writes one ``numpy.savez`` archive instead, and :func:`load` reads it
with ``allow_pickle=False`` and instantiates nothing but the classes in the allow-lists
:data:`ESTIMATORS` and :data:`CLASSES`. The archive holds:

``metadata``
    A UTF-8 JSON document (NaN written as Python's :mod:`json` does) as a 1-D ``uint8``
    array: ``format_version``, ``rnnlearn_version``, ``estimator`` (the class name),
    ``hyperparameters`` (``get_params(deep=False)``, ``dtype`` by name; a file without
    ``dtype``, from before it existed, gets the dtype of its ``params``), ``network``
    (cell, ``n_features``, ``hidden_layer_sizes``, ``n_outputs``, ``n_steps_out``,
    ``pooling``, ``dropout``, ``bidirectional``; a file without one of the last three
    has no pooling, no dropout or one direction),
    ``optimizer`` and ``loss_function`` (the fitted objects), ``optimizer_counters``
    (``epoch``, ``step``), ``rng`` (``[pos, has_gauss, cached_gaussian]`` of the
    training generator) and ``fitted``: the rest of the fitted model and its training
    progress (``output_mode``, ``validated``, the target ``encoding``, ``history``,
    ``no_improvement``, ``best_loss``, ``best_score``, ``samples_seen``), from which every
    fitted attribute is derived as after training
    (:func:`rnnlearn._fitted.fitted_attributes`). Objects are written ``{"class": name,
    "params": {...}}``, tuples ``{"tuple": [...]}``, dicts ``{"dict": [[key, value],
    ...]}`` (keys need not be strings) and the one allow-listed function ``{"function":
    "print"}``.
``params``
    The flat network parameters, float32 or float64.
``optimizer_state__<name>``
    Each array of the optimizer state (momentum, moment estimates, ...).
``rng_key``
    The 624 ``uint32`` words of the training generator's Mersenne Twister state.
``encoding__<attribute>``
    Each array of the target encoding: ``encoding__classes_``, the class labels of a
    classifier (any dtype but ``object``).
"""

# SPDX-License-Identifier: BSD-3-Clause

import json
import warnings
import zipfile

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._base import OUTPUT_MODES, _check_dtype
from ._classifier import RNNClassifier
from ._fitted import Model, read_fitted
from ._network import Network
from ._regressor import RNNRegressor
from ._training import DivergenceGuard, TrainingState
from ._version import __version__
from .callbacks import PrintProgress
from .cells import CELLS, Cell
from .losses import LOSSES, Loss
from .optimizers import OPTIMIZERS, Optimizer

FORMAT_VERSION = 2

NETWORK_SHAPE = ("n_features", "hidden_layer_sizes", "n_outputs", "n_steps_out")
"""The :class:`Network` arguments besides the cell, stored as they are."""

NETWORK_OPTIONS = {"pooling": "last", "dropout": 0.0, "bidirectional": False}
"""Later :class:`Network` arguments, stored as they are: name -> value of a file without it."""


ESTIMATORS = {"RNNRegressor": RNNRegressor, "RNNClassifier": RNNClassifier}
"""Estimator class name -> class: the only estimators a file may name."""

CLASSES = {
    cls.__name__: cls
    for cls in (*CELLS.values(), *OPTIMIZERS.values(), *LOSSES.values(), PrintProgress)
}
"""Class name -> class: the only hyperparameter objects a file may name."""

FUNCTIONS = {"print": print}
"""Function name -> function: the only functions a file may name (a callback's sink)."""


def save(estimator, path):
    """Save a fitted estimator to a ``.npz`` file that :func:`load` reads without pickle.

    Parameters
    ----------
    estimator : RNNRegressor or RNNClassifier
        A fitted estimator.
    path : str, path-like or file-like
        Destination; as with :func:`numpy.savez`, ``.npz`` is appended to a file name
        that lacks it.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If something cannot be stored safely: a hyperparameter that is a function or an
        object from outside rnnlearn (such as a callback function: drop it first with
        ``estimator.set_params(callbacks=None)``), or class labels of ``object`` dtype.
        Use pickle or joblib for those, and load such files only from trusted sources.

    Notes
    -----
    A ``random_state`` that is a ``RandomState`` instance is saved as ``None``; the
    state of the generator that training continues with (``partial_fit``,
    ``warm_start``) is saved in full, so continued training is unaffected. A ``dtype``
    given as ``numpy.float32`` or ``numpy.float64`` is saved as its name.
    """
    check_is_fitted(estimator, "n_iter_")
    name = type(estimator).__name__
    if ESTIMATORS.get(name) is not type(estimator):
        raise ValueError(f"Only {sorted(ESTIMATORS)} can be saved; got {name}.")
    hyperparameters = estimator.get_params(deep=False)
    if isinstance(hyperparameters["random_state"], np.random.RandomState):
        hyperparameters["random_state"] = None
    hyperparameters["dtype"] = _check_dtype(hyperparameters["dtype"]).name
    model, state = read_fitted(estimator)
    network, optimizer_state = model.network, state.optimizer_state
    _, key, *rng_scalars = state.rng.get_state()
    arrays = {"params": state.params, "rng_key": key}
    arrays.update({f"optimizer_state__{k}": v for k, v in optimizer_state.items() if _is_array(v)})
    encoding = _split_encoding(model.encoding, arrays)
    document = {
        "format_version": FORMAT_VERSION,
        "rnnlearn_version": __version__,
        "estimator": name,
        "hyperparameters": {k: _encode(v, k) for k, v in hyperparameters.items()},
        "network": {
            "cell": _encode(network.cell, "cell_"),
            **{name: getattr(network, name) for name in (*NETWORK_SHAPE, *NETWORK_OPTIONS)},
        },
        "optimizer": _encode(model.optimizer, "optimizer_"),
        "loss_function": _encode(model.loss, "loss_function_"),
        "optimizer_counters": {
            k: v.item() if isinstance(v, np.generic) else v
            for k, v in optimizer_state.items()
            if not _is_array(v)
        },
        "rng": rng_scalars,
        "fitted": {
            "output_mode": model.output_mode,
            "validated": model.validated,
            "encoding": encoding,
            "history": _encode(state.history, "history_"),
            "no_improvement": state.no_improvement,
            "best_loss": state.best_loss,
            "best_score": state.best_score,
            "samples_seen": state.samples_seen,
        },
    }
    metadata = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    np.savez(path, metadata=metadata, **arrays)


def _split_encoding(encoding, arrays):
    """The JSON part of a target encoding; its arrays go into ``arrays``."""
    document = {}
    for attribute, value in encoding.items():
        if not isinstance(value, np.ndarray):
            document[attribute] = _encode(value, attribute)
        elif value.dtype == object:
            raise ValueError(
                f"{attribute} has object dtype (labels from an object array or a pandas "
                f"column), which cannot be stored without pickle. Fit on labels of one "
                f"plain dtype (e.g. y.astype(str)), or use pickle/joblib for trusted storage."
            )
        else:
            arrays[f"encoding__{attribute}"] = value
    return document


def load(path):
    """Load an estimator written by :func:`save`, never unpickling anything.

    Parameters
    ----------
    path : str, path-like or file-like
        A file written by :func:`save`.

    Returns
    -------
    RNNRegressor or RNNClassifier
        The fitted estimator: it predicts exactly as the saved one did, and
        ``partial_fit`` or a ``warm_start`` fit continues exactly as it would have.

    Raises
    ------
    ValueError
        If the file is not such a file: empty, truncated or garbage bytes, pickled data
        or object arrays, an unknown format version, a class outside the allow-lists,
        missing or malformed entries, or arrays that do not fit the network.
    FileNotFoundError
        If there is no file at ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from rnnlearn import RNNClassifier
    >>> from rnnlearn.persistence import load, save
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(20, 5, 1))
    >>> y = np.where(X.sum(axis=(1, 2)) > 0, "up", "down")
    >>> clf = RNNClassifier(hidden_layer_sizes=4, max_iter=3, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save(clf, os.path.join(folder, "model.npz"))
    ...     loaded = load(os.path.join(folder, "model.npz"))
    >>> np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    True
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it is no .npz archive")
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        # Empty, truncated or garbage bytes, object arrays, a pickle or a .npy file.
        # NumPy's own message about pickled data suggests allow_pickle=True: not here.
        raise ValueError(
            f"{path} is not a valid rnnlearn model file: it cannot be read as the .npz "
            f"archive that rnnlearn.persistence.save writes, without unpickling (it is "
            f"empty, truncated, holds pickled objects, or is another kind of file)."
        ) from exc
    try:
        return _rebuild(arrays)
    except (KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a valid rnnlearn model file: {exc!r}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a valid rnnlearn model file: {exc}") from exc


def _rebuild(arrays):
    """The estimator described by the archive's arrays, every entry checked."""
    document = json.loads(arrays.pop("metadata").tobytes().decode("utf-8"))
    name = _check_header(document)
    network = _read_network(document["network"])
    params = arrays.pop("params")
    if params.shape != (network.n_params,) or params.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"params must be a float32 or float64 array of shape ({network.n_params},) "
            f"for this network; got {params.dtype} {params.shape}."
        )
    hyperparameters = {k: _decode(v) for k, v in document["hyperparameters"].items()}
    # Files from before the dtype hyperparameter trained in the input's dtype.
    hyperparameters.setdefault("dtype", params.dtype.name)
    estimator = ESTIMATORS[name](**hyperparameters)
    estimator._check_params()
    optimizer = _decode_instance(document["optimizer"], Optimizer)
    rng = np.random.RandomState()
    rng.set_state(("MT19937", arrays.pop("rng_key"), *document["rng"]))
    fitted = document["fitted"]
    if fitted["output_mode"] not in OUTPUT_MODES:
        raise ValueError(f"Unknown output mode {fitted['output_mode']!r} in the model file.")
    encoding = {k: _decode(v) for k, v in fitted["encoding"].items()}
    for attribute in estimator._encoding_attributes:
        if attribute not in encoding:
            encoding[attribute] = arrays.pop(f"encoding__{attribute}")
    if encoding.keys() != set(estimator._encoding_attributes):
        raise ValueError(f"Unexpected target encoding in the model file: {sorted(encoding)}.")
    model = Model(
        network=network,
        optimizer=optimizer,
        loss=_decode_instance(document["loss_function"], Loss),
        output_mode=fitted["output_mode"],
        encoding=encoding,
        validated=bool(fitted["validated"]),
    )
    state = TrainingState(
        params=params,
        optimizer_state=_read_state(optimizer, params, document["optimizer_counters"], arrays),
        rng=rng,
        history=_decode(fitted["history"]),
        guard=DivergenceGuard(params.copy()),
        no_improvement=int(fitted["no_improvement"]),
        best_loss=fitted["best_loss"],
        best_score=fitted["best_score"],
        samples_seen=int(fitted["samples_seen"]),
    )
    if arrays:
        raise ValueError(f"Unexpected arrays in the model file: {sorted(arrays)}.")
    estimator._commit(model, state)
    return estimator


def _read_network(layout):
    """The network a document's ``network`` entry describes."""
    shape = {name: layout[name] for name in NETWORK_SHAPE}
    options = {name: layout.get(name, default) for name, default in NETWORK_OPTIONS.items()}
    return Network(_decode_instance(layout["cell"], Cell), **shape, **options)


def _check_header(document):
    """Check the format version and estimator name (warn on another rnnlearn version)."""
    if document["format_version"] != FORMAT_VERSION:
        raise ValueError(
            f"Unsupported model file format {document['format_version']!r}; this "
            f"rnnlearn reads format {FORMAT_VERSION}."
        )
    if document["estimator"] not in ESTIMATORS:
        raise ValueError(
            f"Unknown estimator {document['estimator']!r}; expected one of {sorted(ESTIMATORS)}."
        )
    if document["rnnlearn_version"] != __version__:
        warnings.warn(
            f"The model was saved with rnnlearn {document['rnnlearn_version']} and is "
            f"loaded with {__version__}; results may differ.",
            UserWarning,
            stacklevel=4,
        )
    return document["estimator"]


def _read_state(optimizer, params, counters, arrays):
    """The optimizer state: scalars from the document, arrays popped from ``arrays``.

    A file from before the plateau schedule has no ``learning_rate_scale``: it is 1.
    """
    state = optimizer.init(params)
    for key, template in state.items():
        if _is_array(template):
            value = arrays.pop(f"optimizer_state__{key}")
            if value.shape != template.shape or value.dtype != template.dtype:
                raise ValueError(f"Optimizer state {key!r} does not match the parameters.")
            state[key] = value
        else:
            state[key] = type(template)(counters.get(key, template))
    return state


def _is_array(value):
    """Whether an optimizer-state entry is an array (stored in the archive) or a scalar
    (stored in the JSON document, typed like :meth:`Optimizer.init`'s)."""
    return isinstance(value, np.ndarray)


def _encode(value, name):
    """JSON-ready form of ``value``; objects only from :data:`CLASSES` and :data:`FUNCTIONS`."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_encode(item, name) for item in value]
    if isinstance(value, tuple):
        return {"tuple": [_encode(item, name) for item in value]}
    if isinstance(value, dict):
        return {"dict": [[_encode(k, name), _encode(v, name)] for k, v in value.items()]}
    if CLASSES.get(type(value).__name__) is type(value):
        params = value.get_params(deep=False)
        return {
            "class": type(value).__name__,
            "params": {k: _encode(v, name) for k, v in params.items()},
        }
    for function_name, function in FUNCTIONS.items():
        if value is function:
            return {"function": function_name}
    raise ValueError(
        f"{name} holds {value!r}, which cannot be saved safely: only numbers, strings, "
        f"lists, tuples, dicts and rnnlearn's own {sorted(CLASSES)} can. Replace it first "
        f"(callback functions: estimator.set_params(callbacks=None)), or use pickle/joblib "
        f"and load the file only from trusted sources."
    )


def _decode(value):
    """Inverse of :func:`_encode`; instantiates only allow-listed classes."""
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"tuple"}:
        return tuple(_decode(item) for item in value["tuple"])
    if value.keys() == {"dict"}:
        return {_decode(k): _decode(v) for k, v in value["dict"]}
    if value.keys() == {"function"} and value["function"] in FUNCTIONS:
        return FUNCTIONS[value["function"]]
    if value.keys() == {"class", "params"} and value["class"] in CLASSES:
        return CLASSES[value["class"]](**{k: _decode(v) for k, v in value["params"].items()})
    raise ValueError(
        f"Cannot load {value!r}: the only classes a model file may name are "
        f"{sorted(CLASSES)}, and the only function is {sorted(FUNCTIONS)}."
    )


def _decode_instance(value, base_class):
    """Decode an object and check that it is a ``base_class``."""
    instance = _decode(value)
    if not isinstance(instance, base_class):
        raise ValueError(f"Expected a {base_class.__name__} in the model file; got {value!r}.")
    return instance
