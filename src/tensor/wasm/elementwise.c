// Compare-and-select kernels for the wasm backend: clip, scaled sign, Bernoulli sampling from given
// uniforms, and the hard sigmoid's derivative, in place at byte offsets in this module's memory. They
// are exact (no arithmetic beyond a negation), so they agree bit for bit with the js reference and the
// native kernels (node/native/kernels-ieee.c), NaN and −0 included. Built with gemm.c and
// activations.c by scripts/build-wasm.mjs (no -ffast-math there, so the scalar tails keep IEEE
// semantics too).
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/** x = min(max(x, lo), hi) as the comparisons x < lo, then > hi. NOTE: wasm's pmax(a, b) is exactly
 * a < b ? b : a and pmin(a, b) is b < a ? b : a, the definition the js reference uses: NaN in x passes
 * through and −0 stays −0 at lo = 0 (the NaN-propagating f32x4.min/max would not match). */
EXPORT(clipInPlace) void clipInPlace(float *x, int n, float lo, float hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_f32x4_pmax(wasm_v128_load(x + i), vlo);
    wasm_v128_store(x + i, wasm_f32x4_pmin(v, vhi));
  }
  for (; i < n; i++) {
    const float v = x[i] < lo ? lo : x[i];
    x[i] = v > hi ? hi : v;
  }
}

/** x = scale where x > 0, −scale where x < 0, +0 where x = ±0, NaN where x is NaN. The three masks are
 * disjoint, so or-ing the selected lanes builds the result. */
EXPORT(signInPlace) void signInPlace(float *x, int n, float scale) {
  const v128_t pos = wasm_f32x4_splat(scale), neg = wasm_f32x4_splat(-scale), zero = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(x + i);
    v128_t r = wasm_v128_and(wasm_f32x4_gt(v, zero), pos);
    r = wasm_v128_or(r, wasm_v128_and(wasm_f32x4_lt(v, zero), neg));
    r = wasm_v128_or(r, wasm_v128_and(wasm_f32x4_ne(v, v), v));
    wasm_v128_store(x + i, r);
  }
  for (; i < n; i++) {
    const float v = x[i];
    x[i] = v > 0.0f ? scale : v < 0.0f ? -scale : v == v ? 0.0f : v;
  }
}

/** p = u < p ? 1 : 0 (0 where either is NaN): Bernoulli samples written over the probabilities. */
EXPORT(bernoulliInPlace) void bernoulliInPlace(float *p, const float *u, int n) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t hit = wasm_f32x4_lt(wasm_v128_load(u + i), wasm_v128_load(p + i));
    wasm_v128_store(p + i, wasm_v128_and(hit, one));
  }
  for (; i < n; i++) p[i] = u[i] < p[i] ? 1.0f : 0.0f;
}

/** dh = dh where 0 < z < 1, else 0: the hard sigmoid's derivative (0 at the kinks), applied in place. */
EXPORT(hardSigmoidBackwardInPlace) void hardSigmoidBackwardInPlace(const float *z, float *dh, int n) {
  const v128_t zero = wasm_f32x4_splat(0.0f), one = wasm_f32x4_splat(1.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = wasm_v128_load(z + i);
    v128_t inside = wasm_v128_and(wasm_f32x4_gt(v, zero), wasm_f32x4_lt(v, one));
    wasm_v128_store(dh + i, wasm_v128_and(inside, wasm_v128_load(dh + i)));
  }
  for (; i < n; i++) dh[i] = z[i] > 0.0f && z[i] < 1.0f ? dh[i] : 0.0f;
}
