# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Fused recurrent kernels behind rnnlearn's cells.

Layout, as rnnlearn's cells: time-major C-contiguous arrays, gates fused in columns in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n), mask (T, B, 1) with 1 = valid, 0 = padding
(state carried unchanged, gates and gradients zero). Each time step is one BLAS gemm for the
recurrent product, accumulated straight into the step's gate buffer, plus one fused
elementwise pass over the batch rows. No allocation inside the time loop. The kernels hold
no state, so they are thread-safe.

Threads. The rows of a batch are independent sequences, so the batch is split into
`n_threads` contiguous row blocks (numpy.array_split's split) and each thread runs its block
from the first step to the last, products and elementwise passes alike, with no
synchronisation between steps. A row's result does not depend on the split. The caller keeps
BLAS to one thread meanwhile: two thread pools fighting over the cores is far slower. The
products outside the time loop (matmul, weight_grad) are split over threads in the same way,
so OpenMP's pool is the only one a training step uses.

Variable lengths. At each step the products cover a block's rows up to its last valid row,
so a block sorted by length, longest first, costs its valid steps only.

Row-major products go to column-major BLAS by computing the transposed problem:
C = op(A) op(B) (row-major) is C^T = op(B)^T op(A)^T (column-major), i.e. swap the operands.
"""

from cython cimport floating
from cython.parallel cimport prange
cimport openmp
from scipy.linalg.cython_blas cimport sgemm, dgemm
from libc.string cimport memcpy, memset
from rnnlearn.cells._fastmath cimport (ACT_IDENTITY, ACT_LOGISTIC, ACT_TANH, ACT_GOMPERTZ, ACT_RELU,
                        Activation, TanhOnly, AnyActivation, act_, dact_, sigmoid,
                        sigmoid_derivative)

import numpy as np

ACTIVATION_CODES = {"identity": ACT_IDENTITY, "logistic": ACT_LOGISTIC, "tanh": ACT_TANH,
                    "gompertz": ACT_GOMPERTZ, "relu": ACT_RELU}


# ----------------------------------------------------------------------------------------
# BLAS and small helpers
# ----------------------------------------------------------------------------------------

cdef inline void gemm_full(bint trans_a, bint trans_b, int m, int n, int k, floating *a,
                           int lda, floating *b, int ldb, floating beta, floating *c,
                           int ldc) noexcept nogil:
    """Row-major C (m x n) = op(A) @ op(B) + beta * C (op = identity or transpose), as the
    column-major product C^T = op(B)^T op(A)^T: operands swapped, flags unchanged."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef floating one = 1
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &one, b, &ldb, a, &lda, &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &one, b, &ldb, a, &lda, &beta, c, &ldc)


cdef inline void gemm(bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating *a,
                      Py_ssize_t lda, floating *b, Py_ssize_t ldb, floating beta, floating *c,
                      Py_ssize_t ldc) noexcept nogil:
    """Row-major C (m x n) = A (m x k) @ op(B) (k x n) + beta * C; nothing for m = 0."""
    if m > 0:
        gemm_full(False, trans_b, <int>m, <int>n, <int>k, a, <int>lda, b, <int>ldb, beta, c,
                  <int>ldc)


def matmul(floating[:, ::1] A, floating[:, ::1] B, bint transpose_b=False,
           floating[::1] bias=None, int n_threads=0):
    """A @ B (or A @ B.T, with transpose_b), plus bias on every row if given, as a new
    C-contiguous array.

    The rows of A are split into n_threads blocks, one gemm each (each block first fills its
    rows with the bias, so the output is written in one pass). The network's other products
    go through here and weight_grad, so that one thread pool (OpenMP's) serves the whole
    training step, BLAS on one thread inside it (see the module docstring)."""
    cdef Py_ssize_t m = A.shape[0], k = A.shape[1], n_blocks, block, r0, r1, row
    cdef Py_ssize_t n = B.shape[0] if transpose_b else B.shape[1]
    if (B.shape[1] if transpose_b else B.shape[0]) != k:
        raise ValueError("matmul: inconsistent shapes")
    _check("bias", bias, (n,))
    cdef bint has_bias = bias is not None
    out_array = np.empty((m, n), dtype=np.asarray(A).dtype)
    cdef floating[:, ::1] out = out_array
    if m == 0 or n == 0:
        return out_array
    if k == 0:
        out_array[...] = 0 if bias is None else np.asarray(bias)
        return out_array
    cdef floating *b = &bias[0] if has_bias else NULL
    n_blocks = plan_blocks(n_threads, m, n * k)
    for block in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        r0 = block_start(block, m, n_blocks)
        r1 = block_start(block + 1, m, n_blocks)
        if has_bias:
            for row in range(r0, r1):
                copy_row(&out[row, 0], b, n)
        gemm_full(False, transpose_b, <int>(r1 - r0), <int>n, <int>k, &A[r0, 0], <int>k,
                  &B[0, 0], <int>B.shape[1], <floating>(1 if has_bias else 0), &out[r0, 0],
                  <int>n)
    return out_array


def weight_grad(floating[:, ::1] X, floating[:, ::1] D, floating[:, ::1] out,
                int d_col0=0, int n_cols=-1, int out_col0=0, int n_threads=0):
    """out[:, out_col0 : out_col0 + n_cols] = X^T @ D[:, d_col0 : d_col0 + n_cols].

    X (N, H), D (N, G), out (H, G_out): a weight gradient over all steps (N = T * B) in
    one product per thread, each thread taking a block of out's rows (X's columns)."""
    if n_cols < 0:
        n_cols = D.shape[1] - d_col0
    if X.shape[0] != D.shape[0] or out.shape[0] != X.shape[1] or \
            d_col0 + n_cols > D.shape[1] or out_col0 + n_cols > out.shape[1]:
        raise ValueError("weight_grad: inconsistent shapes")
    if X.shape[0] == 0:
        out[:, out_col0:out_col0 + n_cols] = 0
        return
    if X.shape[1] == 0 or n_cols == 0:
        return
    cdef Py_ssize_t n_rows = X.shape[1], block, r0
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, n_rows, X.shape[0] * n_cols)
    for block in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        r0 = block_start(block, n_rows, n_blocks)
        gemm_full(True, False, <int>(block_start(block + 1, n_rows, n_blocks) - r0), n_cols,
                  <int>X.shape[0], &X[0, r0], <int>X.shape[1], &D[0, d_col0],
                  <int>D.shape[1], <floating>0, &out[r0, out_col0], <int>out.shape[1])


cdef inline bint is_valid(const floating *mask, Py_ssize_t t, Py_ssize_t b,
                          Py_ssize_t B) noexcept nogil:
    """Whether step t of row b is a valid step (mask[t, b, 0] != 0; no mask: always).

    Masks must hold 0 or 1 (rnnlearn's convention); the kernels branch per row, so the
    inner loops carry no mask arithmetic."""
    return mask == NULL or mask[t * B + b] != 0


cdef inline Py_ssize_t active_rows(const floating *mask, Py_ssize_t t, Py_ssize_t B,
                                   Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    """Rows from r0 up to the last row of [r0, r1) that is valid at step t: the rows the
    step's products need (the rows after it are padding)."""
    cdef Py_ssize_t last = r1
    if mask != NULL:
        while last > r0 and mask[t * B + last - 1] == 0:
            last -= 1
    return last - r0


cdef inline Py_ssize_t block_start(Py_ssize_t k, Py_ssize_t B, Py_ssize_t n_blocks) noexcept nogil:
    """First row of block k of n_blocks: the first B % n_blocks blocks get one row more."""
    cdef Py_ssize_t size = B // n_blocks, extra = B % n_blocks
    return k * size + (k if k < extra else extra)


cdef inline void copy_row(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    memcpy(dst, src, n * sizeof(floating))


cdef inline void zero_row(floating *dst, Py_ssize_t n) noexcept nogil:
    memset(dst, 0, n * sizeof(floating))


cdef inline floating *ptr_or_null(floating[:, :, ::1] a) noexcept:
    """Data pointer of an optional (possibly None or empty) array."""
    if a is None or a.shape[0] == 0 or a.shape[1] == 0:
        return NULL
    return &a[0, 0, 0]


def omp_max_threads():
    """OpenMP's current thread limit (what threadpoolctl's 'openmp' limit sets)."""
    return openmp.omp_get_max_threads()


def _check(name, arr, shape):
    """Raise ValueError unless ``arr`` (None for an optional array) has ``shape``."""
    if arr is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(arr.shape)}, expected {tuple(shape)}")


# Set by rnnlearn.cells._threads.single_threaded_blas while it holds BLAS at one thread: only
# then may a kernel start threads on its own (n_threads=0).
cdef bint threads_allowed = False

# Multiply-adds a thread must get before a kernel splits its rows on its own: below that,
# starting and joining a thread costs more than it saves, and far more on a busy machine.
MIN_WORK_PER_THREAD = 2 ** 18


def allow_threads(bint allowed):
    """Let kernels called with n_threads=0 use OpenMP's threads (or not); returns the old
    setting. Only for a caller that holds BLAS at one thread meanwhile."""
    global threads_allowed
    old = threads_allowed
    threads_allowed = allowed
    return old


cpdef Py_ssize_t plan_blocks(int n_threads, Py_ssize_t n_rows, double work_per_row):
    """Row blocks (threads) of a kernel over n_rows rows of work_per_row multiply-adds each.

    n_threads > 0: that many, at most one per row. n_threads = 0: OpenMP's thread limit,
    at most one per row and per MIN_WORK_PER_THREAD, and 1 unless threads are allowed."""
    if n_threads <= 0:
        if not threads_allowed:
            return 1
        n_threads = <int>min(openmp.omp_get_max_threads(),
                             n_rows * work_per_row / MIN_WORK_PER_THREAD)
    return max(1, min(n_threads, n_rows))


# ----------------------------------------------------------------------------------------
# LSTM: gates i, f, g, o; c = f c_prev + i g; h = o act(c)
# ----------------------------------------------------------------------------------------

cdef inline void lstm_row_forward(floating *z, const floating *c_prev, floating *c,
                                  floating *h, floating *cell_out, Py_ssize_t H, int act,
                                  Activation *kind) noexcept nogil:
    """One valid row of one step. On entry z = pre-activations [i|f|g|o] (input projection
    + recurrent product); on return z = activated gates, c, h = the new state and, if
    cell_out is not NULL, cell_out = act(c). c may be c_prev (the update is in place)."""
    cdef Py_ssize_t j
    cdef floating i, f, g, o, c_new, y
    for j in range(H):
        i = sigmoid(z[j])
        f = sigmoid(z[H + j])
        g = act_(z[2 * H + j], act, kind)
        o = sigmoid(z[3 * H + j])
        c_new = f * c_prev[j] + i * g
        y = act_(c_new, act, kind)
        z[j] = i
        z[H + j] = f
        z[2 * H + j] = g
        z[3 * H + j] = o
        c[j] = c_new
        h[j] = o * y
        if cell_out != NULL:
            cell_out[j] = y


cdef void lstm_loop_forward(floating *XW, floating *W_h, floating *Hs, floating *Cs,
                            floating *cell_out, const floating *mask, Py_ssize_t T,
                            Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0, Py_ssize_t r1, int act,
                            Activation *kind) noexcept nogil:
    """Training forward of rows [r0, r1) over all steps: XW[t] += H[t] @ W_h (gemm,
    beta=1), then the fused pass writes the gates into XW[t], C[t+1], H[t+1], cell_out[t].
    Padding rows get zero gates and cell_out and carry the state."""
    cdef Py_ssize_t t, b, S = B * H, G = 4 * H
    cdef floating *z
    for t in range(T):
        z = XW + t * B * G
        gemm(False, active_rows(mask, t, B, r0, r1), G, H, Hs + t * S + r0 * H, H, W_h, G,
             <floating>1, z + r0 * G, G)
        for b in range(r0, r1):
            if is_valid(mask, t, b, B):
                lstm_row_forward(z + b * G, Cs + t * S + b * H, Cs + (t + 1) * S + b * H,
                                 Hs + (t + 1) * S + b * H, cell_out + t * S + b * H, H, act,
                                 kind)
            else:
                zero_row(z + b * G, G)
                zero_row(cell_out + t * S + b * H, H)
                copy_row(Cs + (t + 1) * S + b * H, Cs + t * S + b * H, H)
                copy_row(Hs + (t + 1) * S + b * H, Hs + t * S + b * H, H)


cdef void lstm_rows_forward(floating *XW, floating *W_h, floating *Hs, floating *Cs,
                            floating *cell_out, const floating *mask, Py_ssize_t T,
                            Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0, Py_ssize_t r1,
                            int act) noexcept nogil:
    """lstm_loop_forward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        lstm_loop_forward(XW, W_h, Hs, Cs, cell_out, mask, T, B, H, r0, r1, act,
                          <TanhOnly*>NULL)
    else:
        lstm_loop_forward(XW, W_h, Hs, Cs, cell_out, mask, T, B, H, r0, r1, act,
                          <AnyActivation*>NULL)


def lstm_forward(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, :, ::1] H,
                 floating[:, :, ::1] C, floating[:, :, ::1] cell_out,
                 floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0):
    """LSTM training forward.

    In: XW (T, B, 4H) input projection; W_h (H, 4H); H[0], C[0] = initial state.
    Out: XW = activated gates i, f, g, o; H[1:], C[1:] (T+1, B, H) = state after each step
    (carried over padding); cell_out (T, B, H) = act(c).
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], nh = W_h.shape[0], k
    _check("XW", XW, (T, B, 4 * nh)); _check("W_h", W_h, (nh, 4 * nh))
    _check("H", H, (T + 1, B, nh)); _check("C", C, (T + 1, B, nh))
    _check("cell_out", cell_out, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        lstm_rows_forward(&XW[0, 0, 0], &W_h[0, 0], &H[0, 0, 0], &C[0, 0, 0],
                          &cell_out[0, 0, 0], m, T, B, nh, block_start(k, B, n_blocks),
                          block_start(k + 1, B, n_blocks), act)


cdef void lstm_loop_predict(floating *XW, floating *W_h, floating *state, floating *H_out,
                            const floating *mask, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                            Py_ssize_t r0, Py_ssize_t r1, int act,
                            Activation *kind) noexcept nogil:
    """Inference of rows [r0, r1): h = state[0] and c = state[1] are updated in place
    (the product reads all of h before the pass writes it); padding leaves them as they
    are. With H_out, h is also copied to H_out[t] after each step."""
    cdef Py_ssize_t t, b, S = B * H, G = 4 * H
    cdef floating *z
    for t in range(T):
        z = XW + t * B * G
        gemm(False, active_rows(mask, t, B, r0, r1), G, H, state + r0 * H, H, W_h, G,
             <floating>1, z + r0 * G, G)
        for b in range(r0, r1):
            if is_valid(mask, t, b, B):
                lstm_row_forward(z + b * G, state + S + b * H, state + S + b * H,
                                 state + b * H, <floating*>NULL, H, act, kind)
        if H_out != NULL:
            copy_row(H_out + t * S + r0 * H, state + r0 * H, (r1 - r0) * H)


cdef void lstm_rows_predict(floating *XW, floating *W_h, floating *state, floating *H_out,
                            const floating *mask, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                            Py_ssize_t r0, Py_ssize_t r1, int act) noexcept nogil:
    """lstm_loop_predict, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        lstm_loop_predict(XW, W_h, state, H_out, mask, T, B, H, r0, r1, act, <TanhOnly*>NULL)
    else:
        lstm_loop_predict(XW, W_h, state, H_out, mask, T, B, H, r0, r1, act,
                          <AnyActivation*>NULL)


def lstm_predict(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, :, ::1] state,
                 floating[:, :, ::1] H_out=None, floating[:, :, ::1] mask=None,
                 int act=ACT_TANH, int n_threads=0):
    """LSTM inference forward: nothing is kept for backward.

    In: XW (T, B, 4H) input projection (used as scratch: overwritten); W_h (H, 4H);
    state (2, B, H) = initial (h, c).
    Out: state = final (h, c) (with a mask: the state at each sequence's last valid step);
    H_out (T, B, H), if given, = h after every step.
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], nh = W_h.shape[0], k
    _check("XW", XW, (T, B, 4 * nh)); _check("W_h", W_h, (nh, 4 * nh))
    _check("state", state, (2, B, nh))
    _check("H_out", H_out, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef floating *hout = ptr_or_null(H_out)
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        lstm_rows_predict(&XW[0, 0, 0], &W_h[0, 0], &state[0, 0, 0], hout, m, T, B, nh,
                          block_start(k, B, n_blocks), block_start(k + 1, B, n_blocks), act)


cdef inline void lstm_row_backward(floating *gz, const floating *c_prev,
                                   const floating *cell_out, const floating *dH_t,
                                   floating *dh, floating *dc, bint valid, Py_ssize_t H,
                                   int act, Activation *kind) noexcept nogil:
    """One batch row of one backward step. On entry gz = activated gates [i|f|g|o], dh, dc =
    gradient flowing in from step t+1. On return gz = gradient w.r.t. the gate
    pre-activations (gates are read before being overwritten), dc = gradient w.r.t. c_prev,
    dh = the part of the gradient w.r.t. h_prev that bypasses W_h (0 on valid steps; the
    caller adds gz @ W_h^T)."""
    cdef Py_ssize_t j
    cdef floating i, f, g, o, y, dh_t, dc_t
    if not valid:  # padding: no gate gradient, dh and dc pass through
        zero_row(gz, 4 * H)
        for j in range(H):
            dh[j] += dH_t[j]
        return
    for j in range(H):
        i = gz[j]
        f = gz[H + j]
        g = gz[2 * H + j]
        o = gz[3 * H + j]
        y = cell_out[j]
        dh_t = dh[j] + dH_t[j]
        dc_t = dc[j] + dh_t * (o * dact_(y, act, kind))
        gz[j] = dc_t * (g * sigmoid_derivative(i))
        gz[H + j] = dc_t * (c_prev[j] * sigmoid_derivative(f))
        gz[2 * H + j] = dc_t * (i * dact_(g, act, kind))
        gz[3 * H + j] = dh_t * (y * sigmoid_derivative(o))
        dc[j] = dc_t * f
        dh[j] = 0


cdef void lstm_loop_backward(floating *dZ, const floating *Cs, const floating *cell_out,
                             floating *W_h, const floating *dH, floating *dh, floating *dc,
                             const floating *mask, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                             Py_ssize_t r0, Py_ssize_t r1, int act,
                             Activation *kind) noexcept nogil:
    """Backward of rows [r0, r1) over all steps, last to first: the fused pass, then
    dh += dZ[t] @ W_h^T."""
    cdef Py_ssize_t t, b, S = B * H, G = 4 * H
    for t in range(T - 1, -1, -1):
        for b in range(r0, r1):
            lstm_row_backward(dZ + (t * B + b) * G, Cs + t * S + b * H,
                              cell_out + t * S + b * H, dH + t * S + b * H, dh + b * H,
                              dc + b * H, is_valid(mask, t, b, B), H, act, kind)
        gemm(True, active_rows(mask, t, B, r0, r1), H, G, dZ + (t * B + r0) * G, G, W_h, G,
             <floating>1, dh + r0 * H, H)


cdef void lstm_rows_backward(floating *dZ, const floating *Cs, const floating *cell_out,
                             floating *W_h, const floating *dH, floating *dh, floating *dc,
                             const floating *mask, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                             Py_ssize_t r0, Py_ssize_t r1, int act) noexcept nogil:
    """lstm_loop_backward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        lstm_loop_backward(dZ, Cs, cell_out, W_h, dH, dh, dc, mask, T, B, H, r0, r1, act,
                           <TanhOnly*>NULL)
    else:
        lstm_loop_backward(dZ, Cs, cell_out, W_h, dH, dh, dc, mask, T, B, H, r0, r1, act,
                           <AnyActivation*>NULL)


def lstm_backward(floating[:, :, ::1] dZ, floating[:, :, ::1] C, floating[:, :, ::1] cell_out,
                  floating[:, ::1] W_h, floating[:, :, ::1] dH, floating[:, :, ::1] dstate,
                  floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0):
    """LSTM backward through time (dW_h is left to one product by the caller: H[:-1]^T @ dZ).

    In: dZ (T, B, 4H) = the activated gates (lstm_forward's XW on return); C (T+1, B, H) and
    cell_out (T, B, H) from lstm_forward; W_h (H, 4H); dH (T, B, H) = dLoss/dh of each step;
    dstate (2, B, H) = gradient w.r.t. the final (h, c) (usually zeros).
    Out: dZ = gradient w.r.t. XW; dstate = gradient w.r.t. the initial (h, c).
    """
    cdef Py_ssize_t T = dZ.shape[0], B = dZ.shape[1], nh = W_h.shape[0], k
    _check("dZ", dZ, (T, B, 4 * nh)); _check("W_h", W_h, (nh, 4 * nh))
    _check("C", C, (T + 1, B, nh)); _check("cell_out", cell_out, (T, B, nh))
    _check("dH", dH, (T, B, nh)); _check("dstate", dstate, (2, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        lstm_rows_backward(&dZ[0, 0, 0], &C[0, 0, 0], &cell_out[0, 0, 0], &W_h[0, 0],
                           &dH[0, 0, 0], &dstate[0, 0, 0], &dstate[1, 0, 0], m, T, B, nh,
                           block_start(k, B, n_blocks), block_start(k + 1, B, n_blocks), act)


# ----------------------------------------------------------------------------------------
# GRU: gates r, z (called u below, to keep z for "pre-activations"), n;
# h = (1 - u) n + u h_prev. reset_after=True: n = act(a_n + r (h_prev W_hn + b_hn));
# reset_after=False (Cho): n = act(a_n + (r h_prev) W_hn).
# ----------------------------------------------------------------------------------------

cdef inline void gru_row_forward_after(floating *z, floating *rec, const floating *b_hn,
                                       floating *h, Py_ssize_t H, int act,
                                       Activation *kind) noexcept nogil:
    """reset_after valid row. On entry z = pre-activations [r|u|a_n] (r, u include the
    recurrent product), rec = h_prev W_hn, h = h_prev. On return z = activated [r|u|n],
    rec = h_prev W_hn + b_hn (the reset term backward needs), h = the new state (in place)."""
    cdef Py_ssize_t j
    cdef floating r, u, n, rn
    for j in range(H):
        r = sigmoid(z[j])
        u = sigmoid(z[H + j])
        rn = rec[j] + b_hn[j]
        n = act_(z[2 * H + j] + r * rn, act, kind)
        z[j] = r
        z[H + j] = u
        z[2 * H + j] = n
        rec[j] = rn
        h[j] = (h[j] - n) * u + n


cdef inline void gru_row_gates_before(floating *z, floating *reset_state,
                                      const floating *h_prev, Py_ssize_t H) noexcept nogil:
    """Cho form, first pass of a valid row: activate r, u in place and form the reset
    state r h_prev."""
    cdef Py_ssize_t j
    cdef floating r
    for j in range(H):
        r = sigmoid(z[j])
        z[j] = r
        z[H + j] = sigmoid(z[H + j])
        reset_state[j] = r * h_prev[j]


cdef inline void gru_row_new_before(floating *z, floating *h, Py_ssize_t H, int act,
                                    Activation *kind) noexcept nogil:
    """Cho form, second pass of a valid row (after a_n += reset_state @ W_hn): n, and the
    new state in h (h_prev on entry)."""
    cdef Py_ssize_t j
    cdef floating n
    for j in range(H):
        n = act_(z[2 * H + j], act, kind)
        z[2 * H + j] = n
        h[j] = (h[j] - n) * z[H + j] + n


cdef void gru_step(floating *z, floating *rec, const floating *b_hn, floating *W_h,
                   const floating *h_prev, floating *h, const floating *mask, Py_ssize_t t,
                   Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0, Py_ssize_t r1, bint reset_after,
                   int act, Activation *kind) noexcept nogil:
    """One GRU step of rows [r0, r1): gemms into the step's buffers, then the fused row
    pass(es). z, rec (B, 3H), (B, H) are the step's gates and reset term; h (B, H) holds
    h_prev on entry (copied from h_prev unless they are the same buffer) and the new state
    on return. Padding rows get zero gates and reset term and keep h_prev."""
    cdef Py_ssize_t b, G = 3 * H
    cdef Py_ssize_t n = active_rows(mask, t, B, r0, r1)
    if h != h_prev:
        copy_row(h + r0 * H, h_prev + r0 * H, (r1 - r0) * H)
    # [r|u] += h_prev @ W_h[:, :2H]  (beta=1, straight into the gate buffer)
    gemm(False, n, 2 * H, H, <floating*>h_prev + r0 * H, H, W_h, G, <floating>1, z + r0 * G, G)
    if reset_after:
        # rec = h_prev @ W_h[:, 2H:]
        gemm(False, n, H, H, <floating*>h_prev + r0 * H, H, W_h + 2 * H, G, <floating>0,
             rec + r0 * H, H)
        for b in range(r0, r1):
            if is_valid(mask, t, b, B):
                gru_row_forward_after(z + b * G, rec + b * H, b_hn, h + b * H, H, act, kind)
    else:
        for b in range(r0, r0 + n):
            if is_valid(mask, t, b, B):
                gru_row_gates_before(z + b * G, rec + b * H, h_prev + b * H, H)
            else:
                zero_row(rec + b * H, H)
        # a_n += (r * h_prev) @ W_h[:, 2H:]
        gemm(False, n, H, H, rec + r0 * H, H, W_h + 2 * H, G, <floating>1, z + r0 * G + 2 * H, G)
        for b in range(r0, r1):
            if is_valid(mask, t, b, B):
                gru_row_new_before(z + b * G, h + b * H, H, act, kind)
    for b in range(r0, r1):
        if not is_valid(mask, t, b, B):
            zero_row(z + b * G, G)
            zero_row(rec + b * H, H)


cdef void gru_loop_forward(floating *XW, floating *W_h, const floating *b_hn, floating *Hs,
                           floating *reset_term, const floating *mask, Py_ssize_t T,
                           Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0, Py_ssize_t r1,
                           bint reset_after, int act, Activation *kind) noexcept nogil:
    """Training forward of rows [r0, r1): H[t+1] and reset_term[t] from H[t]."""
    cdef Py_ssize_t t, S = B * H
    for t in range(T):
        gru_step(XW + t * B * 3 * H, reset_term + t * S, b_hn, W_h, Hs + t * S,
                 Hs + (t + 1) * S, mask, t, B, H, r0, r1, reset_after, act, kind)


cdef void gru_loop_predict(floating *XW, floating *W_h, const floating *b_hn,
                           floating *state, floating *scratch, floating *H_out,
                           const floating *mask, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                           Py_ssize_t r0, Py_ssize_t r1, bint reset_after, int act,
                           Activation *kind) noexcept nogil:
    """Inference of rows [r0, r1): h = state (B, H) is updated in place, scratch (B, H)
    takes the reset term, and h is copied to H_out[t] after each step if H_out is given."""
    cdef Py_ssize_t t, S = B * H
    for t in range(T):
        gru_step(XW + t * B * 3 * H, scratch, b_hn, W_h, state, state, mask, t, B, H, r0, r1,
                 reset_after, act, kind)
        if H_out != NULL:
            copy_row(H_out + t * S + r0 * H, state + r0 * H, (r1 - r0) * H)


cdef void gru_rows_forward(floating *XW, floating *W_h, const floating *b_hn,
                           floating *Hs, floating *reset_term, floating *H_out,
                           const floating *mask, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                           Py_ssize_t r0, Py_ssize_t r1, bint reset_after, bint training,
                           int act) noexcept nogil:
    """gru_loop_forward (training) or gru_loop_predict (Hs = state, reset_term = scratch),
    compiled for tanh alone or for any activation."""
    if training and act == ACT_TANH:
        gru_loop_forward(XW, W_h, b_hn, Hs, reset_term, mask, T, B, H, r0, r1, reset_after,
                         act, <TanhOnly*>NULL)
    elif training:
        gru_loop_forward(XW, W_h, b_hn, Hs, reset_term, mask, T, B, H, r0, r1, reset_after,
                         act, <AnyActivation*>NULL)
    elif act == ACT_TANH:
        gru_loop_predict(XW, W_h, b_hn, Hs, reset_term, H_out, mask, T, B, H, r0, r1,
                         reset_after, act, <TanhOnly*>NULL)
    else:
        gru_loop_predict(XW, W_h, b_hn, Hs, reset_term, H_out, mask, T, B, H, r0, r1,
                         reset_after, act, <AnyActivation*>NULL)


def _gru_args(XW, W_h, b_hn, reset_after):
    T, B, nh = XW.shape[0], XW.shape[1], W_h.shape[0]
    _check("XW", XW, (T, B, 3 * nh)); _check("W_h", W_h, (nh, 3 * nh))
    if reset_after:
        if b_hn is None:
            raise ValueError("reset_after=True needs b_hn")
        _check("b_hn", b_hn, (nh,))
    return T, B, nh


def gru_forward(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[::1] b_hn,
                floating[:, :, ::1] H, floating[:, :, ::1] reset_term,
                floating[:, :, ::1] mask=None, bint reset_after=True, int act=ACT_TANH,
                int n_threads=0):
    """GRU training forward.

    In: XW (T, B, 3H) input projection; W_h (H, 3H); b_hn (H,) (ignored, may be None, when
    reset_after=False); H[0] = initial state.
    Out: XW = activated gates r, z, n; H[1:] (T+1, B, H) = state after each step;
    reset_term (T, B, H) = h_prev W_hn + b_hn (reset_after) or r * h_prev (Cho form).
    """
    cdef Py_ssize_t T, B, nh, k
    T, B, nh = _gru_args(XW, W_h, b_hn, reset_after)
    _check("H", H, (T + 1, B, nh)); _check("reset_term", reset_term, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef floating *bias = &b_hn[0] if reset_after else NULL
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        gru_rows_forward(&XW[0, 0, 0], &W_h[0, 0], bias, &H[0, 0, 0], &reset_term[0, 0, 0],
                         NULL, m, T, B, nh, block_start(k, B, n_blocks),
                         block_start(k + 1, B, n_blocks), reset_after, True, act)


def gru_predict(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[::1] b_hn,
                floating[:, ::1] state, floating[:, :, ::1] H_out=None,
                floating[:, :, ::1] mask=None, bint reset_after=True, int act=ACT_TANH,
                int n_threads=0):
    """GRU inference forward. XW (T, B, 3H) is scratch; state (B, H): initial h in, final
    h out; H_out (T, B, H), if given, = h after every step."""
    cdef Py_ssize_t T, B, nh, k
    T, B, nh = _gru_args(XW, W_h, b_hn, reset_after)
    _check("state", state, (B, nh))
    _check("H_out", H_out, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating[:, ::1] scratch = np.empty((B, nh), dtype=np.asarray(XW).dtype)
    cdef floating *m = ptr_or_null(mask)
    cdef floating *hout = ptr_or_null(H_out)
    cdef floating *bias = &b_hn[0] if reset_after else NULL
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        gru_rows_forward(&XW[0, 0, 0], &W_h[0, 0], bias, &state[0, 0], &scratch[0, 0], hout,
                         m, T, B, nh, block_start(k, B, n_blocks),
                         block_start(k + 1, B, n_blocks), reset_after, False, act)


cdef inline void gru_row_backward_after(floating *gz, floating *dn_out, const floating *rn_,
                                        const floating *h_prev, const floating *dH_t,
                                        floating *dh, bint valid, Py_ssize_t H, int act,
                                        Activation *kind) noexcept nogil:
    """reset_after backward row. On entry gz = activated [r|u|n], rn_ = reset term, dh =
    gradient from step t+1. On return gz = gradient w.r.t. the recurrent product
    [h W_hr | h W_hu | h W_hn + b_hn] (what dW_h, db_hn and the dh gemm need), dn_out =
    gradient w.r.t. the n pre-activation (XW's n block), dh = direct part of dh_prev."""
    cdef Py_ssize_t j
    cdef floating r, u, n, dh_t, dn
    if not valid:
        zero_row(gz, 3 * H)
        zero_row(dn_out, H)
        for j in range(H):
            dh[j] += dH_t[j]
        return
    for j in range(H):
        r = gz[j]
        u = gz[H + j]
        n = gz[2 * H + j]
        dh_t = dh[j] + dH_t[j]
        dn = dh_t * ((1 - u) * dact_(n, act, kind))
        gz[j] = dn * (rn_[j] * sigmoid_derivative(r))
        gz[H + j] = dh_t * ((h_prev[j] - n) * sigmoid_derivative(u))
        gz[2 * H + j] = dn * r
        dn_out[j] = dn
        dh[j] = dh_t * u


cdef inline void gru_row_backward_before1(floating *gz, const floating *h_prev,
                                          const floating *dH_t, floating *dh, bint valid,
                                          Py_ssize_t H, int act,
                                          Activation *kind) noexcept nogil:
    """Cho backward, first row pass: gradients of u and n (into gz), dh = dh_t * u.
    The r block keeps the activated r for the second pass."""
    cdef Py_ssize_t j
    cdef floating u, n, dh_t
    if not valid:
        zero_row(gz + H, 2 * H)
        for j in range(H):
            dh[j] += dH_t[j]
        return
    for j in range(H):
        u = gz[H + j]
        n = gz[2 * H + j]
        dh_t = dh[j] + dH_t[j]
        gz[2 * H + j] = dh_t * ((1 - u) * dact_(n, act, kind))
        gz[H + j] = dh_t * ((h_prev[j] - n) * sigmoid_derivative(u))
        dh[j] = dh_t * u


cdef inline void gru_row_backward_before2(floating *gz, const floating *d_reset,
                                          const floating *h_prev, floating *dh,
                                          Py_ssize_t H) noexcept nogil:
    """Cho backward, second row pass (d_reset = dn @ W_hn^T): gradient of r, and the
    reset path's share of dh_prev (zero on padding, where r and dn are 0)."""
    cdef Py_ssize_t j
    cdef floating r
    for j in range(H):
        r = gz[j]
        gz[j] = d_reset[j] * (h_prev[j] * sigmoid_derivative(r))
        dh[j] += d_reset[j] * r


cdef void gru_loop_backward(floating *gz, floating *dn, const floating *reset_term,
                            const floating *Hs, floating *W_h, const floating *dH,
                            floating *dh, floating *scratch, const floating *mask,
                            Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0,
                            Py_ssize_t r1, bint reset_after, int act,
                            Activation *kind) noexcept nogil:
    """Backward of rows [r0, r1) over all steps, last to first."""
    cdef Py_ssize_t t, b, n, S = B * H, G = 3 * H
    cdef floating *g
    for t in range(T - 1, -1, -1):
        g = gz + t * B * G
        n = active_rows(mask, t, B, r0, r1)
        if reset_after:
            for b in range(r0, r1):
                gru_row_backward_after(g + b * G, dn + t * S + b * H,
                                       reset_term + t * S + b * H, Hs + t * S + b * H,
                                       dH + t * S + b * H, dh + b * H,
                                       is_valid(mask, t, b, B), H, act, kind)
            # dh += d_recurrent @ W_h^T
            gemm(True, n, H, G, g + r0 * G, G, W_h, G, <floating>1, dh + r0 * H, H)
        else:
            for b in range(r0, r1):
                gru_row_backward_before1(g + b * G, Hs + t * S + b * H, dH + t * S + b * H,
                                         dh + b * H, is_valid(mask, t, b, B), H, act, kind)
            # d_reset = dn @ W_hn^T
            gemm(True, n, H, H, g + r0 * G + 2 * H, G, W_h + 2 * H, G, <floating>0,
                 scratch + r0 * H, H)
            for b in range(r0, r0 + n):
                gru_row_backward_before2(g + b * G, scratch + b * H, Hs + t * S + b * H,
                                         dh + b * H, H)
            # dh += [dr|du] @ W_h[:, :2H]^T
            gemm(True, n, H, 2 * H, g + r0 * G, G, W_h, G, <floating>1, dh + r0 * H, H)


cdef void gru_rows_backward(floating *gz, floating *dn, const floating *reset_term,
                            const floating *Hs, floating *W_h, const floating *dH,
                            floating *dh, floating *scratch, const floating *mask,
                            Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0,
                            Py_ssize_t r1, bint reset_after, int act) noexcept nogil:
    """gru_loop_backward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        gru_loop_backward(gz, dn, reset_term, Hs, W_h, dH, dh, scratch, mask, T, B, H, r0, r1,
                          reset_after, act, <TanhOnly*>NULL)
    else:
        gru_loop_backward(gz, dn, reset_term, Hs, W_h, dH, dh, scratch, mask, T, B, H, r0, r1,
                          reset_after, act, <AnyActivation*>NULL)


def gru_backward(floating[:, :, ::1] dZ, floating[:, :, ::1] H, floating[:, :, ::1] reset_term,
                 floating[:, ::1] W_h, floating[:, :, ::1] dH, floating[:, ::1] dstate,
                 floating[:, :, ::1] dn=None, floating[:, :, ::1] mask=None,
                 bint reset_after=True, int act=ACT_TANH, int n_threads=0):
    """GRU backward through time.

    In: dZ (T, B, 3H) = activated gates (gru_forward's XW on return); H (T+1, B, H) and
    reset_term (T, B, H) from gru_forward; W_h (H, 3H); dH (T, B, H); dstate (B, H) =
    gradient w.r.t. the final h (usually zeros); dn (T, B, H) output, reset_after only.
    Out: dstate = gradient w.r.t. h0.
      reset_after=True: dZ = gradient w.r.t. the recurrent product [r|z|n-term]
        (dW_h = H[:-1]^T @ dZ, db_hn = dZ[..., 2H:].sum over T, B), dn = gradient w.r.t. the
        n pre-activation; dXW = dZ with its n block replaced by dn.
      reset_after=False: dZ = gradient w.r.t. XW (dW_h[:, :2H] = H[:-1]^T @ dZ[..., :2H],
        dW_h[:, 2H:] = reset_term^T @ dZ[..., 2H:]).
    """
    cdef Py_ssize_t T = dZ.shape[0], B = dZ.shape[1], nh = W_h.shape[0], k
    _check("dZ", dZ, (T, B, 3 * nh)); _check("W_h", W_h, (nh, 3 * nh))
    _check("H", H, (T + 1, B, nh)); _check("reset_term", reset_term, (T, B, nh))
    _check("dH", dH, (T, B, nh)); _check("dstate", dstate, (B, nh))
    if reset_after:
        if dn is None:
            raise ValueError("reset_after=True needs the dn output buffer")
        _check("dn", dn, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating[:, ::1] scratch = np.empty((B, nh), dtype=np.asarray(dZ).dtype)
    cdef floating *m = ptr_or_null(mask)
    cdef floating *dnp = ptr_or_null(dn)
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        gru_rows_backward(&dZ[0, 0, 0], dnp, &reset_term[0, 0, 0], &H[0, 0, 0], &W_h[0, 0],
                          &dH[0, 0, 0], &dstate[0, 0], &scratch[0, 0], m, T, B, nh,
                          block_start(k, B, n_blocks), block_start(k + 1, B, n_blocks),
                          reset_after, act)


# ----------------------------------------------------------------------------------------
# Vanilla (Elman): h = act(a + h_prev W_h)
# ----------------------------------------------------------------------------------------

cdef void vanilla_loop_forward(floating *XW, floating *W_h, floating *Hs, const floating *mask,
                               Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0,
                               Py_ssize_t r1, bint training, int act,
                               Activation *kind) noexcept nogil:
    """Rows [r0, r1), per step: XW[t] += h_prev @ W_h (gemm, beta=1), then h = act(XW[t]).
    Training: Hs = H (T+1, B, H) with H[0] preset, padding carries h. Inference: Hs = state
    (B, H), updated in place (the product reads all of h first), padding leaves it."""
    cdef Py_ssize_t t, b, j, S = B * H
    cdef floating *h_prev
    cdef floating *h
    cdef floating *z
    for t in range(T):
        h_prev = Hs + t * S if training else Hs
        h = Hs + (t + 1) * S if training else Hs
        z = XW + t * S
        gemm(False, active_rows(mask, t, B, r0, r1), H, H, h_prev + r0 * H, H, W_h, H,
             <floating>1, z + r0 * H, H)
        for b in range(r0, r1):
            if is_valid(mask, t, b, B):
                for j in range(H):
                    h[b * H + j] = act_(z[b * H + j], act, kind)
            elif training:
                copy_row(h + b * H, h_prev + b * H, H)


cdef void vanilla_rows_forward(floating *XW, floating *W_h, floating *Hs, const floating *mask,
                               Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0,
                               Py_ssize_t r1, bint training, int act) noexcept nogil:
    """vanilla_loop_forward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        vanilla_loop_forward(XW, W_h, Hs, mask, T, B, H, r0, r1, training, act,
                             <TanhOnly*>NULL)
    else:
        vanilla_loop_forward(XW, W_h, Hs, mask, T, B, H, r0, r1, training, act,
                             <AnyActivation*>NULL)


def vanilla_forward(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, :, ::1] H,
                    floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0):
    """Vanilla training forward (its H is also the inference output when all steps are wanted).

    In: XW (T, B, H) input projection; W_h (H, H); H[0] = initial state.
    Out: XW = pre-activations (input + recurrent product); H[1:] = state after each step.
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], nh = W_h.shape[0], k
    _check("XW", XW, (T, B, nh)); _check("W_h", W_h, (nh, nh)); _check("H", H, (T + 1, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        vanilla_rows_forward(&XW[0, 0, 0], &W_h[0, 0], &H[0, 0, 0], m, T, B, nh,
                             block_start(k, B, n_blocks), block_start(k + 1, B, n_blocks),
                             True, act)


def vanilla_predict(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, ::1] state,
                    floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0):
    """Vanilla inference, final state only: state (B, H) initial in, final out; XW scratch.
    (For all steps' h use vanilla_forward: its H is exactly the output sequence.)"""
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], nh = W_h.shape[0], k
    _check("XW", XW, (T, B, nh)); _check("W_h", W_h, (nh, nh)); _check("state", state, (B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        vanilla_rows_forward(&XW[0, 0, 0], &W_h[0, 0], &state[0, 0], m, T, B, nh,
                             block_start(k, B, n_blocks), block_start(k + 1, B, n_blocks),
                             False, act)


cdef inline void vanilla_row_backward(floating *dz, const floating *h, const floating *dH_t,
                                      floating *dh, bint valid, Py_ssize_t H, int act,
                                      Activation *kind) noexcept nogil:
    """dz = (dh + dH_t) act'(h); dh = 0 (valid) or dh + dH_t (padding)."""
    cdef Py_ssize_t j
    if not valid:
        zero_row(dz, H)
        for j in range(H):
            dh[j] += dH_t[j]
        return
    for j in range(H):
        dz[j] = (dh[j] + dH_t[j]) * dact_(h[j], act, kind)
        dh[j] = 0


cdef void vanilla_loop_backward(floating *dZ, const floating *Hs, floating *W_h,
                                const floating *dH, floating *dh, const floating *mask,
                                Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0,
                                Py_ssize_t r1, int act, Activation *kind) noexcept nogil:
    """Backward of rows [r0, r1) over all steps, last to first."""
    cdef Py_ssize_t t, b, S = B * H
    for t in range(T - 1, -1, -1):
        for b in range(r0, r1):
            vanilla_row_backward(dZ + t * S + b * H, Hs + (t + 1) * S + b * H,
                                 dH + t * S + b * H, dh + b * H, is_valid(mask, t, b, B),
                                 H, act, kind)
        gemm(True, active_rows(mask, t, B, r0, r1), H, H, dZ + t * S + r0 * H, H, W_h, H,
             <floating>1, dh + r0 * H, H)


cdef void vanilla_rows_backward(floating *dZ, const floating *Hs, floating *W_h,
                                const floating *dH, floating *dh, const floating *mask,
                                Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, Py_ssize_t r0,
                                Py_ssize_t r1, int act) noexcept nogil:
    """vanilla_loop_backward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        vanilla_loop_backward(dZ, Hs, W_h, dH, dh, mask, T, B, H, r0, r1, act,
                              <TanhOnly*>NULL)
    else:
        vanilla_loop_backward(dZ, Hs, W_h, dH, dh, mask, T, B, H, r0, r1, act,
                              <AnyActivation*>NULL)


def vanilla_backward(floating[:, :, ::1] H, floating[:, ::1] W_h, floating[:, :, ::1] dH,
                     floating[:, :, ::1] dZ, floating[:, ::1] dstate,
                     floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0):
    """Vanilla backward. In: H (T+1, B, H) from vanilla_forward; W_h; dH (T, B, H);
    dstate (B, H) = gradient w.r.t. the final h. Out: dZ (T, B, H) = gradient w.r.t. XW
    (may be the forward's XW buffer); dstate = gradient w.r.t. h0. dW_h = H[:-1]^T @ dZ."""
    cdef Py_ssize_t T = dH.shape[0], B = dH.shape[1], nh = W_h.shape[0], k
    _check("H", H, (T + 1, B, nh)); _check("W_h", W_h, (nh, nh)); _check("dZ", dZ, (T, B, nh))
    _check("dstate", dstate, (B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks = plan_blocks(n_threads, B, T * W_h.shape[0] * W_h.shape[1])
    for k in prange(n_blocks, nogil=True, num_threads=n_blocks, schedule="static"):
        vanilla_rows_backward(&dZ[0, 0, 0], &H[0, 0, 0], &W_h[0, 0], &dH[0, 0, 0],
                              &dstate[0, 0], m, T, B, nh, block_start(k, B, n_blocks),
                              block_start(k + 1, B, n_blocks), act)
