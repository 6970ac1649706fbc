# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Fused recurrent kernels behind rnnlearn's cells.

Layout, as rnnlearn's cells: time-major C-contiguous arrays, gates fused in columns in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n), mask (T, B, 1) with 1 = valid, 0 = padding
(state carried unchanged, gates and gradients zero). Each time step is one product with the
recurrent weights (two for the GRU) plus one fused elementwise pass over the batch rows. No
allocation inside the time loop. The kernels hold no state, so they are thread-safe.

Products. In float32 every pass packs its recurrent weights once, and its products run the
packed micro-kernel of _packed_product.h, which gives each row of a product the same bits
whatever rows share the product; matmul packs its second operand alike. So a float32
prediction of a sequence has the same bits whatever is predicted with it, in any order
(OpenBLAS's sgemm gives a row bits that depend on its place in the call on some machines).
In the AVX-512 build the weight gradients run the packed product too (gradient_product).
Packing costs about one product of a few rows, and where OpenBLAS has no small-matrix kernel
its sgemm repacks the weights on every call (on an AVX2 machine a 1 x 64 x 256 sgemm took
22 us, the packed product 2.8 us). In float64 BLAS runs them (gemm).

Threads. The rows of a batch are independent sequences, so the batch is cut into blocks of
rows (balanced: sizes differ by one at most), and each block runs from the first step to the
last on one thread, products and elementwise passes alike, with no synchronisation between
steps. A BLAS product's bits for one row depend on how many rows the call has (OpenBLAS
picks its kernel by shape), so with BLAS the blocks have SEQUENCE_BLOCK rows at most
whatever the threads: a split by thread would make a fit depend on the machine's cores.
Packed products have no such dependence, so each thread takes one block (see plan_pass).
Threads only take blocks in turn, and any number of them gives the same bits. The products
outside the time loop are cut alike: matmul into blocks of MATMUL_BLOCK rows, and
weight_grad's sum over rows into blocks of GRAD_BLOCK rows, each into its own buffer, the
buffers then added in block order. The caller keeps BLAS to one thread meanwhile: two thread
pools fighting over the cores is far slower, so OpenMP's pool is the only one a training
step uses.

Training and inference. Each cell has one forward kernel, `<cell>_forward`, one loop over
time whose step t reads h_prev = H[t] and writes H[t+1]. What backward needs besides H (the
LSTM's c and act(c), the GRU's reset term) goes to arrays of every step when training and
to arrays of one step, reused, at inference (training=False): the loop moves those pointers
on by one step per step, or not at all. The vanilla cell keeps nothing else, so its forward
serves both. Per cell, from the inside out: a row pass (the math of one row, its rows
restrict pointers: see row_in), a step (the recurrent product, the row passes, padding),
the loop over time, its two compilations (tanh alone or any activation; see _fastmath.pxd)
and the Python entry point, which checks shapes and runs the loop on each block of rows.

Variable lengths. At each step the products cover a block's rows up to its last valid row,
so a block sorted by length, longest first, costs its valid steps only.

Input projection. A forward kernel reads each step's input projection XW[t] = x_t W_x + b,
which the layer computes for the whole pass beforehand. Given the layer's input X with W_x
and b instead (the layer does so for one feature), it computes each block's rows of XW[t]
that are still running just before step t (project_rows, with matmul's bits), where the
step then finds them in cache: the whole projection is then never written to memory and
read back. (Padding rows after them are left as they are: no pass reads them.)

Row-major products go to column-major BLAS by computing the transposed problem:
C = op(A) op(B) (row-major) is C^T = op(B)^T op(A)^T (column-major), i.e. swap the operands.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
cimport openmp
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv
from libc.string cimport memcpy, memset
from libc.stddef cimport ptrdiff_t
from rnnlearn.cells._fastmath cimport (ACT_IDENTITY, ACT_LOGISTIC, ACT_TANH, ACT_GOMPERTZ, ACT_RELU,
                        Activation, TanhOnly, AnyActivation, act_, dact_, sigmoid,
                        sigmoid_derivative)

import numpy as np

cdef extern from "_packed_product.h":
    ptrdiff_t packed_size(ptrdiff_t k, ptrdiff_t n) noexcept nogil
    void packed_pack(const float *b, ptrdiff_t ldb, int trans, ptrdiff_t k, ptrdiff_t n,
                     float *packed) noexcept nogil
    void packed_product(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                        const float *packed, int accumulate, float *c, ptrdiff_t ldc,
                        int descending) noexcept nogil
    const ptrdiff_t PACKED_TILE, PACKED_GRADIENT_DEPTH, PACKED_GRADIENT_MIN_ROWS
    void one_feature_rows(ptrdiff_t m, ptrdiff_t n, const float *x, const float *w,
                          const float *b, float *c, ptrdiff_t ldc) noexcept nogil
    void unpacked_rows(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, int accumulate, float *c,
                       ptrdiff_t ldc) noexcept nogil
    void packed_gradient(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                         const float *b, ptrdiff_t ldb, int accumulate, float *c, ptrdiff_t ldc,
                         float *scratch) noexcept nogil

# The row passes take their rows as `row_in` (read) and `row_out` (written, or read and
# written): pointers declared restrict, C's promise that no other pointer of the call reaches
# their memory. Without it gcc checks at run time, before each row's vector loop, that no two
# rows overlap: a few hundred instructions a row, 37 % of the LSTM's forward row pass at 16
# units. gcc checks only pairs of plain pointers, so a pass may keep one plain `floating`
# pointer, from which Cython types its locals, and the LSTM's forward keeps c_prev and c
# plain, which are one array at inference.
cdef extern from *:
    """
    #if defined(_MSC_VER)
    #define ROW_RESTRICT __restrict
    #else
    #define ROW_RESTRICT __restrict__
    #endif
    typedef const float *ROW_RESTRICT float_row_in;
    typedef const double *ROW_RESTRICT double_row_in;
    typedef float *ROW_RESTRICT float_row_out;
    typedef double *ROW_RESTRICT double_row_out;
    """
    ctypedef const float *float_row_in
    ctypedef const double *double_row_in
    ctypedef float *float_row_out
    ctypedef double *double_row_out

ctypedef fused row_in:
    float_row_in
    double_row_in

ctypedef fused row_out:
    float_row_out
    double_row_out

ACTIVATION_CODES = {"identity": ACT_IDENTITY, "logistic": ACT_LOGISTIC, "tanh": ACT_TANH,
                    "gompertz": ACT_GOMPERTZ, "relu": ACT_RELU}


# ----------------------------------------------------------------------------------------
# BLAS and small helpers
# ----------------------------------------------------------------------------------------

# A product with one term per sum (an input projection of one feature) runs as a plain loop
# (outer_product), not through BLAS: sgemm took longer (2.5 us for 50 x 1 @ 1 x 256), and the
# recurrent kernel run next was 8 to 20 us slower after it. The results are BLAS's bits (one
# rounded product, added to C). The choice depends on the shape alone, never on threads.
DEF OUTER_CHUNK = 256  # columns of a row that outer_product rounds in one pass


cdef inline void outer_product(int m, int n, const floating *a, int lda, const floating *b,
                               floating beta, floating *c, int ldc) noexcept nogil:
    """Row-major C (m x n) = A (m x 1) @ B (1 x n) + beta * C for beta = 0 or 1: the
    products are rounded in one pass and added to C in a second one, so that no fused
    multiply-add joins them (BLAS rounds them so)."""
    cdef floating products[OUTER_CHUNK]
    cdef floating x
    cdef floating *row
    cdef int i, j, chunk, j0, width
    for i in range(m):
        x, row = a[i * lda], c + i * ldc
        for chunk in range((n + OUTER_CHUNK - 1) // OUTER_CHUNK):
            j0 = chunk * OUTER_CHUNK
            width = min(OUTER_CHUNK, n - j0)
            if beta == 0:
                for j in range(width):
                    row[j0 + j] = x * b[j0 + j]
            else:
                for j in range(width):
                    products[j] = x * b[j0 + j]
                for j in range(width):
                    row[j0 + j] += products[j]


cdef inline void row_product(bint trans_a, bint trans_b, int n, int k, floating *a, int lda,
                             floating *b, int ldb, floating beta, floating *c) noexcept nogil:
    """Row-major c (1 x n) = op(A) (1 x k) @ op(B) (k x n) + beta * c, k > 1, as the
    matrix-vector product of B's column-major view (n x k, or k x n transposed) with op(A)'s
    row (A's column, every lda-th value, when transposed)."""
    cdef char tb = b'T' if trans_b else b'N'
    cdef int rows = k if trans_b else n, cols = n if trans_b else k
    cdef int inc_a = lda if trans_a else 1, inc_c = 1
    cdef floating one = 1
    if floating is float:
        sgemv(&tb, &rows, &cols, &one, b, &ldb, a, &inc_a, &beta, c, &inc_c)
    else:
        dgemv(&tb, &rows, &cols, &one, b, &ldb, a, &inc_a, &beta, c, &inc_c)


cdef inline void gemm_full(bint trans_a, bint trans_b, int m, int n, int k, floating *a,
                           int lda, floating *b, int ldb, floating beta, floating *c,
                           int ldc) noexcept nogil:
    """Row-major C (m x n) = op(A) @ op(B) + beta * C (op = identity or transpose), as the
    column-major product C^T = op(B)^T op(A)^T: operands swapped, flags unchanged. A product
    with k = 1 (no transposition, beta 0 or 1) goes to outer_product, one with m = 1 (k > 1)
    to row_product: sgemm repacks B for a single row where OpenBLAS has no small-matrix
    kernel (a weight gradient of one input feature, 1 x 6400 @ 6400 x 512, took 4.2 ms
    against sgemv's 1.1 ms on an AVX2 machine)."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef floating one = 1
    if k == 1 and not trans_a and not trans_b and (beta == 0 or beta == 1):
        outer_product(m, n, a, lda, b, beta, c, ldc)
    elif m == 1 and k > 1:
        row_product(trans_a, trans_b, n, k, a, lda, b, ldb, beta, c)
    elif floating is float:
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


cdef inline void product(bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, floating *a,
                         Py_ssize_t lda, floating *b, Py_ssize_t ldb, const float *packed,
                         floating beta, floating *c, Py_ssize_t ldc,
                         bint descending) noexcept nogil:
    """gemm, or in float32, with op(B) packed by pack_operand, the packed product (each row
    of C the same bits whatever m; see _packed_product.h). beta is 0 or 1. A recurrent
    kernel passes descending = t % 2, so that its packed products walk B's columns the
    other way at every other step (see packed_product)."""
    if floating is float:
        if packed != NULL:
            if m > 0:
                packed_product(m, n, k, a, lda, packed, beta != 0, c, ldc, descending)
            return
    gemm(trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc)


def pack_operand(W, bint trans=False, Py_ssize_t col0=0, Py_ssize_t n_cols=-1):
    """W[:, col0 : col0 + n_cols] (or, with trans, its transpose) packed for the float32
    products, as a 1-D array; None in float64, whose products BLAS runs."""
    cdef const float[:, ::1] w
    if np.asarray(W).dtype != np.float32:
        return None
    w = W
    if n_cols < 0:
        n_cols = w.shape[1] - col0
    cdef Py_ssize_t k = n_cols if trans else w.shape[0], n = w.shape[0] if trans else n_cols
    packed = np.empty(max(packed_size(k, n), 1), np.float32)
    cdef float[::1] out = packed
    if k and n:
        packed_pack(&w[0, col0], w.shape[1], trans, k, n, &out[0])
    return packed


def packed_matmul(const float[:, ::1] A, packed, float[:, ::1] C, bint accumulate=False,
                  bint descending=False):
    """C = A @ B, or C += A @ B with accumulate, B (A.shape[1] x C.shape[1]) packed by
    pack_operand, walking B's columns last to first with descending: the kernels' float32
    per-step product, for tests."""
    cdef Py_ssize_t m = A.shape[0], k = A.shape[1], n = C.shape[1]
    cdef const float[::1] p = packed
    if C.shape[0] != m or p.shape[0] < packed_size(k, n):
        raise ValueError("packed_matmul: inconsistent shapes")
    if m and n:
        packed_product(m, n, k, &A[0, 0] if k else NULL, k, &p[0], accumulate, &C[0, 0], n,
                       descending)


cdef inline const float *packed_or_null(object packed):
    """The data of pack_operand's result, or NULL for None."""
    cdef const float[::1] p
    if packed is None:
        return NULL
    p = packed
    return &p[0]


def matmul(floating[:, ::1] A, floating[:, ::1] B, bint transpose_b=False,
           floating[::1] bias=None, int n_threads=0):
    """A @ B (or A @ B.T, with transpose_b), plus bias on every row if given, as a new
    C-contiguous array.

    The rows of A are cut into blocks of MATMUL_BLOCK rows at most, one product each (each
    block first fills its rows with the bias, so the output is written in one pass), shared
    by n_threads threads. In float32 (k > 1) B is packed and the products are the packed
    ones (or, for fewer rows than a tile, the same chains of multiply-adds over B as it
    is), so that each row of the result has the same bits whatever rows share the call: a
    prediction does not depend on the order of the samples or on what else is predicted with
    them (OpenBLAS's sgemm gives a row bits that depend on its place on some machines). The
    network's other products go through here and weight_grad, so that one thread pool
    (OpenMP's) serves the whole training step, BLAS on one thread inside it (see the module
    docstring)."""
    cdef Py_ssize_t m = A.shape[0], k = A.shape[1], n_blocks, block
    cdef Py_ssize_t n = B.shape[0] if transpose_b else B.shape[1]
    if (B.shape[1] if transpose_b else B.shape[0]) != k:
        raise ValueError("matmul: inconsistent shapes")
    cdef bint has_bias = bias is not None
    if has_bias:
        expect_shape("bias", bias.shape, n)
    out_array = np.empty((m, n), dtype=np.float32 if floating is float else np.float64)
    cdef floating[:, ::1] out = out_array
    if m == 0 or n == 0:
        return out_array
    if k == 0:
        out_array[...] = 0 if bias is None else np.asarray(bias)
        return out_array
    cdef floating *b = &bias[0] if has_bias else NULL
    # fewer rows than a tile read B as it is (unpacked_rows: the same bits, no packing)
    cdef bint unpacked = floating is float and k > 1 and not transpose_b and m < PACKED_TILE
    packed_B = pack_operand(B, transpose_b) if k > 1 and not unpacked else None
    cdef const float *packed = packed_or_null(packed_B)
    n_blocks = count_blocks(m, MATMUL_BLOCK)
    cdef int threads = plan_threads(n_threads, n_blocks, <double>m * n * k / n_blocks)
    if threads == 1:  # no parallel region: starting one costs more than a small product
        for block in range(n_blocks):
            matmul_block(&A[0, 0], &B[0, 0], B.shape[1], transpose_b, packed, b, &out[0, 0],
                         n, k, block_start(block, m, n_blocks),
                         block_start(block + 1, m, n_blocks))
        return out_array
    for block in prange(n_blocks, nogil=True, num_threads=threads, schedule="static"):
        matmul_block(&A[0, 0], &B[0, 0], B.shape[1], transpose_b, packed, b, &out[0, 0], n,
                     k, block_start(block, m, n_blocks), block_start(block + 1, m, n_blocks))
    return out_array


cdef inline void matmul_block(floating *A, floating *B, Py_ssize_t ldb, bint transpose_b,
                              const float *packed, const floating *bias, floating *out,
                              Py_ssize_t n, Py_ssize_t k, Py_ssize_t r0,
                              Py_ssize_t r1) noexcept nogil:
    """Rows r0 to r1 of matmul's out (n columns) = A (k columns) @ op(B) (B's rows ldb
    long, or packed; a float32 B that matmul left unpacked is read in place by
    unpacked_rows), plus bias on every row if not NULL. In float32 one column of A with a
    bias runs one_feature_rows: one pass a row, outer_product's bits."""
    cdef Py_ssize_t row
    if floating is float:
        if k == 1 and bias != NULL and not transpose_b:
            one_feature_rows(r1 - r0, n, &A[r0], B, bias, &out[r0 * n], n)
            return
    if bias != NULL:
        for row in range(r0, r1):
            copy_row(&out[row * n], bias, n)
    if floating is float:
        if packed == NULL and k > 1:
            unpacked_rows(r1 - r0, n, k, &A[r0 * k], k, B, ldb, bias != NULL, &out[r0 * n], n)
            return
    product(transpose_b, r1 - r0, n, k, &A[r0 * k], k, B, ldb, packed,
            <floating>(1 if bias != NULL else 0), &out[r0 * n], n, False)


cdef inline void project_rows(floating *XW_t, const floating *X_t, const floating *W_x,
                              const floating *b, Py_ssize_t F, Py_ssize_t G, Py_ssize_t r0,
                              Py_ssize_t r1) noexcept nogil:
    """Rows [r0, r1) of one step's input projection, XW_t = X_t @ W_x + b (X_t's rows F
    apart, XW_t's G): matmul's block of those rows, with W_x read in place (one feature in
    one pass a row, several as the packed product's chains), so each row has the bits of
    the whole pass's projection. A forward kernel given its layer's input computes the
    projection so, for the rows still running at the step, where it then reads it from
    cache."""
    matmul_block(<floating *>X_t, <floating *>W_x, G, False, NULL, b, XW_t, G, F, r0, r1)


cdef inline void gradient_product(int K, int n_cols, int N, floating *X, int ldx, floating *D,
                                  int ldd, floating beta, floating *c, int ldc,
                                  float *scratch) noexcept nogil:
    """c (K x n_cols) = X^T @ D + beta * c for beta = 0 or 1, X (N x K) and D (N x n_cols)
    with rows ldx and ldd apart: with a scratch buffer (float32, see weight_grad), the
    packed gradient (each entry one chain of fused multiply-adds over the rows in order, D
    packed into scratch), else BLAS."""
    if floating is float and scratch != NULL:
        packed_gradient(K, n_cols, N, X, ldx, D, ldd, beta != 0, c, ldc, scratch)
    else:
        gemm_full(True, False, K, n_cols, N, X, ldx, D, ldd, beta, c, ldc)


cdef void sequences_weight_grad(floating *X, int K, floating *D, int ldd,
                                const Py_ssize_t *lengths, Py_ssize_t B, Py_ssize_t s0,
                                Py_ssize_t s1, int n_cols, floating *c, int ldc,
                                float *scratch) noexcept nogil:
    """c (K x n_cols) = the sum over sequences s0 to s1 - 1, in order, of X_b^T D_b, X_b and
    D_b the rows of sequence b's first lengths[b] steps (every B-th row from row b); scratch
    as gradient_product's."""
    cdef floating beta = 0
    cdef Py_ssize_t b, row
    for b in range(s0, s1):
        if lengths[b] > 0:
            gradient_product(K, n_cols, <int>lengths[b], X + b * K, <int>(B * K), D + b * ldd,
                             <int>(B * ldd), beta, c, ldc, scratch)
            beta = 1
    if beta == 0:
        for row in range(K):
            zero_row(c + row * ldc, n_cols)


def weight_grad(floating[:, ::1] X, floating[:, ::1] D, floating[:, ::1] out,
                int d_col0=0, int n_cols=-1, int out_col0=0, int n_threads=0,
                const Py_ssize_t[::1] lengths=None):
    """out[:, out_col0 : out_col0 + n_cols] = X^T @ D[:, d_col0 : d_col0 + n_cols].

    X (N, K), D (N, G), out (K, G_out): a weight gradient over all steps (N = T * B). The N
    rows are cut into blocks of GRAD_BLOCK rows at most; each block's product goes to its
    own buffer (block 0's straight to out), shared by n_threads threads, and the buffers are
    then added to out in block order, so the sum runs in one order on any number of
    threads. With lengths (B,), row t * B + b is step t of sequence b, and only its first
    lengths[b] steps count (the padded ones, whose rows of D are zero, are skipped): a block
    is then SEQUENCE_BLOCK sequences, each one product over its own steps."""
    if n_cols < 0:
        n_cols = D.shape[1] - d_col0
    if X.shape[0] != D.shape[0] or out.shape[0] != X.shape[1] or \
            d_col0 + n_cols > D.shape[1] or out_col0 + n_cols > out.shape[1]:
        raise ValueError("weight_grad: inconsistent shapes")
    cdef Py_ssize_t B = 0 if lengths is None else lengths.shape[0]
    if B and (X.shape[0] % B or not 0 <= np.min(lengths) <= np.max(lengths) <= X.shape[0] // B):
        raise ValueError("weight_grad: lengths inconsistent with the rows")
    if X.shape[0] == 0:
        out[:, out_col0:out_col0 + n_cols] = 0
        return
    if X.shape[1] == 0 or n_cols == 0:
        return
    cdef Py_ssize_t N = X.shape[0], K = X.shape[1]
    cdef Py_ssize_t n_blocks = count_blocks(B, SEQUENCE_BLOCK) if B else count_blocks(N, GRAD_BLOCK)
    cdef Py_ssize_t block, r0, row, ldc
    cdef floating[:, :, ::1] parts = np.empty((n_blocks - 1, K, n_cols), np.asarray(X).dtype)
    cdef floating *c
    cdef int threads = plan_threads(n_threads, n_blocks, <double>N * K * n_cols / n_blocks)
    # The packed gradient, with a buffer per thread, in float32 from PACKED_GRADIENT_MIN_ROWS
    # rows of out: 1.2 times faster than sgemm at 3200 x 64 x 256 on an AVX-512 machine.
    # Fewer rows (a few input features; any in the AVX2 and baseline builds) and float64
    # go to BLAS: for one feature (3200 x 256) sgemv took 52 us, the packed gradient 140.
    cdef bint packs = floating is float and K >= PACKED_GRADIENT_MIN_ROWS
    cdef float[:, ::1] scratch = np.empty(
        (threads, packed_size(PACKED_GRADIENT_DEPTH, n_cols) if packs else 1), np.float32)
    for block in prange(n_blocks, nogil=True, num_threads=threads, schedule="static"):
        if block == 0:
            c, ldc = &out[0, out_col0], out.shape[1]
        else:
            c, ldc = &parts[block - 1, 0, 0], n_cols
        if B:
            sequences_weight_grad(&X[0, 0], <int>K, &D[0, d_col0], <int>D.shape[1],
                                  &lengths[0], B, block_start(block, B, n_blocks),
                                  block_start(block + 1, B, n_blocks), n_cols, c, <int>ldc,
                                  &scratch[threadid(), 0] if packs else NULL)
        else:
            r0 = block_start(block, N, n_blocks)
            gradient_product(<int>K, n_cols, <int>(block_start(block + 1, N, n_blocks) - r0),
                             &X[r0, 0], <int>K, &D[r0, d_col0], <int>D.shape[1], <floating>0,
                             c, <int>ldc, &scratch[threadid(), 0] if packs else NULL)
    if n_blocks == 1:
        return
    threads = plan_threads(n_threads, K, <double>n_blocks * n_cols)
    for row in prange(K, nogil=True, num_threads=threads, schedule="static"):
        for block in range(n_blocks - 1):
            add_row(&out[row, out_col0], &parts[block, row, 0], n_cols)


def column_sums(floating[:, ::1] D, floating[::1] out, Py_ssize_t col0=0):
    """out[j] = the sum over rows i of D[i, col0 + j], from 0 and adding the rows in order:
    NumPy's np.sum(D[:, col0:col0 + len(out)], axis=0) bit for bit (NumPy adds a row at a
    time, vectors across the columns), without its cost of one inner-loop call a row."""
    cdef Py_ssize_t N = D.shape[0], n = out.shape[0], i
    if col0 < 0 or col0 + n > D.shape[1]:
        raise ValueError("column_sums: inconsistent shapes")
    if n == 0:
        return
    with nogil:
        zero_row(&out[0], n)
        for i in range(N):
            add_row(&out[0], &D[i, col0], n)


def input_grads(floating[:, ::1] X, floating[:, ::1] D, floating[:, ::1] out_W,
                floating[::1] out_b):
    """out_W = X^T @ D and out_b = the column sums of D, in one pass over D: the input
    weights' and the bias's gradients of a layer whose input X (N, F) has few features,
    from its projection's gradient D (N, G). Each entry of out_W is one chain of
    multiply-adds over the rows in order, and out_b is column_sums's (NumPy's sum bit for
    bit), where weight_grad and column_sums would read D once each."""
    cdef Py_ssize_t N = D.shape[0], G = D.shape[1], F = X.shape[1], i, f, j
    if X.shape[0] != N or out_W.shape[0] != F or out_W.shape[1] != G or out_b.shape[0] != G:
        raise ValueError("input_grads: inconsistent shapes")
    if G == 0:
        return
    cdef floating x
    cdef floating *row
    with nogil:
        zero_row(&out_b[0], G)
        for f in range(F):
            zero_row(&out_W[f, 0], G)
        for i in range(N):
            add_row(&out_b[0], &D[i, 0], G)
            for f in range(F):
                x, row = X[i, f], &out_W[f, 0]
                for j in range(G):
                    row[j] += x * D[i, j]


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


cpdef Py_ssize_t count_blocks(Py_ssize_t n_rows, Py_ssize_t max_rows) noexcept nogil:
    """Blocks of at most max_rows rows that n_rows rows are cut into (see block_start)."""
    return (n_rows + max_rows - 1) // max_rows


cdef inline Py_ssize_t block_start(Py_ssize_t k, Py_ssize_t B, Py_ssize_t n_blocks) noexcept nogil:
    """First row of block k of n_blocks: the first B % n_blocks blocks get one row more."""
    cdef Py_ssize_t size = B // n_blocks, extra = B % n_blocks
    return k * size + (k if k < extra else extra)


cdef inline void copy_row(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    memcpy(dst, src, n * sizeof(floating))


cdef inline void zero_row(floating *dst, Py_ssize_t n) noexcept nogil:
    memset(dst, 0, n * sizeof(floating))


cdef inline void add_row(floating *dst, const floating *src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] += src[j]


cdef inline floating *ptr_or_null(floating[:, :, ::1] a) noexcept:
    """Data pointer of an optional (possibly None or empty) array."""
    if a is None or a.shape[0] == 0 or a.shape[1] == 0:
        return NULL
    return &a[0, 0, 0]


cdef Py_ssize_t input_features(floating[:, :, ::1] X, floating[:, ::1] W_x, floating[::1] b,
                               Py_ssize_t T, Py_ssize_t B, Py_ssize_t G) except -1:
    """The features F of a forward kernel's layer input X (T, B, F), 0 without it; with
    it, W_x must be (F, G) and b (G,), F at least 1."""
    if X is None:
        return 0
    if W_x is None or b is None or X.shape[2] == 0:
        raise ValueError("a projected input needs W_x, b and at least one feature")
    expect_shape("X", X.shape, T, B, X.shape[2])
    expect_shape("W_x", W_x.shape, X.shape[2], G)
    expect_shape("b", b.shape, G)
    return X.shape[2]


def padded_rows(W, Py_ssize_t n_products):
    """W, or a copy of it whose rows are ROW_PAD_BYTES longer when they are a multiple of
    CRITICAL_STRIDE bytes long and n_products products read it (at least PAD_PRODUCTS, so
    that the copy pays). The kernels pass the row length on to gemm."""
    if n_products < PAD_PRODUCTS:
        return W
    cdef Py_ssize_t n_cols = W.shape[1], itemsize = np.asarray(W).itemsize
    if (n_cols * itemsize) % CRITICAL_STRIDE:
        return W
    padded = np.empty((W.shape[0], n_cols + ROW_PAD_BYTES // itemsize), np.asarray(W).dtype)
    padded[:, :n_cols] = W
    return padded


def omp_max_threads():
    """OpenMP's current thread limit (what threadpoolctl's 'openmp' limit sets)."""
    return openmp.omp_get_max_threads()


cdef int expect_shape(str name, const Py_ssize_t *shape, Py_ssize_t d0, Py_ssize_t d1=-1,
                      Py_ssize_t d2=-1) except -1:
    """Raise ValueError unless a typed array whose shape is `shape` has shape (d0[, d1[,
    d2]]), d1 and d2 of -1 absent: a test in C, as a kernel's entry runs several per call."""
    cdef Py_ssize_t expected[3]
    cdef int ndim = 1 + (d1 >= 0) + (d2 >= 0), i
    expected[0], expected[1], expected[2] = d0, d1, d2
    for i in range(ndim):
        if shape[i] != expected[i]:
            raise ValueError(f"{name} has shape {tuple([shape[j] for j in range(ndim)])}, "
                             f"expected {tuple([expected[j] for j in range(ndim)])}")
    return 0


# Set by rnnlearn.cells._threads.single_threaded_blas while it holds BLAS at one thread: only
# then may a kernel start threads on its own (n_threads=0).
cdef bint threads_allowed = False

# Multiply-adds a thread must get before a kernel splits its rows on its own: below that,
# starting and joining a thread costs more than it saves, and far more on a busy machine.
MIN_WORK_PER_THREAD = 2 ** 18

# The blocks of rows the kernels cut their work into (see the module docstring). Constants,
# never derived from the thread count: a result's bits depend on them.
SEQUENCE_BLOCK = 8  # sequences per block of a recurrent kernel
RAGGED_BLOCKS_PER_THREAD = 4  # blocks per thread of packed products over ragged sequences
MATMUL_BLOCK = 256  # rows per block of matmul
GRAD_BLOCK = 2048  # rows (steps x sequences) per partial sum of weight_grad

# A float64 pass that runs at least PAD_PRODUCTS per-step products copies its recurrent
# weights with rows padded to ROW_PAD_BYTES more when their length is a multiple of
# CRITICAL_STRIDE bytes: such rows fall on the same few cache sets (the LSTM forward ran
# 15-20 % slower at 64 and 128 hidden units).
PAD_PRODUCTS = 256
CRITICAL_STRIDE = 1024
ROW_PAD_BYTES = 64


def allow_threads(bint allowed):
    """Let kernels called with n_threads=0 use OpenMP's threads (or not); returns the old
    setting. Only for a caller that holds BLAS at one thread meanwhile."""
    global threads_allowed
    old = threads_allowed
    threads_allowed = allowed
    return old


cpdef int plan_threads(int n_threads, Py_ssize_t n_blocks, double work_per_block):
    """Threads that share n_blocks blocks of work_per_block multiply-adds each.

    n_threads > 0: that many, at most one per block. n_threads = 0: OpenMP's thread limit,
    at most one per block and per MIN_WORK_PER_THREAD, and 1 unless threads are allowed.
    The blocks are the same whatever this returns."""
    if n_threads <= 0:
        if not threads_allowed:
            return 1
        n_threads = <int>min(openmp.omp_get_max_threads(),
                             n_blocks * work_per_block / MIN_WORK_PER_THREAD)
    return <int>max(1, min(n_threads, n_blocks))


cdef Py_ssize_t pass_products(Py_ssize_t T, Py_ssize_t B):
    """Per-step products a float64 recurrent pass of T steps over B rows runs."""
    return T * count_blocks(B, SEQUENCE_BLOCK)


def plan_pass(W_h, Py_ssize_t T, Py_ssize_t B, int n_threads, bint ragged, bint trans=False,
              Py_ssize_t n_cols=-1):
    """(packed, n_blocks, threads) for a recurrent kernel's pass of T steps over B rows.

    packed: pack_operand's copy of W_h (its first n_cols columns; transposed with trans)
    in float32, None in float64 (BLAS runs the products). n_blocks:
    the blocks of rows the batch is cut into (see block_start), and threads, those that
    share them. BLAS products take blocks of SEQUENCE_BLOCK rows whatever the threads.
    Packed products give a row the same bits in any block, so they take one block per
    thread (its products read each panel once per step), or, for ragged sequences (sorted
    by length, so the first rows run longest), RAGGED_BLOCKS_PER_THREAD blocks per thread
    that the threads take as they finish, never smaller than SEQUENCE_BLOCK rows."""
    cdef Py_ssize_t n_blocks = count_blocks(B, SEQUENCE_BLOCK)
    cdef int threads = plan_threads(n_threads, n_blocks,
                                    <double>B * T * W_h.shape[0] * W_h.shape[1] / n_blocks)
    packed = pack_operand(W_h, trans, 0, n_cols)
    if packed is not None:
        n_blocks = min(n_blocks, threads * (RAGGED_BLOCKS_PER_THREAD if ragged and threads > 1
                                            else 1))
    return packed, n_blocks, threads


# ----------------------------------------------------------------------------------------
# LSTM: gates i, f, g, o; c = f c_prev + i g; h = o act(c)
# ----------------------------------------------------------------------------------------

cdef inline void lstm_row_forward(row_out gates, row_in recurrent, const floating *c_prev,
                                  floating *c, row_out h, row_out cell_out, Py_ssize_t n_hidden,
                                  int act, Activation *kind) noexcept nogil:
    """One valid row of one step. On entry gates = input projection [i|f|g|o] and
    recurrent = the recurrent product h_prev W_h; on return gates = activated gates, c, h =
    the new state and cell_out = act(c). c may be c_prev (the update is in place), so those
    two are plain pointers."""
    cdef Py_ssize_t j
    cdef floating i, f, g, o, c_new, y
    for j in range(n_hidden):
        i = sigmoid(gates[j] + recurrent[j])
        f = sigmoid(gates[n_hidden + j] + recurrent[n_hidden + j])
        g = act_(gates[2 * n_hidden + j] + recurrent[2 * n_hidden + j], act, kind)
        o = sigmoid(gates[3 * n_hidden + j] + recurrent[3 * n_hidden + j])
        c_new = f * c_prev[j] + i * g
        y = act_(c_new, act, kind)
        gates[j] = i
        gates[n_hidden + j] = f
        gates[2 * n_hidden + j] = g
        gates[3 * n_hidden + j] = o
        c[j] = c_new
        h[j] = o * y
        cell_out[j] = y


cdef void lstm_step(floating *gates, floating *scratch, floating *W_h, Py_ssize_t ldw,
                    const float *packed, floating *h_prev, floating *h, const floating *c_prev,
                    floating *c, floating *cell_out, const floating *mask, Py_ssize_t t,
                    Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1, int act,
                    Activation *kind) noexcept nogil:
    """Step t of rows [r0, r1) (each pointer at row 0 of a (B, ...) block, scratch at row r0 of
    the block's scratch): scratch = h_prev @ W_h (W_h's rows ldw apart, or packed), then the
    fused pass adds it to the gates' input projection and writes the gates, c, h and
    cell_out. Padding rows get zero gates and cell_out and carry the state. c may be
    c_prev."""
    cdef Py_ssize_t b, row, n_fused = 4 * n_hidden
    product(False, active_rows(mask, t, B, r0, r1), n_fused, n_hidden, h_prev + r0 * n_hidden,
            n_hidden, W_h, ldw, packed, <floating>0, scratch, n_fused, t % 2)
    for b in range(r0, r1):
        row = b * n_hidden
        if is_valid(mask, t, b, B):
            lstm_row_forward(gates + b * n_fused, scratch + (b - r0) * n_fused, c_prev + row,
                             c + row, h + row, cell_out + row, n_hidden, act, kind)
        else:
            zero_row(gates + b * n_fused, n_fused)
            zero_row(cell_out + row, n_hidden)
            if c != c_prev:
                copy_row(c + row, c_prev + row, n_hidden)
            copy_row(h + row, h_prev + row, n_hidden)


cdef void lstm_loop_forward(floating *XW, const floating *X, const floating *W_x,
                            const floating *b, Py_ssize_t F, floating *scratch, floating *W_h,
                            Py_ssize_t ldw, const float *packed, floating *H, floating *C,
                            floating *cell_out, const floating *mask, Py_ssize_t T, Py_ssize_t B,
                            Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1, bint training,
                            int act, Activation *kind) noexcept nogil:
    """Rows [r0, r1) over all steps: H[t+1] from H[t]; C and cell_out advance one step
    per step when training and stay on their single step otherwise (see lstm_forward). With
    X, each step first projects its rows of X into XW (project_rows)."""
    cdef Py_ssize_t t, per_step = B * n_hidden
    cdef Py_ssize_t kept = per_step if training else 0
    for t in range(T):
        if X != NULL:
            project_rows(XW + t * B * 4 * n_hidden, X + t * B * F, W_x, b, F, 4 * n_hidden,
                         r0, r0 + active_rows(mask, t, B, r0, r1))
        lstm_step(XW + t * B * 4 * n_hidden, scratch, W_h, ldw, packed, H + t * per_step,
                  H + (t + 1) * per_step, C + t * kept, C + (t + 1) * kept, cell_out + t * kept,
                  mask, t, B, n_hidden, r0, r1, act, kind)


cdef void lstm_rows_forward(floating *XW, const floating *X, const floating *W_x,
                            const floating *b, Py_ssize_t F, floating *scratch, floating *W_h,
                            Py_ssize_t ldw, const float *packed, floating *H, floating *C,
                            floating *cell_out, const floating *mask, Py_ssize_t T, Py_ssize_t B,
                            Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1, bint training,
                            int act) noexcept nogil:
    """lstm_loop_forward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        lstm_loop_forward(XW, X, W_x, b, F, scratch, W_h, ldw, packed, H, C, cell_out, mask, T,
                          B, n_hidden, r0, r1, training, act, <TanhOnly*>NULL)
    else:
        lstm_loop_forward(XW, X, W_x, b, F, scratch, W_h, ldw, packed, H, C, cell_out, mask, T,
                          B, n_hidden, r0, r1, training, act, <AnyActivation*>NULL)


def lstm_forward(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, :, ::1] H,
                 floating[:, :, ::1] C, floating[:, :, ::1] cell_out,
                 floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0,
                 bint training=True, floating[:, :, ::1] X=None, floating[:, ::1] W_x=None,
                 floating[::1] b=None):
    """LSTM forward over all steps, for training or for inference.

    In: XW (T, B, 4n) input projection, with n = n_hidden, or, given the layer's input X
    (T, B, F) with W_x (F, 4n) and b (4n,), a buffer for it that each step fills (see
    project_rows); W_h (n, 4n); H[0], C[0] = initial state.
    Out: XW = activated gates i, f, g, o; H[1:] (T+1, B, n) = h after each step (carried
    over padding). Training: C[1:] (T+1, B, n) = c after each step, cell_out (T, B, n) =
    act(c), as lstm_backward needs them. Inference (training=False): C (1, B, n) is c,
    updated in place to the final c, and cell_out (1, B, n) is scratch.
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], n_hidden = W_h.shape[0], k
    expect_shape("XW", XW.shape, T, B, 4 * n_hidden)
    expect_shape("W_h", W_h.shape, n_hidden, 4 * n_hidden)
    expect_shape("H", H.shape, T + 1, B, n_hidden)
    expect_shape("C", C.shape, T + 1 if training else 1, B, n_hidden)
    expect_shape("cell_out", cell_out.shape, T if training else 1, B, n_hidden)
    if mask is not None:
        expect_shape("mask", mask.shape, T, B, 1)
    cdef Py_ssize_t F = input_features(X, W_x, b, T, B, 4 * n_hidden)
    if T == 0 or B == 0 or n_hidden == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks
    cdef int threads
    packed_W, n_blocks, threads = plan_pass(W_h, T, B, n_threads, m != NULL)
    cdef const float *packed = packed_or_null(packed_W)
    cdef floating[:, ::1] W = W_h if packed != NULL else padded_rows(W_h, pass_products(T, B))
    cdef floating[:, :, ::1] scratch = np.empty(
        (threads, count_blocks(B, n_blocks), 4 * n_hidden), np.asarray(XW).dtype)
    for k in prange(n_blocks, nogil=True, num_threads=threads, schedule="dynamic"):
        lstm_rows_forward(&XW[0, 0, 0], &X[0, 0, 0] if F else NULL, &W_x[0, 0] if F else NULL,
                          &b[0] if F else NULL, F, &scratch[threadid(), 0, 0], &W[0, 0],
                          W.shape[1], packed, &H[0, 0, 0], &C[0, 0, 0], &cell_out[0, 0, 0], m, T,
                          B, n_hidden, block_start(k, B, n_blocks),
                          block_start(k + 1, B, n_blocks), training, act)


cdef inline void lstm_row_backward(row_out gates, const floating *c_prev, row_in cell_out,
                                   row_in dH_t, row_out dh, row_out dc, bint valid,
                                   Py_ssize_t n_hidden, int act, Activation *kind) noexcept nogil:
    """One batch row of one backward step. On entry gates = activated gates [i|f|g|o], dh,
    dc = gradient flowing in from step t+1. On return gates = gradient w.r.t. the gate
    pre-activations (gates are read before being overwritten), dc = gradient w.r.t. c_prev,
    dh = the part of the gradient w.r.t. h_prev that bypasses W_h (0 on valid steps; the
    caller adds gates @ W_h^T)."""
    cdef Py_ssize_t j
    cdef floating i, f, g, o, y, dh_t, dc_t
    if not valid:  # padding: no gate gradient, dh and dc pass through
        zero_row(gates, 4 * n_hidden)
        for j in range(n_hidden):
            dh[j] += dH_t[j]
        return
    for j in range(n_hidden):
        i = gates[j]
        f = gates[n_hidden + j]
        g = gates[2 * n_hidden + j]
        o = gates[3 * n_hidden + j]
        y = cell_out[j]
        dh_t = dh[j] + dH_t[j]
        dc_t = dc[j] + dh_t * (o * dact_(y, act, kind))
        gates[j] = dc_t * (g * sigmoid_derivative(i))
        gates[n_hidden + j] = dc_t * (c_prev[j] * sigmoid_derivative(f))
        gates[2 * n_hidden + j] = dc_t * (i * dact_(g, act, kind))
        gates[3 * n_hidden + j] = dh_t * (y * sigmoid_derivative(o))
        dc[j] = dc_t * f
        dh[j] = 0


cdef void lstm_loop_backward(floating *dZ, const floating *C, const floating *cell_out,
                             floating *W_h, const float *packed, const floating *dH, floating *dh,
                             floating *dc,
                             const floating *mask, Py_ssize_t T, Py_ssize_t B,
                             Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1, int act,
                             Activation *kind) noexcept nogil:
    """Backward of rows [r0, r1) over all steps, last to first: the fused pass, then
    dh += dZ[t] @ W_h^T."""
    cdef Py_ssize_t t, b, per_step = B * n_hidden, n_fused = 4 * n_hidden
    for t in range(T - 1, -1, -1):
        for b in range(r0, r1):
            lstm_row_backward(dZ + (t * B + b) * n_fused, C + t * per_step + b * n_hidden,
                              cell_out + t * per_step + b * n_hidden,
                              dH + t * per_step + b * n_hidden, dh + b * n_hidden,
                              dc + b * n_hidden, is_valid(mask, t, b, B), n_hidden, act, kind)
        product(True, active_rows(mask, t, B, r0, r1), n_hidden, n_fused,
                dZ + (t * B + r0) * n_fused, n_fused, W_h, n_fused, packed, <floating>1,
                dh + r0 * n_hidden, n_hidden, t % 2)


cdef void lstm_rows_backward(floating *dZ, const floating *C, const floating *cell_out,
                             floating *W_h, const float *packed, const floating *dH, floating *dh,
                             floating *dc,
                             const floating *mask, Py_ssize_t T, Py_ssize_t B,
                             Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1,
                             int act) noexcept nogil:
    """lstm_loop_backward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        lstm_loop_backward(dZ, C, cell_out, W_h, packed, dH, dh, dc, mask, T, B, n_hidden, r0, r1,
                           act, <TanhOnly*>NULL)
    else:
        lstm_loop_backward(dZ, C, cell_out, W_h, packed, dH, dh, dc, mask, T, B, n_hidden, r0, r1,
                           act, <AnyActivation*>NULL)


def lstm_backward(floating[:, :, ::1] dZ, floating[:, :, ::1] C, floating[:, :, ::1] cell_out,
                  floating[:, ::1] W_h, floating[:, :, ::1] dH, floating[:, :, ::1] dstate,
                  floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0):
    """LSTM backward through time (dW_h is left to one product by the caller: H[:-1]^T @ dZ).

    In: dZ (T, B, 4n) = the activated gates (lstm_forward's XW on return), n = n_hidden;
    C (T+1, B, n) and cell_out (T, B, n) from a training lstm_forward; W_h (n, 4n); dH (T,
    B, n) = dLoss/dh of each step; dstate (2, B, n) = gradient w.r.t. the final (h, c)
    (usually zeros).
    Out: dZ = gradient w.r.t. XW; dstate = gradient w.r.t. the initial (h, c).
    """
    cdef Py_ssize_t T = dZ.shape[0], B = dZ.shape[1], n_hidden = W_h.shape[0], k
    expect_shape("dZ", dZ.shape, T, B, 4 * n_hidden)
    expect_shape("W_h", W_h.shape, n_hidden, 4 * n_hidden)
    expect_shape("C", C.shape, T + 1, B, n_hidden)
    expect_shape("cell_out", cell_out.shape, T, B, n_hidden)
    expect_shape("dH", dH.shape, T, B, n_hidden)
    expect_shape("dstate", dstate.shape, 2, B, n_hidden)
    if mask is not None:
        expect_shape("mask", mask.shape, T, B, 1)
    if T == 0 or B == 0 or n_hidden == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks
    cdef int threads
    packed_W, n_blocks, threads = plan_pass(W_h, T, B, n_threads, m != NULL, trans=True)
    cdef const float *packed = packed_or_null(packed_W)
    for k in prange(n_blocks, nogil=True, num_threads=threads, schedule="dynamic"):
        lstm_rows_backward(&dZ[0, 0, 0], &C[0, 0, 0], &cell_out[0, 0, 0], &W_h[0, 0], packed,
                           &dH[0, 0, 0], &dstate[0, 0, 0], &dstate[1, 0, 0], m, T, B,
                           n_hidden, block_start(k, B, n_blocks),
                           block_start(k + 1, B, n_blocks), act)


# ----------------------------------------------------------------------------------------
# GRU: gates r, z, n; h = (1 - z) n + z h_prev. reset_after=True: n = act(a_n + r (h_prev
# W_hn + b_hn)); reset_after=False (Cho): n = act(a_n + (r h_prev) W_hn).
# ----------------------------------------------------------------------------------------

cdef inline void gru_row_forward_after(row_out gates, row_in recurrent, row_out rec,
                                       const floating *b_hn, row_out h, Py_ssize_t n_hidden,
                                       int act, Activation *kind) noexcept nogil:
    """reset_after valid row. On entry gates = input projection [a_r|a_z|a_n], recurrent =
    h_prev W_h, h = h_prev. On return gates = activated [r|z|n], rec = h_prev W_hn + b_hn
    (the reset term backward needs), h = the new state (in place)."""
    cdef Py_ssize_t j
    cdef floating r, z, n, rn
    for j in range(n_hidden):
        r = sigmoid(gates[j] + recurrent[j])
        z = sigmoid(gates[n_hidden + j] + recurrent[n_hidden + j])
        rn = recurrent[2 * n_hidden + j] + b_hn[j]
        n = act_(gates[2 * n_hidden + j] + r * rn, act, kind)
        gates[j] = r
        gates[n_hidden + j] = z
        gates[2 * n_hidden + j] = n
        rec[j] = rn
        h[j] = (h[j] - n) * z + n


cdef inline void gru_row_gates_before(row_out gates, row_in recurrent, row_out reset_state,
                                      const floating *h_prev, Py_ssize_t n_hidden) noexcept nogil:
    """Cho form, first pass of a valid row: activate r, z in place (their input projection
    plus recurrent = h_prev W_h[:, :2n]) and form the reset state r h_prev."""
    cdef Py_ssize_t j
    cdef floating r
    for j in range(n_hidden):
        r = sigmoid(gates[j] + recurrent[j])
        gates[j] = r
        gates[n_hidden + j] = sigmoid(gates[n_hidden + j] + recurrent[n_hidden + j])
        reset_state[j] = r * h_prev[j]


cdef inline void gru_row_new_before(row_out gates, floating *h, Py_ssize_t n_hidden, int act,
                                    Activation *kind) noexcept nogil:
    """Cho form, second pass of a valid row (after a_n += reset_state @ W_hn): n, and the
    new state in h (h_prev on entry)."""
    cdef Py_ssize_t j
    cdef floating n
    for j in range(n_hidden):
        n = act_(gates[2 * n_hidden + j], act, kind)
        gates[2 * n_hidden + j] = n
        h[j] = (h[j] - n) * gates[n_hidden + j] + n


cdef void gru_step(floating *gates, floating *rec, floating *scratch, const floating *b_hn,
                   floating *W_h, const float *packed, const float *packed_n, floating *h_prev,
                   floating *h,
                   const floating *mask, Py_ssize_t t,
                   Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1,
                   bint reset_after, int act, Activation *kind) noexcept nogil:
    """Step t of rows [r0, r1) (each pointer at row 0 of a (B, ...) block, scratch at row
    r0 of the block's scratch): scratch = h_prev @ W_h (all three blocks; the Cho form: r
    and z; W_h or its packed copy), then the fused row pass(es), the Cho form's second
    product (with W_h[:, 2n:]) between them; h starts as a copy of h_prev and ends as the
    new state, rec holds the reset term. Padding rows get zero gates and rec and keep
    h_prev."""
    cdef Py_ssize_t b, n_fused = 3 * n_hidden
    cdef Py_ssize_t n = active_rows(mask, t, B, r0, r1)
    copy_row(h + r0 * n_hidden, h_prev + r0 * n_hidden, (r1 - r0) * n_hidden)
    product(False, n, n_fused if reset_after else 2 * n_hidden, n_hidden,
            h_prev + r0 * n_hidden, n_hidden, W_h, n_fused, packed, <floating>0, scratch,
            n_fused, t % 2)
    if reset_after:
        for b in range(r0, r1):
            if is_valid(mask, t, b, B):
                gru_row_forward_after(gates + b * n_fused, scratch + (b - r0) * n_fused,
                                      rec + b * n_hidden, b_hn, h + b * n_hidden, n_hidden,
                                      act, kind)
    else:
        for b in range(r0, r0 + n):
            if is_valid(mask, t, b, B):
                gru_row_gates_before(gates + b * n_fused, scratch + (b - r0) * n_fused,
                                     rec + b * n_hidden, h_prev + b * n_hidden, n_hidden)
            else:
                zero_row(rec + b * n_hidden, n_hidden)
        # a_n += (r * h_prev) @ W_h[:, 2n:]
        product(False, n, n_hidden, n_hidden, rec + r0 * n_hidden, n_hidden,
                W_h + 2 * n_hidden, n_fused, packed_n, <floating>1,
                gates + r0 * n_fused + 2 * n_hidden, n_fused, t % 2)
        for b in range(r0, r1):
            if is_valid(mask, t, b, B):
                gru_row_new_before(gates + b * n_fused, h + b * n_hidden, n_hidden, act, kind)
    for b in range(r0, r1):
        if not is_valid(mask, t, b, B):
            zero_row(gates + b * n_fused, n_fused)
            zero_row(rec + b * n_hidden, n_hidden)


cdef void gru_loop_forward(floating *XW, const floating *X, const floating *W_x,
                           const floating *b, Py_ssize_t F, floating *scratch, floating *W_h,
                           const float *packed, const float *packed_n, const floating *b_hn,
                           floating *H, floating *reset_term, const floating *mask, Py_ssize_t T,
                           Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1,
                           bint reset_after, bint training, int act,
                           Activation *kind) noexcept nogil:
    """Rows [r0, r1) over all steps: H[t+1] from H[t]; reset_term advances one step per
    step when training and stays on its single step otherwise (see gru_forward). With X,
    each step first projects its rows of X into XW (project_rows)."""
    cdef Py_ssize_t t, per_step = B * n_hidden
    cdef Py_ssize_t kept = per_step if training else 0
    for t in range(T):
        if X != NULL:
            project_rows(XW + t * B * 3 * n_hidden, X + t * B * F, W_x, b, F, 3 * n_hidden,
                         r0, r0 + active_rows(mask, t, B, r0, r1))
        gru_step(XW + t * B * 3 * n_hidden, reset_term + t * kept, scratch, b_hn, W_h, packed,
                 packed_n, H + t * per_step, H + (t + 1) * per_step, mask, t, B, n_hidden, r0,
                 r1, reset_after, act, kind)


cdef void gru_rows_forward(floating *XW, const floating *X, const floating *W_x,
                           const floating *b, Py_ssize_t F, floating *scratch, floating *W_h,
                           const float *packed, const float *packed_n, const floating *b_hn,
                           floating *H, floating *reset_term, const floating *mask, Py_ssize_t T,
                           Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1,
                           bint reset_after, bint training, int act) noexcept nogil:
    """gru_loop_forward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        gru_loop_forward(XW, X, W_x, b, F, scratch, W_h, packed, packed_n, b_hn, H, reset_term,
                         mask, T, B, n_hidden, r0, r1, reset_after, training, act,
                         <TanhOnly*>NULL)
    else:
        gru_loop_forward(XW, X, W_x, b, F, scratch, W_h, packed, packed_n, b_hn, H, reset_term,
                         mask, T, B, n_hidden, r0, r1, reset_after, training, act,
                         <AnyActivation*>NULL)


def gru_forward(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[::1] b_hn,
                floating[:, :, ::1] H, floating[:, :, ::1] reset_term,
                floating[:, :, ::1] mask=None, bint reset_after=True, int act=ACT_TANH,
                int n_threads=0, bint training=True, floating[:, :, ::1] X=None,
                floating[:, ::1] W_x=None, floating[::1] b=None):
    """GRU forward over all steps, for training or for inference.

    In: XW (T, B, 3n) input projection, with n = n_hidden, or, given the layer's input X
    (T, B, F) with W_x (F, 3n) and b (3n,), a buffer for it that each step fills (see
    project_rows); W_h (n, 3n); b_hn (n,)
    (ignored, may be None, when reset_after=False); H[0] = initial state.
    Out: XW = activated gates r, z, n; H[1:] (T+1, B, n) = h after each step (carried
    over padding). Training: reset_term (T, B, n) = h_prev W_hn + b_hn (reset_after) or
    r * h_prev (Cho form), as gru_backward needs it. Inference (training=False):
    reset_term (1, B, n) is scratch.
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], n_hidden = W_h.shape[0], k
    expect_shape("XW", XW.shape, T, B, 3 * n_hidden)
    expect_shape("W_h", W_h.shape, n_hidden, 3 * n_hidden)
    if reset_after:
        if b_hn is None:
            raise ValueError("reset_after=True needs b_hn")
        expect_shape("b_hn", b_hn.shape, n_hidden)
    expect_shape("H", H.shape, T + 1, B, n_hidden)
    expect_shape("reset_term", reset_term.shape, T if training else 1, B, n_hidden)
    if mask is not None:
        expect_shape("mask", mask.shape, T, B, 1)
    cdef Py_ssize_t F = input_features(X, W_x, b, T, B, 3 * n_hidden)
    if T == 0 or B == 0 or n_hidden == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef floating *bias = &b_hn[0] if reset_after else NULL
    # reset_after: h_prev @ W_h in one product; Cho form: W_h[:, :2n] and W_h[:, 2n:] apart
    cdef Py_ssize_t n_blocks
    cdef int threads
    packed_W, n_blocks, threads = plan_pass(W_h, T, B, n_threads, m != NULL,
                                            n_cols=-1 if reset_after else 2 * n_hidden)
    packed_n = None
    if packed_W is not None and not reset_after:
        packed_n = pack_operand(W_h, col0=2 * n_hidden)
    cdef const float *pw = packed_or_null(packed_W)
    cdef const float *pn = packed_or_null(packed_n)
    cdef floating[:, :, ::1] scratch = np.empty(
        (threads, count_blocks(B, n_blocks), 3 * n_hidden), np.asarray(XW).dtype)
    for k in prange(n_blocks, nogil=True, num_threads=threads, schedule="dynamic"):
        gru_rows_forward(&XW[0, 0, 0], &X[0, 0, 0] if F else NULL, &W_x[0, 0] if F else NULL,
                         &b[0] if F else NULL, F, &scratch[threadid(), 0, 0], &W_h[0, 0], pw, pn,
                         bias, &H[0, 0, 0], &reset_term[0, 0, 0], m, T, B, n_hidden,
                         block_start(k, B, n_blocks), block_start(k + 1, B, n_blocks),
                         reset_after, training, act)


cdef inline void gru_row_backward_after(row_out gates, row_out dn_out, row_in rn_,
                                        const floating *h_prev, row_in dH_t, row_out dh,
                                        bint valid, Py_ssize_t n_hidden, int act,
                                        Activation *kind) noexcept nogil:
    """reset_after backward row. On entry gates = activated [r|z|n], rn_ = reset term, dh =
    gradient from step t+1. On return gates = gradient w.r.t. the recurrent product
    [h W_hr | h W_hz | h W_hn + b_hn] (what dW_h, db_hn and the dh gemm need), dn_out =
    gradient w.r.t. the n pre-activation (XW's n block), dh = direct part of dh_prev."""
    cdef Py_ssize_t j
    cdef floating r, z, n, dh_t, dn
    if not valid:
        zero_row(gates, 3 * n_hidden)
        zero_row(dn_out, n_hidden)
        for j in range(n_hidden):
            dh[j] += dH_t[j]
        return
    for j in range(n_hidden):
        r = gates[j]
        z = gates[n_hidden + j]
        n = gates[2 * n_hidden + j]
        dh_t = dh[j] + dH_t[j]
        dn = dh_t * ((<floating>1 - z) * dact_(n, act, kind))
        gates[j] = dn * (rn_[j] * sigmoid_derivative(r))
        gates[n_hidden + j] = dh_t * ((h_prev[j] - n) * sigmoid_derivative(z))
        gates[2 * n_hidden + j] = dn * r
        dn_out[j] = dn
        dh[j] = dh_t * z


cdef inline void gru_row_backward_before1(row_out gates, const floating *h_prev,
                                          row_in dH_t, row_out dh, bint valid,
                                          Py_ssize_t n_hidden, int act,
                                          Activation *kind) noexcept nogil:
    """Cho backward, first row pass: gradients of z and n (into gates), dh = dh_t * z.
    The r block keeps the activated r for the second pass."""
    cdef Py_ssize_t j
    cdef floating z, n, dh_t
    if not valid:
        zero_row(gates + n_hidden, 2 * n_hidden)
        for j in range(n_hidden):
            dh[j] += dH_t[j]
        return
    for j in range(n_hidden):
        z = gates[n_hidden + j]
        n = gates[2 * n_hidden + j]
        dh_t = dh[j] + dH_t[j]
        gates[2 * n_hidden + j] = dh_t * ((<floating>1 - z) * dact_(n, act, kind))
        gates[n_hidden + j] = dh_t * ((h_prev[j] - n) * sigmoid_derivative(z))
        dh[j] = dh_t * z


cdef inline void gru_row_backward_before2(row_out gates, row_in d_reset,
                                          const floating *h_prev, row_out dh,
                                          Py_ssize_t n_hidden) noexcept nogil:
    """Cho backward, second row pass (d_reset = dn @ W_hn^T): gradient of r, and the
    reset path's share of dh_prev (zero on padding, where r and dn are 0)."""
    cdef Py_ssize_t j
    cdef floating r
    for j in range(n_hidden):
        r = gates[j]
        gates[j] = d_reset[j] * (h_prev[j] * sigmoid_derivative(r))
        dh[j] += d_reset[j] * r


cdef void gru_loop_backward(floating *dZ, floating *dn, const floating *reset_term,
                            const floating *H, floating *W_h, const float *packed,
                            const float *packed_n, const floating *dH,
                            floating *dh, floating *scratch, const floating *mask,
                            Py_ssize_t T, Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0,
                            Py_ssize_t r1, bint reset_after, int act,
                            Activation *kind) noexcept nogil:
    """Backward of rows [r0, r1) over all steps, last to first."""
    cdef Py_ssize_t t, b, n, row, per_step = B * n_hidden, n_fused = 3 * n_hidden
    cdef floating *gates
    for t in range(T - 1, -1, -1):
        gates = dZ + t * B * n_fused
        n = active_rows(mask, t, B, r0, r1)
        if reset_after:
            for b in range(r0, r1):
                row = t * per_step + b * n_hidden
                gru_row_backward_after(gates + b * n_fused, dn + row, reset_term + row,
                                       H + row, dH + row, dh + b * n_hidden,
                                       is_valid(mask, t, b, B), n_hidden, act, kind)
            # dh += d_recurrent @ W_h^T
            product(True, n, n_hidden, n_fused, gates + r0 * n_fused, n_fused, W_h, n_fused,
                    packed, <floating>1, dh + r0 * n_hidden, n_hidden, t % 2)
        else:
            for b in range(r0, r1):
                row = t * per_step + b * n_hidden
                gru_row_backward_before1(gates + b * n_fused, H + row, dH + row,
                                         dh + b * n_hidden, is_valid(mask, t, b, B), n_hidden,
                                         act, kind)
            # d_reset = dn @ W_hn^T
            product(True, n, n_hidden, n_hidden, gates + r0 * n_fused + 2 * n_hidden, n_fused,
                    W_h + 2 * n_hidden, n_fused, packed_n, <floating>0,
                    scratch + r0 * n_hidden, n_hidden, t % 2)
            for b in range(r0, r0 + n):
                gru_row_backward_before2(gates + b * n_fused, scratch + b * n_hidden,
                                         H + t * per_step + b * n_hidden, dh + b * n_hidden,
                                         n_hidden)
            # dh += [dr|dz] @ W_h[:, :2n]^T
            product(True, n, n_hidden, 2 * n_hidden, gates + r0 * n_fused, n_fused, W_h,
                    n_fused, packed, <floating>1, dh + r0 * n_hidden, n_hidden, t % 2)


cdef void gru_rows_backward(floating *dZ, floating *dn, const floating *reset_term,
                            const floating *H, floating *W_h, const float *packed,
                            const float *packed_n, const floating *dH,
                            floating *dh, floating *scratch, const floating *mask,
                            Py_ssize_t T, Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0,
                            Py_ssize_t r1, bint reset_after, int act) noexcept nogil:
    """gru_loop_backward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        gru_loop_backward(dZ, dn, reset_term, H, W_h, packed, packed_n, dH, dh, scratch, mask, T, B,
                          n_hidden,
                          r0, r1, reset_after, act, <TanhOnly*>NULL)
    else:
        gru_loop_backward(dZ, dn, reset_term, H, W_h, packed, packed_n, dH, dh, scratch, mask, T, B,
                          n_hidden,
                          r0, r1, reset_after, act, <AnyActivation*>NULL)


def gru_backward(floating[:, :, ::1] dZ, floating[:, :, ::1] H, floating[:, :, ::1] reset_term,
                 floating[:, ::1] W_h, floating[:, :, ::1] dH, floating[:, ::1] dstate,
                 floating[:, :, ::1] dn=None, floating[:, :, ::1] mask=None,
                 bint reset_after=True, int act=ACT_TANH, int n_threads=0):
    """GRU backward through time.

    In: dZ (T, B, 3n) = activated gates (gru_forward's XW on return), n = n_hidden; H (T+1,
    B, n) and reset_term (T, B, n) from a training gru_forward; W_h (n, 3n); dH (T, B, n);
    dstate (B, n) = gradient w.r.t. the final h (usually zeros); dn (T, B, n) output,
    reset_after only.
    Out: dstate = gradient w.r.t. h0.
      reset_after=True: dZ = gradient w.r.t. the recurrent product [r|z|n-term]
        (dW_h = H[:-1]^T @ dZ, db_hn = dZ[..., 2n:].sum over T, B), dn = gradient w.r.t. the
        n pre-activation; dXW = dZ with its n block replaced by dn.
      reset_after=False: dZ = gradient w.r.t. XW (dW_h[:, :2n] = H[:-1]^T @ dZ[..., :2n],
        dW_h[:, 2n:] = reset_term^T @ dZ[..., 2n:]).
    """
    cdef Py_ssize_t T = dZ.shape[0], B = dZ.shape[1], n_hidden = W_h.shape[0], k
    expect_shape("dZ", dZ.shape, T, B, 3 * n_hidden)
    expect_shape("W_h", W_h.shape, n_hidden, 3 * n_hidden)
    expect_shape("H", H.shape, T + 1, B, n_hidden)
    expect_shape("reset_term", reset_term.shape, T, B, n_hidden)
    expect_shape("dH", dH.shape, T, B, n_hidden)
    expect_shape("dstate", dstate.shape, B, n_hidden)
    if reset_after:
        if dn is None:
            raise ValueError("reset_after=True needs the dn output buffer")
        expect_shape("dn", dn.shape, T, B, n_hidden)
    if mask is not None:
        expect_shape("mask", mask.shape, T, B, 1)
    if T == 0 or B == 0 or n_hidden == 0:
        return
    cdef floating[:, ::1] scratch = np.empty((B, n_hidden), dtype=np.asarray(dZ).dtype)
    cdef floating *m = ptr_or_null(mask)
    cdef floating *dnp = ptr_or_null(dn)
    # reset_after: dh += dZ @ W_h^T; Cho form: W_h[:, :2n]^T and W_h[:, 2n:]^T apart
    cdef Py_ssize_t n_blocks
    cdef int threads
    packed_W, n_blocks, threads = plan_pass(W_h, T, B, n_threads, m != NULL, trans=True,
                                            n_cols=-1 if reset_after else 2 * n_hidden)
    packed_n = None
    if packed_W is not None and not reset_after:
        packed_n = pack_operand(W_h, trans=True, col0=2 * n_hidden)
    cdef const float *pw = packed_or_null(packed_W)
    cdef const float *pn = packed_or_null(packed_n)
    for k in prange(n_blocks, nogil=True, num_threads=threads, schedule="dynamic"):
        gru_rows_backward(&dZ[0, 0, 0], dnp, &reset_term[0, 0, 0], &H[0, 0, 0], &W_h[0, 0],
                          pw, pn,
                          &dH[0, 0, 0], &dstate[0, 0], &scratch[0, 0], m, T, B, n_hidden,
                          block_start(k, B, n_blocks), block_start(k + 1, B, n_blocks),
                          reset_after, act)


# ----------------------------------------------------------------------------------------
# Vanilla (Elman): h = act(a + h_prev W_h). It keeps nothing for backward besides H, so
# its one forward serves training and inference alike.
# ----------------------------------------------------------------------------------------

cdef inline void vanilla_row_forward(row_out pre, row_in recurrent, row_out h,
                                     Py_ssize_t n_hidden, int act,
                                     Activation *kind) noexcept nogil:
    """One valid row of one step: pre += recurrent (h_prev W_h), h = act(pre)."""
    cdef Py_ssize_t j
    for j in range(n_hidden):
        pre[j] += recurrent[j]
        h[j] = act_(pre[j], act, kind)


cdef void vanilla_step(floating *pre, floating *scratch, floating *W_h, const float *packed,
                       floating *h_prev, floating *h, const floating *mask, Py_ssize_t t,
                       Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0, Py_ssize_t r1, int act,
                       Activation *kind) noexcept nogil:
    """Step t of rows [r0, r1) (each pointer at row 0 of a (B, n_hidden) block, scratch at
    row r0 of the block's scratch): scratch = h_prev @ W_h (or its packed copy), then pre
    += scratch and h = act(pre). Padding rows carry h_prev."""
    cdef Py_ssize_t b, row
    product(False, active_rows(mask, t, B, r0, r1), n_hidden, n_hidden, h_prev + r0 * n_hidden,
            n_hidden, W_h, n_hidden, packed, <floating>0, scratch, n_hidden, t % 2)
    for b in range(r0, r1):
        row = b * n_hidden
        if is_valid(mask, t, b, B):
            vanilla_row_forward(pre + row, scratch + (b - r0) * n_hidden, h + row, n_hidden, act,
                                kind)
        else:
            copy_row(h + row, h_prev + row, n_hidden)


cdef void vanilla_loop_forward(floating *XW, const floating *X, const floating *W_x,
                               const floating *b, Py_ssize_t F, floating *scratch, floating *W_h,
                               const float *packed, floating *H, const floating *mask,
                               Py_ssize_t T, Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0,
                               Py_ssize_t r1, int act, Activation *kind) noexcept nogil:
    """Rows [r0, r1) over all steps: H[t+1] from H[t]. With X, each step first projects
    its rows of X into XW (project_rows)."""
    cdef Py_ssize_t t, per_step = B * n_hidden
    for t in range(T):
        if X != NULL:
            project_rows(XW + t * per_step, X + t * B * F, W_x, b, F, n_hidden, r0,
                         r0 + active_rows(mask, t, B, r0, r1))
        vanilla_step(XW + t * per_step, scratch, W_h, packed, H + t * per_step,
                     H + (t + 1) * per_step, mask, t, B, n_hidden, r0, r1, act, kind)


cdef void vanilla_rows_forward(floating *XW, const floating *X, const floating *W_x,
                               const floating *b, Py_ssize_t F, floating *scratch, floating *W_h,
                               const float *packed, floating *H, const floating *mask,
                               Py_ssize_t T, Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0,
                               Py_ssize_t r1, int act) noexcept nogil:
    """vanilla_loop_forward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        vanilla_loop_forward(XW, X, W_x, b, F, scratch, W_h, packed, H, mask, T, B, n_hidden,
                             r0, r1, act, <TanhOnly*>NULL)
    else:
        vanilla_loop_forward(XW, X, W_x, b, F, scratch, W_h, packed, H, mask, T, B, n_hidden,
                             r0, r1, act, <AnyActivation*>NULL)


def vanilla_forward(floating[:, :, ::1] XW, floating[:, ::1] W_h, floating[:, :, ::1] H,
                    floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0,
                    floating[:, :, ::1] X=None, floating[:, ::1] W_x=None,
                    floating[::1] b=None):
    """Vanilla forward over all steps, for training and inference alike.

    In: XW (T, B, n) input projection, with n = n_hidden, or, given the layer's input X
    (T, B, F) with W_x (F, n) and b (n,), a buffer for it that each step fills (see
    project_rows); W_h (n, n); H[0] = initial state.
    Out: XW = pre-activations (input + recurrent product); H[1:] (T+1, B, n) = h after
    each step (carried over padding).
    """
    cdef Py_ssize_t T = XW.shape[0], B = XW.shape[1], n_hidden = W_h.shape[0], k
    expect_shape("XW", XW.shape, T, B, n_hidden)
    expect_shape("W_h", W_h.shape, n_hidden, n_hidden)
    expect_shape("H", H.shape, T + 1, B, n_hidden)
    if mask is not None:
        expect_shape("mask", mask.shape, T, B, 1)
    cdef Py_ssize_t F = input_features(X, W_x, b, T, B, n_hidden)
    if T == 0 or B == 0 or n_hidden == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks
    cdef int threads
    packed_W, n_blocks, threads = plan_pass(W_h, T, B, n_threads, m != NULL)
    cdef const float *packed = packed_or_null(packed_W)
    cdef floating[:, :, ::1] scratch = np.empty(
        (threads, count_blocks(B, n_blocks), n_hidden), np.asarray(XW).dtype)
    for k in prange(n_blocks, nogil=True, num_threads=threads, schedule="dynamic"):
        vanilla_rows_forward(&XW[0, 0, 0], &X[0, 0, 0] if F else NULL,
                             &W_x[0, 0] if F else NULL, &b[0] if F else NULL, F,
                             &scratch[threadid(), 0, 0], &W_h[0, 0], packed,
                             &H[0, 0, 0], m, T, B, n_hidden, block_start(k, B, n_blocks),
                             block_start(k + 1, B, n_blocks), act)


cdef inline void vanilla_row_backward(row_out dpre, row_in h, row_in dH_t, row_out dh,
                                      bint valid, Py_ssize_t n_hidden, int act,
                                      Activation *kind) noexcept nogil:
    """dpre = (dh + dH_t) act'(h); dh = 0 (valid) or dh + dH_t (padding)."""
    cdef Py_ssize_t j
    if not valid:
        zero_row(dpre, n_hidden)
        for j in range(n_hidden):
            dh[j] += dH_t[j]
        return
    for j in range(n_hidden):
        dpre[j] = (dh[j] + dH_t[j]) * dact_(h[j], act, kind)
        dh[j] = 0


cdef void vanilla_loop_backward(floating *dZ, const floating *H, floating *W_h,
                                const float *packed,
                                const floating *dH, floating *dh, const floating *mask,
                                Py_ssize_t T, Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0,
                                Py_ssize_t r1, int act, Activation *kind) noexcept nogil:
    """Backward of rows [r0, r1) over all steps, last to first."""
    cdef Py_ssize_t t, b, row, per_step = B * n_hidden
    for t in range(T - 1, -1, -1):
        for b in range(r0, r1):
            row = t * per_step + b * n_hidden
            vanilla_row_backward(dZ + row, H + per_step + row, dH + row, dh + b * n_hidden,
                                 is_valid(mask, t, b, B), n_hidden, act, kind)
        product(True, active_rows(mask, t, B, r0, r1), n_hidden, n_hidden,
                dZ + t * per_step + r0 * n_hidden, n_hidden, W_h, n_hidden, packed,
                <floating>1, dh + r0 * n_hidden, n_hidden, t % 2)


cdef void vanilla_rows_backward(floating *dZ, const floating *H, floating *W_h,
                                const float *packed,
                                const floating *dH, floating *dh, const floating *mask,
                                Py_ssize_t T, Py_ssize_t B, Py_ssize_t n_hidden, Py_ssize_t r0,
                                Py_ssize_t r1, int act) noexcept nogil:
    """vanilla_loop_backward, compiled for tanh alone or for any activation."""
    if act == ACT_TANH:
        vanilla_loop_backward(dZ, H, W_h, packed, dH, dh, mask, T, B, n_hidden, r0, r1, act,
                              <TanhOnly*>NULL)
    else:
        vanilla_loop_backward(dZ, H, W_h, packed, dH, dh, mask, T, B, n_hidden, r0, r1, act,
                              <AnyActivation*>NULL)


def vanilla_backward(floating[:, :, ::1] H, floating[:, ::1] W_h, floating[:, :, ::1] dH,
                     floating[:, :, ::1] dZ, floating[:, ::1] dstate,
                     floating[:, :, ::1] mask=None, int act=ACT_TANH, int n_threads=0):
    """Vanilla backward. In: H (T+1, B, n) from vanilla_forward, n = n_hidden; W_h; dH (T,
    B, n); dstate (B, n) = gradient w.r.t. the final h. Out: dZ (T, B, n) = gradient w.r.t.
    XW (may be the forward's XW buffer); dstate = gradient w.r.t. h0. dW_h = H[:-1]^T @ dZ."""
    cdef Py_ssize_t T = dH.shape[0], B = dH.shape[1], n_hidden = W_h.shape[0], k
    expect_shape("H", H.shape, T + 1, B, n_hidden)
    expect_shape("W_h", W_h.shape, n_hidden, n_hidden)
    expect_shape("dZ", dZ.shape, T, B, n_hidden)
    expect_shape("dstate", dstate.shape, B, n_hidden)
    if mask is not None:
        expect_shape("mask", mask.shape, T, B, 1)
    if T == 0 or B == 0 or n_hidden == 0:
        return
    cdef floating *m = ptr_or_null(mask)
    cdef Py_ssize_t n_blocks
    cdef int threads
    packed_W, n_blocks, threads = plan_pass(W_h, T, B, n_threads, m != NULL, trans=True)
    cdef const float *packed = packed_or_null(packed_W)
    for k in prange(n_blocks, nogil=True, num_threads=threads, schedule="dynamic"):
        vanilla_rows_backward(&dZ[0, 0, 0], &H[0, 0, 0], &W_h[0, 0], packed, &dH[0, 0, 0],
                              &dstate[0, 0], m, T, B, n_hidden, block_start(k, B, n_blocks),
                              block_start(k + 1, B, n_blocks), act)


# ----------------------------------------------------------------------------------------
# Max pooling over the steps
# ----------------------------------------------------------------------------------------

cdef inline void max_row(row_in h, row_out maximum, Py_ssize_t *step, Py_ssize_t t,
                         Py_ssize_t U) noexcept nogil:
    """Step t's states h into one sequence's running maximum and its step (see max_steps).
    Branch-free (a select rather than a jump), so it runs on vectors."""
    cdef Py_ssize_t j
    cdef bint taken
    for j in range(U):
        taken = (h[j] > maximum[j]) | ((h[j] != h[j]) & (maximum[j] == maximum[j]))
        step[j] = t if taken else step[j]
        maximum[j] = h[j] if taken else maximum[j]


def max_steps(floating[:, :, ::1] H, const Py_ssize_t[::1] lengths=None):
    """(maximum, step), each (1, B, U): for each sequence b and unit j, the largest of
    H[t, b, j] over the valid steps t < lengths[b] (every step without lengths; -inf and
    step 0 for none) and the first step that holds it; a NaN state is the maximum from the
    first one on. One pass over H in memory order, where NumPy's argmax over the time axis
    copies H to make that axis contiguous."""
    cdef Py_ssize_t T = H.shape[0], B = H.shape[1], U = H.shape[2], t, b
    if lengths is not None and lengths.shape[0] != B:
        raise ValueError("max_steps: inconsistent shapes")
    maximum = np.full((1, B, U), -np.inf, np.asarray(H).dtype)
    top = np.zeros((1, B, U), np.intp)
    cdef floating[:, :, ::1] m = maximum
    cdef Py_ssize_t[:, :, ::1] step = top
    cdef const Py_ssize_t *n_steps = &lengths[0] if lengths is not None and B else NULL
    with nogil:
        for t in range(T):
            for b in range(B):
                if n_steps == NULL or t < n_steps[b]:
                    max_row(&H[t, b, 0], &m[0, b, 0], &step[0, b, 0], t, U)
    return maximum, top
