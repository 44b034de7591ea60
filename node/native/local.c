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
 * The images are the innermost axis (x transposed to [C·H·W, B] once a call), so that a position's patches
 * are K copies of B contiguous floats, not K·B scattered ones (gathering them one by one from 100 images took
 * more time than the GEMMs); the GEMMs take the patches transposed.
 *
 * The results do not depend on the thread count: every position's forward and weight-gradient GEMM is one
 * whole sgemm on one thread, and the input error computes each image alone (its GEMM columns, one position at
 * a time in position order). */
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
  const float *a, *b;
  const float *xt, *zq; /* x transposed [C·H·W, B]; dz as [P, B·out] (weight gradient, input error) */
  float *c, *scratch;   /* scratch: K·B floats of patches (or patch errors), per job */
  float *dxt;           /* the input error transposed [C·H·W, B] */
} local_job;

/* The pixel of patch value j = (ch, ky, kx) at position q, or -1 where the patch hangs over the border. */
static long patch_pixel(const ngrad_patches *g, size_t q, size_t j) {
  const size_t k = g->k, ch = j / (k * k), ky = j / k % k, kx = j % k;
  const long iy = (long)((q / g->ow) * g->stride + ky) - (long)g->pad, ix = (long)((q % g->ow) * g->stride + kx) - (long)g->pad;
  return iy < 0 || iy >= (long)g->h || ix < 0 || ix >= (long)g->w ? -1 : (long)((ch * g->h + (size_t)iy) * g->w + (size_t)ix);
}

/* colsᵀ [K, B] = position q's patches of the whole batch, one row a patch value: that pixel of every image,
 * a contiguous row of xt (zeros where the patch hangs over the border). */
static void gather_position(const ngrad_patches *g, size_t q, const float *xt, size_t B, float *cols_t) {
  const size_t K = g->c * g->k * g->k;
  for (size_t j = 0; j < K; j++) {
    const long pixel = patch_pixel(g, q, j);
    if (pixel < 0)
      memset(cols_t + j * B, 0, B * sizeof(float));
    else
      memcpy(cols_t + j * B, xt + (size_t)pixel * B, B * sizeof(float));
  }
}

typedef struct {
  size_t rows, cols, first, last;
  const float *src;
  float *dst;
} transpose_job;

static void *run_transpose_job(void *arg) {
  const transpose_job *j = arg;
  ngrad_transpose_rows(j->rows, j->cols, j->first, j->last, j->src, j->dst);
  return NULL;
}

/* dst = srcᵀ, the rows of src [rows, cols] shared between `parts` threads (a copy: the same bits however split). */
static void parallel_transpose(size_t rows, size_t cols, const float *src, float *dst, size_t parts) {
  transpose_job jobs[NGRAD_CONV_MAX_THREADS];
  if (parts > rows) parts = rows > 0 ? rows : 1;
  for (size_t t = 0; t < parts; t++) jobs[t] = (transpose_job){rows, cols, rows * t / parts, rows * (t + 1) / parts, src, dst};
  ngrad_run_threads(run_transpose_job, jobs, sizeof(transpose_job), parts);
}

static void *run_local_job(void *arg) {
  const local_job *j = arg;
  const ngrad_patches *g = j->g;
  const size_t K = g->c * g->k * g->k, B = j->batch, out = j->out;
  const int m = (int)B, n = (int)out, kk = (int)K;
  if (j->op == NGRAD_CONV_INPUT_ERROR) {
    /* Images [first, last): dcols_qᵀ [K, nb] = F_qᵀ · dZq_qᵀ, each row added onto that pixel's row of dxt. */
    const size_t nb = j->last - j->first, P = g->oh * g->ow;
    for (size_t q = 0; q < P && nb > 0; q++) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, kk, (int)nb, n, 1.0f, j->a + q * out * K, kk,
                  j->zq + (q * B + j->first) * out, n, 0.0f, j->scratch, (int)nb);
      for (size_t v = 0; v < K; v++) {
        const long pixel = patch_pixel(g, q, v);
        if (pixel < 0) continue;
        float *row = j->dxt + (size_t)pixel * B + j->first;
        const float *d = j->scratch + v * nb;
        for (size_t i = 0; i < nb; i++) row[i] += d[i];
      }
    }
    return NULL;
  }
  for (size_t q = j->first; q < j->last; q++) {
    gather_position(g, q, j->xt, B, j->scratch);
    if (j->op == NGRAD_CONV_FORWARD)
      /* Zq_q [B, out] = cols_q [B, K] · W_qᵀ, into zq (c, [P, B·out]). */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, m, n, kk, 1.0f, j->scratch, m, j->b + q * out * K, kk, 0.0f,
                  j->c + q * B * out, n);
    else
      /* dW_q [out, K] = dZq_qᵀ [out, B] · cols_q [B, K]. */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, n, kk, m, 1.0f, j->zq + q * B * out, n, j->scratch, m, 0.0f,
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
  const size_t items = op == NGRAD_CONV_INPUT_ERROR ? batch : P, image = g->c * g->h * g->w;
  size_t parts = (size_t)(threads < 1 ? 1 : threads);
  if (parts > NGRAD_CONV_MAX_THREADS) parts = NGRAD_CONV_MAX_THREADS;
  if (parts > items) parts = items;
  /* zq: the forward pass's [P, B·out] before its transpose into z, or dz transposed to it; xt: x [B, C·H·W]
   * transposed (or the input error's, dxt), so that a pixel of every image is one contiguous row. */
  const size_t zq_floats = (P * batch * out + 15) / 16 * 16, xt_floats = (image * batch + 15) / 16 * 16;
  float *zq = ngrad_thread_scratch(zq_floats + xt_floats + parts * batch * K), *xt = zq + zq_floats, *scratch = xt + xt_floats;
  if (zq == NULL) return -1;
  const size_t threads_all = (size_t)(threads < 1 ? 1 : threads);
  if (op != NGRAD_CONV_FORWARD) parallel_transpose(batch * out, P, op == NGRAD_CONV_WEIGHT_GRAD ? a : b, zq, threads_all);
  if (op == NGRAD_CONV_INPUT_ERROR)
    memset(xt, 0, image * batch * sizeof(float));
  else
    parallel_transpose(batch, image, op == NGRAD_CONV_FORWARD ? a : b, xt, threads_all);
  local_job jobs[NGRAD_CONV_MAX_THREADS];
  for (size_t t = 0; t < parts; t++)
    jobs[t] = (local_job){op, g, out, batch, items * t / parts, items * (t + 1) / parts, a, b, xt, zq,
                          op == NGRAD_CONV_FORWARD ? zq : c, scratch + t * batch * K, xt};
  const int blas_threads = openblas_get_num_threads();
  if (parts > 1) openblas_set_num_threads(1);
  ngrad_run_threads(run_local_job, jobs, sizeof(local_job), parts);
  if (parts > 1) openblas_set_num_threads(blas_threads);
  if (op == NGRAD_CONV_FORWARD) parallel_transpose(P, batch * out, zq, c, threads_all); /* [P, B·out] → z [B·out, P] */
  if (op == NGRAD_CONV_INPUT_ERROR) parallel_transpose(image, batch, xt, c, threads_all); /* dxt → dx [B, C·H·W] */
  return 0;
}
