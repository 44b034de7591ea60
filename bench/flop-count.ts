import { checkGemmShapes, type Backend, type Conv2dOp, type GemmBatch, type PatchGeometry } from '../src/tensor/backend.js';
import type { Matrix } from '../src/tensor/matrix.js';

/** GEMM FLOPs counted as a backend is called: the total, and per method (gemm, gemmBatched, conv2d, local2d). */
export interface FlopCount {
  flops: number;
  byMethod: Record<string, number>;
}

export function flopCount(): FlopCount {
  return { flops: 0, byMethod: {} };
}

/** 2·m·n·k of C[m,n] = op(A)[m,k]·op(B)[k,n] (one multiply and one add a term). */
export function gemmFlops(transA: boolean, transB: boolean, a: Matrix, b: Matrix, c: Matrix): number {
  const { m, n, k } = checkGemmShapes(transA, transB, a, b, c);
  return 2 * m * n * k;
}

/** count·2·m·n·k: gemmBatched's operands a, b, c have the shape of one product each. */
export function gemmBatchedFlops(batch: GemmBatch, transA: boolean, transB: boolean, a: Matrix, b: Matrix, c: Matrix): number {
  return batch.count * gemmFlops(transA, transB, a, b, c);
}

/** 2·B·out·P·K for each of conv2d's three products (B images, out kernels of K = C·k·k values, P = oh·ow
 * positions): the forward z_n = W·cols_n, the weight gradient Σ_n dz_n·cols_nᵀ and the input error Fᵀ·dz_n
 * are each B products of [out, K] by [K, P] or its transposes. im2col / col2im are copies, not counted. */
export function conv2dFlops(op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix): number {
  const K = g.c * g.k * g.k, P = g.oh * g.ow;
  // Operand order of Backend.conv2d: forward (x, W, z), weightGrad (dz, x, dW), inputError (F, dz, dx).
  const [images, kernels] = op === 'forward' ? [a, b] : op === 'weightGrad' ? [b, c] : [c, a];
  return 2 * images.rows * kernels.rows * P * K;
}

/** local2d's products count as conv2d's: 2·B·out·P·K each (one bank of out kernels a position instead of
 * one for all; kernels [P·out, K]). */
export function local2dFlops(op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix): number {
  return conv2dFlops(op, g, a, b, c) / (g.oh * g.ow);
}

/**
 * A Backend that adds the FLOPs of every gemm, gemmBatched, conv2d and local2d call to `count` before passing the call
 * on; every other method is the backend's own. Counting costs no clock reads, so a timed run may go through it.
 * NOTE: calls a backend makes inside its own methods (the js and wasm conv2d lowered onto their own
 * gemmBatched) do not pass through the wrapper, so nothing is counted twice.
 */
export function counted(be: Backend, count: FlopCount): Backend {
  const add = (method: string, flops: number) => {
    count.flops += flops;
    count.byMethod[method] = (count.byMethod[method] ?? 0) + flops;
  };
  return {
    ...be,
    gemm(transA, transB, alpha, a, b, beta, c) {
      add('gemm', gemmFlops(transA, transB, a, b, c));
      be.gemm(transA, transB, alpha, a, b, beta, c);
    },
    gemmBatched(batch, transA, transB, alpha, a, b, beta, c) {
      add('gemmBatched', gemmBatchedFlops(batch, transA, transB, a, b, c));
      be.gemmBatched(batch, transA, transB, alpha, a, b, beta, c);
    },
    conv2d(op, g, a, b, c) {
      add('conv2d', conv2dFlops(op, g, a, b, c));
      be.conv2d(op, g, a, b, c);
    },
    local2d(op, g, a, b, c) {
      add('local2d', local2dFlops(op, g, a, b, c));
      be.local2d(op, g, a, b, c);
    },
  };
}
