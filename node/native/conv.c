/* conv2d's three lowered products (src/nn/conv2d.ts), image by image with each image's patches made just
 * before its product, and the images of a batch shared between threads.
 *
 * NOTE: why fused, and why threads. Lowering the whole batch first (im2col into a [B, K, P] buffer, then
 * one GEMM per image) wrote and reread a buffer of B·K·P floats (7.8 MB for LeNet-5's first layer at
 * batch 100), far beyond the caches: im2col took more than half of the forward pass. One image's patches
 * (K·P floats, 78 KB there) stay in L2 between the copy and the product. And each product is small (6 × 784
 * × 25 there), below the size at which OpenBLAS threads a GEMM, so one product ran on one core: here the
 * images are split between `threads` POSIX threads, each calling a single-threaded sgemm (OpenBLAS's own
 * threads are set to 1 for the duration and restored after).
 *
 * The results do not depend on the thread count: forward and input error compute each image alone, and the
 * weight gradient sums its images in two fixed halves (each summed in image order by sgemm, then added),
 * whatever the number of threads. */
#include <cblas.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

void openblas_set_num_threads(int);
int openblas_get_num_threads(void);

typedef struct {
  int op;
  const ngrad_patches *g;
  size_t out, first, last;
  const float *a, *b;
  float *c;
  float *scratch; /* K·P floats: one image's patches, or its patch errors */
} conv_job;

/* Images [first, last) of one op (see ngrad_conv2d in kernels.h for a, b and c). */
static void *run_job(void *arg) {
  const conv_job *j = arg;
  const ngrad_patches *g = j->g;
  const size_t P = g->oh * g->ow, K = g->c * g->k * g->k, image = g->c * g->h * g->w, out = j->out;
  const int m = (int)out, p = (int)P, kk = (int)K;
  for (size_t n = j->first; n < j->last; n++) {
    if (j->op == NGRAD_CONV_FORWARD) {
      /* z_n [out, P] = W [out, K] · cols_n [K, P] (patches as columns). */
      ngrad_im2col(g, j->a + n * image, 1, j->scratch, K * P, 1, P);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, p, kk, 1.0f, j->b, kk, j->scratch, p, 0.0f,
                  j->c + n * out * P, p);
    } else if (j->op == NGRAD_CONV_WEIGHT_GRAD) {
      /* dW [out, K] (+)= dz_n [out, P] · cols_n [P, K] (patches as rows), the first image of the range
       * overwriting. */
      ngrad_im2col(g, j->b + n * image, 1, j->scratch, P * K, K, 1);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, kk, p, 1.0f, j->a + n * out * P, p, j->scratch, kk,
                  n == j->first ? 0.0f : 1.0f, j->c, kk);
    } else {
      /* dcols_n [K, P] = Fᵀ [K, out] · dz_n [out, P], then added back onto the image's pixels. */
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, p, m, 1.0f, j->a, kk, j->b + n * out * P, p, 0.0f,
                  j->scratch, p);
      ngrad_col2im(g, j->scratch, K * P, 1, P, 1, j->c + n * image);
    }
  }
  return NULL;
}

/* Runs jobs[0..count) on `count` threads, the caller's among them; a job whose thread cannot start runs
 * on the caller's thread. */
static void run_jobs(conv_job *jobs, size_t count) {
  pthread_t ids[NGRAD_CONV_MAX_THREADS];
  bool started[NGRAD_CONV_MAX_THREADS] = {false};
  for (size_t t = 1; t < count; t++) started[t] = pthread_create(&ids[t], NULL, run_job, &jobs[t]) == 0;
  run_job(&jobs[0]);
  for (size_t t = 1; t < count; t++) {
    if (started[t])
      pthread_join(ids[t], NULL);
    else
      run_job(&jobs[t]);
  }
}

int ngrad_conv2d(int op, const ngrad_patches *g, size_t out, size_t batch, const float *a, const float *b, float *c,
                 int threads) {
  const size_t P = g->oh * g->ow, K = g->c * g->k * g->k;
  if (batch == 0) {
    if (op == NGRAD_CONV_WEIGHT_GRAD) memset(c, 0, out * K * sizeof(float));
    return 0;
  }
  /* The weight gradient's two halves are fixed; the other ops split the images between the threads. */
  size_t parts = op == NGRAD_CONV_WEIGHT_GRAD ? (batch > 1 ? 2 : 1) : (size_t)(threads < 1 ? 1 : threads);
  if (parts > NGRAD_CONV_MAX_THREADS) parts = NGRAD_CONV_MAX_THREADS;
  if (parts > batch) parts = batch;
  const size_t running = op == NGRAD_CONV_WEIGHT_GRAD && threads < 2 ? 1 : parts;
  float *scratch = malloc(parts * K * P * sizeof(float) + (parts - 1) * out * K * sizeof(float));
  if (scratch == NULL) return -1;
  conv_job jobs[NGRAD_CONV_MAX_THREADS];
  for (size_t t = 0; t < parts; t++) {
    jobs[t] = (conv_job){op, g, out, batch * t / parts, batch * (t + 1) / parts, a, b, c, scratch + t * K * P};
    if (op == NGRAD_CONV_WEIGHT_GRAD && t > 0) jobs[t].c = scratch + parts * K * P + (t - 1) * out * K;
  }
  const int blas_threads = openblas_get_num_threads();
  if (running > 1) openblas_set_num_threads(1);
  if (running > 1)
    run_jobs(jobs, parts);
  else
    for (size_t t = 0; t < parts; t++) run_job(&jobs[t]);
  if (running > 1) openblas_set_num_threads(blas_threads);
  if (op == NGRAD_CONV_WEIGHT_GRAD)
    for (size_t t = 1; t < parts; t++)
      for (size_t i = 0; i < out * K; i++) c[i] += jobs[t].c[i];
  free(scratch);
  return 0;
}
