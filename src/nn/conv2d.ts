import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import { col2im, im2col, patchGeometry, scratch } from './im2col.js';
import { initWeights, type InitSpec } from './init.js';
import type { Layer, LayerParams } from './layer.js';

/**
 * A 2-D convolution on channels-first images, lowered onto GEMM with im2col:
 *   cols [B·P, K] (every patch of every image, K = C·k·k, P = oh·ow positions);
 *   forward   Zᵗ = cols·Wᵀ + b     [B·P, out], then each image's Zᵗ block transposed to z [out, P];
 *   gradients dW = dZᵗᵀ·cols [out, K],  db = Σ dZᵗ;
 *   input     dcols = dZᵗ·F [B·P, K], then col2im — F is W for backprop, a kernel tensor B of W's shape for
 *             the feedback family (fixed random kernels for fa, sign(W) for sign symmetry, learned for wm/kp).
 * W is [out, C·k·k] (one kernel a row, in the patch order [c, ky, kx]); b is [out] (one bias a channel).
 */
export function conv2dLayer(input: readonly number[], out: number, k: number, stride: number, pad: number): Layer {
  const g = patchGeometry(input, k, stride, pad);
  const P = g.oh * g.ow, K = g.c * k * k;
  const colsOf = scratch(), zt = scratch(), dcolsOf = scratch();
  const lower = (x: Matrix): Matrix => {
    const B = x.rows, cols = colsOf(B * P * K);
    for (let n = 0; n < B; n++) im2col(g, x.data, n * x.cols, cols, (q) => n * P + q);
    return { rows: B * P, cols: K, data: cols };
  };
  /** dz [B, out·P] (channels first) → [B·P, out] (positions first), or back. */
  const transposeBlocks = (from: Float32Array, to: Float32Array, B: number, toPositionsFirst: boolean) => {
    for (let n = 0; n < B; n++) {
      const base = n * P * out;
      for (let o = 0; o < out; o++) {
        for (let q = 0; q < P; q++) {
          if (toPositionsFirst) to[base + q * out + o] = from[base + o * P + q];
          else to[base + o * P + q] = from[base + q * out + o];
        }
      }
    }
  };
  return {
    kind: 'conv2d', inSize: g.c * g.h * g.w, outSize: out * P, weightShape: { rows: out, cols: K }, biasSize: out,
    initParams(init: InitSpec, rng: Rng): LayerParams {
      const W = matrix(out, K);
      initWeights(init, K, out * k * k, rng, W.data); // fan-in C·k·k, fan-out out·k·k (Glorot & Bengio for convolutions)
      return { W, b: new Float32Array(out) };
    },
    forward(be: Backend, p: LayerParams, x: Matrix, z: Matrix): void {
      const cols = lower(x);
      const t: Matrix = { rows: x.rows * P, cols: out, data: zt(x.rows * P * out) };
      be.gemm(false, true, 1, cols, p.W, 0, t);
      be.addRowVector(t, p.b);
      transposeBlocks(t.data, z.data, x.rows, false);
    },
    paramGrads(be: Backend, dz: Matrix, x: Matrix, grad: LayerParams): void {
      const cols = lower(x);
      const t: Matrix = { rows: x.rows * P, cols: out, data: zt(x.rows * P * out) };
      transposeBlocks(dz.data, t.data, x.rows, true);
      be.gemm(true, false, 1, t, cols, 0, grad.W);
      be.sumRows(t, 1, 0, grad.b);
    },
    inputError(be: Backend, dz: Matrix, feedback: Matrix, dx: Matrix): void {
      const B = dz.rows;
      const t: Matrix = { rows: B * P, cols: out, data: zt(B * P * out) };
      transposeBlocks(dz.data, t.data, B, true);
      const dcols: Matrix = { rows: B * P, cols: K, data: dcolsOf(B * P * K) };
      be.gemm(false, false, 1, t, feedback, 0, dcols);
      dx.data.fill(0, 0, B * dx.cols);
      for (let n = 0; n < B; n++) col2im(g, dcols.data, (q) => n * P + q, dx.data, n * dx.cols);
    },
  };
}

/**
 * A locally connected layer (Bartunov et al. 2018): a convolution's geometry with untied weights, one
 * kernel bank [out, K] for each of the P output positions, and a bias for every output unit.
 * W is [P·out, K] (bank q is rows q·out … (q+1)·out − 1), b is [out·P] in the output's channels-first order.
 * Patches are laid out position-major, cols [P·B, K], so that position q's patches of the whole batch are one
 * block [B, K] and each bank is one GEMM: Z_q = cols_q·W_qᵀ, dW_q = dZ_qᵀ·cols_q, dcols_q = dZ_q·F_q.
 */
export function local2dLayer(input: readonly number[], out: number, k: number, stride: number, pad: number): Layer {
  const g = patchGeometry(input, k, stride, pad);
  const P = g.oh * g.ow, K = g.c * k * k;
  const colsOf = scratch(), zq = scratch(), dcolsOf = scratch();
  const lower = (x: Matrix): Float32Array => {
    const B = x.rows, cols = colsOf(B * P * K);
    for (let n = 0; n < B; n++) im2col(g, x.data, n * x.cols, cols, (q) => q * B + n);
    return cols;
  };
  const block = (data: Float32Array, q: number, rows: number, cols: number): Matrix => ({ rows, cols, data: data.subarray(q * rows * cols, (q + 1) * rows * cols) });
  return {
    kind: 'local2d', inSize: g.c * g.h * g.w, outSize: out * P, weightShape: { rows: P * out, cols: K }, biasSize: out * P,
    initParams(init: InitSpec, rng: Rng): LayerParams {
      const W = matrix(P * out, K);
      initWeights(init, K, out * k * k, rng, W.data);
      return { W, b: new Float32Array(out * P) };
    },
    forward(be: Backend, p: LayerParams, x: Matrix, z: Matrix): void {
      const B = x.rows, cols = lower(x), buf = zq(B * out);
      const zb: Matrix = { rows: B, cols: out, data: buf };
      for (let q = 0; q < P; q++) {
        be.gemm(false, true, 1, block(cols, q, B, K), block(p.W.data, q, out, K), 0, zb);
        for (let n = 0; n < B; n++) for (let o = 0; o < out; o++) z.data[n * z.cols + o * P + q] = buf[n * out + o] + p.b[o * P + q];
      }
    },
    paramGrads(be: Backend, dz: Matrix, x: Matrix, grad: LayerParams): void {
      const B = x.rows, cols = lower(x), buf = zq(B * out);
      const dzb: Matrix = { rows: B, cols: out, data: buf };
      for (let q = 0; q < P; q++) {
        for (let o = 0; o < out; o++) {
          let bias = 0;
          for (let n = 0; n < B; n++) bias += (buf[n * out + o] = dz.data[n * dz.cols + o * P + q]);
          grad.b[o * P + q] = bias;
        }
        be.gemm(true, false, 1, dzb, block(cols, q, B, K), 0, block(grad.W.data, q, out, K));
      }
    },
    inputError(be: Backend, dz: Matrix, feedback: Matrix, dx: Matrix): void {
      const B = dz.rows, buf = zq(B * out), dcols = dcolsOf(B * P * K);
      const dzb: Matrix = { rows: B, cols: out, data: buf };
      for (let q = 0; q < P; q++) {
        for (let n = 0; n < B; n++) for (let o = 0; o < out; o++) buf[n * out + o] = dz.data[n * dz.cols + o * P + q];
        be.gemm(false, false, 1, dzb, block(feedback.data, q, out, K), 0, block(dcols, q, B, K));
      }
      dx.data.fill(0, 0, B * dx.cols);
      for (let n = 0; n < B; n++) col2im(g, dcols, (q) => q * B + n, dx.data, n * dx.cols);
    },
  };
}
