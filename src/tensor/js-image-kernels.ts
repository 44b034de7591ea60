import { checkGemmShapes } from './backend.js';
import type { Matrix } from './matrix.js';
import {
  checkGemmBatch, checkPatches, checkPool, checkTransposeBlocks, type GemmBatch, type PatchGeometry, type PatchLayout, type PoolMode,
} from './patches.js';

/*
 * The js reference of the image kernels (im2col, col2im, transposes, pooling, batched GEMM). These are
 * the loops that conv2d.ts, pool2d.ts and im2col.ts ran before they became Backend methods, in the same
 * order and with the same arithmetic, so the js backend's numbers did not move by a bit (tested).
 */

type Gemm = (transA: boolean, transB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix) => void;

const view = (x: Matrix, offset: number): Matrix => ({ rows: x.rows, cols: x.cols, data: x.data.subarray(offset, offset + x.rows * x.cols) });

/** Backend.gemmBatched over a backend's own gemm (one call per operand triple) and, for strideC = 0, a
 * float64 accumulation over all products that rounds once. */
export function gemmBatchedJs(
  gemm: Gemm, batch: GemmBatch, transA: boolean, transB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix,
): void {
  const { m, n, k } = checkGemmShapes(transA, transB, view(a, 0), view(b, 0), view(c, 0));
  checkGemmBatch(batch, a, b, c, m, n, k);
  const { count, strideA, strideB, strideC } = batch;
  if (count === 0) return;
  if (strideC !== 0) {
    for (let i = 0; i < count; i++) gemm(transA, transB, alpha, view(a, i * strideA), view(b, i * strideB), beta, view(c, i * strideC));
    return;
  }
  gemmSum(count, strideA, strideB, m, n, k, transA, transB, alpha, a, b, beta, c);
}

/** C = alpha·Σ_i op(A_i)·op(B_i) + beta·C, each C value a float64 sum over i, then over p, rounded once:
 * the numbers of one gemm over the concatenated inner dimension. */
function gemmSum(
  count: number, strideA: number, strideB: number, m: number, n: number, k: number,
  transA: boolean, transB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix,
): void {
  const A = a.data, B = b.data, C = c.data, lda = a.cols, ldb = b.cols;
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let t = 0; t < count; t++) {
      const a0 = t * strideA, b0 = t * strideB;
      if (transB) {
        for (let j = 0; j < n; j++) {
          let s = acc[j];
          const bRow = b0 + j * ldb;
          if (transA) for (let p = 0; p < k; p++) s += A[a0 + p * lda + i] * B[bRow + p];
          else for (let p = 0, aRow = a0 + i * lda; p < k; p++) s += A[aRow + p] * B[bRow + p];
          acc[j] = s;
        }
      } else {
        for (let p = 0; p < k; p++) {
          const aip = transA ? A[a0 + p * lda + i] : A[a0 + i * lda + p];
          const bRow = b0 + p * ldb;
          for (let j = 0; j < n; j++) acc[j] += aip * B[bRow + j];
        }
      }
    }
    const cRow = i * n;
    if (beta === 0) for (let j = 0; j < n; j++) C[cRow + j] = alpha * acc[j];
    else for (let j = 0; j < n; j++) C[cRow + j] = alpha * acc[j] + beta * C[cRow + j];
  }
}

export function transposeBlocksJs(count: number, rows: number, cols: number, src: Float32Array, dst: Float32Array): void {
  checkTransposeBlocks(count, rows, cols, src, dst);
  for (let t = 0; t < count; t++) {
    const base = t * rows * cols;
    for (let c = 0; c < cols; c++) for (let r = 0; r < rows; r++) dst[base + c * rows + r] = src[base + r * cols + c];
  }
}

export function im2colJs(g: PatchGeometry, x: Matrix, layout: PatchLayout, cols: Float32Array): void {
  checkPatches(g, x, layout, cols, 'im2col');
  const { c, h, w, k, stride, pad, oh, ow } = g;
  const { image, position, value } = layout;
  for (let n = 0; n < x.rows; n++) {
    const xOffset = n * x.cols;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let at = n * image + (oy * ow + ox) * position;
        for (let ch = 0; ch < c; ch++) {
          const plane = xOffset + ch * h * w;
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * stride - pad + ky;
            const inside = iy >= 0 && iy < h;
            for (let kx = 0; kx < k; kx++, at += value) {
              const ix = ox * stride - pad + kx;
              cols[at] = inside && ix >= 0 && ix < w ? x.data[plane + iy * w + ix] : 0;
            }
          }
        }
      }
    }
  }
}

export function col2imJs(g: PatchGeometry, cols: Float32Array, layout: PatchLayout, dx: Matrix): void {
  checkPatches(g, dx, layout, cols, 'col2im');
  const { c, h, w, k, stride, pad, oh, ow } = g;
  const { image, position, value } = layout;
  const d = dx.data;
  d.fill(0, 0, dx.rows * dx.cols);
  for (let n = 0; n < dx.rows; n++) {
    const dxOffset = n * dx.cols;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let at = n * image + (oy * ow + ox) * position;
        for (let ch = 0; ch < c; ch++) {
          const plane = dxOffset + ch * h * w;
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * stride - pad + ky;
            const inside = iy >= 0 && iy < h;
            for (let kx = 0; kx < k; kx++, at += value) {
              const ix = ox * stride - pad + kx;
              if (inside && ix >= 0 && ix < w) d[plane + iy * w + ix] += cols[at];
            }
          }
        }
      }
    }
  }
}

/** NOTE: the average is accumulated as z = z + (1/k²)·x window value by window value, in float64 and
 * rounded to float32 at every step (as the layer's first loops did); the C kernels do the same in double. */
export function pool2dJs(mode: PoolMode, g: PatchGeometry, x: Matrix, z: Matrix): void {
  checkPool(mode, g, x, z, 'pool2d');
  const { c, h, w, k, stride, oh, ow } = g;
  const X = x.data, Z = z.data, scale = 1 / (k * k);
  for (let n = 0; n < x.rows; n++) {
    for (let ch = 0; ch < c; ch++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const o = n * z.cols + (ch * oh + oy) * ow + ox;
          const corner = n * x.cols + (ch * h + oy * stride) * w + ox * stride;
          if (mode === 'max') {
            let best = X[corner];
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) if (X[corner + ky * w + kx] > best) best = X[corner + ky * w + kx];
            }
            Z[o] = best;
          } else {
            Z[o] = 0;
            for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) Z[o] += scale * X[corner + ky * w + kx];
          }
        }
      }
    }
  }
}

export function pool2dBackwardJs(mode: PoolMode, g: PatchGeometry, x: Matrix, dz: Matrix, dx: Matrix): void {
  checkPool(mode, g, dx, dz, 'pool2dBackward');
  if (mode === 'max') checkPool(mode, g, x, dz, 'pool2dBackward');
  const { c, h, w, k, stride, oh, ow } = g;
  const X = x.data, D = dz.data, G = dx.data, scale = 1 / (k * k);
  G.fill(0, 0, dx.rows * dx.cols);
  for (let n = 0; n < dz.rows; n++) {
    for (let ch = 0; ch < c; ch++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const o = n * dz.cols + (ch * oh + oy) * ow + ox;
          const corner = n * dx.cols + (ch * h + oy * stride) * w + ox * stride;
          if (mode === 'max') {
            let best = corner;
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) if (X[corner + ky * w + kx] > X[best]) best = corner + ky * w + kx;
            }
            G[best] += D[o];
          } else {
            for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) G[corner + ky * w + kx] += scale * D[o];
          }
        }
      }
    }
  }
}
