/* Stride-1 convolutions computed directly on padded images, without im2col ("wide rows").
 *
 * A stride-1 convolution of an image padded to [C, Hp, Wp] reads, for output position (oy, ox) and patch value
 * j = (c, ky, kx), the pixel at offset q + t_j of the flattened image, where q = oy·Wp + ox and
 * t_j = c·Hp·Wp + ky·Wp + kx. Computed at every *wide* position q = 0 … OH·Wp − 1 (each output row extended to
 * the padded width, the Wp − OW extra columns discarded), the convolution is
 *   zw[o][q] = Σ_j W[o][j] · xp[t_j + q]                                            (forward)
 * and the weight gradient, with dz laid out the same way (zeros in the extra columns), is
 *   dW[o][j] = Σ_q dzw[o][q] · xp[t_j + q].
 * Eight consecutive wide positions are eight consecutive pixels: one unaligned vector load, whatever the
 * row. So both products are GEMMs whose patch operand is read straight from the image. The input error is a
 * forward convolution too: of dz padded by k − 1 − pad with the kernels flipped and their channel axes
 * swapped (dx[c][iy][ix] = Σ_{o,ky,kx} W[o][c][k−1−ky][k−1−kx] · dzp[o][iy+ky][ix+kx]).
 *
 * NOTE: why. LeNet-5's kernel counts (6, 16) and patch sizes (25, 150) make GEMMs too skinny for OpenBLAS's
 * packing, and im2col of 10- to 28-float runs cost as much as the products (bench/conv.ts measured both at
 * about a quarter of the GEMM peak). Here each register tile holds 12 vectors of sums, fed by one load or
 * broadcast per 1.5 multiply-adds; the price is the Wp − OW extra columns (k − 1 of Wp: 13 % for LeNet-5's
 * first layer, 29 % for its second).
 *
 * Vectors are GCC's generic vector extension (8 floats), so the file builds on any target; with
 * -march=native it becomes AVX2 FMA code where the machine has it. */
#include <stdlib.h>
#include <string.h>

#include "conv-direct.h"

#include "conv-vector.h"

/* The forward tile: zw[i][8(q0+j) …] (+)= Σ_p w[i][p] · xp[t[p] + 8(q0+j) …] over K patch values p, for NC
 * kernels i (rows ldw apart) and NQ vectors j of wide positions. The smaller of
 * the two operand sets stays in registers for all of a patch value's multiply-adds, the other is streamed
 * (12 sums + at most 4 operands: 16 registers). */
#define FORWARD_TILE(NC, NQ)                                                                                     \
  static void forward_tile_##NC##x##NQ(const float *xp, const size_t *t, size_t K, const float *w, size_t ldw,  \
                                       float *zw, size_t ldz, size_t q0, int add) {                              \
    v8 acc[NC][NQ];                                                                                              \
    for (int i = 0; i < NC; i++)                                                                                 \
      for (int j = 0; j < NQ; j++) acc[i][j] = add ? LOAD(zw + i * ldz + LANES * (q0 + j)) : (v8){0};            \
    for (size_t p = 0; p < K; p++) {                                                                             \
      const float *x = xp + t[p] + LANES * q0;                                                                   \
      if (NC >= NQ) {                                                                                            \
        v8 a[NQ];                                                                                                \
        for (int j = 0; j < NQ; j++) a[j] = LOAD(x + LANES * j);                                                 \
        for (int i = 0; i < NC; i++) {                                                                           \
          const v8 b = SPLAT(w[i * ldw + p]);                                                                      \
          for (int j = 0; j < NQ; j++) acc[i][j] += b * a[j];                                                    \
        }                                                                                                        \
      } else {                                                                                                   \
        v8 b[NC];                                                                                                \
        for (int i = 0; i < NC; i++) b[i] = SPLAT(w[i * ldw + p]);                                                 \
        for (int j = 0; j < NQ; j++) {                                                                           \
          v8 a = LOAD(x + LANES * j);                                                                            \
          IN_REGISTER(a);                                                                                        \
          for (int i = 0; i < NC; i++) acc[i][j] += b[i] * a;                                                    \
        }                                                                                                        \
      }                                                                                                          \
    }                                                                                                            \
    for (int i = 0; i < NC; i++)                                                                                 \
      for (int j = 0; j < NQ; j++) STORE(zw + i * ldz + LANES * (q0 + j), acc[i][j]);                           \
  }

/* The weight-gradient tile: lane sums sums[8(i·K + p) …] += dzw[i][q] · xp[t[p] + q] over QV vectors q of
 * wide positions of `images` images (xp and dzw `step` floats apart), for NC kernels i and NK patch values p
 * (operands kept as in the forward tile). */
#define WEIGHT_GRAD_TILE(NC, NK)                                                                                 \
  static void weight_grad_tile_##NC##x##NK(const float *xp0, const size_t *t, const float *dzw0, size_t ldz,   \
                                           size_t QV, size_t images, const ngrad_wide_step *step, float *sums,  \
                                           size_t K) {                                                           \
    v8 acc[NC][NK];                                                                                              \
    for (int i = 0; i < NC; i++)                                                                                 \
      for (int p = 0; p < NK; p++) acc[i][p] = LOAD(sums + LANES * (i * K + p));                                 \
    for (size_t n = 0; n < images; n++) {                                                                        \
    const float *xp = xp0 + n * step->image, *dzw = dzw0 + n * step->errors;                                    \
    for (size_t q = 0; q < LANES * QV; q += LANES) {                                                             \
      if (NC >= NK) {                                                                                            \
        v8 a[NK];                                                                                                \
        for (int p = 0; p < NK; p++) a[p] = LOAD(xp + t[p] + q);                                                 \
        for (int i = 0; i < NC; i++) {                                                                           \
          v8 d = LOAD(dzw + i * ldz + q);                                                                        \
          IN_REGISTER(d);                                                                                        \
          for (int p = 0; p < NK; p++) acc[i][p] += d * a[p];                                                    \
        }                                                                                                        \
      } else {                                                                                                   \
        v8 d[NC];                                                                                                \
        for (int i = 0; i < NC; i++) d[i] = LOAD(dzw + i * ldz + q);                                             \
        for (int p = 0; p < NK; p++) {                                                                           \
          v8 a = LOAD(xp + t[p] + q);                                                                            \
          IN_REGISTER(a);                                                                                        \
          for (int i = 0; i < NC; i++) acc[i][p] += d[i] * a;                                                    \
        }                                                                                                        \
      }                                                                                                          \
    }                                                                                                            \
    }                                                                                                            \
    for (int i = 0; i < NC; i++)                                                                                 \
      for (int p = 0; p < NK; p++) STORE(sums + LANES * (i * K + p), acc[i][p]);                                 \
  }

/* 12 vectors of sums a tile (a 16-register machine keeps the operands in the other 4); fewer kernels trade
 * position vectors for them. */
FORWARD_TILE(6, 2)
FORWARD_TILE(5, 2)
FORWARD_TILE(4, 3)
FORWARD_TILE(3, 4)
FORWARD_TILE(2, 6)
FORWARD_TILE(1, 8)

WEIGHT_GRAD_TILE(6, 2)
WEIGHT_GRAD_TILE(5, 2)
WEIGHT_GRAD_TILE(4, 3)
WEIGHT_GRAD_TILE(3, 4)
WEIGHT_GRAD_TILE(2, 6)
WEIGHT_GRAD_TILE(1, 8)

typedef void forward_tile_fn(const float *, const size_t *, size_t, const float *, size_t, float *, size_t, size_t, int);
typedef void weight_grad_tile_fn(const float *, const size_t *, const float *, size_t, size_t, size_t,
                                 const ngrad_wide_step *, float *, size_t);
static forward_tile_fn *const FORWARD_TILES[7] = {NULL, forward_tile_1x8, forward_tile_2x6, forward_tile_3x4,
                                                  forward_tile_4x3, forward_tile_5x2, forward_tile_6x2};
static const size_t FORWARD_NQ[7] = {0, 8, 6, 4, 3, 2, 2};
static weight_grad_tile_fn *const WEIGHT_GRAD_TILES[7] = {
    NULL, weight_grad_tile_1x8, weight_grad_tile_2x6, weight_grad_tile_3x4,
    weight_grad_tile_4x3, weight_grad_tile_5x2, weight_grad_tile_6x2};
static const size_t WEIGHT_GRAD_NK[7] = {0, 8, 6, 4, 3, 2, 2};

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* The next tile's row count when `left` rows remain: 6, the last one or two blocks evened out (16 = 6 + 5 + 5,
 * not 6 + 6 + 4). */
static size_t tile_rows(size_t left) { return left <= 6 ? left : left >= 12 ? 6 : (left + 1) / 2; }

void ngrad_wide_geometry(ngrad_wide *v, size_t c, size_t h, size_t w, size_t k, size_t pad) {
  v->c = c, v->h = h, v->w = w, v->k = k, v->pad = pad;
  v->hp = h + 2 * pad, v->wp = w + 2 * pad;
  v->oh = v->hp - k + 1, v->ow = v->wp - k + 1;
  v->qv = round_up(v->oh * v->wp, LANES) / LANES;
  v->qv_padded = round_up(v->qv, 24); /* a multiple of every tile's NQ (2, 3, 4, 6, 8) */
  v->kp = round_up(c * k * k, 2) + 12; /* whole cache lines of lane sums; room for a tile's patch values past K (≤ 11), see the weight gradients */
  /* The farthest read: t_max + 8·qv_padded − 1, with t_max = c·hp·wp − oh·wp + k − 1. */
  v->image = round_up(c * v->hp * v->wp - v->oh * v->wp + k + LANES * v->qv_padded, 16); /* whole cache lines */
}

void ngrad_wide_offsets(const ngrad_wide *v, size_t *t) {
  size_t j = 0;
  for (size_t c = 0; c < v->c; c++)
    for (size_t ky = 0; ky < v->k; ky++)
      for (size_t kx = 0; kx < v->k; kx++) t[j++] = c * v->hp * v->wp + ky * v->wp + kx;
  while (j < v->kp) t[j++] = 0;
}

void ngrad_wide_pad(const ngrad_wide *v, const float *x, float *xp) {
  memset(xp, 0, v->image * sizeof(float));
  for (size_t c = 0; c < v->c; c++)
    for (size_t y = 0; y < v->h; y++)
      memcpy(xp + (c * v->hp + y + v->pad) * v->wp + v->pad, x + (c * v->h + y) * v->w, v->w * sizeof(float));
}

void ngrad_wide_forward(const ngrad_wide *v, const size_t *t, const float *xp, const float *w, size_t out, float *zw) {
  const size_t K = v->c * v->k * v->k, ldz = LANES * v->qv_padded, kk = v->k * v->k;
  /* Channels a pass: as many as keep their pixels within 16 KB (half of a 32 KB L1), at least one; the passes
   * after the first add onto the sums of the previous ones. */
  size_t channels = 4096 / (v->hp * v->wp);
  if (channels < 1) channels = 1;
  for (size_t c0 = 0; c0 < v->c; c0 += channels) {
    const size_t p0 = c0 * kk, count = (c0 + channels < v->c ? channels : v->c - c0) * kk;
    for (size_t o = 0; o < out;) {
      const size_t nc = tile_rows(out - o);
      const size_t nq = FORWARD_NQ[nc];
      for (size_t q0 = 0; q0 < v->qv; q0 += nq)
        FORWARD_TILES[nc](xp, t + p0, count, w + o * K + p0, K, zw + o * ldz, ldz, q0, c0 > 0);
      o += nc;
    }
  }
}

void ngrad_wide_unpad_output(const ngrad_wide *v, const float *zw, size_t out, float *z) {
  const size_t ldz = LANES * v->qv_padded;
  for (size_t o = 0; o < out; o++)
    for (size_t y = 0; y < v->oh; y++) memcpy(z + (o * v->oh + y) * v->ow, zw + o * ldz + y * v->wp, v->ow * sizeof(float));
}

void ngrad_wide_pad_output(const ngrad_wide *v, const float *z, size_t out, float *zw) {
  const size_t ldz = LANES * v->qv_padded;
  memset(zw, 0, out * ldz * sizeof(float));
  for (size_t o = 0; o < out; o++)
    for (size_t y = 0; y < v->oh; y++) memcpy(zw + o * ldz + y * v->wp, z + (o * v->oh + y) * v->ow, v->ow * sizeof(float));
}

void ngrad_wide_weight_grad(const ngrad_wide *v, const size_t *t, const float *xp, const float *dzw, size_t out,
                            size_t images, float *sums) {
  const size_t K = v->c * v->k * v->k, ldz = LANES * v->qv_padded;
  const ngrad_wide_step step = {v->image, out * ldz};
  for (size_t o = 0; o < out;) {
    const size_t nc = tile_rows(out - o);
    const size_t nk = WEIGHT_GRAD_NK[nc];
    /* The last tile may run past K by up to 7 patch values: they read pixel 0 into lanes that are never
     * returned (rows of the sums are kp = K + 8 long). */
    for (size_t j = 0; j < K; j += nk) WEIGHT_GRAD_TILES[nc](xp, t + j, dzw + o * ldz, ldz, v->qv, images, &step, sums + LANES * (o * v->kp + j), v->kp);
    o += nc;
  }
}

void ngrad_wide_sum_lanes(const ngrad_wide *v, const float *sums, size_t out, float *dw) {
  const size_t K = v->c * v->k * v->k;
  for (size_t o = 0; o < out; o++)
    for (size_t j = 0; j < K; j++) {
      const float *l = sums + (o * v->kp + j) * LANES;
      dw[o * K + j] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
}

size_t ngrad_wide_margin(const ngrad_wide *v) { return round_up(v->k * v->wp, 16); }

size_t ngrad_wide_patch_error_stride(const ngrad_wide *v) {
  return round_up(2 * ngrad_wide_margin(v) + LANES * v->qv_padded + v->wp, 16);
}

void ngrad_wide_patch_errors(const ngrad_wide *v, const size_t *rows, const float *dzw, const float *ft, size_t out,
                             float *dcols) {
  const size_t K = v->c * v->k * v->k, ldc = ngrad_wide_patch_error_stride(v), margin = ngrad_wide_margin(v);
  for (size_t j = 0; j < K;) {
    const size_t nc = tile_rows(K - j);
    const size_t nq = FORWARD_NQ[nc];
    for (size_t q0 = 0; q0 < v->qv; q0 += nq) FORWARD_TILES[nc](dzw, rows, out, ft + j * out, out, dcols + j * ldc + margin, ldc, q0, 0);
    j += nc;
  }
}

void ngrad_wide_gather(const ngrad_wide *v, const float *dcols, float *dx) {
  const size_t k = v->k, ldc = ngrad_wide_patch_error_stride(v), margin = ngrad_wide_margin(v);
  float row[LANES];
  for (size_t c = 0; c < v->c; c++)
    for (size_t iy = 0; iy < v->h; iy++) {
      for (size_t ix = 0; ix < v->w; ix += LANES) {
        v8 sum = (v8){0};
        /* dx[c][iy][ix] = Σ_{ky,kx} dcols[(c, ky, kx)][(iy + pad − ky)·wp + ix + pad − kx] (col2im as a gather;
         * the margins and the extra columns hold zeros where a patch would fall outside the outputs). */
        for (size_t ky = 0; ky < k; ky++)
          for (size_t kx = 0; kx < k; kx++) {
            const float *d = dcols + ((c * k + ky) * k + kx) * ldc + margin + (iy + v->pad) * v->wp + ix + v->pad;
            sum += LOAD(d - ky * v->wp - kx);
          }
        if (ix + LANES <= v->w)
          STORE(dx + (c * v->h + iy) * v->w + ix, sum);
        else {
          STORE(row, sum);
          memcpy(dx + (c * v->h + iy) * v->w + ix, row, (v->w - ix) * sizeof(float));
        }
      }
    }
}
