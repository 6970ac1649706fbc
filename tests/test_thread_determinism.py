"""The same ``random_state`` gives the same model, bit for bit, on any number of threads.

The kernels cut a batch into blocks of rows fixed by the batch alone, or in float32, whose
products give a row the same bits in any block, into blocks sized by the threads; they sum
the weight gradients block by block in block order (see ``rnnlearn/cells/_kernels.pyx``).
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from rnnlearn import RNNClassifier
from rnnlearn.cells._compiled import kernels as _kernels
from rnnlearn.cells._threads import single_threaded_blas

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::rnnlearn.exceptions.CollapseWarning"),
]
"""The fits train for two epochs only, on purpose: long enough for the weights to move."""

N_SAMPLES, MAX_STEPS, N_FEATURES, BATCH, N_HIDDEN = 96, 50, 3, 96, 16
THREADS = (1, 2, 3)


def _data():
    """Sequences of 30 to 50 steps (so padding and masks are exercised), 3 classes."""
    rng = np.random.RandomState(0)
    lengths = rng.randint(30, MAX_STEPS + 1, size=N_SAMPLES)
    lengths[0] = MAX_STEPS
    X = [rng.normal(size=(n, N_FEATURES)) for n in lengths]
    y = np.array([int(x[:, 0].sum() > 0) + int(x[:, 1].sum() > 2) for x in X])
    return X, y


def _fit(cell, dtype, bidirectional, n_threads):
    """A two-layer classifier fitted on ``n_threads`` threads (OpenMP and BLAS alike)."""
    X, y = _data()
    model = RNNClassifier(
        cell=cell,
        hidden_layer_sizes=(N_HIDDEN, N_HIDDEN),
        bidirectional=bidirectional,
        batch_size=BATCH,
        max_iter=2,
        dtype=dtype,
        random_state=0,
    )
    with threadpool_limits(limits=n_threads):
        model.fit(X, y)
        return model.coefs_, model.predict_proba(X)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "cell, bidirectional", [("vanilla", False), ("gru", False), ("lstm", False), ("lstm", True)]
)
def test_fits_on_1_2_and_3_threads_are_bit_identical(cell, dtype, bidirectional):
    coefs, proba = _fit(cell, dtype, bidirectional, THREADS[0])
    for n_threads in THREADS[1:]:
        other_coefs, other_proba = _fit(cell, dtype, bidirectional, n_threads)
        for layer, other_layer in zip(coefs, other_coefs, strict=True):
            for name, weights in layer.items():
                assert np.array_equal(weights, other_layer[name]), (n_threads, name)
        assert np.array_equal(proba, other_proba), n_threads


def test_the_problem_is_large_enough_for_the_kernels_to_split():
    """Every kernel of the fits above cuts its work into 3 blocks or more, and takes 3
    threads when allowed 3: otherwise the test above would compare one thread with one."""
    recurrent_blocks = _kernels.count_blocks(BATCH, _kernels.SEQUENCE_BLOCK)
    recurrent_work = BATCH * MAX_STEPS * N_HIDDEN * N_HIDDEN / recurrent_blocks
    grad_blocks = _kernels.count_blocks(BATCH * MAX_STEPS, _kernels.GRAD_BLOCK)
    grad_work = BATCH * MAX_STEPS * N_HIDDEN * N_HIDDEN / grad_blocks
    matmul_blocks = _kernels.count_blocks(BATCH * MAX_STEPS, _kernels.MATMUL_BLOCK)
    matmul_work = BATCH * MAX_STEPS * N_HIDDEN * N_HIDDEN / matmul_blocks
    assert min(recurrent_blocks, grad_blocks, matmul_blocks) >= 3
    # float32 packs W_h, and cuts the ragged batch by the thread count: 1, 8 and 12 blocks
    W_h = np.zeros((N_HIDDEN, 4 * N_HIDDEN), np.float32)
    plans = {t: _kernels.plan_pass(W_h, MAX_STEPS, BATCH, t, True) for t in THREADS}
    assert all(packed is not None for packed, _, _ in plans.values())
    assert {t: n_blocks for t, (_, n_blocks, _) in plans.items()} == {1: 1, 2: 8, 3: 12}
    with single_threaded_blas(), threadpool_limits(limits=3, user_api="openmp"):
        for blocks, work in [
            (recurrent_blocks, recurrent_work),
            (grad_blocks, grad_work),
            (matmul_blocks, matmul_work),
        ]:
            assert _kernels.plan_threads(0, blocks, work) == 3
