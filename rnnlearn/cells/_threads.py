"""The kernels' threads: OpenMP's threads share blocks of rows, BLAS held at one thread.

The rows of a batch are independent sequences, so a recurrent kernel cuts them into blocks
of a fixed size and OpenMP's threads take the blocks, each running its block through every
time step, its recurrent products included; the other products cut their rows alike. The
blocks never depend on the thread count (nor, with the float32 kernels' own products, do a
row's bits depend on its block), so neither do the results. BLAS products then run on one
BLAS thread each. A multi-threaded BLAS beside OpenMP's threads puts two thread
pools on the same cores, and their idle threads spin and take each other's cores: measured
up to 10 times slower than either pool alone. So the network runs its passes inside
:func:`single_threaded_blas`, which holds the BLAS libraries at one thread and lets the
kernels start OpenMP's threads; other code that calls BLAS meanwhile, from another Python
thread or in a cell written in NumPy, runs single-threaded for that time. The thread count
is OpenMP's limit, which ``threadpoolctl.threadpool_limits`` sets (``"openmp"`` API).
"""

# SPDX-License-Identifier: BSD-3-Clause

import threading
from contextlib import ContextDecorator

from ._compiled import kernels as _kernels

_lock = threading.Lock()
_holders = 0
_saved_threads = []
_blas_libraries = None


def single_threaded_blas():
    """Hold every BLAS library at one thread and let the kernels use OpenMP's threads.

    The network holds it over each forward and backward pass, a training epoch over all
    its batches, and a prediction pass whose products are big enough to split over threads
    (a smaller one runs single-threaded anyway, and skips the hold's cost), so that no BLAS
    worker thread is left spinning on a core that an OpenMP thread needs. Nested and
    concurrent holders share one hold; the last to leave restores the BLAS thread counts.

    Returns
    -------
    context manager
        Usable in a ``with`` statement (which binds ``None``) or as a decorator. It keeps
        no state of its own (the hold is the module's), so one object serves every use.
    """
    return _HOLD


class _BlasHold(ContextDecorator):
    """The context manager :func:`single_threaded_blas` returns: a class, not a generator,
    so that entering and leaving it costs about a microsecond less (a prediction of a few
    sequences pays it on every call)."""

    def __enter__(self):
        global _holders
        with _lock:
            if _holders == 0:
                for library in _libraries():
                    n_threads = library.get_num_threads()
                    if n_threads != 1:  # setting a count costs more than reading it
                        _saved_threads.append((library, n_threads))
                        library.set_num_threads(1)
                _kernels.allow_threads(True)
            _holders += 1

    def __exit__(self, *exc_info):
        global _holders
        with _lock:
            _holders -= 1
            if _holders == 0:
                _kernels.allow_threads(False)
                for library, n_threads in _saved_threads:
                    library.set_num_threads(n_threads)
                _saved_threads.clear()
        return False


_HOLD = _BlasHold()


def _libraries():
    """threadpoolctl's controllers of the loaded BLAS libraries (found once, lazily)."""
    global _blas_libraries
    if _blas_libraries is None:
        from threadpoolctl import ThreadpoolController

        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries
