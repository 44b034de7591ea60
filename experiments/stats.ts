// Small numerical helpers shared by the experiment scripts: summaries over seeds, log-log fits, the
// eigenvalues of a small symmetric matrix.

export const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;

export const sd = (xs: readonly number[]): number => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

/** Geometric mean: the right average for counts that vary over orders of magnitude. */
export const geomean = (xs: readonly number[]): number => Math.exp(mean(xs.map(Math.log)));

/** A number for a table: fixed digits, exponent form when tiny or huge. */
export function num(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) < 0.001 || Math.abs(x) >= 1e6)) return x.toExponential(1);
  return x.toFixed(digits);
}

/** mean ± sd over seeds. */
export const meanSd = (xs: readonly number[], digits = 3): string => `${num(mean(xs), digits)} ± ${num(sd(xs), digits)}`;

/** Least-squares slope and intercept of log y against log x: the exponent of a power law y ∝ x^slope. */
export function logLogSlope(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
  const lx = xs.map(Math.log), ly = ys.map(Math.log);
  const mx = mean(lx), my = mean(ly);
  let sxy = 0, sxx = 0;
  lx.forEach((x, i) => { sxy += (x - mx) * (ly[i] - my); sxx += (x - mx) ** 2; });
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}

/** Eigenvalues of a small symmetric matrix (row-major n×n), ascending, by cyclic Jacobi rotations. */
export function symmetricEigenvalues(a: readonly number[], n: number): number[] {
  const m = Float64Array.from(a);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (apq === 0) continue;
        // The rotation that zeroes m[p][q] (Golub & Van Loan, Algorithm 8.4.1).
        const tau = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t), s = t * c;
        for (let k = 0; k < n; k++) { // columns p, q
          const kp = m[k * n + p], kq = m[k * n + q];
          m[k * n + p] = c * kp - s * kq;
          m[k * n + q] = s * kp + c * kq;
        }
        for (let k = 0; k < n; k++) { // rows p, q
          const pk = m[p * n + k], qk = m[q * n + k];
          m[p * n + k] = c * pk - s * qk;
          m[q * n + k] = s * pk + c * qk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => m[i * n + i]).sort((x, y) => x - y);
}
