/* Element-wise kernels of the ngrad native backend (see kernels.c). Plain C on contiguous float32
 * arrays; callers (addon.c) have already checked lengths and that arrays are either the same array
 * or disjoint. */
#ifndef NGRAD_KERNELS_H
#define NGRAD_KERNELS_H

#include <stddef.h>

/* Must match ACTIVATION_CODES in src/tensor/backend.ts. */
enum ngrad_activation {
  NGRAD_LINEAR = 0,
  NGRAD_TANH = 1,
  NGRAD_SIGMOID = 2,
  NGRAD_RELU = 3,
  NGRAD_LEAKY_RELU = 4,
  NGRAD_HARD_SIGMOID = 5,
  NGRAD_ACTIVATION_COUNT = 6
};

/* out = f(z); out may be z. */
void ngrad_activate(int kind, const float *z, float *out, size_t n, float slope);

/* dz = dh * f'(z), from z (relu, leaky_relu, hard_sigmoid) or h = f(z) (tanh, sigmoid); dz may be dh. */
void ngrad_activate_backward(int kind, const float *z, const float *h, const float *dh, float *dz, size_t n,
                             float slope);

/* m[i, :] += v for each of the rows of the [rows, cols] matrix m. */
void ngrad_add_row_vector(float *m, size_t rows, size_t cols, const float *v);

/* out = beta*out + alpha*(column sums of the [rows, cols] matrix m); beta == 0 writes out unread. */
void ngrad_sum_rows(const float *m, size_t rows, size_t cols, double alpha, double beta, float *out);

/* y = alpha*x + beta*y. */
void ngrad_axpby(size_t n, double alpha, const float *x, double beta, float *y);

/* Adam moments and step direction in place (see Backend.adam in src/tensor/backend.ts). */
void ngrad_adam(size_t n, float *g, float *m, float *v, double b1, double b2, double c1, double c2, double eps);

/* The kernels below are in kernels-ieee.c, compiled without -ffast-math: they only compare and select,
 * so they are exact, and every backend (js, wasm, native) gives bit-identical results, NaN included. */

/* out = min(max(x, lo), hi) as the comparisons x < lo, then > hi (NaN passes, -0 stays -0); out may be x. */
void ngrad_clip(const float *x, float *out, size_t n, float lo, float hi);

/* out = scale where x > 0, -scale where x < 0, +0 where x is +-0, NaN where x is NaN; out may be x. */
void ngrad_sign(const float *x, float *out, size_t n, float scale);

/* out = u < p ? 1 : 0 (0 where either is NaN); out may be p or u. */
void ngrad_bernoulli(const float *p, const float *u, float *out, size_t n);

/* dz = dh where 0 < z < 1, else 0 (the hard sigmoid's derivative, 0 at the kinks); dz may be dh. */
void ngrad_hard_sigmoid_backward(const float *z, const float *dh, float *dz, size_t n);

#endif
