"""The compiled kernels, built for the widest instruction set this CPU runs.

``setup.py`` compiles ``_kernels.pyx`` for the baseline of the platform and, on x86-64,
also for x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512). NumPy's own CPU detection (which
also checks that the operating system enables the wider registers) chooses among them. The
builds differ only in speed and in the last bits of float32 results. The environment
variable ``RNNLEARN_KERNELS`` (``baseline``, ``x86_64_v3`` or ``x86_64_v4``), read at
import, forces one build.
"""

# SPDX-License-Identifier: BSD-3-Clause

import importlib
import os

from ..activations import ACTIVATIONS

BUILDS = {
    "x86_64_v4": ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL"),
    "x86_64_v3": ("AVX2", "FMA3", "F16C", "BMI2"),
    "baseline": (),
}
"""Build name -> the CPU features it needs, widest first."""


def runnable_builds():
    """The builds that are installed and that this CPU runs, widest first.

    Returns
    -------
    list of str
        Names from :data:`BUILDS`; ``"baseline"`` is always last.
    """
    return [name for name, module in _runnable() if module is not None]


def _runnable():
    """Yield ``(name, module)`` for each build this CPU runs, widest first, importing
    lazily; ``module`` is ``None`` for a build that is not installed."""
    features = _cpu_features()
    for name, needed in BUILDS.items():
        if all(features.get(feature, False) for feature in needed):
            try:
                yield name, _import(name)
            except ImportError:  # not built on this platform
                yield name, None


def _import(name):
    """The kernel module of build ``name``."""
    suffix = "" if name == "baseline" else "_" + name
    return importlib.import_module(f"._kernels{suffix}", __package__)


def _cpu_features():
    """NumPy's map of CPU feature names to whether this machine has them (or ``{}``)."""
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            return importlib.import_module(module).__cpu_features__
        except (ImportError, AttributeError):
            continue
    return {}


def _load():
    """The build named by ``RNNLEARN_KERNELS``, else the widest runnable one."""
    forced = os.environ.get("RNNLEARN_KERNELS")
    if forced:
        if forced not in BUILDS:
            raise ImportError(f"RNNLEARN_KERNELS must be one of {sorted(BUILDS)}; got {forced!r}.")
        return _import(forced)
    module = next((module for _, module in _runnable() if module is not None), None)
    if module is None:  # a source checkout whose extension was never compiled
        raise ImportError(
            "rnnlearn's compiled kernels are not built. Install rnnlearn with pip, or in a "
            "source checkout run `python setup.py build_ext --inplace`."
        )
    return module


kernels = _load()
"""The kernel module in use (``kernels.__name__`` tells which build)."""
ACTIVATION_CODES = kernels.ACTIVATION_CODES
"""Activation name -> the kernels' code for it (the names of :data:`ACTIVATIONS`)."""
if set(ACTIVATION_CODES) != set(ACTIVATIONS):  # tests/test_activations.py checks the values
    raise ImportError(
        f"The compiled kernels know the activations {sorted(ACTIVATION_CODES)} but "
        f"rnnlearn.activations defines {sorted(ACTIVATIONS)}; rebuild the kernels."
    )
