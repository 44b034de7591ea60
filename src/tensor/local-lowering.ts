/**
 * Backend.local2d from a backend's own im2col, gemmBatched, transposeBlocks and col2im, for the backends
 * without a fused kernel (js, wasm). Patches are laid out position-major, cols [P·B, K], so that position
 * q's patches of the whole batch are one block [B, K] and each bank is one GEMM of a strided batch over the
 * positions:
 *   Zq_q = cols_q·W_qᵀ [B, out],  dW_q = dZq_qᵀ·cols_q,  dcols_q = dZq_q·F_q,
 * where Zq [P, B·out] is the transpose of z [B·out, P] (one transposeBlocks each way).
 */
import type { Backend } from './backend.js';
import { checkLocal2d, type Conv2dOp, type PatchGeometry } from './patches.js';
import type { Matrix } from './matrix.js';

type Primitives = Pick<Backend, 'im2col' | 'gemmBatched' | 'transposeBlocks' | 'col2im'>;

export function loweredLocal2d(be: Primitives): Backend['local2d'] {
  const buffers = { cols: new Float32Array(0), zq: new Float32Array(0) };
  const scratchOf = (name: keyof typeof buffers, length: number) => {
    if (buffers[name].length < length) buffers[name] = new Float32Array(length);
    return buffers[name].subarray(0, length);
  };
  return (op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix) => {
    const { out, batch: B, images, kernels, outputs } = checkLocal2d(op, g, a, b, c);
    const P = g.oh * g.ow, K = g.c * g.k * g.k;
    if (B === 0) {
      if (op === 'weightGrad') kernels.data.fill(0, 0, kernels.rows * kernels.cols);
      return;
    }
    const cols = scratchOf('cols', P * B * K), zq = scratchOf('zq', P * B * out);
    const layout = { image: K, position: B * K, value: 1 }; // [P, B, K]
    const patches: Matrix = { rows: B, cols: K, data: cols }; // position q's block starts at q·B·K
    const banks: Matrix = { rows: out, cols: K, data: kernels.data };
    const perPosition: Matrix = { rows: B, cols: out, data: zq };
    if (op === 'forward') {
      be.im2col(g, images, layout, cols);
      be.gemmBatched({ count: P, strideA: B * K, strideB: out * K, strideC: B * out }, false, true, 1, patches, banks, 0, perPosition);
      be.transposeBlocks(1, P, B * out, zq, outputs.data); // [P, B·out] → [B·out, P] = z
    } else if (op === 'weightGrad') {
      be.im2col(g, images, layout, cols);
      be.transposeBlocks(1, B * out, P, outputs.data, zq); // dz [B·out, P] → [P, B·out]
      be.gemmBatched({ count: P, strideA: B * out, strideB: B * K, strideC: out * K }, true, false, 1, perPosition, patches, 0, banks);
    } else {
      be.transposeBlocks(1, B * out, P, outputs.data, zq);
      be.gemmBatched({ count: P, strideA: B * out, strideB: out * K, strideC: B * K }, false, false, 1, perPosition, banks, 0, patches);
      be.col2im(g, cols, layout, images);
    }
  };
}
