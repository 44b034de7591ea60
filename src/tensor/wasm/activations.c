// SIMD tanh and logistic sigmoid for the wasm backend, in place on n floats at a byte offset in this
// module's memory. These are the element-wise kernels where a JS loop is slowest (Math.tanh and Math.exp
// cost tens of ns each); the cheap ones (relu, bias, axpby) stay in JS, where copying into wasm memory
// would cost as much as the work. Built with gemm.c by scripts/build-wasm.mjs.
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

static inline v128_t madd(v128_t a, v128_t b, v128_t c) { return wasm_f32x4_add(wasm_f32x4_mul(a, b), c); }

/**
 * tanh(x) as an odd/even rational function of degree 13/6 (the minimax fit Eigen uses for float).
 * NOTE: relative error within a few float32 ulp on the whole line (tested against Math.tanh): beyond
 * |x| ≈ 7.9 the fit is clamped, where tanh is 1 − 2e^{−2|x|} ≈ 1 to within 3 ulp; below |x| = 4e-4 it
 * returns x, which is tanh(x) to within 6e-8 relative and keeps −0 and tiny inputs exact.
 * NaN propagates (min/max are NaN-propagating in wasm).
 */
static inline v128_t tanh4(v128_t x) {
  const v128_t clamp = wasm_f32x4_splat(7.90531110763549805f);
  v128_t xc = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_neg(clamp)), clamp);
  v128_t x2 = wasm_f32x4_mul(xc, xc);
  v128_t p = wasm_f32x4_splat(-2.76076847742355e-16f);
  p = madd(p, x2, wasm_f32x4_splat(2.00018790482477e-13f));
  p = madd(p, x2, wasm_f32x4_splat(-8.60467152213735e-11f));
  p = madd(p, x2, wasm_f32x4_splat(5.12229709037114e-08f));
  p = madd(p, x2, wasm_f32x4_splat(1.48572235717979e-05f));
  p = madd(p, x2, wasm_f32x4_splat(6.37261928875436e-04f));
  p = madd(p, x2, wasm_f32x4_splat(4.89352455891786e-03f));
  p = wasm_f32x4_mul(p, xc);
  v128_t q = wasm_f32x4_splat(1.19825839466702e-06f);
  q = madd(q, x2, wasm_f32x4_splat(1.18534705686654e-04f));
  q = madd(q, x2, wasm_f32x4_splat(2.26843463243900e-03f));
  q = madd(q, x2, wasm_f32x4_splat(4.89352518554385e-03f));
  v128_t tiny = wasm_f32x4_lt(wasm_f32x4_abs(x), wasm_f32x4_splat(0.0004f));
  return wasm_v128_bitselect(x, wasm_f32x4_div(p, q), tiny);
}

/**
 * e^x (Cephes expf): x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-7 polynomial, 2^n built in the
 * exponent bits. NOTE: ln2 is split in two (C1 + C2) so that r = x − n·ln2 loses no bits. x is clamped
 * to [−87.3, 88.7] so that n stays in [−126, 128], where building 2^n in the exponent field is valid;
 * n = 128 gives +inf, so e^x is +inf from x = 127.5·ln2 ≈ 88.38 (float32 itself overflows at 88.72),
 * and e^x for x < −87.3 is returned as e^−87.3 ≈ 1.2e-38 (only used as 1 + e^x here).
 */
static inline v128_t exp4(v128_t x) {
  x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-87.3f)), wasm_f32x4_splat(88.7f));
  v128_t n = wasm_f32x4_floor(madd(x, wasm_f32x4_splat(1.44269504088896341f), wasm_f32x4_splat(0.5f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t y = wasm_f32x4_splat(1.9875691500e-4f);
  y = madd(y, r, wasm_f32x4_splat(1.3981999507e-3f));
  y = madd(y, r, wasm_f32x4_splat(8.3334519073e-3f));
  y = madd(y, r, wasm_f32x4_splat(4.1665795894e-2f));
  y = madd(y, r, wasm_f32x4_splat(1.6666665459e-1f));
  y = madd(y, r, wasm_f32x4_splat(5.0000001201e-1f));
  y = madd(y, wasm_f32x4_mul(r, r), wasm_f32x4_add(r, wasm_f32x4_splat(1.0f)));
  v128_t pow2n = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(y, pow2n);
}

/** σ(x) = 1 / (1 + e^{−x}). NOTE: for x → −∞ this is e^{x} to within float32 rounding (no cancellation,
 * unlike 0.5 + 0.5·tanh(x/2)); for x ≤ −88.38, where exp4 returns +inf, σ is 0 instead of a subnormal
 * below 5e-39: an absolute error below 5e-39. */
static inline v128_t sigmoid4(v128_t x) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  return wasm_f32x4_div(one, wasm_f32x4_add(one, exp4(wasm_f32x4_neg(x))));
}

#define MAP_IN_PLACE(name, f4)                                                 \
  EXPORT(name) void name(float *x, int n) {                                    \
    int i = 0;                                                                 \
    for (; i + 4 <= n; i += 4) wasm_v128_store(x + i, f4(wasm_v128_load(x + i))); \
    if (i < n) {                                                               \
      /* The tail through a 4-lane buffer, so lanes past n are neither read nor written. */ \
      float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};                                \
      for (int j = 0; i + j < n; j++) tail[j] = x[i + j];                      \
      wasm_v128_store(tail, f4(wasm_v128_load(tail)));                         \
      for (int j = 0; i + j < n; j++) x[i + j] = tail[j];                      \
    }                                                                          \
  }

MAP_IN_PLACE(tanhInPlace, tanh4)
MAP_IN_PLACE(sigmoidInPlace, sigmoid4)
