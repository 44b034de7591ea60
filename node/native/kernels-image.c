/* Image kernels of the ngrad native backend: im2col / col2im at any patch layout, batched block
 * transposes, and max / average pooling forward and backward (see src/tensor/backend.ts for the
 * contracts and src/tensor/js-image-kernels.ts for the reference loops).
 *
 * NOTE: compiled like kernels-ieee.c, with -O3 -march=native but without -ffast-math, and with -std=c11,
 * which in gcc means -ffp-contract=off: the average pool's z + (1/k²)·x is then rounded exactly as the js
 * reference rounds it (a double product, a double sum, one rounding to float per step), and max pooling
 * keeps IEEE comparisons (a NaN is kept only where it comes first in its window). So pooling and the
 * copies (im2col, transposes) give the js reference's bits; col2im in the rows layouts adds in the
 * reference's order too, and in the columns layout in an order that vectorises (equal to rounding).
 *
 * Callers (addon.c) have checked every length against the geometry and layout, and that outputs do not
 * overlap inputs. */
#include "kernels.h"

#include <stdbool.h>
#include <string.h>

#ifdef __AVX__
#include <immintrin.h>
#endif

typedef ptrdiff_t idx;

static inline idx max_idx(idx a, idx b) { return a > b ? a : b; }
static inline idx min_idx(idx a, idx b) { return a < b ? a : b; }

/* The first and one-past-last output column ox whose input column ox·stride − pad + kx is inside [0, w). */
static void inside_columns(const ngrad_patches *g, idx kx, idx *lo, idx *hi) {
  const idx s = (idx)g->stride, off = kx - (idx)g->pad, w = (idx)g->w, ow = (idx)g->ow;
  /* ox·s + off >= 0  <=>  ox >= ceil(-off / s);  ox·s + off <= w − 1  <=>  ox <= floor((w − 1 − off) / s). */
  idx first = off >= 0 ? 0 : (-off + s - 1) / s;
  idx last = w - 1 - off < 0 ? -1 : (w - 1 - off) / s;
  *lo = min_idx(first, ow);
  *hi = max_idx(*lo, min_idx(last + 1, ow));
}

/* Short runs: an inline loop (vectorised where long enough) beats a call to memcpy for the 3 to 28 values
 * a patch row or an output row holds here. */
static inline void copy_run(float *restrict to, const float *restrict from, idx n) {
  for (idx i = 0; i < n; i++) to[i] = from[i];
}

static inline void zero_run(float *to, idx n) {
  for (idx i = 0; i < n; i++) to[i] = 0.0f;
}

/* One image's patches as rows (s_value == 1): each position's patch is K contiguous values made of k-long
 * runs of input rows. NOTE: the loop runs over input rows (oy, c, ky) and then positions ox, so that one
 * input row serves every run cut from it; that measured twice as fast for C = 1 as filling one patch after
 * another. Inlined with k a constant for the common kernel sizes, so the runs unroll. */
static inline __attribute__((always_inline)) void im2col_rows(const ngrad_patches *g, const float *xn, float *cn,
                                                              size_t s_position, idx k) {
  const idx c = (idx)g->c, h = (idx)g->h, w = (idx)g->w, s = (idx)g->stride, pad = (idx)g->pad;
  const idx oh = (idx)g->oh, ow = (idx)g->ow, plane = h * w, sp = (idx)s_position;
  for (idx oy = 0; oy < oh; oy++) {
    float *base = cn + (size_t)(oy * ow) * s_position;
    for (idx ch = 0; ch < c; ch++) {
      for (idx ky = 0; ky < k; ky++) {
        const idx iy = oy * s - pad + ky;
        float *o = base + (ch * k + ky) * k;
        if (iy < 0 || iy >= h) {
          for (idx ox = 0; ox < ow; ox++) zero_run(o + ox * sp, k);
          continue;
        }
        const float *row = xn + ch * plane + iy * w;
        for (idx ox = 0; ox < ow; ox++) {
          const idx x0 = ox * s - pad;
          float *restrict to = o + ox * sp;
          if (x0 >= 0 && x0 + k <= w) {
            for (idx kx = 0; kx < k; kx++) to[kx] = row[x0 + kx];
          } else {
            for (idx kx = 0; kx < k; kx++) to[kx] = x0 + kx >= 0 && x0 + kx < w ? row[x0 + kx] : 0.0f;
          }
        }
      }
    }
  }
}

/* One image's patches in any other layout, the columns one above all (s_position == 1): for each patch
 * value j, the values at all positions, an output row at a time (contiguous in ox for stride 1). */
static void im2col_columns(const ngrad_patches *g, const float *xn, float *cn, size_t s_position, size_t s_value) {
  const idx c = (idx)g->c, h = (idx)g->h, w = (idx)g->w, k = (idx)g->k, s = (idx)g->stride, pad = (idx)g->pad;
  const idx oh = (idx)g->oh, ow = (idx)g->ow, plane = h * w, sp = (idx)s_position;
  for (idx ch = 0; ch < c; ch++) {
    for (idx ky = 0; ky < k; ky++) {
      for (idx kx = 0; kx < k; kx++) {
        float *o = cn + (size_t)((ch * k + ky) * k + kx) * s_value;
        idx lo, hi;
        inside_columns(g, kx, &lo, &hi);
        /* Input column of output column ox: ox·s + off, inside the row for lo <= ox < hi. */
        const idx off = kx - pad;
        for (idx oy = 0; oy < oh; oy++) {
          const idx iy = oy * s - pad + ky;
          float *orow = o + (size_t)(oy * ow) * s_position;
          const float *row = xn + ch * plane + iy * w;
          if (sp == 1) {
            if (iy < 0 || iy >= h) {
              zero_run(orow, ow);
              continue;
            }
            zero_run(orow, lo);
            if (s == 1) copy_run(orow + lo, row + lo + off, hi - lo);
            else
              for (idx ox = lo; ox < hi; ox++) orow[ox] = row[ox * s + off];
            zero_run(orow + hi, ow - hi);
          } else {
            const bool inside = iy >= 0 && iy < h;
            for (idx ox = 0; ox < ow; ox++) orow[ox * sp] = inside && ox >= lo && ox < hi ? row[ox * s + off] : 0.0f;
          }
        }
      }
    }
  }
}

void ngrad_im2col(const ngrad_patches *g, const float *x, size_t batch, float *cols, size_t s_image, size_t s_position,
                  size_t s_value) {
  const size_t image = g->c * g->h * g->w;
  for (size_t n = 0; n < batch; n++) {
    const float *xn = x + n * image;
    float *cn = cols + n * s_image;
    if (s_value != 1) im2col_columns(g, xn, cn, s_position, s_value);
    else if (g->k == 3) im2col_rows(g, xn, cn, s_position, 3);
    else if (g->k == 5) im2col_rows(g, xn, cn, s_position, 5);
    else im2col_rows(g, xn, cn, s_position, (idx)g->k);
  }
}

/* One image's patches in a rows layout (s_value == 1) added back onto it. NOTE: exactness and speed. Each
 * pixel must get its values in the order of the positions q = (oy, ox), as in the js reference. Walking
 * patch by patch does that, but for stride 1 each patch's runs overlap the previous patch's, and every
 * load waits for the store just before it. So, per input row (oy, c, ky), the runs are added column kx by
 * column from the last kx to the first, each over all ox: a pixel hit from positions ox < ox' gets
 * kx > kx', so it still sees ox ascending, and no two adds of a sweep touch the same pixel. */
static inline __attribute__((always_inline)) void col2im_rows(const ngrad_patches *g, const float *cn, size_t s_position,
                                                              float *dn, idx k) {
  const idx c = (idx)g->c, h = (idx)g->h, w = (idx)g->w, s = (idx)g->stride, pad = (idx)g->pad;
  const idx oh = (idx)g->oh, ow = (idx)g->ow, plane = h * w, sp = (idx)s_position;
  for (idx oy = 0; oy < oh; oy++) {
    for (idx ch = 0; ch < c; ch++) {
      for (idx ky = 0; ky < k; ky++) {
        const idx iy = oy * s - pad + ky;
        if (iy < 0 || iy >= h) continue;
        float *row = dn + ch * plane + iy * w;
        const float *o = cn + (size_t)(oy * ow) * s_position + (size_t)((ch * k + ky) * k);
        for (idx kx = k - 1; kx >= 0; kx--) {
          idx lo, hi;
          inside_columns(g, kx, &lo, &hi);
          const idx off = kx - pad;
          for (idx ox = lo; ox < hi; ox++) row[ox * s + off] += o[ox * sp + kx];
        }
      }
    }
  }
}

void ngrad_col2im(const ngrad_patches *g, const float *cols, size_t s_image, size_t s_position, size_t s_value,
                  size_t batch, float *dx) {
  const idx c = (idx)g->c, h = (idx)g->h, w = (idx)g->w, k = (idx)g->k, s = (idx)g->stride, pad = (idx)g->pad;
  const idx oh = (idx)g->oh, ow = (idx)g->ow, plane = h * w;
  const size_t image = (size_t)(c * plane);
  if (batch > 0) memset(dx, 0, batch * image * sizeof(float));
  if (s_value == 1) {
    /* Rows layouts: bit for bit the js reference's sums (see col2im_rows). */
    for (size_t n = 0; n < batch; n++) {
      const float *cn = cols + n * s_image;
      float *dn = dx + n * image;
      if (k == 3) col2im_rows(g, cn, s_position, dn, 3);
      else if (k == 5) col2im_rows(g, cn, s_position, dn, 5);
      else col2im_rows(g, cn, s_position, dn, k);
    }
    return;
  }
  /* Other layouts, the columns one above all: each patch value j's run over the positions of an output
   * row is added to a run of an input row (vectorised for stride 1); the order of the sums differs from
   * the js reference's, which stays within float32 rounding. */
  const idx sp = (idx)s_position;
  for (size_t n = 0; n < batch; n++) {
    float *dn = dx + n * image;
    const float *cn = cols + n * s_image;
    for (idx ch = 0; ch < c; ch++) {
      for (idx ky = 0; ky < k; ky++) {
        for (idx kx = 0; kx < k; kx++) {
          const float *o = cn + (size_t)((ch * k + ky) * k + kx) * s_value;
          idx lo, hi;
          inside_columns(g, kx, &lo, &hi);
          for (idx oy = 0; oy < oh; oy++) {
            const idx iy = oy * s - pad + ky;
            if (iy < 0 || iy >= h || hi <= lo) continue;
            float *row = dn + ch * plane + iy * w + (kx - pad) + lo * s;
            const float *from = o + (size_t)(oy * ow) * s_position + lo * sp;
            if (s == 1 && sp == 1)
              for (idx i = 0; i < hi - lo; i++) row[i] += from[i];
            else
              for (idx i = 0; i < hi - lo; i++) row[i * s] += from[i * sp];
          }
        }
      }
    }
  }
}

/* Tiles of TILE x TILE values: a tile's source rows and destination rows both stay in L1. */
#define TILE 32

#ifdef __AVX__
/* b[0..8, 0..8] = a[0..8, 0..8]^T, rows lda and ldb apart: the classic unpack/shuffle/permute network. */
static inline void transpose8x8(const float *a, size_t lda, float *b, size_t ldb) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(a + i * lda);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; i++) {
    _mm256_storeu_ps(b + i * ldb, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(b + (i + 4) * ldb, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}
#endif

void ngrad_transpose_rows(size_t rows, size_t cols, size_t first, size_t last, const float *restrict a,
                          float *restrict b) {
  for (size_t r0 = first; r0 < last; r0 += TILE) {
    const size_t r1 = r0 + TILE < last ? r0 + TILE : last;
    for (size_t c0 = 0; c0 < cols; c0 += TILE) {
      const size_t c1 = c0 + TILE < cols ? c0 + TILE : cols;
      size_t r = r0;
#ifdef __AVX__
      /* A copy either way, so the vector path gives the same bits as the scalar one. */
      for (; r + 8 <= r1; r += 8) {
        size_t c = c0;
        for (; c + 8 <= c1; c += 8) transpose8x8(a + r * cols + c, cols, b + c * rows + r, rows);
        for (; c < c1; c++)
          for (size_t i = r; i < r + 8; i++) b[c * rows + i] = a[i * cols + c];
      }
#endif
      for (size_t c = c0; c < c1; c++)
        for (size_t i = r; i < r1; i++) b[c * rows + i] = a[i * cols + c];
    }
  }
}

void ngrad_transpose_blocks(size_t count, size_t rows, size_t cols, const float *restrict src, float *restrict dst) {
  for (size_t t = 0; t < count; t++) ngrad_transpose_rows(rows, cols, 0, rows, src + t * rows * cols, dst + t * rows * cols);
}

void ngrad_pool2d(int mode, const ngrad_patches *g, const float *x, size_t batch, float *z) {
  const idx c = (idx)g->c, h = (idx)g->h, w = (idx)g->w, k = (idx)g->k, s = (idx)g->stride;
  const idx oh = (idx)g->oh, ow = (idx)g->ow;
  const double scale = 1.0 / (double)(k * k);
  for (size_t n = 0; n < batch; n++) {
    const float *xn = x + n * (size_t)(c * h * w);
    float *zn = z + n * (size_t)(c * oh * ow);
    for (idx ch = 0; ch < c; ch++) {
      for (idx oy = 0; oy < oh; oy++) {
        for (idx ox = 0; ox < ow; ox++) {
          const float *corner = xn + (ch * h + oy * s) * w + ox * s;
          float v;
          if (mode == NGRAD_POOL_MAX) {
            v = corner[0];
            for (idx ky = 0; ky < k; ky++)
              for (idx kx = 0; kx < k; kx++)
                if (corner[ky * w + kx] > v) v = corner[ky * w + kx];
          } else {
            v = 0.0f;
            for (idx ky = 0; ky < k; ky++)
              for (idx kx = 0; kx < k; kx++) v = (float)((double)v + scale * (double)corner[ky * w + kx]);
          }
          zn[(ch * oh + oy) * ow + ox] = v;
        }
      }
    }
  }
}

void ngrad_pool2d_backward(int mode, const ngrad_patches *g, const float *x, const float *dz, size_t batch,
                           float *dx) {
  const idx c = (idx)g->c, h = (idx)g->h, w = (idx)g->w, k = (idx)g->k, s = (idx)g->stride;
  const idx oh = (idx)g->oh, ow = (idx)g->ow;
  const double scale = 1.0 / (double)(k * k);
  if (batch > 0) memset(dx, 0, batch * (size_t)(c * h * w) * sizeof(float));
  for (size_t n = 0; n < batch; n++) {
    const size_t in0 = n * (size_t)(c * h * w);
    const float *dzn = dz + n * (size_t)(c * oh * ow);
    for (idx ch = 0; ch < c; ch++) {
      for (idx oy = 0; oy < oh; oy++) {
        for (idx ox = 0; ox < ow; ox++) {
          const float d = dzn[(ch * oh + oy) * ow + ox];
          const idx corner = (ch * h + oy * s) * w + ox * s;
          float *dc = dx + in0 + corner;
          if (mode == NGRAD_POOL_MAX) {
            const float *xc = x + in0 + corner;
            /* NOTE: selects, not branches: on real data the argmax is a coin toss per step and
             * mispredicted branches cost more than the rest of the kernel. */
            idx best = 0;
            float top = xc[0];
            for (idx ky = 0; ky < k; ky++)
              for (idx kx = 0; kx < k; kx++) {
                const float v = xc[ky * w + kx];
                const bool above = v > top;
                best = above ? ky * w + kx : best;
                top = above ? v : top;
              }
            dc[best] += d;
          } else {
            for (idx ky = 0; ky < k; ky++)
              for (idx kx = 0; kx < k; kx++) dc[ky * w + kx] = (float)((double)dc[ky * w + kx] + scale * (double)d);
          }
        }
      }
    }
  }
}
