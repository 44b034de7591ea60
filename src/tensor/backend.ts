import type { Matrix } from './matrix.js';
import type { Conv2dOp, GemmBatch, PatchGeometry, PatchLayout, PoolMode } from './patches.js';

export type { Conv2dOp, GemmBatch, PatchGeometry, PatchLayout, PoolMode } from './patches.js';

/** Element-wise non-linearities known to every backend. The numeric codes are shared with the native
 * addon's C kernels (node/native/kernels.h): keep them in step. hard_sigmoid is clip(z, 0, 1), the
 * hard sigmoid of equilibrium propagation (Scellier & Bengio 2017). */
export const ACTIVATION_CODES = { linear: 0, tanh: 1, sigmoid: 2, relu: 3, leaky_relu: 4, hard_sigmoid: 5 } as const;
export type ActivationKind = keyof typeof ACTIVATION_CODES;
export const ACTIVATION_KINDS = Object.keys(ACTIVATION_CODES) as ActivationKind[];

export type BackendName = 'js' | 'native' | 'wasm';

/**
 * The few kernels whose speed decides a training step. Every backend implements all of them on
 * float32 row-major data; results agree with the `js` reference to float32 rounding (tested).
 * Everything else (losses on [batch, classes], bookkeeping) is plain TypeScript shared by all.
 */
export interface Backend {
  readonly name: BackendName;
  /** C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ. Shapes are checked. */
  gemm(transA: boolean, transB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix): void;
  /** out = f(z) element-wise; `slope` is the negative-side slope of leaky_relu. out may alias z. */
  activate(kind: ActivationKind, z: Float32Array, out: Float32Array, slope: number): void;
  /** dz = dh ⊙ f'(z), given z and h = f(z) (each activation uses whichever is cheaper). dz may alias dh. */
  activateBackward(
    kind: ActivationKind, z: Float32Array, h: Float32Array, dh: Float32Array, dz: Float32Array, slope: number,
  ): void;
  /** m[i, :] += v for every row i. */
  addRowVector(m: Matrix, v: Float32Array): void;
  /** out = beta·out + alpha·Σ_i m[i, :] (column sums). */
  sumRows(m: Matrix, alpha: number, beta: number, out: Float32Array): void;
  /** y = alpha·x + beta·y. */
  axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void;
  /** Adam moment update and step direction, in place (Kingma & Ba 2015, Algorithm 1):
   * m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g²;  g = (m / c1) / (sqrt(v / c2) + eps),
   * with bias corrections c1 = 1 − b1^t, c2 = 1 − b2^t supplied by the caller. */
  adam(g: Float32Array, m: Float32Array, v: Float32Array, b1: number, b2: number, c1: number, c2: number, eps: number): void;
  /** out = min(max(x, lo), hi) element-wise; needs lo ≤ hi (both rounded to float32). out may alias x.
   * NaN in x stays NaN; −0 stays −0 when lo = 0 (the comparisons are x < lo, then > hi). */
  clip(x: Float32Array, lo: number, hi: number, out: Float32Array): void;
  /** out = scale·sign(x) element-wise: scale where x > 0, −scale where x < 0, +0 where x = ±0, NaN where x
   * is NaN (so divergence shows). scale is rounded to float32. out may alias x. */
  sign(x: Float32Array, scale: number, out: Float32Array): void;
  /** out[i] = u[i] < p[i] ? 1 : 0: one Bernoulli(p[i]) sample per element from a uniform u[i] in [0, 1)
   * that the caller drew from a seeded Rng (sampleBernoulli in tensor/sampling.ts does both), so every
   * backend gives the same samples from the same seed. p ≤ 0 gives 0, p ≥ 1 gives 1; NaN in p or u gives 0.
   * out may alias p or u. */
  bernoulli(p: Float32Array, u: Float32Array, out: Float32Array): void;
  /** gemm over `batch.count` operand triples at fixed strides: C_i = alpha·op(A_i)·op(B_i) + beta·C_i, where
   * X_i is the matrix of X's shape that starts at X.data[i·strideX] (stride 0: one operand for all i). With
   * strideC = 0 the products are summed into the one C: C = alpha·Σ_i op(A_i)·op(B_i) + beta·C, accumulated
   * as one product over the concatenated inner dimension (so the js backend rounds once). count = 0 leaves C alone. */
  gemmBatched(batch: GemmBatch, transA: boolean, transB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix): void;
  /** dst_i = src_iᵀ for `count` consecutive blocks: src [count, rows, cols] → dst [count, cols, rows].
   * dst must not overlap src. Exact (a copy). */
  transposeBlocks(count: number, rows: number, cols: number, src: Float32Array, dst: Float32Array): void;
  /** The patches of every image of x [B, C·H·W] into cols at `layout` (zeros in the padding); other values
   * of cols are left alone. Exact (a copy). */
  im2col(g: PatchGeometry, x: Matrix, layout: PatchLayout, cols: Float32Array): void;
  /** The adjoint of im2col: dx [B, C·H·W] = every patch value of cols added back onto the pixel it came
   * from (padding dropped). Overwrites dx. NOTE: the js backend adds each pixel's values in the order of
   * the positions q; the others may add in another order (equal to float32 rounding). */
  col2im(g: PatchGeometry, cols: Float32Array, layout: PatchLayout, dx: Matrix): void;
  /** One of a convolution's three products over a batch (src/nn/conv2d.ts), cols_n being image n's
   * K = C·k·k by P = oh·ow patches (im2col) and c overwritten:
   *   'forward'     a = x [B, C·H·W], b = W [out, K],       c = z [B, out·P]:  z_n = W·cols_n;
   *   'weightGrad'  a = dz [B, out·P], b = x [B, C·H·W],    c = dW [out, K]:   dW = Σ_n dz_n·cols_nᵀ;
   *   'inputError'  a = F [out, K],   b = dz [B, out·P],    c = dx [B, C·H·W]: dx = col2im(Fᵀ·dz_n).
   * c must not overlap a or b. NOTE: one call, not im2col + gemmBatched + col2im, so that a backend can make
   * each image's patches just before its product (in cache) and spread the images over its threads (native
   * does both); the others compose it from those three (tensor/conv-lowering.ts). Sums may be ordered
   * differently by each backend (equal to float32 rounding); no backend's results depend on its thread count. */
  conv2d(op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix): void;
  /** A locally connected layer's three products (src/nn/conv2d.ts, local2dLayer): conv2d's, with one bank of
   * out kernels for each of the P positions, W and F [P·out, K] (bank q is rows q·out … (q+1)·out − 1) and
   * cols_{n,q} image n's patch at position q:
   *   'forward'     a = x,  b = W,  c = z [B, out·P]:  z_n[o·P + q] = W_q[o]·cols_{n,q};
   *   'weightGrad'  a = dz, b = x,  c = dW [P·out, K]: dW_q = Σ_n dz_{n,q}·cols_{n,q}ᵀ;
   *   'inputError'  a = F,  b = dz, c = dx:            dx = col2im of the patch errors F_qᵀ·dz_{n,q}.
   * c must not overlap a or b. NOTE: one call, so that a backend can make each position's patches just before
   * its products and share the positions between its threads (native does); the others compose it
   * (tensor/local-lowering.ts). Sums may be ordered differently by each backend (equal to float32 rounding);
   * no backend's results depend on its thread count. */
  local2d(op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix): void;
  /** Max or average over the k×k windows (g.pad = 0) of each channel: x [B, C·H·W] → z [B, C·oh·ow]. A NaN
   * in a max window is kept only where it comes first. Every backend gives the js reference's bits. */
  pool2d(mode: PoolMode, g: PatchGeometry, x: Matrix, z: Matrix): void;
  /** The error of pool2d at its input: each window's dz goes to the window's first maximum of x (max) or
   * 1/k² of it to every input of the window (avg); overlapping windows add up, window by window. Overwrites
   * dx [B, C·H·W]; x is read by max only. Every backend gives the js reference's bits. */
  pool2dBackward(mode: PoolMode, g: PatchGeometry, x: Matrix, dz: Matrix, dx: Matrix): void;
  /** Number of threads the backend's GEMM may use (1 for single-threaded backends). */
  setThreads(n: number): void;
  getThreads(): number;
}

export function checkGemmShapes(transA: boolean, transB: boolean, a: Matrix, b: Matrix, c: Matrix): { m: number; n: number; k: number } {
  const m = transA ? a.cols : a.rows;
  const k = transA ? a.rows : a.cols;
  const kb = transB ? b.cols : b.rows;
  const n = transB ? b.rows : b.cols;
  if (k !== kb || c.rows !== m || c.cols !== n) {
    throw new Error(
      `gemm: shapes do not fit: op(A) ${m}x${k}, op(B) ${kb}x${n}, C ${c.rows}x${c.cols}` +
        ` (transA=${transA}, transB=${transB})`,
    );
  }
  if (a.data.length < a.rows * a.cols || b.data.length < b.rows * b.cols || c.data.length < c.rows * c.cols) {
    throw new Error('gemm: a matrix holds fewer values than its shape says');
  }
  return { m, n, k };
}

/** The checks every backend's clip makes first (the native addon re-checks the lengths in C). */
export function checkClip(x: Float32Array, lo: number, hi: number, out: Float32Array): void {
  if (out.length !== x.length) throw new Error(`clip: out has ${out.length} values, x has ${x.length}`);
  if (!(lo <= hi)) throw new Error(`clip: need lo ≤ hi, got lo = ${lo}, hi = ${hi}`);
}

export function checkSign(x: Float32Array, out: Float32Array): void {
  if (out.length !== x.length) throw new Error(`sign: out has ${out.length} values, x has ${x.length}`);
}

export function checkBernoulli(p: Float32Array, u: Float32Array, out: Float32Array): void {
  if (u.length !== p.length || out.length !== p.length) {
    throw new Error(`bernoulli: lengths differ (p ${p.length}, u ${u.length}, out ${out.length})`);
  }
}
