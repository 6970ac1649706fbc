# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Fused recurrent kernels behind rnnlearn's cells.

Layout, as rnnlearn's cells: time-major C-contiguous arrays, gates fused in columns in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n), mask (T, B, 1) with 1 = valid, 0 = padding
(state carried unchanged, gradients zero). Each time step is one BLAS gemm for the recurrent
product, accumulated straight into the step's gate buffer, plus one fused elementwise pass
over the batch rows (optionally split over OpenMP threads). No allocation inside the time
loop. The kernels hold no state, so they are thread-safe.

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

# Below this many elements per step (B * H) the rows are not split over threads: the
# fork/join of a parallel region costs more than it saves (measured on 2 cores: it never paid there).
cdef Py_ssize_t PARALLEL_MIN_ELEMENTS = 4096


def set_parallel_min_elements(Py_ssize_t n):
    """Set the B * H threshold for threading the elementwise passes; returns the old one."""
    global PARALLEL_MIN_ELEMENTS
    old = PARALLEL_MIN_ELEMENTS
    PARALLEL_MIN_ELEMENTS = n
    return old


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


cdef inline void gemm(bint trans_b, int m, int n, int k, floating *a, int lda,
                      floating *b, int ldb, floating beta, floating *c, int ldc) noexcept nogil:
    """Row-major C (m x n) = A (m x k) @ op(B) (k x n) + beta * C."""
    gemm_full(False, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc)


def matmul(floating[:, ::1] A, floating[:, ::1] B, bint transpose_b=False):
    """A @ B (or A @ B.T, with transpose_b) as a new C-contiguous array.

    The network's other products go through here so that one BLAS serves the whole
    training step: numpy and scipy each bundle an OpenBLAS with its own thread pool, and
    alternating between the two made an LSTM epoch 3x slower on 2 cores (their idle
    threads spin and take each other's cores)."""
    cdef int m = A.shape[0], k = A.shape[1]
    cdef int n = B.shape[0] if transpose_b else B.shape[1]
    if (B.shape[1] if transpose_b else B.shape[0]) != k:
        raise ValueError("matmul: inconsistent shapes")
    out_array = np.zeros((m, n), dtype=np.asarray(A).dtype)
    cdef floating[:, ::1] out = out_array
    if m and n and k:
        with nogil:
            gemm_full(False, transpose_b, m, n, k, &A[0, 0], <int>A.shape[1], &B[0, 0],
                      <int>B.shape[1], <floating>0, &out[0, 0], n)
    return out_array


def weight_grad(floating[:, ::1] X, floating[:, ::1] D, floating[:, ::1] out,
                int d_col0=0, int n_cols=-1, int out_col0=0):
    """out[:, out_col0 : out_col0 + n_cols] = X^T @ D[:, d_col0 : d_col0 + n_cols].

    X (N, H), D (N, G), out (H, G_out): the recurrent weight gradient over all steps
    (N = T * B) in one gemm. Goes through the same BLAS (scipy's) as the time loops: mixing
    it with numpy's BLAS, a second OpenBLAS with its own spinning thread pool, made the next
    forward 5x slower on 2 cores."""
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
    with nogil:
        gemm_full(True, False, <int>X.shape[1], n_cols, <int>X.shape[0], &X[0, 0],
                  <int>X.shape[1], &D[0, d_col0], <int>D.shape[1], <floating>0,
                  &out[0, out_col0], <int>out.shape[1])


cdef inline bint is_valid(const floating *mask, Py_ssize_t t, Py_ssize_t b,
                          Py_ssize_t n_samples) noexcept nogil:
    """Whether step t of row b is a valid step (mask[t, b, 0] != 0; no mask: always).

    Masks must hold 0 or 1 (rnnlearn's convention); the kernels branch per row, so the
    inner loops carry no mask arithmetic."""
    return mask == NULL or mask[t * n_samples + b] != 0


cdef inline void copy_row(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    memcpy(dst, src, n * sizeof(floating))


cdef inline void zero_row(floating *dst, Py_ssize_t n) noexcept nogil:
    memset(dst, 0, n * sizeof(floating))


cdef inline floating *ptr_or_null(floating[:, :, ::1] a) noexcept:
    """Data pointer of an optional (possibly None or empty) array."""
    if a is None or a.shape[0] == 0 or a.shape[1] == 0:
        return NULL
    return &a[0, 0, 0]


cdef inline int use_threads(int n_threads, Py_ssize_t n_samples, Py_ssize_t n_hidden) noexcept nogil:
    """Thread count for a step's elementwise pass (1 when the step is too small to pay off)."""
    if n_threads > 1 and n_samples >= 2 and n_samples * n_hidden >= PARALLEL_MIN_ELEMENTS:
        return n_threads if n_threads < n_samples else <int>n_samples
    return 1


def omp_max_threads():
    """OpenMP's current thread limit (what threadpoolctl's 'openmp' limit sets)."""
    return openmp.omp_get_max_threads()


def _check(name, arr, shape):
    """Raise ValueError unless ``arr`` (None for an optional array) has ``shape``."""
    if arr is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(arr.shape)}, expected {tuple(shape)}")


# ----------------------------------------------------------------------------------------
# LSTM: gates i, f, g, o; c = f c_prev + i g; h = o act(c)
# ----------------------------------------------------------------------------------------

cdef inline void lstm_row_forward(floating *z, const floating *c_prev, const floating *h_prev,
                                  floating *c_next, floating *h_next, floating *cell_out,
                                  bint valid, Py_ssize_t H, int act,
                                  Activation *kind) noexcept nogil:
    """One batch row of one step. On entry z = pre-activations [i|f|g|o] (input projection +
    recurrent product); on return z = activated gates, cell_out = act(c), and c_next, h_next
    = the new state (the previous one on a padding step)."""
    cdef Py_ssize_t j
    cdef floating i, f, g, o, c, y
    for j in range(H):
        i = sigmoid(z[j])
        f = sigmoid(z[H + j])
        g = act_(z[2 * H + j], act, kind)
        o = sigmoid(z[3 * H + j])
        c = f * c_prev[j] + i * g
        y = act_(c, act, kind)
        z[j] = i
        z[H + j] = f
        z[2 * H + j] = g
        z[3 * H + j] = o
        cell_out[j] = y
        c_next[j] = c
        h_next[j] = o * y
    if not valid:  # padding: carry the state unchanged
        copy_row(c_next, c_prev, H)
        copy_row(h_next, h_prev, H)


cdef void lstm_step_forward(floating *z, const floating *c_prev, const floating *h_prev,
                            floating *c_next, floating *h_next, floating *cell_out,
                            const floating *mask, Py_ssize_t t, Py_ssize_t B, Py_ssize_t H,
                            int act, Activation *kind, int n_threads) noexcept nogil:
    """The fused elementwise pass of one step over all rows (split over threads if asked)."""
    cdef Py_ssize_t b, G = 4 * H
    cdef int nt = use_threads(n_threads, B, H)
    if nt > 1:
        for b in prange(B, num_threads=nt, schedule="static"):
            lstm_row_forward(z + b * G, c_prev + b * H, h_prev + b * H, c_next + b * H,
                             h_next + b * H, cell_out + b * H, is_valid(mask, t, b, B),
                             H, act, kind)
    else:
        for b in range(B):
            lstm_row_forward(z + b * G, c_prev + b * H, h_prev + b * H, c_next + b * H,
                             h_next + b * H, cell_out + b * H, is_valid(mask, t, b, B),
                             H, act, kind)


cdef void lstm_loop_forward(floating *XW, floating *W_h, floating *Hs, floating *Cs,
                            floating *cell_out, const floating *mask, Py_ssize_t T,
                            Py_ssize_t B, Py_ssize_t H, int act, Activation *kind,
                            int n_threads) noexcept nogil:
    """Training forward over all steps: XW[t] += H[t] @ W_h (gemm, beta=1), then the fused
    pass writes the gates into XW[t], C[t+1], H[t+1] and cell_out[t]."""
    cdef Py_ssize_t t, S = B * H, G = 4 * H
    for t in range(T):
        gemm(False, <int>B, <int>G, <int>H, Hs + t * S, <int>H, W_h, <int>G, <floating>1,
             XW + t * B * G, <int>G)
        lstm_step_forward(XW + t * B * G, Cs + t * S, Hs + t * S, Cs + (t + 1) * S,
                          Hs + (t + 1) * S, cell_out + t * S, mask, t, B, H, act, kind,
                          n_threads)


def lstm_forward(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, :, ::1] H,
                 floating[:, :, ::1] C, floating[:, :, ::1] cell_out,
                 floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=1):
    """LSTM training forward.

    In: XW (T, B, 4H) input projection; W_h (H, 4H); H[0], C[0] = initial state.
    Out: XW = activated gates i, f, g, o; H[1:], C[1:] (T+1, B, H) = state after each step
    (carried over padding); cell_out (T, B, H) = act(c) before the mask carry.
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], nh = W_h.shape[0]
    _check("XW", XW, (T, B, 4 * nh)); _check("W_h", W_h, (nh, 4 * nh))
    _check("H", H, (T + 1, B, nh)); _check("C", C, (T + 1, B, nh))
    _check("cell_out", cell_out, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    with nogil:
        if act == ACT_TANH:
            lstm_loop_forward(&XW[0, 0, 0], &W_h[0, 0], &H[0, 0, 0], &C[0, 0, 0],
                              &cell_out[0, 0, 0], m, T, B, nh, act, <TanhOnly*>NULL,
                              n_threads)
        else:
            lstm_loop_forward(&XW[0, 0, 0], &W_h[0, 0], &H[0, 0, 0], &C[0, 0, 0],
                              &cell_out[0, 0, 0], m, T, B, nh, act, <AnyActivation*>NULL,
                              n_threads)


cdef void lstm_loop_predict(floating *XW, floating *W_h, floating *state, floating *scratch,
                            floating *H_out, const floating *mask, Py_ssize_t T,
                            Py_ssize_t B, Py_ssize_t H, int act, Activation *kind,
                            int n_threads) noexcept nogil:
    """Inference forward over all steps; h and c ping-pong between `state` (2, B, H) and
    `scratch` (3, B, H; the third slab takes cell_out), or h goes to H_out[t] if given."""
    cdef Py_ssize_t t, S = B * H, G = 4 * H
    cdef floating *h_prev
    cdef floating *h_next
    cdef floating *c_prev
    cdef floating *c_next
    cdef floating *cell_out = scratch + 2 * S
    for t in range(T):
        if H_out != NULL:
            h_prev = state if t == 0 else H_out + (t - 1) * S
            h_next = H_out + t * S
        else:
            h_prev = state if t % 2 == 0 else scratch
            h_next = scratch if t % 2 == 0 else state
        c_prev = state + S if t % 2 == 0 else scratch + S
        c_next = scratch + S if t % 2 == 0 else state + S
        gemm(False, <int>B, <int>G, <int>H, h_prev, <int>H, W_h, <int>G, <floating>1,
             XW + t * B * G, <int>G)
        lstm_step_forward(XW + t * B * G, c_prev, h_prev, c_next, h_next, cell_out, mask, t,
                          B, H, act, kind, n_threads)
    # leave the final state in `state`
    if H_out != NULL:
        copy_row(state, H_out + (T - 1) * S, S)
    elif T % 2 == 1:
        copy_row(state, scratch, S)
    if T % 2 == 1:
        copy_row(state + S, scratch + S, S)


def lstm_predict(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, :, ::1] state,
                 floating[:, :, ::1] H_out=None, floating[:, :, ::1] mask=None,
                 int act=ACT_TANH, int n_threads=1):
    """LSTM inference forward: nothing is kept for backward.

    In: XW (T, B, 4H) input projection (used as scratch: overwritten); W_h (H, 4H);
    state (2, B, H) = initial (h, c).
    Out: state = final (h, c) (with a mask: the state at each sequence's last valid step);
    H_out (T, B, H), if given, = h after every step.
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], nh = W_h.shape[0]
    _check("XW", XW, (T, B, 4 * nh)); _check("W_h", W_h, (nh, 4 * nh))
    _check("state", state, (2, B, nh))
    _check("H_out", H_out, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating[:, :, ::1] scratch = np.empty((3, B, nh), dtype=np.asarray(XW).dtype)
    cdef floating *m = ptr_or_null(mask)
    cdef floating *hout = ptr_or_null(H_out)
    with nogil:
        if act == ACT_TANH:
            lstm_loop_predict(&XW[0, 0, 0], &W_h[0, 0], &state[0, 0, 0], &scratch[0, 0, 0],
                              hout, m, T, B, nh, act, <TanhOnly*>NULL, n_threads)
        else:
            lstm_loop_predict(&XW[0, 0, 0], &W_h[0, 0], &state[0, 0, 0], &scratch[0, 0, 0],
                              hout, m, T, B, nh, act, <AnyActivation*>NULL, n_threads)


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


cdef void lstm_step_backward(floating *gz, const floating *c_prev, const floating *cell_out,
                             const floating *dH_t, floating *dh, floating *dc,
                             const floating *mask, Py_ssize_t t, Py_ssize_t B, Py_ssize_t H,
                             int act, Activation *kind, int n_threads) noexcept nogil:
    """The fused elementwise backward pass of one step over all rows."""
    cdef Py_ssize_t b, G = 4 * H
    cdef int nt = use_threads(n_threads, B, H)
    if nt > 1:
        for b in prange(B, num_threads=nt, schedule="static"):
            lstm_row_backward(gz + b * G, c_prev + b * H, cell_out + b * H, dH_t + b * H,
                              dh + b * H, dc + b * H, is_valid(mask, t, b, B), H, act, kind)
    else:
        for b in range(B):
            lstm_row_backward(gz + b * G, c_prev + b * H, cell_out + b * H, dH_t + b * H,
                              dh + b * H, dc + b * H, is_valid(mask, t, b, B), H, act, kind)


cdef void lstm_loop_backward(floating *dZ, const floating *Cs, const floating *cell_out,
                             floating *W_h, const floating *dH, floating *dh, floating *dc,
                             const floating *mask, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                             int act, Activation *kind, int n_threads) noexcept nogil:
    """Backward over all steps, last to first: fused pass, then dh += dZ[t] @ W_h^T."""
    cdef Py_ssize_t t, S = B * H, G = 4 * H
    for t in range(T - 1, -1, -1):
        lstm_step_backward(dZ + t * B * G, Cs + t * S, cell_out + t * S, dH + t * S, dh, dc,
                           mask, t, B, H, act, kind, n_threads)
        gemm(True, <int>B, <int>H, <int>G, dZ + t * B * G, <int>G, W_h, <int>G, <floating>1,
             dh, <int>H)


def lstm_backward(floating[:, :, ::1] dZ, floating[:, :, ::1] C, floating[:, :, ::1] cell_out,
                  floating[:, ::1] W_h, floating[:, :, ::1] dH, floating[:, :, ::1] dstate,
                  floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=1):
    """LSTM backward through time (dW_h is left to one product by the caller: H[:-1]^T @ dZ).

    In: dZ (T, B, 4H) = the activated gates (lstm_forward's XW on return); C (T+1, B, H) and
    cell_out (T, B, H) from lstm_forward; W_h (H, 4H); dH (T, B, H) = dLoss/dh of each step;
    dstate (2, B, H) = gradient w.r.t. the final (h, c) (usually zeros).
    Out: dZ = gradient w.r.t. XW; dstate = gradient w.r.t. the initial (h, c).
    """
    cdef Py_ssize_t T = dZ.shape[0], B = dZ.shape[1], nh = W_h.shape[0]
    _check("dZ", dZ, (T, B, 4 * nh)); _check("W_h", W_h, (nh, 4 * nh))
    _check("C", C, (T + 1, B, nh)); _check("cell_out", cell_out, (T, B, nh))
    _check("dH", dH, (T, B, nh)); _check("dstate", dstate, (2, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    with nogil:
        if act == ACT_TANH:
            lstm_loop_backward(&dZ[0, 0, 0], &C[0, 0, 0], &cell_out[0, 0, 0], &W_h[0, 0],
                               &dH[0, 0, 0], &dstate[0, 0, 0], &dstate[1, 0, 0], m, T, B, nh,
                               act, <TanhOnly*>NULL, n_threads)
        else:
            lstm_loop_backward(&dZ[0, 0, 0], &C[0, 0, 0], &cell_out[0, 0, 0], &W_h[0, 0],
                               &dH[0, 0, 0], &dstate[0, 0, 0], &dstate[1, 0, 0], m, T, B, nh,
                               act, <AnyActivation*>NULL, n_threads)


# ----------------------------------------------------------------------------------------
# GRU: gates r, z (called u below, to keep z for "pre-activations"), n;
# h = (1 - u) n + u h_prev. reset_after=True: n = act(a_n + r (h_prev W_hn + b_hn));
# reset_after=False (Cho): n = act(a_n + (r h_prev) W_hn).
# ----------------------------------------------------------------------------------------

cdef inline void gru_row_forward_after(floating *z, floating *rec, const floating *b_hn,
                                       const floating *h_prev, floating *h_next, bint valid,
                                       Py_ssize_t H, int act, Activation *kind) noexcept nogil:
    """reset_after row pass. On entry z = pre-activations [r|u|a_n] (r, u include the
    recurrent product), rec = h_prev W_hn. On return z = activated [r|u|n],
    rec = h_prev W_hn + b_hn (the reset term backward needs), h_next = new state."""
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
        h_next[j] = (h_prev[j] - n) * u + n
    if not valid:
        copy_row(h_next, h_prev, H)


cdef inline void gru_row_gates_before(floating *z, floating *reset_state,
                                      const floating *h_prev, Py_ssize_t H) noexcept nogil:
    """Cho form, first row pass: activate r, u in place and form the reset state r h_prev."""
    cdef Py_ssize_t j
    cdef floating r
    for j in range(H):
        r = sigmoid(z[j])
        z[j] = r
        z[H + j] = sigmoid(z[H + j])
        reset_state[j] = r * h_prev[j]


cdef inline void gru_row_new_before(floating *z, const floating *h_prev, floating *h_next,
                                    bint valid, Py_ssize_t H, int act,
                                    Activation *kind) noexcept nogil:
    """Cho form, second row pass (after z_n += reset_state @ W_hn): n and the new state."""
    cdef Py_ssize_t j
    cdef floating n
    for j in range(H):
        n = act_(z[2 * H + j], act, kind)
        z[2 * H + j] = n
        h_next[j] = (h_prev[j] - n) * z[H + j] + n
    if not valid:
        copy_row(h_next, h_prev, H)


cdef void gru_step_forward(floating *z, floating *rec, const floating *b_hn,
                           const floating *W_h, const floating *h_prev, floating *h_next,
                           const floating *mask, Py_ssize_t t, Py_ssize_t B, Py_ssize_t H,
                           bint reset_after, int act, Activation *kind,
                           int n_threads) noexcept nogil:
    """One GRU step: gemms into the step's buffers, then the fused row pass(es).
    rec (B, H) receives the reset term (h W_hn + b_hn, or r * h_prev)."""
    cdef Py_ssize_t b, G = 3 * H
    cdef int nt = use_threads(n_threads, B, H)
    # [r|u] += h_prev @ W_h[:, :2H]  (beta=1, straight into the gate buffer)
    gemm(False, <int>B, <int>(2 * H), <int>H, <floating*>h_prev, <int>H, <floating*>W_h,
         <int>G, <floating>1, z, <int>G)
    if reset_after:
        # rec = h_prev @ W_h[:, 2H:]
        gemm(False, <int>B, <int>H, <int>H, <floating*>h_prev, <int>H,
             <floating*>W_h + 2 * H, <int>G, <floating>0, rec, <int>H)
        if nt > 1:
            for b in prange(B, num_threads=nt, schedule="static"):
                gru_row_forward_after(z + b * G, rec + b * H, b_hn, h_prev + b * H,
                                      h_next + b * H, is_valid(mask, t, b, B), H, act, kind)
        else:
            for b in range(B):
                gru_row_forward_after(z + b * G, rec + b * H, b_hn, h_prev + b * H,
                                      h_next + b * H, is_valid(mask, t, b, B), H, act, kind)
    else:
        if nt > 1:
            for b in prange(B, num_threads=nt, schedule="static"):
                gru_row_gates_before(z + b * G, rec + b * H, h_prev + b * H, H)
        else:
            for b in range(B):
                gru_row_gates_before(z + b * G, rec + b * H, h_prev + b * H, H)
        # a_n += (r * h_prev) @ W_h[:, 2H:]
        gemm(False, <int>B, <int>H, <int>H, rec, <int>H, <floating*>W_h + 2 * H, <int>G,
             <floating>1, z + 2 * H, <int>G)
        if nt > 1:
            for b in prange(B, num_threads=nt, schedule="static"):
                gru_row_new_before(z + b * G, h_prev + b * H, h_next + b * H,
                                   is_valid(mask, t, b, B), H, act, kind)
        else:
            for b in range(B):
                gru_row_new_before(z + b * G, h_prev + b * H, h_next + b * H,
                                   is_valid(mask, t, b, B), H, act, kind)


cdef void gru_loop_forward(floating *XW, floating *W_h, const floating *b_hn, floating *Hs,
                           floating *reset_term, const floating *mask, Py_ssize_t T,
                           Py_ssize_t B, Py_ssize_t H, bint reset_after, int act,
                           Activation *kind, int n_threads) noexcept nogil:
    cdef Py_ssize_t t, S = B * H
    for t in range(T):
        gru_step_forward(XW + t * B * 3 * H, reset_term + t * S, b_hn, W_h, Hs + t * S,
                         Hs + (t + 1) * S, mask, t, B, H, reset_after, act, kind, n_threads)


cdef void gru_loop_predict(floating *XW, floating *W_h, const floating *b_hn,
                           floating *state, floating *scratch, floating *H_out,
                           const floating *mask, Py_ssize_t T, Py_ssize_t B, Py_ssize_t H,
                           bint reset_after, int act, Activation *kind,
                           int n_threads) noexcept nogil:
    """Inference: h ping-pongs between state (B, H) and scratch[0] (or goes to H_out[t]);
    scratch[1] takes the reset term."""
    cdef Py_ssize_t t, S = B * H
    cdef floating *h_prev
    cdef floating *h_next
    for t in range(T):
        if H_out != NULL:
            h_prev = state if t == 0 else H_out + (t - 1) * S
            h_next = H_out + t * S
        else:
            h_prev = state if t % 2 == 0 else scratch
            h_next = scratch if t % 2 == 0 else state
        gru_step_forward(XW + t * B * 3 * H, scratch + S, b_hn, W_h, h_prev, h_next, mask, t,
                         B, H, reset_after, act, kind, n_threads)
    if H_out != NULL:
        copy_row(state, H_out + (T - 1) * S, S)
    elif T % 2 == 1:
        copy_row(state, scratch, S)


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
                int n_threads=1):
    """GRU training forward.

    In: XW (T, B, 3H) input projection; W_h (H, 3H); b_hn (H,) (ignored, may be None, when
    reset_after=False); H[0] = initial state.
    Out: XW = activated gates r, z, n; H[1:] (T+1, B, H) = state after each step;
    reset_term (T, B, H) = h_prev W_hn + b_hn (reset_after) or r * h_prev (Cho form).
    """
    cdef Py_ssize_t T, B, nh
    T, B, nh = _gru_args(XW, W_h, b_hn, reset_after)
    _check("H", H, (T + 1, B, nh)); _check("reset_term", reset_term, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef floating *bias = &b_hn[0] if reset_after else NULL
    with nogil:
        if act == ACT_TANH:
            gru_loop_forward(&XW[0, 0, 0], &W_h[0, 0], bias, &H[0, 0, 0], &reset_term[0, 0, 0],
                             m, T, B, nh, reset_after, act, <TanhOnly*>NULL, n_threads)
        else:
            gru_loop_forward(&XW[0, 0, 0], &W_h[0, 0], bias, &H[0, 0, 0], &reset_term[0, 0, 0],
                             m, T, B, nh, reset_after, act, <AnyActivation*>NULL, n_threads)


def gru_predict(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[::1] b_hn,
                floating[:, ::1] state, floating[:, :, ::1] H_out=None,
                floating[:, :, ::1] mask=None, bint reset_after=True, int act=ACT_TANH,
                int n_threads=1):
    """GRU inference forward. XW (T, B, 3H) is scratch; state (B, H): initial h in, final
    h out; H_out (T, B, H), if given, = h after every step."""
    cdef Py_ssize_t T, B, nh
    T, B, nh = _gru_args(XW, W_h, b_hn, reset_after)
    _check("state", state, (B, nh))
    _check("H_out", H_out, (T, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating[:, :, ::1] scratch = np.empty((2, B, nh), dtype=np.asarray(XW).dtype)
    cdef floating *m = ptr_or_null(mask)
    cdef floating *hout = ptr_or_null(H_out)
    cdef floating *bias = &b_hn[0] if reset_after else NULL
    with nogil:
        if act == ACT_TANH:
            gru_loop_predict(&XW[0, 0, 0], &W_h[0, 0], bias, &state[0, 0], &scratch[0, 0, 0],
                             hout, m, T, B, nh, reset_after, act, <TanhOnly*>NULL, n_threads)
        else:
            gru_loop_predict(&XW[0, 0, 0], &W_h[0, 0], bias, &state[0, 0], &scratch[0, 0, 0],
                             hout, m, T, B, nh, reset_after, act, <AnyActivation*>NULL,
                             n_threads)


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
    reset path's share of dh_prev (zero on padding, where dn = 0)."""
    cdef Py_ssize_t j
    cdef floating r
    for j in range(H):
        r = gz[j]
        gz[j] = d_reset[j] * (h_prev[j] * sigmoid_derivative(r))
        dh[j] += d_reset[j] * r


cdef void gru_loop_backward(floating *gz, floating *dn, const floating *reset_term,
                            const floating *Hs, floating *W_h, const floating *dH,
                            floating *dh, floating *scratch, const floating *mask,
                            Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, bint reset_after,
                            int act, Activation *kind, int n_threads) noexcept nogil:
    cdef Py_ssize_t t, b, S = B * H, G = 3 * H
    cdef int nt = use_threads(n_threads, B, H)
    cdef floating *g
    for t in range(T - 1, -1, -1):
        g = gz + t * B * G
        if reset_after:
            if nt > 1:
                for b in prange(B, num_threads=nt, schedule="static"):
                    gru_row_backward_after(g + b * G, dn + t * S + b * H,
                                           reset_term + t * S + b * H, Hs + t * S + b * H,
                                           dH + t * S + b * H, dh + b * H,
                                           is_valid(mask, t, b, B), H, act, kind)
            else:
                for b in range(B):
                    gru_row_backward_after(g + b * G, dn + t * S + b * H,
                                           reset_term + t * S + b * H, Hs + t * S + b * H,
                                           dH + t * S + b * H, dh + b * H,
                                           is_valid(mask, t, b, B), H, act, kind)
            # dh += d_recurrent @ W_h^T
            gemm(True, <int>B, <int>H, <int>G, g, <int>G, W_h, <int>G, <floating>1, dh, <int>H)
        else:
            if nt > 1:
                for b in prange(B, num_threads=nt, schedule="static"):
                    gru_row_backward_before1(g + b * G, Hs + t * S + b * H, dH + t * S + b * H,
                                             dh + b * H, is_valid(mask, t, b, B), H, act, kind)
            else:
                for b in range(B):
                    gru_row_backward_before1(g + b * G, Hs + t * S + b * H, dH + t * S + b * H,
                                             dh + b * H, is_valid(mask, t, b, B), H, act, kind)
            # d_reset = dn @ W_hn^T
            gemm(True, <int>B, <int>H, <int>H, g + 2 * H, <int>G, W_h + 2 * H, <int>G,
                 <floating>0, scratch, <int>H)
            if nt > 1:
                for b in prange(B, num_threads=nt, schedule="static"):
                    gru_row_backward_before2(g + b * G, scratch + b * H, Hs + t * S + b * H,
                                             dh + b * H, H)
            else:
                for b in range(B):
                    gru_row_backward_before2(g + b * G, scratch + b * H, Hs + t * S + b * H,
                                             dh + b * H, H)
            # dh += [dr|du] @ W_h[:, :2H]^T
            gemm(True, <int>B, <int>H, <int>(2 * H), g, <int>G, W_h, <int>G, <floating>1, dh,
                 <int>H)


def gru_backward(floating[:, :, ::1] dZ, floating[:, :, ::1] H, floating[:, :, ::1] reset_term,
                 floating[:, ::1] W_h, floating[:, :, ::1] dH, floating[:, ::1] dstate,
                 floating[:, :, ::1] dn=None, floating[:, :, ::1] mask=None,
                 bint reset_after=True, int act=ACT_TANH, int n_threads=1):
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
    cdef Py_ssize_t T = dZ.shape[0], B = dZ.shape[1], nh = W_h.shape[0]
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
    with nogil:
        if act == ACT_TANH:
            gru_loop_backward(&dZ[0, 0, 0], dnp, &reset_term[0, 0, 0], &H[0, 0, 0], &W_h[0, 0],
                              &dH[0, 0, 0], &dstate[0, 0], &scratch[0, 0], m, T, B, nh,
                              reset_after, act, <TanhOnly*>NULL, n_threads)
        else:
            gru_loop_backward(&dZ[0, 0, 0], dnp, &reset_term[0, 0, 0], &H[0, 0, 0], &W_h[0, 0],
                              &dH[0, 0, 0], &dstate[0, 0], &scratch[0, 0], m, T, B, nh,
                              reset_after, act, <AnyActivation*>NULL, n_threads)


# ----------------------------------------------------------------------------------------
# Vanilla (Elman): h = act(a + h_prev W_h)
# ----------------------------------------------------------------------------------------

cdef inline void vanilla_row_forward(const floating *z, const floating *h_prev,
                                     floating *h_next, bint valid, Py_ssize_t H, int act,
                                     Activation *kind) noexcept nogil:
    """z = pre-activation (input projection + recurrent product); h_next = act(z)."""
    cdef Py_ssize_t j
    for j in range(H):
        h_next[j] = act_(z[j], act, kind)
    if not valid:
        copy_row(h_next, h_prev, H)


cdef void vanilla_loop_forward(floating *XW, floating *W_h, floating *state,
                               floating *scratch, floating *Hs, const floating *mask,
                               Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, int act,
                               Activation *kind, int n_threads) noexcept nogil:
    """Per step: XW[t] += h_prev @ W_h (gemm, beta=1), then h_next = act(XW[t]) row by row.
    Training: Hs = H (T+1, B, H) with H[0] preset. Inference (Hs = NULL): h ping-pongs
    between `state` and `scratch` and the final h is left in `state`."""
    cdef Py_ssize_t t, b, S = B * H
    cdef int nt = use_threads(n_threads, B, H)
    cdef floating *h_prev
    cdef floating *h_next
    for t in range(T):
        if Hs != NULL:
            h_prev = Hs + t * S
            h_next = Hs + (t + 1) * S
        else:
            h_prev = state if t % 2 == 0 else scratch
            h_next = scratch if t % 2 == 0 else state
        gemm(False, <int>B, <int>H, <int>H, h_prev, <int>H, W_h, <int>H, <floating>1,
             XW + t * S, <int>H)
        if nt > 1:
            for b in prange(B, num_threads=nt, schedule="static"):
                vanilla_row_forward(XW + t * S + b * H, h_prev + b * H, h_next + b * H,
                                    is_valid(mask, t, b, B), H, act, kind)
        else:
            for b in range(B):
                vanilla_row_forward(XW + t * S + b * H, h_prev + b * H, h_next + b * H,
                                    is_valid(mask, t, b, B), H, act, kind)
    if Hs == NULL and T % 2 == 1:
        copy_row(state, scratch, S)


def vanilla_forward(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, :, ::1] H,
                    floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=1):
    """Vanilla training forward (its H is also the inference output when all steps are wanted).

    In: XW (T, B, H) input projection; W_h (H, H); H[0] = initial state.
    Out: XW = pre-activations (input + recurrent product); H[1:] = state after each step.
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], nh = W_h.shape[0]
    _check("XW", XW, (T, B, nh)); _check("W_h", W_h, (nh, nh)); _check("H", H, (T + 1, B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    with nogil:
        if act == ACT_TANH:
            vanilla_loop_forward(&XW[0, 0, 0], &W_h[0, 0], NULL, NULL, &H[0, 0, 0], m, T, B,
                                 nh, act, <TanhOnly*>NULL, n_threads)
        else:
            vanilla_loop_forward(&XW[0, 0, 0], &W_h[0, 0], NULL, NULL, &H[0, 0, 0], m, T, B,
                                 nh, act, <AnyActivation*>NULL, n_threads)


def vanilla_predict(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, ::1] state,
                    floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=1):
    """Vanilla inference, final state only: state (B, H) initial in, final out; XW scratch.
    (For all steps' h use vanilla_forward: its H is exactly the output sequence.)"""
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], nh = W_h.shape[0]
    _check("XW", XW, (T, B, nh)); _check("W_h", W_h, (nh, nh)); _check("state", state, (B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating[:, ::1] scratch = np.empty((B, nh), dtype=np.asarray(XW).dtype)
    cdef floating *m = ptr_or_null(mask)
    with nogil:
        if act == ACT_TANH:
            vanilla_loop_forward(&XW[0, 0, 0], &W_h[0, 0], &state[0, 0], &scratch[0, 0], NULL,
                                 m, T, B, nh, act, <TanhOnly*>NULL, n_threads)
        else:
            vanilla_loop_forward(&XW[0, 0, 0], &W_h[0, 0], &state[0, 0], &scratch[0, 0], NULL,
                                 m, T, B, nh, act, <AnyActivation*>NULL, n_threads)


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
                                Py_ssize_t T, Py_ssize_t B, Py_ssize_t H, int act,
                                Activation *kind, int n_threads) noexcept nogil:
    cdef Py_ssize_t t, b, S = B * H
    cdef int nt = use_threads(n_threads, B, H)
    for t in range(T - 1, -1, -1):
        if nt > 1:
            for b in prange(B, num_threads=nt, schedule="static"):
                vanilla_row_backward(dZ + t * S + b * H, Hs + (t + 1) * S + b * H,
                                     dH + t * S + b * H, dh + b * H, is_valid(mask, t, b, B),
                                     H, act, kind)
        else:
            for b in range(B):
                vanilla_row_backward(dZ + t * S + b * H, Hs + (t + 1) * S + b * H,
                                     dH + t * S + b * H, dh + b * H, is_valid(mask, t, b, B),
                                     H, act, kind)
        gemm(True, <int>B, <int>H, <int>H, dZ + t * S, <int>H, W_h, <int>H, <floating>1, dh,
             <int>H)


def vanilla_backward(floating[:, :, ::1] H, floating[:, ::1] W_h, floating[:, :, ::1] dH,
                     floating[:, :, ::1] dZ, floating[:, ::1] dstate,
                     floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=1):
    """Vanilla backward. In: H (T+1, B, H) from vanilla_forward; W_h; dH (T, B, H);
    dstate (B, H) = gradient w.r.t. the final h. Out: dZ (T, B, H) = gradient w.r.t. XW
    (may be the forward's XW buffer); dstate = gradient w.r.t. h0. dW_h = H[:-1]^T @ dZ."""
    cdef Py_ssize_t T = dH.shape[0], B = dH.shape[1], nh = W_h.shape[0]
    _check("H", H, (T + 1, B, nh)); _check("W_h", W_h, (nh, nh)); _check("dZ", dZ, (T, B, nh))
    _check("dstate", dstate, (B, nh))
    _check("mask", mask, (T, B, 1))
    if T == 0 or B == 0 or nh == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    with nogil:
        if act == ACT_TANH:
            vanilla_loop_backward(&dZ[0, 0, 0], &H[0, 0, 0], &W_h[0, 0], &dH[0, 0, 0],
                                  &dstate[0, 0], m, T, B, nh, act, <TanhOnly*>NULL, n_threads)
        else:
            vanilla_loop_backward(&dZ[0, 0, 0], &H[0, 0, 0], &W_h[0, 0], &dH[0, 0, 0],
                                  &dstate[0, 0], m, T, B, nh, act, <AnyActivation*>NULL,
                                  n_threads)
