// A tiny Helmholtz machine in float64 plain TypeScript, by enumeration of every hidden state: the exact
// log p(v, h), log q(h | v), −log p(v) and free energy F(v) that the wake-sleep tests hold the rule to.
import type { Network } from '../src/nn/network.js';
import type { GenerativeModel } from '../src/rules/helmholtz-machine.js';

/** One layer's logistic units: logits = W·s + b, W [out][in]. */
interface Affine { W: number[][]; b: number[] }

/** The machine's parameters as float64 arrays: rec[k−1] = (W_k, b_k), gen[k−1] = (G_k, c_k), prior logits g. */
export interface ExactMachine { sizes: number[]; rec: Affine[]; gen: Affine[]; g: number[] }

const rowsOf = (data: Float32Array, rows: number, cols: number): number[][] =>
  Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)));

export function exactMachine(net: Network, model: GenerativeModel): ExactMachine {
  const K = net.layers.length - 1;
  return {
    sizes: net.spec.sizes.slice(0, K + 1),
    rec: net.layers.slice(0, K).map((p) => ({ W: rowsOf(p.W.data, p.W.rows, p.W.cols), b: [...p.b] })),
    gen: model.G.map((G, i) => ({ W: rowsOf(G.data, G.rows, G.cols), b: [...model.c[i]] })),
    g: [...model.g],
  };
}

const softplus = (a: number): number => Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)));

/** Σ_j log Bernoulli(s_j; σ(logit_j)) = Σ_j s_j a_j − softplus(a_j), a = W·x + b (s may be fractional). */
function logBernoulli(layer: Affine, x: readonly number[], s: readonly number[]): number {
  let sum = 0;
  layer.W.forEach((row, j) => {
    let a = layer.b[j];
    row.forEach((w, i) => { a += w * x[i]; });
    sum += s[j] * a - softplus(a);
  });
  return sum;
}

/** log p(s_0, …, s_K): the prior on s_K, then each layer given the one above. */
export function logJoint(m: ExactMachine, s: readonly (readonly number[])[]): number {
  const K = m.gen.length;
  let sum = 0;
  m.g.forEach((a, j) => { sum += s[K][j] * a - softplus(a); });
  for (let k = 1; k <= K; k++) sum += logBernoulli(m.gen[k - 1], s[k], s[k - 1]);
  return sum;
}

/** log q(s_1, …, s_K | s_0). */
export function logRecognition(m: ExactMachine, s: readonly (readonly number[])[]): number {
  let sum = 0;
  for (let k = 1; k < s.length; k++) sum += logBernoulli(m.rec[k - 1], s[k - 1], s[k]);
  return sum;
}

/** Every binary assignment of layers of the given widths, as arrays of layers. */
export function allStates(widths: readonly number[]): number[][][] {
  const total = widths.reduce((n, w) => n + w, 0), out: number[][][] = [];
  for (let code = 0; code < 2 ** total; code++) {
    let bit = 0;
    out.push(widths.map((w) => Array.from({ length: w }, () => (code >> bit++) & 1)));
  }
  return out;
}

/** −log p(v) = −log Σ_h p(v, h) and F(v) = Σ_h q(h|v) (log q(h|v) − log p(v, h)), both exact. */
export function exactNllAndBound(m: ExactMachine, v: readonly number[]): { nll: number; bound: number } {
  const joints: number[] = [];
  let bound = 0;
  for (const h of allStates(m.sizes.slice(1))) {
    const s = [v, ...h], lp = logJoint(m, s), lq = logRecognition(m, s);
    joints.push(lp);
    bound += Math.exp(lq) * (lq - lp);
  }
  const max = Math.max(...joints);
  return { nll: -(max + Math.log(joints.reduce((n, j) => n + Math.exp(j - max), 0))), bound };
}

/** The machine's parameters flattened in a fixed order, and a way to write them back. */
export function flatParams(layers: readonly Affine[], extra: number[] | null): { values: number[]; set: (i: number, v: number) => void } {
  const refs: [number[], number][] = [];
  for (const { W, b } of layers) {
    W.forEach((row) => row.forEach((_, i) => refs.push([row, i])));
    b.forEach((_, i) => refs.push([b, i]));
  }
  extra?.forEach((_, i) => refs.push([extra, i]));
  return { values: refs.map(([a, i]) => a[i]), set: (i, v) => { refs[i][0][refs[i][1]] = v; } };
}

/** Central finite differences of f with respect to every parameter that `params` exposes. */
export function finiteDifferences(params: ReturnType<typeof flatParams>, f: () => number, step = 1e-5): number[] {
  return params.values.map((v, i) => {
    params.set(i, v + step);
    const up = f();
    params.set(i, v - step);
    const down = f();
    params.set(i, v);
    return (up - down) / (2 * step);
  });
}
