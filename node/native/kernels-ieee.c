/* Element-wise kernels of the ngrad native backend that must agree bit for bit with the js reference
 * (src/tensor/js-backend.ts) and the wasm kernels: clip, scaled sign, Bernoulli sampling from given
 * uniforms, and the hard sigmoid's derivative. They only compare and select, so exact agreement costs
 * nothing in accuracy.
 *
 * NOTE: this file is compiled with -O3 -march=native but WITHOUT -ffast-math (its own static library in
 * binding.gyp). Under -ffinite-math-only gcc may assume no NaN, so `x < lo ? lo : x` could become a max
 * with either operand order and a NaN input could come out as lo; under -fno-signed-zeros -0 could come
 * out as +0. With IEEE semantics each select below compiles to vector compares and blends (or
 * maxps/minps, whose operand order matches these comparisons exactly), so gcc still vectorises them.
 *
 * Aliasing: as in kernels.c, an output is either exactly an input or disjoint from it (addon.c checks),
 * so each element is read before the same index is written; `#pragma GCC ivdep` says so. */
#include "kernels.h"

void ngrad_clip(const float *x, float *out, size_t n, float lo, float hi) {
#pragma GCC ivdep
  for (size_t i = 0; i < n; i++) {
    const float v = x[i] < lo ? lo : x[i];
    out[i] = v > hi ? hi : v;
  }
}

void ngrad_sign(const float *x, float *out, size_t n, float scale) {
#pragma GCC ivdep
  for (size_t i = 0; i < n; i++) {
    const float xi = x[i];
    /* xi == xi is false only for NaN, which is passed through so that divergence shows. */
    out[i] = xi > 0.0f ? scale : xi < 0.0f ? -scale : xi == xi ? 0.0f : xi;
  }
}

void ngrad_bernoulli(const float *p, const float *u, float *out, size_t n) {
#pragma GCC ivdep
  for (size_t i = 0; i < n; i++) out[i] = u[i] < p[i] ? 1.0f : 0.0f;
}

void ngrad_hard_sigmoid_backward(const float *z, const float *dh, float *dz, size_t n) {
#pragma GCC ivdep
  for (size_t i = 0; i < n; i++) dz[i] = z[i] > 0.0f && z[i] < 1.0f ? dh[i] : 0.0f;
}
