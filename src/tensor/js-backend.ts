import { checkBernoulli, checkClip, checkGemmShapes, checkSign, type ActivationKind, type Backend } from './backend.js';
import type { Matrix } from './matrix.js';
import { loweredConv2d } from './conv-lowering.js';
import { loweredLocal2d } from './local-lowering.js';
import { col2imJs, gemmBatchedJs, im2colJs, pool2dBackwardJs, pool2dJs, transposeBlocksJs } from './js-image-kernels.js';

/**
 * The portable reference backend: plain TypeScript over Float32Array, runs anywhere.
 * NOTE: GEMM accumulates each output row in float64 and rounds once, so it is at least as accurate as
 * BLAS's float32 accumulation; tests compare other backends against it with a relative tolerance.
 */
export function createJsBackend(): Backend {
  let rowAccumulator = new Float64Array(0);
  const backend: Backend = {
    name: 'js',
    gemm(transA, transB, alpha, a, b, beta, c) {
      const { m, n, k } = checkGemmShapes(transA, transB, a, b, c);
      if (rowAccumulator.length < n) rowAccumulator = new Float64Array(n);
      const acc = rowAccumulator;
      const A = a.data, B = b.data, C = c.data;
      const lda = a.cols, ldb = b.cols;
      for (let i = 0; i < m; i++) {
        acc.fill(0, 0, n);
        if (transB) {
          // C[i, j] = Σ_p opA[i, p] · B[j, p]: B's rows are contiguous.
          for (let j = 0; j < n; j++) {
            let s = 0;
            const bRow = j * ldb;
            if (transA) for (let p = 0; p < k; p++) s += A[p * lda + i] * B[bRow + p];
            else for (let p = 0, aRow = i * lda; p < k; p++) s += A[aRow + p] * B[bRow + p];
            acc[j] = s;
          }
        } else {
          // C[i, :] += opA[i, p] · B[p, :]: stream through B's rows.
          for (let p = 0; p < k; p++) {
            // NOTE: no shortcut for aip = 0: 0·NaN must stay NaN, as in BLAS, so divergence shows.
            const aip = transA ? A[p * lda + i] : A[i * lda + p];
            const bRow = p * ldb;
            for (let j = 0; j < n; j++) acc[j] += aip * B[bRow + j];
          }
        }
        const cRow = i * n;
        // BLAS convention: with beta = 0, C is written without being read (it may hold NaN).
        if (beta === 0) for (let j = 0; j < n; j++) C[cRow + j] = alpha * acc[j];
        else for (let j = 0; j < n; j++) C[cRow + j] = alpha * acc[j] + beta * C[cRow + j];
      }
    },
    activate: activateJs,
    activateBackward: activateBackwardJs,
    addRowVector(m: Matrix, v: Float32Array) {
      if (v.length !== m.cols) throw new Error(`addRowVector: vector has ${v.length} values, matrix has ${m.cols} columns`);
      const d = m.data, cols = m.cols;
      for (let i = 0; i < m.rows; i++) {
        const row = i * cols;
        for (let j = 0; j < cols; j++) d[row + j] += v[j];
      }
    },
    sumRows(m: Matrix, alpha: number, beta: number, out: Float32Array) {
      if (out.length !== m.cols) throw new Error(`sumRows: output has ${out.length} values, matrix has ${m.cols} columns`);
      const cols = m.cols, d = m.data;
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let i = 0; i < m.rows; i++) s += d[i * cols + j];
        out[j] = beta === 0 ? alpha * s : alpha * s + beta * out[j];
      }
    },
    axpby(alpha, x, beta, y) {
      if (x.length !== y.length) throw new Error(`axpby: lengths differ (${x.length} vs ${y.length})`);
      if (beta === 1) for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
      else for (let i = 0; i < y.length; i++) y[i] = alpha * x[i] + beta * y[i];
    },
    adam(g, m, v, b1, b2, c1, c2, eps) {
      for (let i = 0; i < g.length; i++) {
        const gi = g[i];
        const mi = (m[i] = b1 * m[i] + (1 - b1) * gi);
        const vi = (v[i] = b2 * v[i] + (1 - b2) * gi * gi);
        g[i] = mi / c1 / (Math.sqrt(vi / c2) + eps);
      }
    },
    clip(x, lo, hi, out) {
      checkClip(x, lo, hi, out);
      clipJs(x, Math.fround(lo), Math.fround(hi), out);
    },
    sign(x, scale, out) {
      checkSign(x, out);
      const s = Math.fround(scale);
      for (let i = 0; i < x.length; i++) {
        const xi = x[i];
        out[i] = xi > 0 ? s : xi < 0 ? -s : xi === xi ? 0 : xi;
      }
    },
    bernoulli(p, u, out) {
      checkBernoulli(p, u, out);
      for (let i = 0; i < p.length; i++) out[i] = u[i] < p[i] ? 1 : 0;
    },
    gemmBatched: (batch, transA, transB, alpha, a, b, beta, c) => gemmBatchedJs(backend.gemm, batch, transA, transB, alpha, a, b, beta, c),
    transposeBlocks: transposeBlocksJs,
    im2col: im2colJs,
    col2im: col2imJs,
    conv2d: () => { throw new Error('conv2d: not bound'); }, // bound below, once the primitives exist
    local2d: () => { throw new Error('local2d: not bound'); },
    pool2d: pool2dJs,
    pool2dBackward: pool2dBackwardJs,
    setThreads() {},
    getThreads: () => 1,
  };
  backend.conv2d = loweredConv2d(backend);
  backend.local2d = loweredLocal2d(backend);
  return backend;
}

/** out = min(max(x, lo), hi) with lo, hi already float32. NOTE: written as the two comparisons x < lo and
 * v > hi (not Math.max/Math.min), the definition the C kernels share: NaN passes through, and −0 stays −0
 * at lo = 0, where Math.max(−0, 0) would give +0. */
export function clipJs(x: Float32Array, lo: number, hi: number, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i] < lo ? lo : x[i];
    out[i] = v > hi ? hi : v;
  }
}

export function activateJs(kind: ActivationKind, z: Float32Array, out: Float32Array, slope: number): void {
  const n = z.length;
  switch (kind) {
    case 'linear':
      if (out !== z) out.set(z);
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(z[i]);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-z[i]));
      return;
    case 'relu':
      for (let i = 0; i < n; i++) out[i] = z[i] > 0 ? z[i] : 0;
      return;
    case 'leaky_relu':
      for (let i = 0; i < n; i++) out[i] = z[i] > 0 ? z[i] : slope * z[i];
      return;
    case 'hard_sigmoid':
      clipJs(z, 0, 1, out);
      return;
  }
}

export function activateBackwardJs(
  kind: ActivationKind, z: Float32Array, h: Float32Array, dh: Float32Array, dz: Float32Array, slope: number,
): void {
  const n = dz.length;
  switch (kind) {
    case 'linear':
      if (dz !== dh) dz.set(dh);
      return;
    case 'tanh': // tanh' = 1 − h²
      for (let i = 0; i < n; i++) dz[i] = dh[i] * (1 - h[i] * h[i]);
      return;
    case 'sigmoid': // σ' = h(1 − h)
      for (let i = 0; i < n; i++) dz[i] = dh[i] * h[i] * (1 - h[i]);
      return;
    case 'relu':
      for (let i = 0; i < n; i++) dz[i] = z[i] > 0 ? dh[i] : 0;
      return;
    case 'leaky_relu':
      for (let i = 0; i < n; i++) dz[i] = z[i] > 0 ? dh[i] : slope * dh[i];
      return;
    case 'hard_sigmoid':
      // NOTE: ρ' is 1 on the open interval (0, 1) and 0 elsewhere, kinks included (as relu' is 0 at 0):
      // a unit exactly at a bound passes no error. NaN z passes none either.
      for (let i = 0; i < n; i++) dz[i] = z[i] > 0 && z[i] < 1 ? dh[i] : 0;
      return;
  }
}
