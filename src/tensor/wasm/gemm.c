// ngrad's WebAssembly kernel: single-precision GEMM with 128-bit SIMD, for browsers and for Node's
// `--backend wasm`. Built by scripts/build-wasm.mjs:
//   clang --target=wasm32 -msimd128 -mbulk-memory -nostdlib -O3 ...
// No libc: the caller (src/tensor/wasm-backend.ts) places the operands in linear memory above
// __heap_base; the packing buffers are static arrays here.
//
// Layout follows GotoBLAS/BLIS: op(B) is packed into KC×NR column slivers and op(A) into MR×KC row
// slivers (zero-padded at the edges), so one micro-kernel serves all four transpose combinations and
// every shape; edge tiles go through a small buffer.
//
// NOTE: no FMA. Relaxed-SIMD (f32x4.relaxed_madd) is rejected by Node 20, so each step is a separate
// f32x4.mul and f32x4.add (two roundings, like BLAS without FMA). Accumulation is in float32.
#include <wasm_simd128.h>

// NOTE: the micro-tile is 2×16 (8 accumulators, 4 vectors of B, 1 broadcast of A). Measured in Node 20 on
// 100×784·784×1000: 2×16 ≈ 29 GFLOP/s, 3×16 ≈ 22–24, 4×16 ≈ 15–23, 8×8 ≈ 20, 4×12 ≈ 21, 2×12 ≈ 28.
// Bigger tiles need more than x86's 16 vector registers once V8 has allocated them, and spill.
#ifndef MR
#define MR 2 // rows of a micro-tile: one broadcast of A per row and k step
#endif
#ifndef NV
#define NV 4 // f32x4 vectors per micro-tile row, so NR = 16 columns
#endif
#define NR (4 * NV)
#ifndef KC
#define KC 256 // depth of a packed block: an A sliver (MR·KC floats) and a B sliver (KC·NR) stay in L1
#endif
#ifndef MC
#define MC 128 // rows of op(A) packed at once (a multiple of MR): MC·KC floats in L2
#endif
#ifndef NC
#define NC 1024 // columns of op(B) packed at once (a multiple of NR)
#endif

#define EXPORT(name) __attribute__((export_name(#name)))

static float packedA[MC * KC] __attribute__((aligned(16)));
static float packedB[KC * NC] __attribute__((aligned(16)));

/** op(A)[i0 : i0+mc, p0 : p0+kc] into MR-row slivers: sliver s holds, for each p, MR consecutive values. */
static void packA(int transA, const float *a, int lda, int i0, int p0, int mc, int kc) {
  float *out = packedA;
  for (int s = 0; s < mc; s += MR) {
    int rows = mc - s < MR ? mc - s : MR;
    for (int p = 0; p < kc; p++) {
      for (int r = 0; r < rows; r++) {
        int i = i0 + s + r, q = p0 + p;
        out[r] = transA ? a[q * lda + i] : a[i * lda + q];
      }
      for (int r = rows; r < MR; r++) out[r] = 0.0f;
      out += MR;
    }
  }
}

/** op(B)[p0 : p0+kc, j0 : j0+nc] into NR-column slivers: sliver s holds, for each p, NR consecutive values. */
static void packB(int transB, const float *b, int ldb, int p0, int j0, int kc, int nc) {
  float *out = packedB;
  for (int s = 0; s < nc; s += NR) {
    int cols = nc - s < NR ? nc - s : NR;
    if (!transB && cols == NR) {
      // The common case: each packed row is NR contiguous values of B.
      const float *src = b + p0 * ldb + j0 + s;
      for (int p = 0; p < kc; p++, src += ldb, out += NR) {
        for (int v = 0; v < NV; v++) wasm_v128_store(out + 4 * v, wasm_v128_load(src + 4 * v));
      }
      continue;
    }
    for (int p = 0; p < kc; p++) {
      for (int j = 0; j < cols; j++) {
        int q = p0 + p, c = j0 + s + j;
        out[j] = transB ? b[c * ldb + q] : b[q * ldb + c];
      }
      for (int j = cols; j < NR; j++) out[j] = 0.0f;
      out += NR;
    }
  }
}

/** C[0:rows, 0:cols] = alpha · (A sliver · B sliver) + beta · C over kc steps; rows ≤ MR, cols ≤ NR.
 * beta is the caller's for the first block of k and 1 after it; beta = 0 does not read C. */
static void microKernel(int kc, const float *a, const float *b, float alpha, float beta, float *c, int ldc, int rows,
                        int cols) {
  v128_t acc[MR][NV];
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < NV; v++) acc[r][v] = wasm_f32x4_splat(0.0f);
  for (int p = 0; p < kc; p++, a += MR, b += NR) {
    v128_t bv[NV];
    for (int v = 0; v < NV; v++) bv[v] = wasm_v128_load(b + 4 * v);
    for (int r = 0; r < MR; r++) {
      v128_t ar = wasm_v128_load32_splat(a + r);
      for (int v = 0; v < NV; v++) acc[r][v] = wasm_f32x4_add(acc[r][v], wasm_f32x4_mul(ar, bv[v]));
    }
  }
  v128_t al = wasm_f32x4_splat(alpha), be = wasm_f32x4_splat(beta);
  if (rows == MR && cols == NR) {
    for (int r = 0; r < MR; r++)
      for (int v = 0; v < NV; v++) {
        float *cp = c + r * ldc + 4 * v;
        v128_t t = wasm_f32x4_mul(al, acc[r][v]);
        if (beta == 1.0f) t = wasm_f32x4_add(t, wasm_v128_load(cp));
        else if (beta != 0.0f) t = wasm_f32x4_add(t, wasm_f32x4_mul(be, wasm_v128_load(cp)));
        wasm_v128_store(cp, t);
      }
    return;
  }
  float tile[MR * NR] __attribute__((aligned(16)));
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < NV; v++) wasm_v128_store(tile + r * NR + 4 * v, wasm_f32x4_mul(al, acc[r][v]));
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++) {
      float *cp = c + r * ldc + j;
      *cp = beta == 0.0f ? tile[r * NR + j] : tile[r * NR + j] + beta * *cp;
    }
}

/** C = beta·C, except that beta = 0 writes zeros without reading C (BLAS convention: C may hold NaN).
 * Only for alpha = 0 or k = 0; otherwise beta is applied where the micro-kernel stores C, saving a pass. */
static void scaleC(float beta, float *c, int m, int n) {
  int len = m * n, i = 0;
  if (beta == 1.0f) return;
  v128_t bv = wasm_f32x4_splat(beta);
  if (beta == 0.0f) {
    __builtin_memset(c, 0, (unsigned long)len * sizeof(float));
    return;
  }
  for (; i + 4 <= len; i += 4) wasm_v128_store(c + i, wasm_f32x4_mul(bv, wasm_v128_load(c + i)));
  for (; i < len; i++) c[i] *= beta;
}

/**
 * C[m×n] = alpha·op(A)·op(B) + beta·C, row-major, where op(A) is m×k and op(B) is k×n. lda and ldb are
 * the row lengths of A and B as stored (k or m for A, n or k for B); C's row length is n. Pointers are
 * byte offsets into this module's memory, 4-byte aligned.
 */
EXPORT(sgemm)
void sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
           float beta, float *c) {
  if (alpha == 0.0f || k == 0) {
    scaleC(beta, c, m, n);
    return;
  }
  for (int j0 = 0; j0 < n; j0 += NC) {
    int nc = n - j0 < NC ? n - j0 : NC;
    for (int p0 = 0; p0 < k; p0 += KC) {
      int kc = k - p0 < KC ? k - p0 : KC;
      packB(transB, b, ldb, p0, j0, kc, nc);
      for (int i0 = 0; i0 < m; i0 += MC) {
        int mc = m - i0 < MC ? m - i0 : MC;
        packA(transA, a, lda, i0, p0, mc, kc);
        for (int js = 0; js < nc; js += NR) {
          const float *bs = packedB + js * kc;
          int cols = nc - js < NR ? nc - js : NR;
          for (int is = 0; is < mc; is += MR) {
            int rows = mc - is < MR ? mc - is : MR;
            microKernel(kc, packedA + is * kc, bs, alpha, p0 == 0 ? beta : 1.0f, c + (i0 + is) * n + j0 + js, n, rows, cols);
          }
        }
      }
    }
  }
}

/**
 * sgemm over `count` operand triples at fixed strides (in floats): C_t = alpha·op(A_t)·op(B_t) + beta·C_t
 * with X_t at X + t·strideX; strideC = 0 sums every product into C (beta applied once).
 */
EXPORT(sgemmBatched)
void sgemmBatched(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                  int ldb, float beta, float *c, int count, int strideA, int strideB, int strideC) {
  for (int t = 0; t < count; t++) {
    sgemm(transA, transB, m, n, k, alpha, a + t * strideA, lda, b + t * strideB, ldb, strideC == 0 && t > 0 ? 1.0f : beta,
          c + t * strideC);
  }
}
