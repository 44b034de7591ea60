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
/* Rows [first, last) of src [rows, cols] into columns [first, last) of dst = srcᵀ [cols, rows]. */
void ngrad_transpose_rows(size_t rows, size_t cols, size_t first, size_t last, const float *src, float *dst);

/* z [batch, c*oh*ow] = max or mean of each window (pad 0) of x [batch, c*h*w]. */
void ngrad_pool2d(int mode, const ngrad_patches *g, const float *x, size_t batch, float *z);

/* dx [batch, c*h*w] = pool2d's input error from dz (x read by max only); dx is overwritten. */
void ngrad_pool2d_backward(int mode, const ngrad_patches *g, const float *x, const float *dz, size_t batch, float *dx);

/* The kernel below is in conv.c (it calls OpenBLAS, so it is built with the addon). */

/* Must match CONV2D_OPS in src/tensor/patches.ts. */
enum ngrad_conv_op { NGRAD_CONV_FORWARD = 0, NGRAD_CONV_WEIGHT_GRAD = 1, NGRAD_CONV_INPUT_ERROR = 2, NGRAD_CONV_OPS = 3 };
#define NGRAD_CONV_MAX_THREADS 64

/* One of conv2d's lowered products over `batch` images (Backend.conv2d in src/tensor/backend.ts), with
 * K = c*k*k, P = oh*ow, W and F [out, K], images [batch, c*h*w], outputs and their errors [batch, out*P]:
 *   forward:     a = x, b = W, c = z   (z_n = W·cols_n, overwritten);
 *   weight grad: a = dz, b = x, c = dW (dW = Σ_n dz_n·cols_nᵀ, overwritten);
 *   input error: a = F, b = dz, c = dx (dx = col2im(Fᵀ·dz_n), overwritten).
 * Runs on up to `threads` threads; returns -1 if out of memory (c untouched or partly written), else 0. */
int ngrad_conv2d(int op, const ngrad_patches *g, size_t out, size_t batch, const float *a, const float *b, float *c,
                 int threads);

/* The kernel below is in local.c (it calls OpenBLAS too). */

/* One of local2d's products over `batch` images (Backend.local2d in src/tensor/backend.ts): ngrad_conv2d's
 * operands, with W and F [P*out, K] (one bank of out kernels a position). Returns -1 if out of memory. */
int ngrad_local2d(int op, const ngrad_patches *g, size_t out, size_t batch, const float *a, const float *b, float *c,
                  int threads);

#endif
