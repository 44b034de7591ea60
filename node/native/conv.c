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
 * Stride-1 convolutions with pad < k skip the patches altogether: they are computed straight from padded
 * images (conv-direct.c, conv-direct-channels.c, direct_conv2d below), LeNet-5's layers at 1.4 to 2.8 times the
 * lowered products' rate. The rest (strides > 1) are lowered as above.
 *
 * The results do not depend on the thread count: forward and input error compute each image alone, and the
 * weight gradient sums its images in two fixed halves (each summed in image order by sgemm, then added),
 * whatever the number of threads. */
#include <cblas.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "conv-direct.h"
#include "kernels.h"
#include "threads.h"

void openblas_set_num_threads(int);
int openblas_get_num_threads(void);

typedef struct {
  int op;
  const ngrad_patches *g;
  size_t out, first, last;
  const float *a, *b;
  float *c;
  float *scratch; /* K·P floats: one image's patches, or its patch errors */
  /* The direct (stride-1) path: see run_direct_job. */
  const ngrad_wide *v;
  const size_t *t;
  const float *kernels;
  const size_t *s; /* the channels-in-lanes plans' position offsets */
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

/* How the direct path computes an op (see conv-direct.c). */
enum direct_plan {
  DIRECT_FORWARD,
  DIRECT_WEIGHT_GRAD,
  DIRECT_INPUT_ERROR_FLIPPED,
  DIRECT_INPUT_ERROR_GATHER,
  DIRECT_CHANNELS_FORWARD,
  DIRECT_CHANNELS_WEIGHT_GRAD
};
#define WEIGHT_GRAD_GROUP 8

/* Images [first, last) of one op straight from padded images (conv-direct.c):
 *   forward: z_n from x_n and W;
 *   weight gradient: lane sums from x_n and dz_n, WEIGHT_GRAD_GROUP images at a time (each tile's sums are
 *     loaded and stored once a group), summed into dW at the end;
 *   input error, flipped: the forward convolution of dz_n padded by k − 1 − pad with the flipped kernels;
 *   input error, gather: patch errors Fᵀ·dz_n on wide positions, then col2im as a gather;
 *   channels forward / weight gradient: the same products with the kernels in the lanes (dz_n transposed).
 * j->op holds the plan; scratch holds a part's buffers, laid out by direct_conv2d. */
static void *run_direct_job(void *arg) {
  const conv_job *j = arg;
  const ngrad_wide *v = j->v;
  const ngrad_patches *g = j->g;
  const size_t out = j->out, P = g->oh * g->ow, image = g->c * g->h * g->w, ldz = 8 * v->qv_padded;
  float *xp = j->scratch;
  for (size_t n = j->first; n < j->last; n++) {
    if (j->op == DIRECT_FORWARD) {
      float *wide = xp + v->image;
      ngrad_wide_pad(v, j->a + n * image, xp);
      ngrad_wide_forward(v, j->t, xp, j->kernels, out, wide);
      ngrad_wide_unpad_output(v, wide, out, j->c + n * out * P);
    } else if (j->op == DIRECT_WEIGHT_GRAD) {
      const size_t group = j->last - n < WEIGHT_GRAD_GROUP ? j->last - n : WEIGHT_GRAD_GROUP;
      float *errors = xp + WEIGHT_GRAD_GROUP * v->image;
      for (size_t i = 0; i < group; i++) {
        ngrad_wide_pad(v, j->b + (n + i) * image, xp + i * v->image);
        ngrad_wide_pad_output(v, j->a + (n + i) * out * P, out, errors + i * out * ldz);
      }
      ngrad_wide_weight_grad(v, j->t, xp, errors, out, group, errors + WEIGHT_GRAD_GROUP * out * ldz);
      n += group - 1;
    } else if (j->op == DIRECT_CHANNELS_FORWARD) {
      ngrad_wide_pad(v, j->a + n * image, xp);
      ngrad_channels_forward(v, j->s, j->t, xp, j->kernels, out, xp + v->image, j->c + n * out * P);
    } else if (j->op == DIRECT_CHANNELS_WEIGHT_GRAD) {
      const size_t group = j->last - n < WEIGHT_GRAD_GROUP ? j->last - n : WEIGHT_GRAD_GROUP;
      float *errors = xp + WEIGHT_GRAD_GROUP * v->image;
      for (size_t i = 0; i < group; i++) {
        ngrad_wide_pad(v, j->b + (n + i) * image, xp + i * v->image);
        ngrad_transpose_blocks(1, out, P, j->a + (n + i) * out * P, errors + i * P * out); /* dz_n → dzᵀ_n */
      }
      const ngrad_wide_step step = {v->image, P * out};
      ngrad_channels_weight_grad(v, j->s, j->t, xp, errors, out, group, &step, errors + WEIGHT_GRAD_GROUP * P * out);
      n += group - 1;
    } else if (j->op == DIRECT_INPUT_ERROR_FLIPPED) {
      /* v is dz's geometry here: out channels of oh x ow, padded by k − 1 − pad; its outputs are the c images. */
      float *wide = xp + v->image;
      ngrad_wide_pad(v, j->b + n * out * P, xp);
      ngrad_wide_forward(v, j->t, xp, j->kernels, g->c, wide);
      ngrad_wide_unpad_output(v, wide, g->c, j->c + n * image);
    } else {
      /* xp holds dz_n's wide errors, then the patch errors (zeroed once, their margins never written). */
      float *dcols = xp + out * ldz;
      ngrad_wide_pad_output(v, j->b + n * out * P, out, xp);
      ngrad_wide_patch_errors(v, j->t, xp, j->kernels, out, dcols);
      ngrad_wide_gather(v, dcols, j->c + n * image);
    }
  }
  return NULL;
}

/* The stride-1 convolutions without im2col (conv-direct.c), for pad < k (so that the input error's
 * padding k − 1 − pad is not negative). Same split of the images as ngrad_conv2d's. */
static int direct_conv2d(int op, const ngrad_patches *g, size_t out, size_t batch, const float *a, const float *b,
                         float *c, size_t parts, size_t running) {
  const size_t k = g->k, K = g->c * k * k;
  ngrad_wide v, flipped;
  ngrad_wide_geometry(&v, g->c, g->h, g->w, k, g->pad);
  ngrad_wide_geometry(&flipped, out, g->oh, g->ow, k, k - 1 - g->pad);
  int plan = op == NGRAD_CONV_FORWARD ? DIRECT_FORWARD : op == NGRAD_CONV_WEIGHT_GRAD ? DIRECT_WEIGHT_GRAD
                                                                                       : DIRECT_INPUT_ERROR_FLIPPED;
  /* The flipped convolution multiplies the zeros around dz too: LeNet-5's second layer would do 1.8 times
   * the multiply-adds of Fᵀ·dz (dz 10 x 10 padded to 18 x 18). Take the gather where it saves more than the
   * gather pass costs (about 15 %); a first layer (c = 1) does the same work either way. */
  if (plan == DIRECT_INPUT_ERROR_FLIPPED && 115 * K * v.qv * out < 100 * g->c * flipped.qv * out * k * k)
    plan = DIRECT_INPUT_ERROR_GATHER;
  /* Kernels in the lanes where they fill whole vectors and the wide rows would waste a tenth of the lanes
   * or more (LeNet-5's second layer: 16 kernels; 10 of 14 columns). */
  const bool channels = out % 8 == 0 && 10 * g->ow < 9 * v.wp;
  if (channels && plan == DIRECT_FORWARD) plan = DIRECT_CHANNELS_FORWARD;
  if (channels && plan == DIRECT_WEIGHT_GRAD) plan = DIRECT_CHANNELS_WEIGHT_GRAD;
  const size_t positions = ngrad_channels_positions(&v), P = g->oh * g->ow;
  const ngrad_wide *geometry = plan == DIRECT_INPUT_ERROR_FLIPPED ? &flipped : &v;
  const size_t ldz = 8 * geometry->qv_padded;
  size_t per_part;
  if (plan == DIRECT_FORWARD)
    per_part = v.image + out * ldz;
  else if (plan == DIRECT_WEIGHT_GRAD)
    per_part = WEIGHT_GRAD_GROUP * (v.image + out * ldz) + 8 * out * v.kp;
  else if (plan == DIRECT_INPUT_ERROR_FLIPPED)
    per_part = flipped.image + g->c * ldz;
  else if (plan == DIRECT_INPUT_ERROR_GATHER)
    per_part = out * ldz + K * ngrad_wide_patch_error_stride(&v);
  else if (plan == DIRECT_CHANNELS_FORWARD)
    per_part = v.image + (positions * out + 15) / 16 * 16;
  else
    per_part = WEIGHT_GRAD_GROUP * (v.image + (P * out + 15) / 16 * 16) + v.kp * out;
  /* After the parts: the kernels rearranged (input error) or one part's weight gradient. Cache-line aligned
   * (every part's buffers are whole lines), so that the streamed vectors never straddle two lines. */
  const size_t floats = parts * per_part + (op == NGRAD_CONV_FORWARD && plan == DIRECT_FORWARD ? 0 : K * out);
  const size_t offsets = plan == DIRECT_INPUT_ERROR_GATHER ? out : geometry->kp;
  float *scratch = ngrad_thread_scratch(floats);
  size_t *t = malloc((offsets + positions) * sizeof(size_t)), *s = t + offsets;
  if (scratch == NULL || t == NULL) {
    free(t);
    return -1;
  }
  float *extra = scratch + parts * per_part;
  const float *kernels = op == NGRAD_CONV_FORWARD ? b : a;
  if (plan == DIRECT_INPUT_ERROR_FLIPPED) {
    ngrad_wide_offsets(&flipped, t);
    /* Fl [c, out·k·k]: Fl[ch][(o·k + ky)·k + kx] = F[o][(ch·k + k−1−ky)·k + k−1−kx]. */
    for (size_t ch = 0; ch < g->c; ch++)
      for (size_t o = 0; o < out; o++)
        for (size_t ky = 0; ky < k; ky++)
          for (size_t kx = 0; kx < k; kx++)
            extra[ch * out * k * k + (o * k + ky) * k + kx] = a[o * K + (ch * k + k - 1 - ky) * k + k - 1 - kx];
    kernels = extra;
  } else if (plan == DIRECT_INPUT_ERROR_GATHER) {
    /* Fᵀ [K, out], and the rows of dz's wide errors as the patch-error tiles' "offsets". */
    for (size_t o = 0; o < out; o++) {
      t[o] = o * ldz;
      for (size_t i = 0; i < K; i++) extra[i * out + o] = a[o * K + i];
    }
    kernels = extra;
  } else {
    ngrad_wide_offsets(&v, t);
    ngrad_channels_offsets(&v, s);
    if (plan == DIRECT_CHANNELS_FORWARD) {
      ngrad_transpose_blocks(1, out, K, b, extra); /* Wᵀ [K, out] */
      kernels = extra;
    }
  }
  conv_job jobs[NGRAD_CONV_MAX_THREADS];
  for (size_t p = 0; p < parts; p++) {
    float *mine = scratch + p * per_part;
    if (plan == DIRECT_WEIGHT_GRAD) memset(mine + WEIGHT_GRAD_GROUP * (v.image + out * ldz), 0, 8 * out * v.kp * sizeof(float));
    if (plan == DIRECT_CHANNELS_WEIGHT_GRAD) memset(mine + per_part - v.kp * out, 0, v.kp * out * sizeof(float));
    if (plan == DIRECT_INPUT_ERROR_GATHER) memset(mine + out * ldz, 0, K * ngrad_wide_patch_error_stride(&v) * sizeof(float));
    jobs[p] = (conv_job){plan, g, out, batch * p / parts, batch * (p + 1) / parts, a, b, c, mine, geometry, t, kernels, s};
  }
  if (running > 1)
    ngrad_run_threads(run_direct_job, jobs, sizeof(conv_job), parts);
  else
    for (size_t p = 0; p < parts; p++) run_direct_job(&jobs[p]);
  if (plan == DIRECT_WEIGHT_GRAD) {
    /* dW = the first part's lane sums, plus the second's (the parts are fixed, whatever the threads). */
    const size_t at = WEIGHT_GRAD_GROUP * (v.image + out * ldz);
    ngrad_wide_sum_lanes(&v, scratch + at, out, c);
    for (size_t p = 1; p < parts; p++) {
      ngrad_wide_sum_lanes(&v, scratch + p * per_part + at, out, extra);
      for (size_t i = 0; i < out * K; i++) c[i] += extra[i];
    }
  }
  if (plan == DIRECT_CHANNELS_WEIGHT_GRAD) {
    /* dW = sums₀ᵀ (+ sums₁ᵀ): the first K rows of each part's sums [kp, out], transposed. */
    ngrad_transpose_blocks(1, K, out, scratch + per_part - v.kp * out, c);
    for (size_t p = 1; p < parts; p++) {
      ngrad_transpose_blocks(1, K, out, scratch + (p + 1) * per_part - v.kp * out, extra);
      for (size_t i = 0; i < out * K; i++) c[i] += extra[i];
    }
  }
  free(t);
  return 0;
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
  if (g->stride == 1 && g->pad < g->k) return direct_conv2d(op, g, out, batch, a, b, c, parts, running);
  float *scratch = ngrad_thread_scratch(parts * K * P + (parts - 1) * out * K);
  if (scratch == NULL) return -1;
  conv_job jobs[NGRAD_CONV_MAX_THREADS];
  for (size_t t = 0; t < parts; t++) {
    jobs[t] = (conv_job){op, g, out, batch * t / parts, batch * (t + 1) / parts, a, b, c, scratch + t * K * P, NULL, NULL, NULL, NULL};
    if (op == NGRAD_CONV_WEIGHT_GRAD && t > 0) jobs[t].c = scratch + parts * K * P + (t - 1) * out * K;
  }
  const int blas_threads = openblas_get_num_threads();
  if (running > 1) openblas_set_num_threads(1);
  if (running > 1)
    ngrad_run_threads(run_job, jobs, sizeof(conv_job), parts);
  else
    for (size_t t = 0; t < parts; t++) run_job(&jobs[t]);
  if (running > 1) openblas_set_num_threads(blas_threads);
  if (op == NGRAD_CONV_WEIGHT_GRAD)
    for (size_t t = 1; t < parts; t++)
      for (size_t i = 0; i < out * K; i++) c[i] += jobs[t].c[i];
  return 0;
}
