/* Element-wise kernels of the ngrad native backend.
 *
 * NOTE: this file alone is compiled with -O3 -march=native -ffast-math -mno-recip (a separate static
 * library in binding.gyp). -ffast-math defines __FAST_MATH__, which makes glibc's <math.h> declare the
 * SIMD variants of tanhf/expf from libmvec, so gcc vectorises those loops (within about 1 ulp). It also
 * implies -ffinite-math-only, so nothing here may test for NaN/Inf: divergence is detected in TypeScript
 * on the loss. -mno-recip keeps divisions and square roots exact (see binding.gyp). Keeping the flag out
 * of the link step also keeps crtfastmath.o (which would switch the whole Node process to flush-to-zero)
 * out of the addon.
 *
 * Aliasing: the Backend interface lets an output be the very same array as an input (out === z,
 * dz === dh) and addon.c rejects partial overlaps, so each element is read before the same index is
 * written. `#pragma GCC ivdep` tells gcc exactly that, instead of versioning each loop on a runtime
 * overlap test that would send the in-place calls down the scalar path. */
#include "kernels.h"

#include <math.h>
#include <string.h>

void ngrad_activate(int kind, const float *z, float *out, size_t n, float slope) {
  switch (kind) {
    case NGRAD_LINEAR:
      if (out != z && n > 0) memcpy(out, z, n * sizeof(float));
      return;
    case NGRAD_TANH:
#pragma GCC ivdep
      for (size_t i = 0; i < n; i++) out[i] = tanhf(z[i]);
      return;
    case NGRAD_SIGMOID:
      /* NOTE: for z < -88, expf(-z) overflows to +Inf and the quotient is the correct 0; the
       * tanh form 0.5 + 0.5*tanh(z/2) would avoid the Inf but loses all relative accuracy for
       * small outputs through cancellation. */
#pragma GCC ivdep
      for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + expf(-z[i]));
      return;
    case NGRAD_RELU:
#pragma GCC ivdep
      for (size_t i = 0; i < n; i++) out[i] = z[i] > 0.0f ? z[i] : 0.0f;
      return;
    case NGRAD_LEAKY_RELU:
#pragma GCC ivdep
      for (size_t i = 0; i < n; i++) out[i] = z[i] > 0.0f ? z[i] : slope * z[i];
      return;
    case NGRAD_HARD_SIGMOID: /* in kernels-ieee.c, so NaN and -0 behave as in the js reference */
      ngrad_clip(z, out, n, 0.0f, 1.0f);
      return;
  }
}

void ngrad_activate_backward(int kind, const float *z, const float *h, const float *dh, float *dz, size_t n,
                             float slope) {
  switch (kind) {
    case NGRAD_LINEAR:
      if (dz != dh && n > 0) memcpy(dz, dh, n * sizeof(float));
      return;
    case NGRAD_TANH: /* tanh' = 1 - h^2 */
#pragma GCC ivdep
      for (size_t i = 0; i < n; i++) dz[i] = dh[i] * (1.0f - h[i] * h[i]);
      return;
    case NGRAD_SIGMOID: /* sigma' = h (1 - h) */
#pragma GCC ivdep
      for (size_t i = 0; i < n; i++) dz[i] = dh[i] * h[i] * (1.0f - h[i]);
      return;
    case NGRAD_RELU:
#pragma GCC ivdep
      for (size_t i = 0; i < n; i++) dz[i] = z[i] > 0.0f ? dh[i] : 0.0f;
      return;
    case NGRAD_LEAKY_RELU:
#pragma GCC ivdep
      for (size_t i = 0; i < n; i++) dz[i] = z[i] > 0.0f ? dh[i] : slope * dh[i];
      return;
    case NGRAD_HARD_SIGMOID:
      ngrad_hard_sigmoid_backward(z, dh, dz, n);
      return;
  }
}

void ngrad_add_row_vector(float *restrict m, size_t rows, size_t cols, const float *restrict v) {
  for (size_t i = 0; i < rows; i++) {
    float *restrict row = m + i * cols;
    for (size_t j = 0; j < cols; j++) row[j] += v[j];
  }
}

/* Columns per block: the double accumulators stay in L1 while the rows stream past. */
#define SUM_BLOCK 512

void ngrad_sum_rows(const float *restrict m, size_t rows, size_t cols, double alpha, double beta,
                    float *restrict out) {
  /* NOTE: sums in double, row by row, like the js reference, so bias gradients agree with it to
   * the final rounding; the cost is nil next to the GEMMs. */
  double acc[SUM_BLOCK];
  for (size_t j0 = 0; j0 < cols; j0 += SUM_BLOCK) {
    const size_t w = cols - j0 < SUM_BLOCK ? cols - j0 : SUM_BLOCK;
    for (size_t j = 0; j < w; j++) acc[j] = 0.0;
    for (size_t i = 0; i < rows; i++) {
      const float *restrict row = m + i * cols + j0;
      for (size_t j = 0; j < w; j++) acc[j] += row[j];
    }
    float *restrict o = out + j0;
    /* BLAS convention: with beta = 0, out is written without being read (it may hold NaN). */
    if (beta == 0.0)
      for (size_t j = 0; j < w; j++) o[j] = (float)(alpha * acc[j]);
    else
      for (size_t j = 0; j < w; j++) o[j] = (float)(alpha * acc[j] + beta * o[j]);
  }
}

void ngrad_axpby(size_t n, double alpha, const float *x, double beta, float *y) {
  const float a = (float)alpha, b = (float)beta;
  if (beta == 1.0) {
#pragma GCC ivdep
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
  } else {
#pragma GCC ivdep
    for (size_t i = 0; i < n; i++) y[i] = a * x[i] + b * y[i];
  }
}

void ngrad_adam(size_t n, float *g, float *m, float *v, double b1, double b2, double c1, double c2, double eps) {
  /* NOTE: 1 - b2 is formed in double: in float, 1 - 0.999f is off by 5e-5 relative. */
  const float fb1 = (float)b1, fb2 = (float)b2, ob1 = (float)(1.0 - b1), ob2 = (float)(1.0 - b2);
  const float fc1 = (float)c1, fc2 = (float)c2, feps = (float)eps;
#pragma GCC ivdep
  for (size_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = fb1 * m[i] + ob1 * gi;
    const float vi = fb2 * v[i] + ob2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    g[i] = (mi / fc1) / (sqrtf(vi / fc2) + feps);
  }
}
