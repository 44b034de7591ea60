import type { Matrix } from '../tensor/matrix.js';

/** Binary visible units (E = −aᵀv − bᵀh − hᵀWv) or Gaussian ones of unit variance (E = ½‖v − a‖² − bᵀh − hᵀWv). */
export type VisibleKind = 'binary' | 'gaussian';

/** An RBM's parameters: W [hidden, visible], hidden biases b, visible biases a. */
export interface RbmParams {
  W: Matrix;
  b: Float32Array;
  a: Float32Array;
  visible: VisibleKind;
}

/** Values the exact partition function enumerates: 2^n configurations of the smaller binary side times the
 * other side's width (Gaussian visible units integrate out, so their hidden side is enumerated). */
export function likelihoodCost(visible: number, hidden: number, kind: VisibleKind): number {
  if (kind === 'gaussian') return 2 ** hidden * visible;
  return 2 ** Math.min(visible, hidden) * Math.max(visible, hidden);
}

const softplus = (x: number) => (x > 30 ? x : Math.log1p(Math.exp(x)));

/** Free energy F(v) = −log Σ_h e^{−E(v,h)}: −aᵀv − Σ_j softplus(b_j + W_j·v) (binary), ½‖v − a‖² − Σ_j softplus(…) (Gaussian). */
export function freeEnergy(p: RbmParams, v: ArrayLike<number>, offset = 0): number {
  const { W, b, a } = p, nv = W.cols;
  let f = 0;
  for (let i = 0; i < nv; i++) f += p.visible === 'binary' ? -a[i] * v[offset + i] : 0.5 * (v[offset + i] - a[i]) ** 2;
  for (let j = 0; j < W.rows; j++) {
    let x = b[j];
    for (let i = 0; i < nv; i++) x += W.data[j * nv + i] * v[offset + i];
    f -= softplus(x);
  }
  return f;
}

/** log Z by enumeration (float64): of the hidden configurations H, log Σ_H exp(bᵀH + Σ_i softplus(a_i + (WᵀH)_i))
 * for binary visible units (or of the visible ones when fewer), and for Gaussian ones
 * (nv/2)·log 2π + log Σ_H exp(bᵀH + aᵀc + ½‖c‖²), c = WᵀH (the Gaussian integral over v). */
export function logPartition(p: RbmParams): number {
  const { W, b, a } = p, nv = W.cols, nh = W.rows;
  const terms: number[] = [];
  if (p.visible === 'binary' && nv < nh) {
    const v = new Float64Array(nv);
    for (let code = 0; code < 2 ** nv; code++) {
      for (let i = 0; i < nv; i++) v[i] = (code >> i) & 1;
      terms.push(-freeEnergy(p, v));
    }
    return logSumExp(terms);
  }
  const c = new Float64Array(nv);
  for (let code = 0; code < 2 ** nh; code++) {
    c.fill(0);
    let t = 0;
    for (let j = 0; j < nh; j++) {
      if (!((code >> j) & 1)) continue;
      t += b[j];
      for (let i = 0; i < nv; i++) c[i] += W.data[j * nv + i];
    }
    for (let i = 0; i < nv; i++) t += p.visible === 'binary' ? softplus(a[i] + c[i]) : a[i] * c[i] + 0.5 * c[i] * c[i];
    terms.push(t);
  }
  return logSumExp(terms) + (p.visible === 'gaussian' ? 0.5 * nv * Math.log(2 * Math.PI) : 0);
}

/** Mean exact log p(v) = −F(v) − log Z over the rows of v (for binary units a probability of binary v; grey
 * values in [0, 1] give the same formula's value, as Hinton & Salakhutdinov's code treats pixels). */
export function exactLogLikelihood(p: RbmParams, v: Matrix): number {
  const logZ = logPartition(p);
  let sum = 0;
  for (let r = 0; r < v.rows; r++) sum += -freeEnergy(p, v.data, r * v.cols) - logZ;
  return sum / v.rows;
}

export function logSumExp(values: readonly number[]): number {
  let m = -Infinity;
  for (const x of values) if (x > m) m = x;
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (const x of values) s += Math.exp(x - m);
  return m + Math.log(s);
}
