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

Whole pipelines, and any other scikit-learn object with rnnlearn parts, go to a `skops
<https://skops.readthedocs.io>`_ file instead: :func:`save_skops` and :func:`load_skops`
(``pip install rnnlearn[skops]``). skops reads such a file without unpickling, and builds
nothing but the types it trusts by default (scikit-learn's estimators, NumPy arrays, ...)
and those the caller lists; :data:`SKOPS_TRUSTED_TYPES` is what rnnlearn's parts add.
"""

# SPDX-License-Identifier: BSD-3-Clause

import json
import os
import re
import zipfile
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from . import preprocessing
from ._base import OUTPUT_MODES
from ._classifier import RNNClassifier
from ._fitted import (
    Model,
    check_hyperparameters,
    encoding_defaults,
    encoding_names,
    read_fitted,
    start_state,
    write_fitted,
)
from ._forecaster import RNNForecaster
from ._network import Network
from ._regressor import RNNRegressor
from ._validation import check_dtype
from ._version import __version__
from .callbacks import PrintProgress
from .cells import CELLS, Cell
from .exceptions import warn_at_call_site
from .losses import LOSSES, Loss
from .optimizers import OPTIMIZERS, Optimizer

FORMAT_VERSION = 2

OLD_NETWORK_DEFAULTS = {"pooling": "last", "dropout": 0.0, "bidirectional": False}
"""The :class:`Network` arguments that files of this format from before them lack: name ->
the value such a file means. A file stores the others of :attr:`Network.ARCHITECTURE`."""


OLD_HYPERPARAMETER_DEFAULTS = {"normalize_y": False, "dropout": 0.0}
"""The hyperparameters that files of this format from before them lack, for the estimators
that take them: name -> the value such a file means (regressors then trained on ``y`` as
given, without dropout). A saved ``pooling='auto'`` means the pooling its network was built
with (the regressor's ``'auto'`` was ``'last'`` before it became ``'max'``)."""


ESTIMATORS = {
    "RNNRegressor": RNNRegressor,
    "RNNClassifier": RNNClassifier,
    "RNNForecaster": RNNForecaster,
}
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
    hyperparameters = _hyperparameters_to_save(estimator)
    model, state = read_fitted(estimator)
    _, key, *rng_scalars = state.rng.get_state()
    arrays = {"params": state.params, "rng_key": key}
    arrays.update(
        {f"optimizer_state__{k}": v for k, v in state.optimizer_state.items() if _is_array(v)}
    )
    encoding = _split_encoding(model.encoding, arrays)
    document = {
        "format_version": FORMAT_VERSION,
        "rnnlearn_version": __version__,
        "estimator": name,
        "hyperparameters": {k: _encode(v, k) for k, v in hyperparameters.items()},
        **_model_document(model),
        "optimizer_counters": {
            k: v.item() if isinstance(v, np.generic) else v
            for k, v in state.optimizer_state.items()
            if not _is_array(v)
        },
        "rng": rng_scalars,
        "fitted": _fitted_document(model, state, encoding),
    }
    metadata = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    np.savez(path, metadata=metadata, **arrays)


def _hyperparameters_to_save(estimator):
    """``get_params(deep=False)``, a ``RandomState`` as ``None`` and ``dtype`` by name."""
    hyperparameters = estimator.get_params(deep=False)
    if isinstance(hyperparameters["random_state"], np.random.RandomState):
        hyperparameters["random_state"] = None
    hyperparameters["dtype"] = check_dtype(hyperparameters["dtype"]).name
    return hyperparameters


def _model_document(model):
    """The ``network``, ``optimizer`` and ``loss_function`` entries of a model's document."""
    return {
        "network": {"cell": _encode(model.network.cell, "cell_"), **model.network.architecture},
        "optimizer": _encode(model.optimizer, "optimizer_"),
        "loss_function": _encode(model.loss, "loss_function_"),
    }


def _fitted_document(model, state, encoding):
    """The ``fitted`` entry: the rest of the model (``encoding``: the JSON part of its target
    encoding) and its training progress."""
    return {
        "output_mode": model.output_mode,
        "validated": model.validated,
        "encoding": encoding,
        "history": _encode(state.history, "history_"),
        "no_improvement": state.no_improvement,
        "best_loss": state.best_loss,
        "best_score": state.best_score,
        "samples_seen": state.samples_seen,
    }


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
    arrays = _read_archive(path)
    try:
        return _rebuild(arrays)
    except (KeyError, TypeError, AttributeError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not a valid rnnlearn model file: {exc!r}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not a valid rnnlearn model file: {exc}") from exc


def _read_archive(path):
    """The arrays of the ``.npz`` archive at ``path``, read without unpickling."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it is no .npz archive")
            return {name: archive[name] for name in archive.files}
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


def _rebuild(arrays):
    """The estimator described by the archive's arrays, every entry checked."""
    document = json.loads(arrays.pop("metadata").tobytes().decode("utf-8"))
    name = _check_header(document)
    network = _read_network(document["network"])
    params = _read_params(arrays, network)
    hyperparameters = {k: _decode(v) for k, v in document["hyperparameters"].items()}
    # Files from before the dtype hyperparameter trained in the input's dtype.
    hyperparameters.setdefault("dtype", params.dtype.name)
    taken = ESTIMATORS[name]().get_params()
    for key, value in OLD_HYPERPARAMETER_DEFAULTS.items():
        if key in taken:
            hyperparameters.setdefault(key, value)
    estimator = ESTIMATORS[name](**hyperparameters)
    if check_hyperparameters(estimator).pooling != network.pooling and estimator.pooling == "auto":
        estimator.set_params(pooling=network.pooling)
    optimizer = _decode_instance(document["optimizer"], Optimizer)
    rng = np.random.RandomState()
    rng.set_state(("MT19937", arrays.pop("rng_key"), *document["rng"]))
    model = _read_model(document, network, optimizer, estimator, arrays)
    _check_target_scaling(estimator, model)
    fitted = document["fitted"]
    state = start_state(
        params,
        _read_state(optimizer, params, document["optimizer_counters"], arrays),
        rng,
        history=_decode(fitted["history"]),
        no_improvement=int(fitted["no_improvement"]),
        best_loss=fitted["best_loss"],
        best_score=fitted["best_score"],
        samples_seen=int(fitted["samples_seen"]),
    )
    if arrays:
        raise ValueError(f"Unexpected arrays in the model file: {sorted(arrays)}.")
    write_fitted(estimator, model, state)
    return estimator


def _read_params(arrays, network):
    """The flat parameters, popped from ``arrays`` and checked against ``network``."""
    params = arrays.pop("params")
    if params.shape != (network.n_params,) or params.dtype not in (np.float32, np.float64):
        raise ValueError(
            f"params must be a float32 or float64 array of shape ({network.n_params},) "
            f"for this network; got {params.dtype} {params.shape}."
        )
    return params


def _read_model(document, network, optimizer, estimator, arrays):
    """The :class:`Model` a document describes for ``estimator`` (whose target encoding it
    holds); encoding arrays popped from ``arrays``."""
    fitted = document["fitted"]
    if fitted["output_mode"] not in OUTPUT_MODES:
        raise ValueError(f"Unknown output mode {fitted['output_mode']!r} in the model file.")
    encoding = {k: _decode(v) for k, v in fitted["encoding"].items()}
    encoding_attributes, defaults = encoding_names(estimator), encoding_defaults(estimator)
    for attribute in encoding_attributes:
        key = f"encoding__{attribute}"
        if attribute not in encoding:  # an array, or absent from a file from before it
            encoding[attribute] = arrays.pop(key) if key in arrays else defaults[attribute]
    if encoding.keys() != set(encoding_attributes):
        raise ValueError(f"Unexpected target encoding in the model file: {sorted(encoding)}.")
    return Model(
        network=network,
        optimizer=optimizer,
        loss=_decode_instance(document["loss_function"], Loss),
        output_mode=fitted["output_mode"],
        encoding=encoding,
        validated=bool(fitted["validated"]),
    )


def _read_network(layout):
    """The network a document's ``network`` entry describes; a file from before some of
    its arguments gets :data:`OLD_NETWORK_DEFAULTS` for them."""
    architecture = {
        name: layout[name] if name in layout else OLD_NETWORK_DEFAULTS[name]
        for name in Network.ARCHITECTURE
    }
    return Network(_decode_instance(layout["cell"], Cell), **architecture)


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
        warn_at_call_site(
            f"The model was saved with rnnlearn {document['rnnlearn_version']} and is "
            f"loaded with {__version__}; results may differ.",
            UserWarning,
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


# ------------------------------------------------------------------ skops files


def _skops_name(obj):
    """The name skops gives a class or function in a file: ``module.name``."""
    return f"{obj.__module__}.{obj.__name__}"


_TRANSFORMERS = [
    getattr(preprocessing, name)
    for name in preprocessing.__all__
    if isinstance(getattr(preprocessing, name), type)
]

SKOPS_TRUSTED_TYPES = tuple(
    sorted(
        _skops_name(cls)
        for cls in (
            *ESTIMATORS.values(),
            *CELLS.values(),
            *OPTIMIZERS.values(),
            *LOSSES.values(),
            Network,
            *_TRANSFORMERS,
        )
    )
)
"""The rnnlearn types that a skops file with rnnlearn parts needs trusted, as skops names them.

The estimators (:data:`ESTIMATORS`), their cells, optimizers and losses (the tables
behind their string aliases), the network that a fitted estimator holds
(``rnnlearn._network.Network``: shapes and parameter layout, no weights) and the
transformers of :mod:`rnnlearn.preprocessing`, all derived from the code. Everything
else a fitted rnnlearn estimator holds (arrays, dicts, lists, its NumPy ``RandomState``,
``numpy.float32`` as ``dtype``) skops trusts by default.

Trusting them runs none of their code while loading: skops creates each object and sets
its stored attributes (numbers, strings, arrays, trusted objects), through scikit-learn's
``BaseEstimator.__setstate__``. A crafted file can at most make skops call one of these
classes with stored arguments; their constructors only store them (the network's also
computes its layout). No function is listed: a callback such as
:class:`~rnnlearn.callbacks.PrintProgress` holds one (``print``), so a model with
callbacks is saved with ``callbacks=None`` (``verbose=1`` prints progress as well).

Pass this tuple to :func:`skops.io.load`, adding the types of other libraries' steps after
reviewing them::

    skops.io.load(file, trusted=[*SKOPS_TRUSTED_TYPES, "mypackage.MyTransformer"])

:func:`load_skops` trusts these and nothing more.
"""

_SKOPS_MIN_VERSION = (0, 15)
"""The first skops that refuses files of a newer skops protocol, and that checks the bit
generator a file names for a NumPy ``Generator`` instead of calling whatever
``numpy.random`` attribute the file names."""


def _import_skops():
    """``skops.io``, or an ``ImportError`` that says what to install."""
    advice = "pip install rnnlearn[skops] (or pip install 'skops>=0.15')"
    try:
        import skops
        import skops.io
    except ImportError as exc:
        raise ImportError(f"Saving and loading skops files needs skops: {advice}.") from exc
    found = tuple(int(part) for part in re.findall(r"\d+", skops.__version__)[:2])
    if found < _SKOPS_MIN_VERSION:
        raise ImportError(
            f"rnnlearn needs skops >= 0.15, which refuses files that older versions load "
            f"unsafely; found skops {skops.__version__}: {advice}."
        )
    return skops.io


def save_skops(obj, file):
    """Save a scikit-learn object with rnnlearn parts, such as a fitted pipeline, with skops.

    The file is one that :func:`load_skops` reads: it holds nothing beyond what skops
    trusts by default and :data:`SKOPS_TRUSTED_TYPES`, so whoever loads it needs to trust
    no other type.

    Parameters
    ----------
    obj : object
        A pipeline (or search, or bare estimator) whose steps are rnnlearn's estimators
        and transformers and scikit-learn's, fitted or not.
    file : str, path-like or binary file-like
        Destination (``.skops`` is the usual extension; none is added).

    Raises
    ------
    ValueError
        If ``obj`` holds a type :func:`load_skops` would refuse: a callback (a function,
        an object of your own class, or :class:`~rnnlearn.callbacks.PrintProgress`, which
        holds ``print``: drop them first with ``set_params(callbacks=None)``), a ``dtype``
        given as a ``numpy.dtype`` object, or a step or attribute from outside rnnlearn
        that skops does not trust by default. The message names them; save such an object
        with :func:`skops.io.dump` and load it with :func:`skops.io.load`, trusting them
        after review.
    ImportError
        If skops >= 0.15 is not installed.

    See Also
    --------
    load_skops : Load the file; its Examples save one too.
    save : Save a bare estimator to a ``.npz`` file, without skops.
    """
    skops_io = _import_skops()
    data = skops_io.dumps(obj)
    untrusted = sorted(set(skops_io.get_untrusted_types(data=data)) - set(SKOPS_TRUSTED_TYPES))
    if untrusted:
        raise ValueError(
            f"{type(obj).__name__} holds types that neither skops by default nor "
            f"SKOPS_TRUSTED_TYPES trust, so load_skops would refuse the file: {untrusted}. "
            f"Drop functions (callbacks: set_params(callbacks=None)), or save with "
            f"skops.io.dump and load with skops.io.load(file, trusted=[*SKOPS_TRUSTED_TYPES, "
            f"...]) after reviewing these types."
        )
    if isinstance(file, str | os.PathLike):
        with open(file, "wb") as stream:
            stream.write(data)
    else:
        file.write(data)


def load_skops(file):
    """Load a file written by :func:`save_skops` (or :func:`skops.io.dump`), safely.

    skops reads the file without unpickling and, running nothing, refuses one that names a
    type neither trusted by skops by default nor in :data:`SKOPS_TRUSTED_TYPES` (such as
    ``os.system``); each fitted rnnlearn estimator in it is then checked as :func:`load` does.

    Parameters
    ----------
    file : str, path-like or binary file-like
        A skops file.

    Returns
    -------
    object
        The saved object, such as a fitted pipeline: it predicts, and its rnnlearn
        estimators continue training (``partial_fit``, ``warm_start``), exactly as the saved one.

    Raises
    ------
    ValueError
        If the file is not such a file, naming it and the problem: empty, truncated or
        garbage bytes, a zip archive without a skops schema, a newer skops protocol, a
        schema that names an untrusted type or is otherwise malformed, or an rnnlearn
        estimator whose fitted state does not fit together.
    FileNotFoundError
        If there is no file at ``file``.
    ImportError
        If skops >= 0.15 is not installed.

    See Also
    --------
    save_skops : Write the file.
    load : Load a bare estimator from a ``.npz`` file, without skops.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from rnnlearn import RNNRegressor
    >>> from rnnlearn.persistence import load_skops, save_skops
    >>> from rnnlearn.preprocessing import SequenceScaler
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(20, 5, 2)), rng.normal(size=20)
    >>> pipe = make_pipeline(SequenceScaler(), RNNRegressor(4, max_iter=3)).fit(X, y)
    >>> file = io.BytesIO()
    >>> save_skops(pipe, file)
    >>> loaded = load_skops(io.BytesIO(file.getvalue()))
    >>> np.array_equal(loaded.predict(X), pipe.predict(X))
    True
    >>> load_skops(io.BytesIO(file.getvalue()[:100]))
    Traceback (most recent call last):
    ...
    ValueError: <_io.BytesIO object at ...> is not a skops file that rnnlearn can load: ...
    """
    name = os.fspath(file) if isinstance(file, str | os.PathLike) else _stream_name(file)
    obj = _load_trusted(_import_skops(), file, name)
    _check_fitted_estimators(obj, name)
    return obj


def _stream_name(file):
    """What an error message calls a file-like object: its name, else its ``repr``."""
    return getattr(file, "name", None) or repr(file)


def _load_trusted(skops_io, file, name):
    """``skops.io.load`` trusting :data:`SKOPS_TRUSTED_TYPES`; a ``ValueError`` naming the
    file (``name``) for whatever it refuses or fails to read."""
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return skops_io.load(file, trusted=list(SKOPS_TRUSTED_TYPES))
    except FileNotFoundError:
        raise
    except UntrustedTypesFoundException as exc:
        raise ValueError(
            f"{name} was refused and nothing in it was run: it names types that neither "
            f"skops nor rnnlearn.persistence.SKOPS_TRUSTED_TYPES trust ({exc}). If you "
            f"trust its source, review them and pass them to skops.io.load(file, "
            f"trusted=[*SKOPS_TRUSTED_TYPES, ...])."
        ) from exc
    except Exception as exc:  # whatever a broken file makes zipfile, json or skops raise
        raise ValueError(
            f"{name} is not a skops file that rnnlearn can load: {type(exc).__name__}: {exc}"
        ) from exc


def _check_fitted_estimators(obj, name):
    """Check each fitted rnnlearn estimator in a loaded object as :func:`load` would; a
    ``ValueError`` naming the file (``name``) if one does not fit together."""
    try:
        for estimator in _fitted_estimators(obj):
            _check_fitted(estimator)
    except Exception as exc:  # whatever the checks meet in a tampered object
        raise ValueError(
            f"{name} holds a fitted rnnlearn estimator whose parts do not fit together "
            f"(a corrupt or tampered file): {type(exc).__name__}: {exc}"
        ) from exc


def _fitted_estimators(obj):
    """The fitted rnnlearn estimators in a loaded object, however deeply nested."""
    found, seen, todo = [], set(), [obj]
    while todo:
        item = todo.pop()
        if id(item) in seen or isinstance(item, str | bytes | Real | type):
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            todo.extend([*item.keys(), *item.values()])
        elif isinstance(item, list | tuple | set | frozenset):
            todo.extend(item)
        elif isinstance(item, np.ndarray):
            todo.extend(item.flat if item.dtype == object else ())
        elif hasattr(item, "__dict__"):
            if isinstance(item, tuple(ESTIMATORS.values())) and hasattr(item, "n_iter_"):
                found.append(item)
            todo.extend(vars(item).values())
    return found


def _check_target_scaling(estimator, model):
    """Raise unless the model's loss is valid with the network's outputs (a whole number
    of targets) and its target scaling is what ``normalize_y`` says: finite ``(mean,
    scale)`` arrays of shape ``(n_targets,)`` with positive scales, or none."""
    model.loss.validate_hyperparameters(prefix="loss_function_.")
    if model.network.n_outputs % model.loss.outputs_per_target:
        raise ValueError(
            f"the loss {model.loss!r} needs a multiple of {model.loss.outputs_per_target} "
            f"outputs; the network has {model.network.n_outputs}."
        )
    scaled = bool(estimator.get_params().get("normalize_y", False))
    scaling = model.target_scaling
    if not scaled:
        if scaling is not None:
            raise ValueError("the model has a target scaling, but normalize_y is False.")
        return
    shape = (model.n_targets,)
    if scaling is None or not all(
        isinstance(v, np.ndarray) and v.shape == shape and np.all(np.isfinite(v)) for v in scaling
    ):
        raise ValueError(
            f"normalize_y is True, but the target scaling is not two finite arrays of shape "
            f"{shape}: the file lacks or has tampered encoding__y_mean / encoding__y_scale."
        )
    if not np.all(scaling[1] > 0):
        raise ValueError("the target scaling has a scale that is not positive.")


def _check_fitted(estimator):
    """Raise unless a loaded estimator's fitted state is one that training makes.

    What :func:`load` ensures for its files: valid hyperparameters, the network that its
    cell and shapes define (which the compiled kernels rely on), and parameters, optimizer
    state, loss and generator of the types and shapes that prediction and training use.
    """
    check_hyperparameters(estimator)
    model, state = read_fitted(estimator)
    network, params = model.network, state.params
    if type(network) is not Network or not isinstance(network.cell, Cell):
        raise ValueError(f"_network is {network!r}, not a Network of a Cell.")
    network.cell.validate_hyperparameters()
    rebuilt = Network(clone(network.cell), **network.architecture)
    if vars(rebuilt) | {"cell": vars(rebuilt.cell)} != vars(network) | {"cell": vars(network.cell)}:
        raise ValueError("the network is not the one that its cell and shapes define.")
    if params.dtype not in (np.float32, np.float64) or params.shape != (network.n_params,):
        raise ValueError(
            f"the parameters are {params.dtype} {params.shape}, not float32 or float64 of "
            f"shape ({network.n_params},)."
        )
    expected = {Optimizer: model.optimizer, Loss: model.loss, np.random.RandomState: state.rng}
    for cls, value in expected.items():
        if not isinstance(value, cls):
            raise ValueError(f"expected a {cls.__name__}; got {value!r}.")
    if model.output_mode not in OUTPUT_MODES:
        raise ValueError(f"unknown output mode {model.output_mode!r}.")
    _check_target_scaling(estimator, model)
    template = model.optimizer.init(params)
    if state.optimizer_state.keys() != template.keys() or not all(
        (value.shape, value.dtype) == (params.shape, params.dtype)
        if _is_array(template[key])
        else isinstance(value, Real)
        for key, value in state.optimizer_state.items()
    ):
        raise ValueError("the optimizer state does not match the optimizer and parameters.")
