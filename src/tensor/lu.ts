/**
 * LU factorisation with partial pivoting of a small square matrix in float64, and solves with it: what
 * exact-inverse target propagation needs to apply W⁻¹ (Golub & Van Loan, Matrix Computations, Alg. 3.4.1).
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
  const lu = Float64Array.from({ length: n * n }, (_, i) => a[i]);
  const pivot = Int32Array.from({ length: n }, (_, i) => i);
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(lu[i]));
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(lu[i * n + k]) > Math.abs(lu[p * n + k])) p = i;
    if (!(Math.abs(lu[p * n + k]) > 1e-12 * scale)) throw new Error(`the ${n}x${n} matrix is singular (pivot ${k + 1} is ${lu[p * n + k]})`);
    if (p !== k) {
      for (let j = 0; j < n; j++) [lu[k * n + j], lu[p * n + j]] = [lu[p * n + j], lu[k * n + j]];
      [pivot[k], pivot[p]] = [pivot[p], pivot[k]];
    }
    const d = lu[k * n + k];
    for (let i = k + 1; i < n; i++) {
      const f = (lu[i * n + k] /= d);
      if (f !== 0) for (let j = k + 1; j < n; j++) lu[i * n + j] -= f * lu[k * n + j];
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
