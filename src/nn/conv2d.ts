import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import { patchGeometry, scratch } from './im2col.js';
import { initWeights, type InitSpec } from './init.js';
import type { Layer, LayerParams } from './layer.js';

/**
 * A 2-D convolution on channels-first images, lowered onto GEMM (K = C·k·k values a patch, P = oh·ow
 * positions, cols_n image n's patches), one product per image, each a call of Backend.conv2d:
 *   forward   z_n = W·cols_n + b               [out, P], straight into row n of z;
 *   gradients dW = Σ_n dz_n·cols_nᵀ,            db = Σ_n dz_n·1;
 *   input     dx = col2im(Fᵀ·dz_n) — F is W for backprop, a kernel tensor B of W's shape for the feedback
 *             family (fixed random kernels for fa, sign(W) for sign symmetry, learned for wm/kp).
 * W is [out, C·k·k] (one kernel a row, in the patch order [c, ky, kx]); b is [out] (one bias a channel).
 *
 * NOTE: the lowering was chosen by measurement (native backend, LeNet-5's conv layers at batch 100,
 * interleaved runs, best of 7): the first version's batched lowering (patches as rows [B·P, K], one GEMM
 * Zᵗ = cols·Wᵀ [B·P, out], a transpose of every image's block to [out, P]; dW = Zᵗᵀ·cols in one GEMM over
 * k = B·P) took 2.2 / 3.6 / 3.0 ms for forward / dW / input error of conv1 and 1.5 / 1.6 / 1.6 ms of
 * conv2; per image, 0.86 / 1.0 / 1.0 and 1.4 / 1.1 / 1.4 ms. With out = 6 or 16 kernels the one big GEMM
 * has a skinny side that OpenBLAS packs poorly and a long k it does not thread, while the per-image
 * products are small but well shaped. Making each image's patches just before its product, and sharing
 * the images between the cores, is the native backend's conv2d kernel (node/native/conv.c).
 */
export function conv2dLayer(input: readonly number[], out: number, k: number, stride: number, pad: number): Layer {
  const g = patchGeometry(input, k, stride, pad);
  const P = g.oh * g.ow, K = g.c * k * k;
  const biasOf = scratch();
  const ones = new Float32Array(P).fill(1);
  /** Image n's block [out, P] of a [B, out·P] matrix, for gemmBatched at stride out·P. */
  const perImage = (m: Matrix): Matrix => ({ rows: out, cols: P, data: m.data });
  return {
    kind: 'conv2d', inSize: g.c * g.h * g.w, outSize: out * P, weightShape: { rows: out, cols: K }, biasSize: out,
    initParams(init: InitSpec, rng: Rng): LayerParams {
      const W = matrix(out, K);
      initWeights(init, K, out * k * k, rng, W.data); // fan-in C·k·k, fan-out out·k·k (Glorot & Bengio for convolutions)
      return { W, b: new Float32Array(out) };
    },
    forward(be: Backend, p: LayerParams, x: Matrix, z: Matrix): void {
      be.conv2d('forward', g, x, p.W, z);
      // b[o] at each of channel o's P positions, added to every row (one addition a value, as the TS loop did).
      const bias = biasOf(out * P);
      for (let o = 0; o < out; o++) bias.fill(p.b[o], o * P, (o + 1) * P);
      be.addRowVector({ rows: x.rows, cols: z.cols, data: z.data }, bias);
    },
    paramGrads(be: Backend, dz: Matrix, x: Matrix, grad: LayerParams): void {
      be.conv2d('weightGrad', g, dz, x, grad.W);
      be.gemmBatched({ count: x.rows, strideA: dz.cols, strideB: 0, strideC: 0 }, false, false, 1, perImage(dz),
        { rows: P, cols: 1, data: ones }, 0, { rows: out, cols: 1, data: grad.b });
    },
    inputError(be: Backend, dz: Matrix, feedback: Matrix, dx: Matrix): void {
      be.conv2d('inputError', g, feedback, dz, dx);
    },
  };
}

/**
 * A locally connected layer (Bartunov et al. 2018): a convolution's geometry with untied weights, one
 * kernel bank [out, K] for each of the P output positions, and a bias for every output unit; its products
 * are Backend.local2d's (z_n[o·P + q] = W_q[o]·cols_{n,q} + b[o·P + q], dW_q = Σ_n dz_{n,q}·cols_{n,q}ᵀ,
 * dx = col2im(F_qᵀ·dz_{n,q}), F = W for backprop, a bank tensor of W's shape for the feedback family).
 * W is [P·out, K] (bank q is rows q·out … (q+1)·out − 1), b is [out·P] in the output's channels-first order.
 */
export function local2dLayer(input: readonly number[], out: number, k: number, stride: number, pad: number): Layer {
  const g = patchGeometry(input, k, stride, pad);
  const P = g.oh * g.ow, K = g.c * k * k;
  return {
    kind: 'local2d', inSize: g.c * g.h * g.w, outSize: out * P, weightShape: { rows: P * out, cols: K }, biasSize: out * P,
    initParams(init: InitSpec, rng: Rng): LayerParams {
      const W = matrix(P * out, K);
      initWeights(init, K, out * k * k, rng, W.data);
      return { W, b: new Float32Array(out * P) };
    },
    forward(be: Backend, p: LayerParams, x: Matrix, z: Matrix): void {
      be.local2d('forward', g, x, p.W, z);
      be.addRowVector({ rows: x.rows, cols: z.cols, data: z.data }, p.b);
    },
    paramGrads(be: Backend, dz: Matrix, x: Matrix, grad: LayerParams): void {
      be.local2d('weightGrad', g, dz, x, grad.W);
      be.sumRows({ rows: x.rows, cols: dz.cols, data: dz.data }, 1, 0, grad.b);
    },
    inputError(be: Backend, dz: Matrix, feedback: Matrix, dx: Matrix): void {
      be.local2d('inputError', g, feedback, dz, dx);
    },
  };
}
