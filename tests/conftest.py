"""Shared fixtures of the rnnlearn test suite."""

import pytest

_GRADCHECK_ERRORS = {}


@pytest.fixture(scope="session")
def gradcheck_errors():
    """Dict ``check id -> max relative error``; the worst is shown in the terminal summary."""
    return _GRADCHECK_ERRORS


def pytest_terminal_summary(terminalreporter):
    if _GRADCHECK_ERRORS:
        worst = max(_GRADCHECK_ERRORS, key=_GRADCHECK_ERRORS.get)
        terminalreporter.write_line(
            f"worst gradcheck relative error: {_GRADCHECK_ERRORS[worst]:.3e} "
            f"({worst}; {len(_GRADCHECK_ERRORS)} checks)"
        )


@pytest.fixture(scope="module")
def single_blas_thread():
    """Limit BLAS to one thread for a module (``pytestmark = usefixtures(...)``).

    The estimator tests multiply tiny matrices, where a second BLAS thread only adds
    contention: LSTM training ran about 10x slower on a loaded 2-core machine.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
