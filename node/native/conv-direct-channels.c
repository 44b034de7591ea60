/* Stride-1 convolutions with the kernels, not the positions, in the vector lanes (the other layout of
 * conv-direct.c's direct convolutions, for kernel counts that are a multiple of 8).
 *
 * With pixel offsets s_q = oy·wp + ox of the output positions and t_j of the patch values (as in
 * conv-direct.c), the forward pass and the weight gradient are
 *   zᵀ[q][o]  = Σ_j xp[s_q + t_j] · Wᵀ[j][o],     dWᵀ[j][o] = Σ_n Σ_q xp_n[s_q + t_j] · dzᵀ_n[q][o],
 * so each multiply-add takes one pixel, broadcast, and a vector of 8 kernels. No lane is wasted on the extra
 * columns of the wide layout (29 % of the lanes for LeNet-5's second layer, whose 16 kernels fill two
 * vectors exactly); the price is a transpose of z or dz per image, which is small. */
#include <string.h>

#include "conv-direct.h"
#include "conv-vector.h"
#include "kernels.h"

/* zᵀ[q0+i][o0 + 8v …] for NP positions i and NV vectors v of kernels. */
#define CHANNELS_FORWARD_TILE(NP, NV)                                                                            \
  static void channels_forward_tile_##NP##x##NV(const float *xp, const size_t *s, const size_t *t, size_t K,    \
                                                const float *wt, size_t out, float *zt) {                        \
    v8 acc[NP][NV];                                                                                              \
    const float *x[NP];                                                                                          \
    for (int i = 0; i < NP; i++) {                                                                               \
      x[i] = xp + s[i];                                                                                          \
      for (int v = 0; v < NV; v++) acc[i][v] = (v8){0};                                                          \
    }                                                                                                            \
    for (size_t j = 0; j < K; j++) {                                                                             \
      v8 b[NV];                                                                                                  \
      for (int v = 0; v < NV; v++) b[v] = LOAD(wt + j * out + LANES * v);                                       \
      const size_t tj = t[j];                                                                                    \
      for (int i = 0; i < NP; i++) {                                                                             \
        const v8 a = SPLAT(x[i][tj]);                                                                            \
        for (int v = 0; v < NV; v++) acc[i][v] += a * b[v];                                                      \
      }                                                                                                          \
    }                                                                                                            \
    for (int i = 0; i < NP; i++)                                                                                 \
      for (int v = 0; v < NV; v++) STORE(zt + i * out + LANES * v, acc[i][v]);                                   \
  }

/* sums[j0+i][o0 + 8v …] += Σ_n Σ_q xp_n[s_q + t_i] · dzᵀ_n[q][o0 + 8v …] for NJ patch values i, NV vectors
 * of kernels, P positions q of `images` images (xp and dzᵀ `step` floats apart). */
#define CHANNELS_WEIGHT_GRAD_TILE(NJ, NV)                                                                        \
  static void channels_weight_grad_tile_##NJ##x##NV(const float *xp0, const size_t *s, size_t P, const size_t *t, \
                                                    const float *dzt0, size_t out, size_t images,               \
                                                    const ngrad_wide_step *step, float *sums) {                  \
    v8 acc[NJ][NV];                                                                                              \
    size_t tj[NJ];                                                                                               \
    for (int i = 0; i < NJ; i++) {                                                                               \
      tj[i] = t[i];                                                                                              \
      for (int v = 0; v < NV; v++) acc[i][v] = LOAD(sums + i * out + LANES * v);                                 \
    }                                                                                                            \
    for (size_t n = 0; n < images; n++) {                                                                        \
      const float *xp = xp0 + n * step->image, *dzt = dzt0 + n * step->errors;                                  \
      for (size_t q = 0; q < P; q++) {                                                                           \
        v8 d[NV];                                                                                                \
        for (int v = 0; v < NV; v++) d[v] = LOAD(dzt + q * out + LANES * v);                                     \
        const float *x = xp + s[q];                                                                              \
        for (int i = 0; i < NJ; i++) {                                                                           \
          const v8 a = SPLAT(x[tj[i]]);                                                                          \
          for (int v = 0; v < NV; v++) acc[i][v] += a * d[v];                                                    \
        }                                                                                                        \
      }                                                                                                          \
    }                                                                                                            \
    for (int i = 0; i < NJ; i++)                                                                                 \
      for (int v = 0; v < NV; v++) STORE(sums + i * out + LANES * v, acc[i][v]);                                 \
  }

/* 12 vectors of sums a tile, as in conv-direct.c. */
CHANNELS_FORWARD_TILE(6, 2)
CHANNELS_FORWARD_TILE(12, 1)
CHANNELS_WEIGHT_GRAD_TILE(6, 2)
CHANNELS_WEIGHT_GRAD_TILE(12, 1)

size_t ngrad_channels_positions(const ngrad_wide *v) { return (v->oh * v->ow + 11) / 12 * 12; }

void ngrad_channels_offsets(const ngrad_wide *v, size_t *s) {
  const size_t P = v->oh * v->ow, padded = ngrad_channels_positions(v);
  for (size_t q = 0; q < P; q++) s[q] = (q / v->ow) * v->wp + q % v->ow;
  for (size_t q = P; q < padded; q++) s[q] = s[P - 1]; /* the last tile's extra positions repeat the last */
}

void ngrad_channels_forward(const ngrad_wide *v, const size_t *s, const size_t *t, const float *xp, const float *wt,
                            size_t out, float *zt, float *z) {
  const size_t K = v->c * v->k * v->k, P = v->oh * v->ow;
  for (size_t o = 0; o < out;) {
    if (out - o >= 16) {
      for (size_t q = 0; q < P; q += 6) channels_forward_tile_6x2(xp, s + q, t, K, wt + o, out, zt + q * out + o);
      o += 16;
    } else {
      for (size_t q = 0; q < P; q += 12) channels_forward_tile_12x1(xp, s + q, t, K, wt + o, out, zt + q * out + o);
      o += 8;
    }
  }
  ngrad_transpose_blocks(1, P, out, zt, z); /* zᵀ [P, out] → z [out, P] */
}

void ngrad_channels_weight_grad(const ngrad_wide *v, const size_t *s, const size_t *t, const float *xp,
                                const float *dzt, size_t out, size_t images, const ngrad_wide_step *step,
                                float *sums) {
  const size_t K = v->c * v->k * v->k, P = v->oh * v->ow;
  /* The last block of patch values may run past K by up to 11: t has K + 12 entries (the extra ones 0) and
   * sums K + 12 rows, the extra ones never returned. */
  for (size_t o = 0; o < out;) {
    if (out - o >= 16) {
      for (size_t j = 0; j < K; j += 6)
        channels_weight_grad_tile_6x2(xp, s, P, t + j, dzt + o, out, images, step, sums + j * out + o);
      o += 16;
    } else {
      for (size_t j = 0; j < K; j += 12)
        channels_weight_grad_tile_12x1(xp, s, P, t + j, dzt + o, out, images, step, sums + j * out + o);
      o += 8;
    }
  }
}
