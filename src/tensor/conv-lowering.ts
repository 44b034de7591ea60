/**
 * Backend.conv2d from a backend's own im2col, gemmBatched and col2im, for the backends without a fused
 * kernel (js, wasm): the whole batch is lowered into one patch buffer, then one product per image.
 * Patches are columns [K, P] for the forward and input-error products and rows [P, K] for the weight
 * gradient, so that each product runs untransposed (see src/nn/conv2d.ts for the measurements).
 */
import type { Backend } from './backend.js';
import { checkConv2d, type Conv2dOp, type PatchGeometry } from './patches.js';
import type { Matrix } from './matrix.js';

type Primitives = Pick<Backend, 'im2col' | 'gemmBatched' | 'col2im'>;

export function loweredConv2d(be: Primitives): Backend['conv2d'] {
  let buffer = new Float32Array(0);
  const scratchOf = (length: number) => {
    if (buffer.length < length) buffer = new Float32Array(length);
    return buffer.subarray(0, length);
  };
  return (op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix) => {
    const { out, batch, images, kernels, outputs } = checkConv2d(op, g, a, b, c);
    const P = g.oh * g.ow, K = g.c * g.k * g.k, cols = scratchOf(batch * K * P);
    if (batch === 0) {
      if (op === 'weightGrad') kernels.data.fill(0, 0, kernels.rows * kernels.cols);
      return;
    }
    const perImage: Matrix = { rows: out, cols: P, data: outputs.data }; // image n's [out, P] at n·out·P
    const each = { count: batch, strideA: 0, strideB: 0, strideC: 0 };
    if (op === 'forward') {
      be.im2col(g, images, { image: K * P, position: 1, value: P }, cols);
      be.gemmBatched({ ...each, strideB: K * P, strideC: out * P }, false, false, 1, kernels, { rows: K, cols: P, data: cols }, 0, perImage);
    } else if (op === 'weightGrad') {
      be.im2col(g, images, { image: P * K, position: K, value: 1 }, cols);
      be.gemmBatched({ ...each, strideA: out * P, strideB: P * K }, false, false, 1, perImage, { rows: P, cols: K, data: cols }, 0, kernels);
    } else {
      be.gemmBatched({ ...each, strideB: out * P, strideC: K * P }, true, false, 1, kernels, perImage, 0, { rows: K, cols: P, data: cols });
      be.col2im(g, cols, { image: K * P, position: 1, value: P }, images);
    }
  };
}
