/* N-API glue of the ngrad native backend: validates arguments, then calls OpenBLAS cblas_sgemm or a
 * kernel from kernels.c, kernels-ieee.c, kernels-image.c or conv.c. Every length is checked here against what the
 * kernel will touch, so a wrong call from JavaScript throws instead of reading or writing out of bounds.
 * The TypeScript side (node/native-backend.ts) checks shapes first and gives the friendlier messages;
 * these checks are the last line. Float32Arrays are used in place: napi_get_typedarray_info already
 * returns the data pointer advanced by the view's byteOffset, so subarrays work without copies. */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

typedef struct {
  float *data;
  size_t len;
} f32_view;

/* Throws a JS Error (or TypeError) "ngrad native <fn>: <msg>" and returns NULL for the caller to return. */
static napi_value fail(napi_env env, bool type_error, const char *fn, const char *msg) {
  char text[256];
  snprintf(text, sizeof text, "ngrad native %s: %s", fn, msg);
  if (type_error)
    napi_throw_type_error(env, NULL, text);
  else
    napi_throw_error(env, NULL, text);
  return NULL;
}

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    fail(env, false, fn, "cannot read arguments");
    return false;
  }
  if (argc < want) {
    char msg[64];
    snprintf(msg, sizeof msg, "expected %zu arguments, got %zu", want, argc);
    fail(env, true, fn, msg);
    return false;
  }
  return true;
}

static bool get_f32(napi_env env, napi_value v, const char *fn, const char *name, f32_view *out) {
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  char msg[96];
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float32_array) {
    snprintf(msg, sizeof msg, "%s must be a Float32Array", name);
    fail(env, true, fn, msg);
    return false;
  }
  out->data = (float *)data;
  out->len = length;
  return true;
}

static bool get_double(napi_env env, napi_value v, const char *fn, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a number", name);
    fail(env, true, fn, msg);
    return false;
  }
  return true;
}

/* A count that must fit BLAS's 32-bit int. */
static bool get_count(napi_env env, napi_value v, const char *fn, const char *name, size_t *out) {
  double d;
  if (!get_double(env, v, fn, name, &d)) return false;
  if (!(d >= 0 && d <= (double)INT_MAX && d == floor(d))) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be an integer in [0, %d], got %g", name, INT_MAX, d);
    fail(env, true, fn, msg);
    return false;
  }
  *out = (size_t)d;
  return true;
}

static bool get_bool(napi_env env, napi_value v, const char *fn, const char *name, bool *out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a boolean", name);
    fail(env, true, fn, msg);
    return false;
  }
  return true;
}

static bool get_activation(napi_env env, napi_value v, const char *fn, int *out) {
  size_t code;
  if (!get_count(env, v, fn, "activation code", &code)) return false;
  if (code >= NGRAD_ACTIVATION_COUNT) {
    fail(env, true, fn, "unknown activation code");
    return false;
  }
  *out = (int)code;
  return true;
}

/* Needs `have` values to hold a rows x cols matrix (both counts are below 2^31, so no overflow). */
static bool check_holds(napi_env env, const char *fn, const char *name, size_t have, size_t rows, size_t cols) {
  if (have < rows * cols) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s holds %zu values, shape %zux%zu needs %zu", name, have, rows, cols, rows * cols);
    fail(env, false, fn, msg);
    return false;
  }
  return true;
}

static bool check_len(napi_env env, const char *fn, const char *name, size_t have, size_t want) {
  if (have != want) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s has %zu values, expected %zu", name, have, want);
    fail(env, false, fn, msg);
    return false;
  }
  return true;
}

static bool overlap(const float *a, size_t na, const float *b, size_t nb) {
  if (na == 0 || nb == 0) return false;
  const uintptr_t a0 = (uintptr_t)a, a1 = (uintptr_t)(a + na), b0 = (uintptr_t)b, b1 = (uintptr_t)(b + nb);
  return a0 < b1 && b0 < a1;
}

/* Element-wise kernels accept an output that is exactly an input, or disjoint from it; anything in
 * between would read values already overwritten. */
static bool check_alias(napi_env env, const char *fn, const char *a_name, const float *a, size_t na,
                        const char *b_name, const float *b, size_t nb, bool same_ok) {
  if ((same_ok && a == b && na == nb) || !overlap(a, na, b, nb)) return true;
  char msg[128];
  snprintf(msg, sizeof msg, "%s and %s share memory%s", a_name, b_name,
           same_ok ? " without being the same array" : "");
  fail(env, false, fn, msg);
  return false;
}

/* gemm(transA, transB, m, n, k, alpha, A, B, beta, C): C[m,n] = alpha*op(A)*op(B) + beta*C, all
 * contiguous row-major. With beta = 0, C is not read (OpenBLAS then zeroes it first). */
static napi_value gemm(napi_env env, napi_callback_info info) {
  const char *fn = "gemm";
  napi_value argv[10];
  bool ta, tb;
  size_t m, n, k;
  double alpha, beta;
  f32_view a, b, c;
  if (!get_args(env, info, 10, argv, fn) || !get_bool(env, argv[0], fn, "transA", &ta) ||
      !get_bool(env, argv[1], fn, "transB", &tb) || !get_count(env, argv[2], fn, "m", &m) ||
      !get_count(env, argv[3], fn, "n", &n) || !get_count(env, argv[4], fn, "k", &k) ||
      !get_double(env, argv[5], fn, "alpha", &alpha) || !get_f32(env, argv[6], fn, "A", &a) ||
      !get_f32(env, argv[7], fn, "B", &b) || !get_double(env, argv[8], fn, "beta", &beta) ||
      !get_f32(env, argv[9], fn, "C", &c))
    return NULL;
  if (!check_holds(env, fn, "A", a.len, m, k) || !check_holds(env, fn, "B", b.len, k, n) ||
      !check_holds(env, fn, "C", c.len, m, n) ||
      !check_alias(env, fn, "C", c.data, m * n, "A", a.data, m * k, false) ||
      !check_alias(env, fn, "C", c.data, m * n, "B", b.data, k * n, false))
    return NULL;
  if (m == 0 || n == 0) return NULL;
  if (k == 0) {
    /* Nothing to multiply; BLAS would also reject lda = 0. */
    for (size_t i = 0; i < m * n; i++) c.data[i] = beta == 0.0 ? 0.0f : (float)(beta * c.data[i]);
    return NULL;
  }
  /* Leading dimensions of the stored (untransposed) row-major arrays: A is [k,m] when transposed. */
  const int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n), ldc = (int)n;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
              (int)k, (float)alpha, a.data, lda, b.data, ldb, (float)beta, c.data, ldc);
  return NULL;
}

/* activate(code, z, out, slope) */
static napi_value activate(napi_env env, napi_callback_info info) {
  const char *fn = "activate";
  napi_value argv[4];
  int kind;
  f32_view z, out;
  double slope;
  if (!get_args(env, info, 4, argv, fn) || !get_activation(env, argv[0], fn, &kind) ||
      !get_f32(env, argv[1], fn, "z", &z) || !get_f32(env, argv[2], fn, "out", &out) ||
      !get_double(env, argv[3], fn, "slope", &slope))
    return NULL;
  if (!check_len(env, fn, "out", out.len, z.len) ||
      !check_alias(env, fn, "out", out.data, out.len, "z", z.data, z.len, true))
    return NULL;
  ngrad_activate(kind, z.data, out.data, z.len, (float)slope);
  return NULL;
}

/* activateBackward(code, z, h, dh, dz, slope): only the arrays the activation reads are checked. */
static napi_value activate_backward(napi_env env, napi_callback_info info) {
  const char *fn = "activateBackward";
  napi_value argv[6];
  int kind;
  f32_view z, h, dh, dz;
  double slope;
  if (!get_args(env, info, 6, argv, fn) || !get_activation(env, argv[0], fn, &kind) ||
      !get_f32(env, argv[1], fn, "z", &z) || !get_f32(env, argv[2], fn, "h", &h) ||
      !get_f32(env, argv[3], fn, "dh", &dh) || !get_f32(env, argv[4], fn, "dz", &dz) ||
      !get_double(env, argv[5], fn, "slope", &slope))
    return NULL;
  const size_t n = dz.len;
  const bool reads_z = kind == NGRAD_RELU || kind == NGRAD_LEAKY_RELU || kind == NGRAD_HARD_SIGMOID;
  const bool reads_h = kind == NGRAD_TANH || kind == NGRAD_SIGMOID;
  if (!check_len(env, fn, "dh", dh.len, n) ||
      !check_alias(env, fn, "dz", dz.data, n, "dh", dh.data, dh.len, true) ||
      (reads_z && (!check_len(env, fn, "z", z.len, n) ||
                   !check_alias(env, fn, "dz", dz.data, n, "z", z.data, z.len, true))) ||
      (reads_h && (!check_len(env, fn, "h", h.len, n) ||
                   !check_alias(env, fn, "dz", dz.data, n, "h", h.data, h.len, true))))
    return NULL;
  ngrad_activate_backward(kind, z.data, h.data, dh.data, dz.data, n, (float)slope);
  return NULL;
}

/* addRowVector(m, rows, cols, v) */
static napi_value add_row_vector(napi_env env, napi_callback_info info) {
  const char *fn = "addRowVector";
  napi_value argv[4];
  f32_view m, v;
  size_t rows, cols;
  if (!get_args(env, info, 4, argv, fn) || !get_f32(env, argv[0], fn, "m", &m) ||
      !get_count(env, argv[1], fn, "rows", &rows) || !get_count(env, argv[2], fn, "cols", &cols) ||
      !get_f32(env, argv[3], fn, "v", &v))
    return NULL;
  if (!check_holds(env, fn, "m", m.len, rows, cols) || !check_len(env, fn, "v", v.len, cols) ||
      !check_alias(env, fn, "m", m.data, rows * cols, "v", v.data, v.len, false))
    return NULL;
  ngrad_add_row_vector(m.data, rows, cols, v.data);
  return NULL;
}

/* sumRows(m, rows, cols, alpha, beta, out) */
static napi_value sum_rows(napi_env env, napi_callback_info info) {
  const char *fn = "sumRows";
  napi_value argv[6];
  f32_view m, out;
  size_t rows, cols;
  double alpha, beta;
  if (!get_args(env, info, 6, argv, fn) || !get_f32(env, argv[0], fn, "m", &m) ||
      !get_count(env, argv[1], fn, "rows", &rows) || !get_count(env, argv[2], fn, "cols", &cols) ||
      !get_double(env, argv[3], fn, "alpha", &alpha) || !get_double(env, argv[4], fn, "beta", &beta) ||
      !get_f32(env, argv[5], fn, "out", &out))
    return NULL;
  if (!check_holds(env, fn, "m", m.len, rows, cols) || !check_len(env, fn, "out", out.len, cols) ||
      !check_alias(env, fn, "out", out.data, out.len, "m", m.data, rows * cols, false))
    return NULL;
  ngrad_sum_rows(m.data, rows, cols, alpha, beta, out.data);
  return NULL;
}

/* axpby(alpha, x, beta, y) */
static napi_value axpby(napi_env env, napi_callback_info info) {
  const char *fn = "axpby";
  napi_value argv[4];
  f32_view x, y;
  double alpha, beta;
  if (!get_args(env, info, 4, argv, fn) || !get_double(env, argv[0], fn, "alpha", &alpha) ||
      !get_f32(env, argv[1], fn, "x", &x) || !get_double(env, argv[2], fn, "beta", &beta) ||
      !get_f32(env, argv[3], fn, "y", &y))
    return NULL;
  if (!check_len(env, fn, "y", y.len, x.len) ||
      !check_alias(env, fn, "y", y.data, y.len, "x", x.data, x.len, true))
    return NULL;
  ngrad_axpby(x.len, alpha, x.data, beta, y.data);
  return NULL;
}

/* adam(g, m, v, b1, b2, c1, c2, eps) */
static napi_value adam(napi_env env, napi_callback_info info) {
  const char *fn = "adam";
  napi_value argv[8];
  f32_view g, m, v;
  double b1, b2, c1, c2, eps;
  if (!get_args(env, info, 8, argv, fn) || !get_f32(env, argv[0], fn, "g", &g) ||
      !get_f32(env, argv[1], fn, "m", &m) || !get_f32(env, argv[2], fn, "v", &v) ||
      !get_double(env, argv[3], fn, "b1", &b1) || !get_double(env, argv[4], fn, "b2", &b2) ||
      !get_double(env, argv[5], fn, "c1", &c1) || !get_double(env, argv[6], fn, "c2", &c2) ||
      !get_double(env, argv[7], fn, "eps", &eps))
    return NULL;
  if (!check_len(env, fn, "m", m.len, g.len) || !check_len(env, fn, "v", v.len, g.len) ||
      !check_alias(env, fn, "g", g.data, g.len, "m", m.data, m.len, true) ||
      !check_alias(env, fn, "g", g.data, g.len, "v", v.data, v.len, true) ||
      !check_alias(env, fn, "m", m.data, m.len, "v", v.data, v.len, true))
    return NULL;
  ngrad_adam(g.len, g.data, m.data, v.data, b1, b2, c1, c2, eps);
  return NULL;
}

/* clip(x, lo, hi, out): the TypeScript side has checked lo <= hi. */
static napi_value clip(napi_env env, napi_callback_info info) {
  const char *fn = "clip";
  napi_value argv[4];
  f32_view x, out;
  double lo, hi;
  if (!get_args(env, info, 4, argv, fn) || !get_f32(env, argv[0], fn, "x", &x) ||
      !get_double(env, argv[1], fn, "lo", &lo) || !get_double(env, argv[2], fn, "hi", &hi) ||
      !get_f32(env, argv[3], fn, "out", &out))
    return NULL;
  if (!check_len(env, fn, "out", out.len, x.len) ||
      !check_alias(env, fn, "out", out.data, out.len, "x", x.data, x.len, true))
    return NULL;
  ngrad_clip(x.data, out.data, x.len, (float)lo, (float)hi);
  return NULL;
}

/* sign(x, scale, out) */
static napi_value sign(napi_env env, napi_callback_info info) {
  const char *fn = "sign";
  napi_value argv[3];
  f32_view x, out;
  double scale;
  if (!get_args(env, info, 3, argv, fn) || !get_f32(env, argv[0], fn, "x", &x) ||
      !get_double(env, argv[1], fn, "scale", &scale) || !get_f32(env, argv[2], fn, "out", &out))
    return NULL;
  if (!check_len(env, fn, "out", out.len, x.len) ||
      !check_alias(env, fn, "out", out.data, out.len, "x", x.data, x.len, true))
    return NULL;
  ngrad_sign(x.data, out.data, x.len, (float)scale);
  return NULL;
}

/* bernoulli(p, u, out): p and u are only read, so they may overlap each other in any way. */
static napi_value bernoulli(napi_env env, napi_callback_info info) {
  const char *fn = "bernoulli";
  napi_value argv[3];
  f32_view p, u, out;
  if (!get_args(env, info, 3, argv, fn) || !get_f32(env, argv[0], fn, "p", &p) ||
      !get_f32(env, argv[1], fn, "u", &u) || !get_f32(env, argv[2], fn, "out", &out))
    return NULL;
  if (!check_len(env, fn, "u", u.len, p.len) || !check_len(env, fn, "out", out.len, p.len) ||
      !check_alias(env, fn, "out", out.data, out.len, "p", p.data, p.len, true) ||
      !check_alias(env, fn, "out", out.data, out.len, "u", u.data, u.len, true))
    return NULL;
  ngrad_bernoulli(p.data, u.data, out.data, p.len);
  return NULL;
}

/* Counts in double for length checks: exact while the true value is below 2^53, and above that never
 * smaller than a Float32Array's length, so a too-short array is always caught. */
static bool check_need(napi_env env, const char *fn, const char *name, size_t have, double need) {
  if ((double)have < need) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s holds %zu values, needs %.0f", name, have, need);
    fail(env, false, fn, msg);
    return false;
  }
  return true;
}

/* Reads the 8 counts c, h, w, k, stride, pad, oh, ow at argv[0..7] and checks that they are consistent. */
static bool get_patches(napi_env env, napi_value *argv, const char *fn, ngrad_patches *g) {
  const char *names[8] = {"c", "h", "w", "k", "stride", "pad", "oh", "ow"};
  size_t v[8];
  for (int i = 0; i < 8; i++)
    if (!get_count(env, argv[i], fn, names[i], &v[i])) return false;
  *g = (ngrad_patches){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  const bool fits = g->h + 2 * g->pad >= g->k && g->w + 2 * g->pad >= g->k;
  if (g->c < 1 || g->k < 1 || g->stride < 1 || !fits || g->oh != (g->h + 2 * g->pad - g->k) / g->stride + 1 ||
      g->ow != (g->w + 2 * g->pad - g->k) / g->stride + 1) {
    fail(env, true, fn, "inconsistent patch geometry");
    return false;
  }
  return true;
}

/* The index one past the last value a patch layout addresses for `batch` images (0 for none). */
static double layout_need(const ngrad_patches *g, size_t batch, size_t s_image, size_t s_position, size_t s_value) {
  if (batch == 0) return 0;
  return (double)(batch - 1) * (double)s_image + ((double)g->oh * (double)g->ow - 1) * (double)s_position +
         ((double)g->c * (double)g->k * (double)g->k - 1) * (double)s_value + 1;
}

/* gemmBatched(transA, transB, m, n, k, alpha, A, B, beta, C, count, strideA, strideB, strideC): for i <
 * count, C_i = alpha*op(A_i)*op(B_i) + beta*C_i with X_i at X + i*strideX; strideC = 0 sums every
 * product into C (beta applied once). NOTE: each product is one cblas_sgemm call, so OpenBLAS threads
 * (or not) by the size of one product. */
static napi_value gemm_batched(napi_env env, napi_callback_info info) {
  const char *fn = "gemmBatched";
  napi_value argv[14];
  bool ta, tb;
  size_t m, n, k, count, sa, sb, sc;
  double alpha, beta;
  f32_view a, b, c;
  if (!get_args(env, info, 14, argv, fn) || !get_bool(env, argv[0], fn, "transA", &ta) ||
      !get_bool(env, argv[1], fn, "transB", &tb) || !get_count(env, argv[2], fn, "m", &m) ||
      !get_count(env, argv[3], fn, "n", &n) || !get_count(env, argv[4], fn, "k", &k) ||
      !get_double(env, argv[5], fn, "alpha", &alpha) || !get_f32(env, argv[6], fn, "A", &a) ||
      !get_f32(env, argv[7], fn, "B", &b) || !get_double(env, argv[8], fn, "beta", &beta) ||
      !get_f32(env, argv[9], fn, "C", &c) || !get_count(env, argv[10], fn, "count", &count) ||
      !get_count(env, argv[11], fn, "strideA", &sa) || !get_count(env, argv[12], fn, "strideB", &sb) ||
      !get_count(env, argv[13], fn, "strideC", &sc))
    return NULL;
  if (count == 0) return NULL;
  const double last = (double)(count - 1);
  const double need_a = last * (double)sa + (double)m * (double)k, need_b = last * (double)sb + (double)k * (double)n;
  const double need_c = last * (double)sc + (double)m * (double)n;
  if (!check_need(env, fn, "A", a.len, need_a) || !check_need(env, fn, "B", b.len, need_b) ||
      !check_need(env, fn, "C", c.len, need_c))
    return NULL;
  if (sc != 0 && count > 1 && sc < m * n) return fail(env, false, fn, "C blocks overlap");
  const size_t ext_a = (size_t)need_a, ext_b = (size_t)need_b, ext_c = (size_t)need_c;
  if (!check_alias(env, fn, "C", c.data, ext_c, "A", a.data, ext_a, false) ||
      !check_alias(env, fn, "C", c.data, ext_c, "B", b.data, ext_b, false))
    return NULL;
  if (m == 0 || n == 0) return NULL;
  if (k == 0) {
    const size_t blocks = sc == 0 ? 1 : count;
    for (size_t t = 0; t < blocks; t++) {
      float *ct = c.data + t * sc;
      for (size_t i = 0; i < m * n; i++) ct[i] = beta == 0.0 ? 0.0f : (float)(beta * ct[i]);
    }
    return NULL;
  }
  const int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n), ldc = (int)n;
  for (size_t t = 0; t < count; t++) {
    const float bt = sc == 0 && t > 0 ? 1.0f : (float)beta;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, (float)alpha, a.data + t * sa, lda, b.data + t * sb, ldb, bt, c.data + t * sc, ldc);
  }
  return NULL;
}

/* transposeBlocks(count, rows, cols, src, dst) */
static napi_value transpose_blocks(napi_env env, napi_callback_info info) {
  const char *fn = "transposeBlocks";
  napi_value argv[5];
  size_t count, rows, cols;
  f32_view src, dst;
  if (!get_args(env, info, 5, argv, fn) || !get_count(env, argv[0], fn, "count", &count) ||
      !get_count(env, argv[1], fn, "rows", &rows) || !get_count(env, argv[2], fn, "cols", &cols) ||
      !get_f32(env, argv[3], fn, "src", &src) || !get_f32(env, argv[4], fn, "dst", &dst))
    return NULL;
  const double need = (double)count * (double)rows * (double)cols;
  if (!check_need(env, fn, "src", src.len, need) || !check_need(env, fn, "dst", dst.len, need) ||
      !check_alias(env, fn, "dst", dst.data, (size_t)need, "src", src.data, (size_t)need, false))
    return NULL;
  ngrad_transpose_blocks(count, rows, cols, src.data, dst.data);
  return NULL;
}

/* im2col(c, h, w, k, stride, pad, oh, ow, x, batch, cols, sImage, sPosition, sValue) */
static napi_value im2col(napi_env env, napi_callback_info info) {
  const char *fn = "im2col";
  napi_value argv[14];
  ngrad_patches g;
  f32_view x, cols;
  size_t batch, si, sp, sv;
  if (!get_args(env, info, 14, argv, fn) || !get_patches(env, argv, fn, &g) || !get_f32(env, argv[8], fn, "x", &x) ||
      !get_count(env, argv[9], fn, "batch", &batch) || !get_f32(env, argv[10], fn, "cols", &cols) ||
      !get_count(env, argv[11], fn, "sImage", &si) || !get_count(env, argv[12], fn, "sPosition", &sp) ||
      !get_count(env, argv[13], fn, "sValue", &sv))
    return NULL;
  const double need_x = (double)batch * (double)g.c * (double)g.h * (double)g.w, need_c = layout_need(&g, batch, si, sp, sv);
  if (!check_need(env, fn, "x", x.len, need_x) || !check_need(env, fn, "cols", cols.len, need_c) ||
      !check_alias(env, fn, "cols", cols.data, (size_t)need_c, "x", x.data, (size_t)need_x, false))
    return NULL;
  ngrad_im2col(&g, x.data, batch, cols.data, si, sp, sv);
  return NULL;
}

/* col2im(c, h, w, k, stride, pad, oh, ow, cols, sImage, sPosition, sValue, dx, batch) */
static napi_value col2im(napi_env env, napi_callback_info info) {
  const char *fn = "col2im";
  napi_value argv[14];
  ngrad_patches g;
  f32_view cols, dx;
  size_t batch, si, sp, sv;
  if (!get_args(env, info, 14, argv, fn) || !get_patches(env, argv, fn, &g) ||
      !get_f32(env, argv[8], fn, "cols", &cols) || !get_count(env, argv[9], fn, "sImage", &si) ||
      !get_count(env, argv[10], fn, "sPosition", &sp) || !get_count(env, argv[11], fn, "sValue", &sv) ||
      !get_f32(env, argv[12], fn, "dx", &dx) || !get_count(env, argv[13], fn, "batch", &batch))
    return NULL;
  const double need_x = (double)batch * (double)g.c * (double)g.h * (double)g.w, need_c = layout_need(&g, batch, si, sp, sv);
  if (!check_need(env, fn, "dx", dx.len, need_x) || !check_need(env, fn, "cols", cols.len, need_c) ||
      !check_alias(env, fn, "dx", dx.data, (size_t)need_x, "cols", cols.data, (size_t)need_c, false))
    return NULL;
  ngrad_col2im(&g, cols.data, si, sp, sv, batch, dx.data);
  return NULL;
}

static bool get_pool_mode(napi_env env, napi_value v, const char *fn, int *out) {
  size_t code;
  if (!get_count(env, v, fn, "pooling mode", &code)) return false;
  if (code >= NGRAD_POOL_COUNT) {
    fail(env, true, fn, "unknown pooling mode");
    return false;
  }
  *out = (int)code;
  return true;
}

/* pool2d(mode, c, h, w, k, stride, pad, oh, ow, x, batch, z): pad must be 0. */
static napi_value pool2d(napi_env env, napi_callback_info info) {
  const char *fn = "pool2d";
  napi_value argv[12];
  int mode;
  ngrad_patches g;
  f32_view x, z;
  size_t batch;
  if (!get_args(env, info, 12, argv, fn) || !get_pool_mode(env, argv[0], fn, &mode) ||
      !get_patches(env, argv + 1, fn, &g) || !get_f32(env, argv[9], fn, "x", &x) ||
      !get_count(env, argv[10], fn, "batch", &batch) || !get_f32(env, argv[11], fn, "z", &z))
    return NULL;
  if (g.pad != 0) return fail(env, true, fn, "pooling takes no padding");
  const double need_x = (double)batch * (double)g.c * (double)g.h * (double)g.w;
  const double need_z = (double)batch * (double)g.c * (double)g.oh * (double)g.ow;
  if (!check_need(env, fn, "x", x.len, need_x) || !check_need(env, fn, "z", z.len, need_z) ||
      !check_alias(env, fn, "z", z.data, (size_t)need_z, "x", x.data, (size_t)need_x, false))
    return NULL;
  ngrad_pool2d(mode, &g, x.data, batch, z.data);
  return NULL;
}

/* pool2dBackward(mode, c, h, w, k, stride, pad, oh, ow, x, dz, batch, dx): x is read by max only. */
static napi_value pool2d_backward(napi_env env, napi_callback_info info) {
  const char *fn = "pool2dBackward";
  napi_value argv[13];
  int mode;
  ngrad_patches g;
  f32_view x, dz, dx;
  size_t batch;
  if (!get_args(env, info, 13, argv, fn) || !get_pool_mode(env, argv[0], fn, &mode) ||
      !get_patches(env, argv + 1, fn, &g) || !get_f32(env, argv[9], fn, "x", &x) ||
      !get_f32(env, argv[10], fn, "dz", &dz) || !get_count(env, argv[11], fn, "batch", &batch) ||
      !get_f32(env, argv[12], fn, "dx", &dx))
    return NULL;
  if (g.pad != 0) return fail(env, true, fn, "pooling takes no padding");
  const double need_x = (double)batch * (double)g.c * (double)g.h * (double)g.w;
  const double need_z = (double)batch * (double)g.c * (double)g.oh * (double)g.ow;
  if (!check_need(env, fn, "dz", dz.len, need_z) || !check_need(env, fn, "dx", dx.len, need_x) ||
      !check_alias(env, fn, "dx", dx.data, (size_t)need_x, "dz", dz.data, (size_t)need_z, false))
    return NULL;
  if (mode == NGRAD_POOL_MAX && (!check_need(env, fn, "x", x.len, need_x) ||
                                 !check_alias(env, fn, "dx", dx.data, (size_t)need_x, "x", x.data, (size_t)need_x, false)))
    return NULL;
  ngrad_pool2d_backward(mode, &g, x.data, dz.data, batch, dx.data);
  return NULL;
}

typedef int image_product_fn(int, const ngrad_patches *, size_t, size_t, const float *, const float *, float *, int);

/* conv2d and local2d (op, c, h, w, k, stride, pad, oh, ow, out, batch, a, b, c): see ngrad_conv2d and
 * ngrad_local2d in kernels.h; banks is 1 for conv2d, oh·ow for local2d (one bank of kernels a position). */
static napi_value image_product(napi_env env, napi_callback_info info, const char *fn, bool untied, image_product_fn *run) {
  napi_value argv[14];
  size_t op, out, batch;
  ngrad_patches g;
  f32_view a, b, c;
  if (!get_args(env, info, 14, argv, fn) || !get_count(env, argv[0], fn, "op", &op) ||
      !get_patches(env, argv + 1, fn, &g) || !get_count(env, argv[9], fn, "out", &out) ||
      !get_count(env, argv[10], fn, "batch", &batch) || !get_f32(env, argv[11], fn, "a", &a) ||
      !get_f32(env, argv[12], fn, "b", &b) || !get_f32(env, argv[13], fn, "c", &c))
    return NULL;
  if (op >= NGRAD_CONV_OPS) return fail(env, true, fn, "unknown op");
  const double banks = untied ? (double)g.oh * (double)g.ow : 1.0;
  const double images = (double)batch * (double)g.c * (double)g.h * (double)g.w;
  const double outputs = (double)batch * (double)out * (double)g.oh * (double)g.ow;
  const double kernels = banks * (double)out * (double)g.c * (double)g.k * (double)g.k;
  const double need_a = op == NGRAD_CONV_FORWARD ? images : op == NGRAD_CONV_WEIGHT_GRAD ? outputs : kernels;
  const double need_b = op == NGRAD_CONV_FORWARD ? kernels : op == NGRAD_CONV_WEIGHT_GRAD ? images : outputs;
  const double need_c = op == NGRAD_CONV_FORWARD ? outputs : op == NGRAD_CONV_WEIGHT_GRAD ? kernels : images;
  if (!check_need(env, fn, "a", a.len, need_a) || !check_need(env, fn, "b", b.len, need_b) ||
      !check_need(env, fn, "c", c.len, need_c) ||
      !check_alias(env, fn, "c", c.data, (size_t)need_c, "a", a.data, (size_t)need_a, false) ||
      !check_alias(env, fn, "c", c.data, (size_t)need_c, "b", b.data, (size_t)need_b, false))
    return NULL;
  if (run((int)op, &g, out, batch, a.data, b.data, c.data, openblas_get_num_threads()) != 0)
    return fail(env, false, fn, "out of memory");
  return NULL;
}

static napi_value conv2d(napi_env env, napi_callback_info info) {
  return image_product(env, info, "conv2d", false, ngrad_conv2d);
}

static napi_value local2d(napi_env env, napi_callback_info info) {
  return image_product(env, info, "local2d", true, ngrad_local2d);
}

/* setThreads(n): OpenBLAS's thread count for the whole process. */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  const char *fn = "setThreads";
  napi_value argv[1];
  size_t threads;
  if (!get_args(env, info, 1, argv, fn) || !get_count(env, argv[0], fn, "threads", &threads)) return NULL;
  if (threads < 1) return fail(env, true, fn, "threads must be at least 1");
  openblas_set_num_threads((int)threads);
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  if (napi_create_int32(env, openblas_get_num_threads(), &result) != napi_ok) return NULL;
  return result;
}

/* blasInfo(): OpenBLAS's build configuration and the CPU kernel it picked, for benchmark reports. */
static napi_value blas_info(napi_env env, napi_callback_info info) {
  (void)info;
  char text[512];
  snprintf(text, sizeof text, "%s; core %s", openblas_get_config(), openblas_get_corename());
  napi_value result;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor props[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"activate", NULL, activate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"activateBackward", NULL, activate_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addRowVector", NULL, add_row_vector, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumRows", NULL, sum_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"axpby", NULL, axpby, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adam", NULL, adam, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clip", NULL, clip, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sign", NULL, sign, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bernoulli", NULL, bernoulli, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gemmBatched", NULL, gemm_batched, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"local2d", NULL, local2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"transposeBlocks", NULL, transpose_blocks, NULL, NULL, NULL, napi_enumerable, NULL},
      {"im2col", NULL, im2col, NULL, NULL, NULL, napi_enumerable, NULL},
      {"col2im", NULL, col2im, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pool2d", NULL, pool2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pool2dBackward", NULL, pool2d_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasInfo", NULL, blas_info, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
