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

/* The kernels below are in kernels-image.c (IEEE semantics, like kernels-ieee.c). */

/* k x k patches of channels-first images [c, h, w], every `stride` pixels, `pad` zeros around; oh x ow
 * positions, each c*k*k values in the order [c, ky, kx] (PatchGeometry in src/tensor/patches.ts). */
typedef struct {
  size_t c, h, w, k, stride, pad, oh, ow;
} ngrad_patches;

/* Must match POOL_CODES in src/tensor/patches.ts. */
enum ngrad_pool { NGRAD_POOL_MAX = 0, NGRAD_POOL_AVG = 1, NGRAD_POOL_COUNT = 2 };

/* Value j of position q of image n goes to cols[n*s_image + q*s_position + j*s_value]. */
void ngrad_im2col(const ngrad_patches *g, const float *x, size_t batch, float *cols, size_t s_image, size_t s_position,
                  size_t s_value);

/* dx [batch, c*h*w] = the adjoint of im2col applied to cols; dx is overwritten. */
void ngrad_col2im(const ngrad_patches *g, const float *cols, size_t s_image, size_t s_position, size_t s_value,
                  size_t batch, float *dx);

/* dst[t] = src[t]^T for count blocks [rows, cols]; src and dst disjoint. */
void ngrad_transpose_blocks(size_t count, size_t rows, size_t cols, const float *src, float *dst);

/* z [batch, c*oh*ow] = max or mean of each window (pad 0) of x [batch, c*h*w]. */
void ngrad_pool2d(int mode, const ngrad_patches *g, const float *x, size_t batch, float *z);

/* dx [batch, c*h*w] = pool2d's input error from dz (x read by max only); dx is overwritten. */
void ngrad_pool2d_backward(int mode, const ngrad_patches *g, const float *x, const float *dz, size_t batch, float *dx);

#endif
