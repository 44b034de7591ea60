// Image kernels of the wasm backend: im2col / col2im at any patch layout, batched block transposes, and
// max / average pooling forward and backward, at byte offsets in this module's memory (the caller,
// src/tensor/wasm-backend.ts, stages the operands). The same loops, in the same orders, as the native
// kernels (node/native/kernels-image.c); see there and src/tensor/backend.ts for the contracts.
//
// NOTE: exactness. The copies are exact; max pooling uses IEEE comparisons (no -ffast-math in this
// build), and the average pool rounds z + (1/k²)·x in double, a step at a time, as the js reference does
// (wasm has no fused multiply-add without relaxed SIMD, so nothing is contracted). So pooling, im2col and
// the transposes give the js reference's bits, and so does col2im in the rows layouts.
#define EXPORT(name) __attribute__((export_name(#name)))

typedef struct {
  int c, h, w, k, stride, pad, oh, ow;
} Patches;

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/** The first and one-past-last output column ox whose input column ox·stride − pad + kx is inside [0, w). */
static void insideColumns(const Patches *g, int kx, int *lo, int *hi) {
  const int s = g->stride, off = kx - g->pad;
  const int first = off >= 0 ? 0 : (-off + s - 1) / s;
  const int last = g->w - 1 - off < 0 ? -1 : (g->w - 1 - off) / s;
  *lo = imin(first, g->ow);
  *hi = imax(*lo, imin(last + 1, g->ow));
}

// Rows layouts: per input row (oy, c, ky), the k-long run of every position ox (as the native kernel);
// inlined with k a constant for the common kernel sizes, so the runs unroll.
static inline __attribute__((always_inline)) void im2colRows(const Patches *g, const float *xn, float *cn, int sp, int k) {
  const int c = g->c, h = g->h, w = g->w, s = g->stride, pad = g->pad, plane = h * w, ow = g->ow;
  for (int oy = 0; oy < g->oh; oy++) {
    float *base = cn + oy * ow * sp;
    for (int ch = 0; ch < c; ch++) {
      for (int ky = 0; ky < k; ky++) {
        const int iy = oy * s - pad + ky;
        float *o = base + (ch * k + ky) * k;
        if (iy < 0 || iy >= h) {
          for (int ox = 0; ox < ow; ox++)
            for (int kx = 0; kx < k; kx++) o[ox * sp + kx] = 0.0f;
          continue;
        }
        const float *row = xn + ch * plane + iy * w;
        for (int ox = 0; ox < ow; ox++) {
          const int x0 = ox * s - pad;
          float *to = o + ox * sp;
          if (x0 >= 0 && x0 + k <= w)
            for (int kx = 0; kx < k; kx++) to[kx] = row[x0 + kx];
          else
            for (int kx = 0; kx < k; kx++) to[kx] = x0 + kx >= 0 && x0 + kx < w ? row[x0 + kx] : 0.0f;
        }
      }
    }
  }
}

// Other layouts, the columns one above all (sp == 1): each patch value's run over an output row.
static void im2colColumns(const Patches *g, const float *xn, float *cn, int sp, int sv) {
  const int c = g->c, h = g->h, w = g->w, k = g->k, s = g->stride, pad = g->pad, plane = h * w, ow = g->ow;
  for (int ch = 0; ch < c; ch++) {
    for (int ky = 0; ky < k; ky++) {
      for (int kx = 0; kx < k; kx++) {
        float *o = cn + ((ch * k + ky) * k + kx) * sv;
        int lo, hi;
        insideColumns(g, kx, &lo, &hi);
        const int off = kx - pad;
        for (int oy = 0; oy < g->oh; oy++) {
          const int iy = oy * s - pad + ky;
          float *orow = o + oy * ow * sp;
          const float *row = xn + ch * plane + iy * w;
          if (sp != 1) {
            const int inside = iy >= 0 && iy < h;
            for (int ox = 0; ox < ow; ox++) orow[ox * sp] = inside && ox >= lo && ox < hi ? row[ox * s + off] : 0.0f;
            continue;
          }
          if (iy < 0 || iy >= h) {
            for (int ox = 0; ox < ow; ox++) orow[ox] = 0.0f;
            continue;
          }
          for (int ox = 0; ox < lo; ox++) orow[ox] = 0.0f;
          if (s == 1)
            for (int ox = lo; ox < hi; ox++) orow[ox] = row[ox + off];
          else
            for (int ox = lo; ox < hi; ox++) orow[ox] = row[ox * s + off];
          for (int ox = hi; ox < ow; ox++) orow[ox] = 0.0f;
        }
      }
    }
  }
}

/** Value j of position q of image n goes to cols[n·sImage + q·sPosition + j·sValue]. */
EXPORT(im2colWasm)
void im2colWasm(int c, int h, int w, int k, int stride, int pad, int oh, int ow, const float *x, int batch, float *cols,
                int sImage, int sPosition, int sValue) {
  const Patches g = {c, h, w, k, stride, pad, oh, ow};
  for (int n = 0; n < batch; n++) {
    const float *xn = x + n * c * h * w;
    float *cn = cols + n * sImage;
    if (sValue != 1) im2colColumns(&g, xn, cn, sPosition, sValue);
    else if (k == 3) im2colRows(&g, xn, cn, sPosition, 3);
    else if (k == 5) im2colRows(&g, xn, cn, sPosition, 5);
    else im2colRows(&g, xn, cn, sPosition, k);
  }
}

/** dx [batch, c·h·w] = the adjoint of im2col applied to cols; dx is overwritten. */
EXPORT(col2imWasm)
void col2imWasm(int c, int h, int w, int k, int stride, int pad, int oh, int ow, const float *cols, int sImage,
                int sPosition, int sValue, float *dx, int batch) {
  const Patches g = {c, h, w, k, stride, pad, oh, ow};
  const int plane = h * w;
  __builtin_memset(dx, 0, (unsigned long)batch * (unsigned long)(c * plane) * sizeof(float));
  for (int n = 0; n < batch; n++) {
    float *dn = dx + n * c * plane;
    const float *cn = cols + n * sImage;
    if (sValue == 1) {
      // Per input row (oy, c, ky), column kx from the last to the first, each over all ox: every pixel
      // still gets its values with ox (so q) ascending, as in the js reference, bit for bit, and no add
      // waits for the one before it (see col2im_rows in node/native/kernels-image.c).
      for (int oy = 0; oy < oh; oy++) {
        for (int ch = 0; ch < c; ch++) {
          for (int ky = 0; ky < k; ky++) {
            const int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= h) continue;
            float *row = dn + ch * plane + iy * w;
            const float *o = cn + oy * ow * sPosition + (ch * k + ky) * k;
            for (int kx = k - 1; kx >= 0; kx--) {
              int lo, hi;
              insideColumns(&g, kx, &lo, &hi);
              for (int ox = lo; ox < hi; ox++) row[ox * stride + kx - pad] += o[ox * sPosition + kx];
            }
          }
        }
      }
      continue;
    }
    for (int ch = 0; ch < c; ch++) {
      for (int ky = 0; ky < k; ky++) {
        for (int kx = 0; kx < k; kx++) {
          const float *o = cn + ((ch * k + ky) * k + kx) * sValue;
          int lo, hi;
          insideColumns(&g, kx, &lo, &hi);
          for (int oy = 0; oy < oh; oy++) {
            const int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= h) continue;
            const float *orow = o + oy * ow * sPosition;
            float *row = dn + ch * plane + iy * w + kx - pad;
            for (int ox = lo; ox < hi; ox++) row[ox * stride] += orow[ox * sPosition];
          }
        }
      }
    }
  }
}

#define TILE 32

/** dst[t] = src[t]ᵀ for count blocks [rows, cols]. */
EXPORT(transposeBlocksWasm)
void transposeBlocksWasm(int count, int rows, int cols, const float *src, float *dst) {
  for (int t = 0; t < count; t++) {
    const float *a = src + t * rows * cols;
    float *b = dst + t * rows * cols;
    for (int r0 = 0; r0 < rows; r0 += TILE) {
      const int r1 = imin(r0 + TILE, rows);
      for (int c0 = 0; c0 < cols; c0 += TILE) {
        const int c1 = imin(c0 + TILE, cols);
        for (int c = c0; c < c1; c++)
          for (int r = r0; r < r1; r++) b[c * rows + r] = a[r * cols + c];
      }
    }
  }
}

/** z [batch, c·oh·ow] = max (mode 0) or mean (mode 1) of each window of x [batch, c·h·w]; pad is 0. */
EXPORT(pool2dWasm)
void pool2dWasm(int mode, int c, int h, int w, int k, int stride, int pad, int oh, int ow, const float *x, int batch,
                float *z) {
  (void)pad;
  const double scale = 1.0 / (double)(k * k);
  for (int n = 0; n < batch; n++) {
    const float *xn = x + n * c * h * w;
    float *zn = z + n * c * oh * ow;
    for (int ch = 0; ch < c; ch++) {
      for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
          const float *corner = xn + (ch * h + oy * stride) * w + ox * stride;
          float v;
          if (mode == 0) {
            // A select, not a branch (and not f32.max, which would let a later NaN win).
            v = corner[0];
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                const float u = corner[ky * w + kx];
                v = u > v ? u : v;
              }
          } else {
            v = 0.0f;
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) v = (float)((double)v + scale * (double)corner[ky * w + kx]);
          }
          zn[(ch * oh + oy) * ow + ox] = v;
        }
      }
    }
  }
}

/** dx [batch, c·h·w] = pool2d's input error from dz (x read by max only); dx is overwritten. */
EXPORT(pool2dBackwardWasm)
void pool2dBackwardWasm(int mode, int c, int h, int w, int k, int stride, int pad, int oh, int ow, const float *x,
                        const float *dz, int batch, float *dx) {
  (void)pad;
  const double scale = 1.0 / (double)(k * k);
  __builtin_memset(dx, 0, (unsigned long)batch * (unsigned long)(c * h * w) * sizeof(float));
  for (int n = 0; n < batch; n++) {
    const int in0 = n * c * h * w;
    const float *dzn = dz + n * c * oh * ow;
    for (int ch = 0; ch < c; ch++) {
      for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
          const float d = dzn[(ch * oh + oy) * ow + ox];
          const int corner = in0 + (ch * h + oy * stride) * w + ox * stride;
          if (mode == 0) {
            const float *xc = x + corner;
            int best = 0;
            float top = xc[0];
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                const float v = xc[ky * w + kx];
                const int above = v > top;
                best = above ? ky * w + kx : best;
                top = above ? v : top;
              }
            dx[corner + best] += d;
          } else {
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++) {
                float *p = dx + corner + ky * w + kx;
                *p = (float)((double)*p + scale * (double)d);
              }
          }
        }
      }
    }
  }
}
