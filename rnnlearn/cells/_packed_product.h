/* The float32 recurrent products of rnnlearn's kernels: C (+)= A @ B with B packed once.
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

/* Panels that packed_pack writes for n columns: a multiple of four (packed_row reads four
 * at a time), the ones past column n zero. */
static inline ptrdiff_t packed_panels(ptrdiff_t n)
{
    return (n + 4 * PACKED_PANEL - 1) / (4 * PACKED_PANEL) * 4;
}

/* Floats that packed_pack writes for a k x n matrix. */
static inline ptrdiff_t packed_size(ptrdiff_t k, ptrdiff_t n)
{
    return packed_panels(n) * PACKED_PANEL * k;
}

/* Pack B (k x n) = b, rows ldb apart, or with trans B = b^T, b (n x k) with rows ldb apart. */
static void packed_pack(const float *b, ptrdiff_t ldb, int trans, ptrdiff_t k, ptrdiff_t n,
                        float *packed)
{
    ptrdiff_t p, i, j, col;
    for (p = 0; p < packed_panels(n); p++)
        for (i = 0; i < k; i++)
            for (j = 0; j < PACKED_PANEL; j++) {
                col = p * PACKED_PANEL + j;
                *packed++ = col >= n ? 0.0f : trans ? b[col * ldb + i] : b[i * ldb + col];
            }
}

/* A tile: rows a[0..PACKED_TILE) (at their column i0) times rows [i0, i1) of one panel,
 * added to rows c[0..PACKED_TILE) of PACKED_PANEL floats, or written over them when not
 * accumulate. The accumulators are two vectors per row. */
static inline void packed_tile(const float *const a[PACKED_TILE], const float *panel,
                               ptrdiff_t i0, ptrdiff_t i1, float *const c[PACKED_TILE],
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
            lo[r] += a[r][i] * w0;
            hi[r] += a[r][i] * w1;
        }
    }
    for (r = 0; r < PACKED_TILE; r++) {
        packed_store(c[r], lo[r]);
        packed_store(c[r] + PACKED_LANES, hi[r]);
    }
}

/* One row a times four consecutive panels (k rows each), added to c, 4 * PACKED_PANEL
 * floats: the rows after the whole tiles, such as a prediction's few. */
static inline void packed_row(const float *a, const float *panel, ptrdiff_t k, float *c)
{
    packed_vector acc[8], w;
    ptrdiff_t i;
    int v;
    for (v = 0; v < 8; v++)
        acc[v] = packed_load(c + v * PACKED_LANES);
    for (i = 0; i < k; i++)
        for (v = 0; v < 8; v++) {
            w = packed_load(panel + (v / 2 * k + i) * PACKED_PANEL + v % 2 * PACKED_LANES);
            acc[v] += a[i] * w;
        }
    for (v = 0; v < 8; v++)
        packed_store(c + v * PACKED_LANES, acc[v]);
}

/* C[:m, :n] = A[:m, :k] @ B (+ C[:m, :n] when accumulate), B packed by packed_pack; A's
 * rows lda apart, C's ldc apart. Whole tiles of rows run packed_tile on C in place, panel
 * by panel and PACKED_DEPTH rows of a panel at a time; the last rows (fewer than a tile)
 * run packed_row, four panels at a time, on a copy. Either way each entry of C is the same
 * chain of multiply-adds. */
static void packed_product(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a,
                           ptrdiff_t lda, const float *packed, int accumulate, float *c,
                           ptrdiff_t ldc)
{
    float scratch[PACKED_TILE][PACKED_PANEL], row[4 * PACKED_PANEL];
    const float *a_rows[PACKED_TILE];
    float *c_rows[PACKED_TILE];
    ptrdiff_t n_panels = (n + PACKED_PANEL - 1) / PACKED_PANEL, whole = m / PACKED_TILE;
    ptrdiff_t p, t, i0, i1, j, col0, width, r;
    for (p = 0; p < n_panels; p++) {
        col0 = p * PACKED_PANEL;
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
                packed_tile(a_rows, packed + col0 * k, i0, i1, c_rows, accumulate || i0 > 0);
                i0 = i1;
            } while (i0 < k);
            for (r = 0; r < PACKED_TILE && width < PACKED_PANEL; r++)
                memcpy(c + (t * PACKED_TILE + r) * ldc + col0, scratch[r], width * sizeof(float));
        }
    }
    for (r = whole * PACKED_TILE; r < m; r++)
        for (col0 = 0; col0 < n; col0 += 4 * PACKED_PANEL) {
            width = n - col0 < 4 * PACKED_PANEL ? n - col0 : 4 * PACKED_PANEL;
            for (j = 0; j < 4 * PACKED_PANEL; j++)
                row[j] = accumulate && j < width ? c[r * ldc + col0 + j] : 0;
            packed_row(a + r * lda, packed + col0 * k, k, row);
            memcpy(c + r * ldc + col0, row, width * sizeof(float));
        }
}

#endif
