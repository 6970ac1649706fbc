/* The float32 products of rnnlearn's kernels: C (+)= A @ B with B packed once, and the
 * weight gradients A^T @ B (packed_gradient).
 *
 * A recurrent kernel multiplies by the same weight matrix at every step, so it packs it
 * once per pass into panels of PACKED_PANEL columns (two vectors wide), each stored row
 * after row: panel p holds B[i, p * PACKED_PANEL + j] at packed[(p * k + i) * PACKED_PANEL
 * + j], zero past B's last column. A product then streams a panel from cache while a tile
 * of PACKED_TILE rows of A keeps its 2 * PACKED_TILE vector accumulators in registers.
 *
 * Every entry of C is one chain of fused multiply-adds over k in ascending order, started
 * from C's value (accumulate) or from zero, whatever the rows and columns around it: a row
 * of C has the same bits whether the product has one row or a hundred, and whichever
 * thread computes it: whole tiles, the one-row kernel that takes the rows after them, and
 * the zero columns that fill the last panel all compute an entry alike.
 *
 * Vectors are GCC/Clang vector extensions as wide as the build's instruction set (AVX-512,
 * AVX, else SSE); `c += s * w` compiles to one fused multiply-add where the set has one.
 */
#ifndef RNNLEARN_PACKED_PRODUCT_H
#define RNNLEARN_PACKED_PRODUCT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#define PACKED_LANES 16
#define PACKED_TILE 8
#elif defined(__AVX__)
#define PACKED_LANES 8
#define PACKED_TILE 4
#else
#define PACKED_LANES 4
#define PACKED_TILE 4
#endif
#define PACKED_PANEL (2 * PACKED_LANES)
/* Rows of a panel a tile reads before moving on: 256 rows of 32 floats are 32 KiB, which
 * stay in a 48 KiB L1 cache beside the tile's rows of A. */
#define PACKED_DEPTH 256

typedef float packed_vector __attribute__((vector_size(4 * PACKED_LANES)));

static inline packed_vector packed_load(const float *p)
{
    packed_vector v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void packed_store(float *p, packed_vector v)
{
    memcpy(p, &v, sizeof v);
}

/* Panels that packed_pack writes for n columns, the columns past n zero. */
static inline ptrdiff_t packed_panels(ptrdiff_t n)
{
    return (n + PACKED_PANEL - 1) / PACKED_PANEL;
}

/* Floats that packed_pack writes for a k x n matrix. */
static inline ptrdiff_t packed_size(ptrdiff_t k, ptrdiff_t n)
{
    return packed_panels(n) * PACKED_PANEL * k;
}

/* Pack B (k x n) = b, rows ldb apart, or with trans B = b^T, b (n x k) with rows ldb apart:
 * each row of a panel is a copy of its columns of B, then zeros past column n. */
static void packed_pack(const float *b, ptrdiff_t ldb, int trans, ptrdiff_t k, ptrdiff_t n,
                        float *packed)
{
    ptrdiff_t p, i, j, col0, width;
    for (p = 0; p < packed_panels(n); p++) {
        col0 = p * PACKED_PANEL;
        width = n - col0 < PACKED_PANEL ? n - col0 : PACKED_PANEL;
        for (i = 0; i < k; i++, packed += PACKED_PANEL) {
            if (trans)
                for (j = 0; j < width; j++)
                    packed[j] = b[(col0 + j) * ldb + i];
            else if (width == PACKED_PANEL)  /* a constant size: two vector moves, no call */
                memcpy(packed, b + i * ldb + col0, PACKED_PANEL * sizeof(float));
            else
                memcpy(packed, b + i * ldb + col0, width * sizeof(float));
            for (j = width; j < PACKED_PANEL; j++)
                packed[j] = 0.0f;
        }
    }
}

/* A tile: rows a[0..PACKED_TILE) (their entries a_step apart) times rows [i0, i1) of one
 * panel, added to rows c[0..PACKED_TILE) of PACKED_PANEL floats, or written over them when
 * not accumulate. The accumulators are two vectors per row. */
static inline __attribute__((always_inline)) void packed_tile(const float *const a[PACKED_TILE],
                                                              ptrdiff_t a_step,
                                                              const float *panel, ptrdiff_t i0,
                                                              ptrdiff_t i1,
                                                              float *const c[PACKED_TILE],
                                                              int accumulate)
{
    packed_vector lo[PACKED_TILE], hi[PACKED_TILE], w0, w1;
    ptrdiff_t i;
    int r;
    for (r = 0; r < PACKED_TILE; r++) {
        lo[r] = accumulate ? packed_load(c[r]) : (packed_vector){0};
        hi[r] = accumulate ? packed_load(c[r] + PACKED_LANES) : (packed_vector){0};
    }
    for (i = i0; i < i1; i++) {
        w0 = packed_load(panel + i * PACKED_PANEL);
        w1 = packed_load(panel + i * PACKED_PANEL + PACKED_LANES);
        for (r = 0; r < PACKED_TILE; r++) {
            lo[r] += a[r][i * a_step] * w0;
            hi[r] += a[r][i * a_step] * w1;
        }
    }
    for (r = 0; r < PACKED_TILE; r++) {
        packed_store(c[r], lo[r]);
        packed_store(c[r] + PACKED_LANES, hi[r]);
    }
}

/* One row a (its entries a_step apart) times `count` consecutive panels (k rows each), added
 * to c, count * PACKED_PANEL floats, count a constant from 1 to 4 where this is inlined (its
 * loops unroll, and the accumulators stay in registers). */
static inline __attribute__((always_inline)) void packed_row_panels(const float *a,
                                                                    ptrdiff_t a_step,
                                                                    const float *panel,
                                                                    ptrdiff_t k, float *c,
                                                                    int count)
{
    packed_vector acc[8], w;
    ptrdiff_t i;
    int v;
    for (v = 0; v < 2 * count; v++)
        acc[v] = packed_load(c + v * PACKED_LANES);
    for (i = 0; i < k; i++)
        for (v = 0; v < 2 * count; v++) {
            w = packed_load(panel + (v / 2 * k + i) * PACKED_PANEL + v % 2 * PACKED_LANES);
            acc[v] += a[i * a_step] * w;
        }
    for (v = 0; v < 2 * count; v++)
        packed_store(c + v * PACKED_LANES, acc[v]);
}

/* packed_row_panels over 1 to 4 panels: the rows after the whole tiles, such as a
 * prediction's few, read only the panels that hold columns of B. */
static inline __attribute__((always_inline)) void packed_row(const float *a, ptrdiff_t a_step,
                                                             const float *panel, ptrdiff_t k,
                                                             float *c, int count)
{
    switch (count) {
    case 1: packed_row_panels(a, a_step, panel, k, c, 1); break;
    case 2: packed_row_panels(a, a_step, panel, k, c, 2); break;
    case 3: packed_row_panels(a, a_step, panel, k, c, 3); break;
    default: packed_row_panels(a, a_step, panel, k, c, 4);
    }
}

/* C[:m, :n] = A[:m, :k] @ B (+ C[:m, :n] when accumulate), B packed by packed_pack; entry
 * (r, i) of A at a[r * lda + i * a_step], C's rows ldc apart. Whole tiles of rows run
 * packed_tile on C in place, panel by panel and PACKED_DEPTH rows of a panel at a time; the
 * last rows (fewer than a tile) run packed_row on a copy, chunk by chunk of up to four
 * panels, each chunk for all of them. Either way each entry of C is the same chain of
 * multiply-adds.
 *
 * descending walks the panels and chunks last to first. A recurrent kernel alternates it
 * from step to step: a product of a few rows reads all of B once per step, and when B is
 * larger than the L1 cache, a step that starts with the panels the last one ended with
 * finds them there instead of reading all of B again from L2. The bits do not depend on
 * it. Inlined into packed_product, where a_step is the constant 1 (its loops compile as
 * they did before the stride existed), and into packed_gradient (a_step = A^T's stride). */
static inline __attribute__((always_inline)) void packed_product_strided(
    ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda, ptrdiff_t a_step,
    const float *packed, int accumulate, float *c, ptrdiff_t ldc, int descending)
{
    float scratch[PACKED_TILE][PACKED_PANEL], row[4 * PACKED_PANEL];
    const float *a_rows[PACKED_TILE];
    float *c_rows[PACKED_TILE];
    ptrdiff_t n_panels = packed_panels(n), n_chunks = (n_panels + 3) / 4;
    ptrdiff_t whole = m / PACKED_TILE, q, t, i0, i1, j, col0, width, r, count;
    for (q = 0; q < n_panels && whole > 0; q++) {
        col0 = (descending ? n_panels - 1 - q : q) * PACKED_PANEL;
        width = n - col0 < PACKED_PANEL ? n - col0 : PACKED_PANEL;
        for (t = 0; t < whole; t++) {
            for (r = 0; r < PACKED_TILE; r++) {
                a_rows[r] = a + (t * PACKED_TILE + r) * lda;
                c_rows[r] = c + (t * PACKED_TILE + r) * ldc + col0;
                if (width < PACKED_PANEL) {
                    for (j = 0; j < PACKED_PANEL; j++)
                        scratch[r][j] = accumulate && j < width ? c_rows[r][j] : 0;
                    c_rows[r] = scratch[r];
                }
            }
            i0 = 0;
            do {  /* once at least: with k = 0, C = 0 (or C) */
                i1 = k - i0 < PACKED_DEPTH ? k : i0 + PACKED_DEPTH;
                packed_tile(a_rows, a_step, packed + col0 * k, i0, i1, c_rows,
                            accumulate || i0 > 0);
                i0 = i1;
            } while (i0 < k);
            for (r = 0; r < PACKED_TILE && width < PACKED_PANEL; r++)
                memcpy(c + (t * PACKED_TILE + r) * ldc + col0, scratch[r], width * sizeof(float));
        }
    }
    for (q = 0; q < n_chunks && whole * PACKED_TILE < m; q++) {
        col0 = (descending ? n_chunks - 1 - q : q) * 4 * PACKED_PANEL;
        width = n - col0 < 4 * PACKED_PANEL ? n - col0 : 4 * PACKED_PANEL;
        count = packed_panels(width);
        for (r = whole * PACKED_TILE; r < m; r++) {
            for (j = 0; j < count * PACKED_PANEL; j++)
                row[j] = accumulate && j < width ? c[r * ldc + col0 + j] : 0;
            packed_row(a + r * lda, a_step, packed + col0 * k, k, row, (int)count);
            memcpy(c + r * ldc + col0, row, width * sizeof(float));
        }
    }
}

/* packed_product_strided for A's rows lda apart, each row contiguous. */
static void packed_product(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                           ptrdiff_t lda, const float *packed, int accumulate, float *c,
                           ptrdiff_t ldc, int descending)
{
    packed_product_strided(m, n, k, a, lda, 1, packed, accumulate, c, ldc, descending);
}

/* C[:m, :n] = A[:m, :k] @ B (+ C[:m, :n] when accumulate) with B unpacked (k x n, rows ldb
 * apart), A's rows lda apart and C's ldc apart: each entry the same chain of multiply-adds
 * over k as in packed_product, so a product of fewer rows than a tile (the output layer of
 * a prediction on one sequence) skips packing B, which costs more than it saves there,
 * and keeps its bits. */
static void unpacked_rows(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                          ptrdiff_t lda, const float *b, ptrdiff_t ldb, int accumulate,
                          float *c, ptrdiff_t ldc)
{
    float acc[4 * PACKED_PANEL];
    ptrdiff_t r, i, j, col0, width;
    for (r = 0; r < m; r++)
        for (col0 = 0; col0 < n; col0 += 4 * PACKED_PANEL) {
            width = n - col0 < 4 * PACKED_PANEL ? n - col0 : 4 * PACKED_PANEL;
            for (j = 0; j < width; j++)
                acc[j] = accumulate ? c[r * ldc + col0 + j] : 0;
            for (i = 0; i < k; i++)
                for (j = 0; j < width; j++)
                    acc[j] += a[r * lda + i] * b[i * ldb + col0 + j];
            memcpy(c + r * ldc + col0, acc, width * sizeof(float));
        }
}

/* Functions whose sums must round each product first, as BLAS does in a sum of one term:
 * the compiler must not join a product and a sum into a fused multiply-add (GCC and Clang
 * would by default; MSVC does not). */
#if defined(__clang__)
#define NO_CONTRACTION
#define NO_CONTRACTION_BODY _Pragma("clang fp contract(off)")
#elif defined(__GNUC__)
#define NO_CONTRACTION __attribute__((optimize("fp-contract=off")))
#define NO_CONTRACTION_BODY
#else
#define NO_CONTRACTION
#define NO_CONTRACTION_BODY
#endif

/* C[:m, :n] = x[:m] (x) w + b, an input projection of one feature, C's rows ldc apart: each
 * product x[r] * w[j] rounded, then added to b[j], as BLAS (and the kernels' outer_product)
 * compute a sum of one term, in one pass over each row. */
static NO_CONTRACTION void one_feature_rows(ptrdiff_t m, ptrdiff_t n, const float *x,
                                            const float *w, const float *b, float *c,
                                            ptrdiff_t ldc)
{
    NO_CONTRACTION_BODY
    ptrdiff_t r, j;
    for (r = 0; r < m; r++)
        for (j = 0; j < n; j++)
            c[r * ldc + j] = b[j] + x[r] * w[j];
}

/* Rows of B that packed_gradient packs at a time; its scratch holds packed_size(
 * PACKED_GRADIENT_DEPTH, n) floats. */
#define PACKED_GRADIENT_DEPTH 256

/* Rows of A^T @ B from which the kernels take packed_gradient rather than BLAS's sgemm.
 * Fewer rows (a few input features) pay more for packing B than they gain. With 512-bit
 * vectors it ran 1.0 to 1.4 times as fast as OpenBLAS's SkylakeX sgemm on an AMD Zen 4
 * (alone and in fits); with 256-bit ones (4-row tiles) 0.84 to 0.90 times OpenBLAS's
 * Haswell sgemm on the same machine, so those builds leave weight gradients to BLAS. */
#if PACKED_LANES == 16
#define PACKED_GRADIENT_MIN_ROWS PACKED_TILE
#else
#define PACKED_GRADIENT_MIN_ROWS PTRDIFF_MAX
#endif

/* C (m x n) = A^T @ B (+ C when accumulate) for A (k x m) and B (k x n), their rows lda and
 * ldb apart: a weight gradient, summed over the k rows. B is packed PACKED_GRADIENT_DEPTH
 * rows at a time into scratch and A^T read in place, so each entry of C is one chain of
 * fused multiply-adds over the k rows in order (a product that goes on accumulates from
 * where the last one stopped). */
static void packed_gradient(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                            ptrdiff_t lda, const float *b, ptrdiff_t ldb, int accumulate,
                            float *c, ptrdiff_t ldc, float *scratch)
{
    ptrdiff_t i0 = 0, rows;
    do {  /* once at least: with k = 0, C = 0 (or C) */
        rows = k - i0 < PACKED_GRADIENT_DEPTH ? k - i0 : PACKED_GRADIENT_DEPTH;
        packed_pack(b + i0 * ldb, ldb, 0, rows, n, scratch);
        packed_product_strided(m, n, rows, a + i0 * lda, 1, lda, scratch, accumulate || i0 > 0,
                               c, ldc, 0);
        i0 += rows;
    } while (i0 < k);
}

#endif
