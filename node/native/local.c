/* local2d's three products (Backend.local2d in src/tensor/backend.ts), position by position: each position's
 * patches of the whole batch are made just before its GEMMs, while they are in cache, and the positions (the
 * images, for the input error) are shared between threads.
 *
 * NOTE: why. The lowered version (src/tensor/local-lowering.ts) makes every position's patches first, a buffer
 * of P·B·K floats (5.6 MB for Bartunov et al.'s second LC layer at batch 100) written and read back from
 * memory: im2col and col2im took about half of the layer's time (bench/conv.ts). One position's patches
 * (B·K floats, 115 KB there) stay in L2 between the copy and the GEMM, which OpenBLAS runs at about 90 % of
 * a core's peak on these shapes (100 x 64 x 288).
 *
 * The results do not depend on the thread count: every position's forward and weight-gradient GEMM is one
 * whole sgemm on one thread, and the input error computes each image alone (its GEMM rows, one position at a
 * time in position order). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "threads.h"

void openblas_set_num_threads(int);
int openblas_get_num_threads(void);

typedef struct {
  int op;
  const ngrad_patches *g;
  size_t out, batch, first, last; /* positions [first, last), or images for the input error */
  const float *a, *b, *zq;        /* zq: dz as [P, B·out] (weight gradient, input error) */
  float *c, *scratch;             /* scratch: B·K floats of patches (or patch errors), per job */
} local_job;

/* cols [B, K] = position q's patch of images [0, images) of x (zeros where it hangs over the border). */
static void gather_position(const ngrad_patches *g, size_t q, const float *x, size_t images, float *cols) {
  const size_t k = g->k, K = g->c * k * k, image = g->c * g->h * g->w;
  const long y0 = (long)((q / g->ow) * g->stride) - (long)g->pad, x0 = (long)((q % g->ow) * g->stride) - (long)g->pad;
  for (size_t n = 0; n < images; n++) {
    float *patch = cols + n * K;
    for (size_t ch = 0; ch < g->c; ch++)
      for (size_t ky = 0; ky < k; ky++, patch += k) {
        const long iy = y0 + (long)ky;
        if (iy < 0 || iy >= (long)g->h) {
          memset(patch, 0, k * sizeof(float));
          continue;
        }
        const float *row = x + n * image + (ch * g->h + (size_t)iy) * g->w;
        for (size_t kx = 0; kx < k; kx++) {
          const long ix = x0 + (long)kx;
          patch[kx] = ix >= 0 && ix < (long)g->w ? row[ix] : 0.0f;
        }
      }
  }
}

/* dx of images [0, images) += position q's patch errors dcols [images, K] (the adjoint of gather_position). */
static void scatter_position(const ngrad_patches *g, size_t q, const float *dcols, size_t images, float *dx) {
  const size_t k = g->k, K = g->c * k * k, image = g->c * g->h * g->w;
  const long y0 = (long)((q / g->ow) * g->stride) - (long)g->pad, x0 = (long)((q % g->ow) * g->stride) - (long)g->pad;
  for (size_t n = 0; n < images; n++) {
    const float *patch = dcols + n * K;
    for (size_t ch = 0; ch < g->c; ch++)
      for (size_t ky = 0; ky < k; ky++, patch += k) {
        const long iy = y0 + (long)ky;
        if (iy < 0 || iy >= (long)g->h) continue;
        float *row = dx + n * image + (ch * g->h + (size_t)iy) * g->w;
        for (size_t kx = 0; kx < k; kx++) {
          const long ix = x0 + (long)kx;
          if (ix >= 0 && ix < (long)g->w) row[ix] += patch[kx];
        }
      }
  }
}

static void *run_local_job(void *arg) {
  const local_job *j = arg;
  const ngrad_patches *g = j->g;
  const size_t K = g->c * g->k * g->k, B = j->batch, out = j->out, image = g->c * g->h * g->w;
  const int m = (int)B, n = (int)out, kk = (int)K;
  if (j->op == NGRAD_CONV_INPUT_ERROR) {
    /* Images [first, last): dcols_q [nb, K] = dZq_q [nb, out] · F_q [out, K], added back onto their pixels. */
    const size_t nb = j->last - j->first, P = g->oh * g->ow;
    float *dx = j->c + j->first * image;
    memset(dx, 0, nb * image * sizeof(float));
    for (size_t q = 0; q < P && nb > 0; q++) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, kk, n, 1.0f, j->zq + (q * B + j->first) * out, n,
                  j->a + q * out * K, kk, 0.0f, j->scratch, kk);
      scatter_position(g, q, j->scratch, nb, dx);
    }
    return NULL;
  }
  const float *x = j->op == NGRAD_CONV_FORWARD ? j->a : j->b;
  for (size_t q = j->first; q < j->last; q++) {
    gather_position(g, q, x, B, j->scratch);
    if (j->op == NGRAD_CONV_FORWARD)
      /* Zq_q [B, out] = cols_q [B, K] · W_qᵀ, into zq (c, [P, B·out]). */
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, kk, 1.0f, j->scratch, kk, j->b + q * out * K, kk, 0.0f,
                  j->c + q * B * out, n);
    else
      /* dW_q [out, K] = dZq_qᵀ [out, B] · cols_q [B, K]. */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, kk, m, 1.0f, j->zq + q * B * out, n, j->scratch, kk, 0.0f,
                  j->c + q * out * K, kk);
  }
  return NULL;
}

int ngrad_local2d(int op, const ngrad_patches *g, size_t out, size_t batch, const float *a, const float *b, float *c,
                  int threads) {
  const size_t P = g->oh * g->ow, K = g->c * g->k * g->k;
  if (batch == 0) {
    if (op == NGRAD_CONV_WEIGHT_GRAD) memset(c, 0, P * out * K * sizeof(float));
    return 0;
  }
  const size_t items = op == NGRAD_CONV_INPUT_ERROR ? batch : P;
  size_t parts = (size_t)(threads < 1 ? 1 : threads);
  if (parts > NGRAD_CONV_MAX_THREADS) parts = NGRAD_CONV_MAX_THREADS;
  if (parts > items) parts = items;
  /* zq: the forward pass's [P, B·out] before its transpose into z, or dz transposed to it. */
  const size_t zq_floats = (P * batch * out + 15) / 16 * 16;
  float *zq = ngrad_thread_scratch(zq_floats + parts * batch * K), *scratch = zq + zq_floats;
  if (zq == NULL) return -1;
  if (op != NGRAD_CONV_FORWARD) ngrad_transpose_blocks(1, batch * out, P, op == NGRAD_CONV_WEIGHT_GRAD ? a : b, zq);
  local_job jobs[NGRAD_CONV_MAX_THREADS];
  for (size_t t = 0; t < parts; t++)
    jobs[t] = (local_job){op, g, out, batch, items * t / parts, items * (t + 1) / parts, a, b, zq,
                          op == NGRAD_CONV_FORWARD ? zq : c, scratch + t * batch * K};
  const int blas_threads = openblas_get_num_threads();
  if (parts > 1) openblas_set_num_threads(1);
  ngrad_run_threads(run_local_job, jobs, sizeof(local_job), parts);
  if (parts > 1) openblas_set_num_threads(blas_threads);
  if (op == NGRAD_CONV_FORWARD) ngrad_transpose_blocks(1, P, batch * out, zq, c); /* [P, B·out] → z [B·out, P] */
  return 0;
}
