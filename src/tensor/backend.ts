import type { Matrix } from './matrix.js';

/** Element-wise non-linearities known to every backend. The numeric codes are shared with the native
 * addon's C kernels (node/native/kernels.c): keep them in step. */
export const ACTIVATION_CODES = { linear: 0, tanh: 1, sigmoid: 2, relu: 3, leaky_relu: 4 } as const;
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
