/**
 * LU factorisation with partial pivoting of a small square matrix in float64, and solves with it: what
 * exact-inverse target propagation needs to apply W⁻¹ (Golub & Van Loan, Matrix Computations, Alg. 3.4.1).
 * NOTE: every entry sees the same operations in the same order as the textbook loops (so the same bits);
 * the loops are only arranged so that no step waits on the one before: the factorisation's row updates
 * run over contiguous rows, and luSolveRows solves many right-hand sides at once, each subtraction of a
 * substitution applied to all of them before the next.
 */
export interface LuFactors {
  n: number;
  /** L (unit lower, below the diagonal) and U (on and above it), row-major [n, n]. */
  lu: Float64Array;
  /** Row i of the factored matrix is row pivot[i] of the original. */
  pivot: Int32Array;
}

/** Factors the row-major n×n matrix a (any numeric array); throws if it is singular to working precision. */
export function luFactor(n: number, a: ArrayLike<number>): LuFactors {
  const lu = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) lu[i] = a[i];
  const pivot = new Int32Array(n);
  for (let i = 0; i < n; i++) pivot[i] = i;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(lu[i]));
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(lu[i * n + k]) > Math.abs(lu[p * n + k])) p = i;
    if (!(Math.abs(lu[p * n + k]) > 1e-12 * scale)) throw new Error(`the ${n}x${n} matrix is singular (pivot ${k + 1} is ${lu[p * n + k]})`);
    const rk = k * n;
    if (p !== k) {
      const rp = p * n;
      for (let j = 0; j < n; j++) { const t = lu[rk + j]; lu[rk + j] = lu[rp + j]; lu[rp + j] = t; }
      const t = pivot[k]; pivot[k] = pivot[p]; pivot[p] = t;
    }
    const d = lu[rk + k];
    for (let i = k + 1; i < n; i++) {
      const ri = i * n;
      const f = (lu[ri + k] /= d);
      if (f !== 0) subtractScaled(lu, ri, f, lu, rk, k + 1, n);
    }
  }
  return { n, lu, pivot };
}

/** x = A⁻¹ b for the factored A; b and x of length n (x may be b's own array only if b is not needed after). */
export function luSolve({ n, lu, pivot }: LuFactors, b: ArrayLike<number>, x: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    let s = b[pivot[i]];
    for (let j = 0; j < i; j++) s -= lu[i * n + j] * x[j];
    x[i] = s;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i];
    for (let j = i + 1; j < n; j++) s -= lu[i * n + j] * x[j];
    x[i] = s / lu[i * n + i];
  }
  return x;
}

/**
 * Solves A x_r = b_r for m right-hand sides at once, each the same bits as luSolve(factors, b_r, x_r).
 * b and x are [n, m], column r the right-hand side r (so each step of a substitution is one contiguous
 * row update); they must be distinct arrays.
 */
export function luSolveRows({ n, lu, pivot }: LuFactors, m: number, b: Float64Array, x: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    const xi = i * m, bi = pivot[i] * m;
    for (let r = 0; r < m; r++) x[xi + r] = b[bi + r];
    for (let j = 0; j < i; j++) {
      const l = lu[i * n + j], xj = j * m;
      subtractScaled(x, xi, l, x, xj, 0, m);
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    const xi = i * m;
    for (let j = i + 1; j < n; j++) {
      const u = lu[i * n + j], xj = j * m;
      subtractScaled(x, xi, u, x, xj, 0, m);
    }
    const d = lu[i * n + i];
    for (let r = 0; r < m; r++) x[xi + r] /= d;
  }
  return x;
}

/** y[yo + j] −= f · x[xo + j] for j in [from, to), unrolled (each entry one multiply and one subtract). */
function subtractScaled(y: Float64Array, yo: number, f: number, x: Float64Array, xo: number, from: number, to: number): void {
  let j = from;
  for (; j + 4 <= to; j += 4) {
    y[yo + j] -= f * x[xo + j];
    y[yo + j + 1] -= f * x[xo + j + 1];
    y[yo + j + 2] -= f * x[xo + j + 2];
    y[yo + j + 3] -= f * x[xo + j + 3];
  }
  for (; j < to; j++) y[yo + j] -= f * x[xo + j];
}
