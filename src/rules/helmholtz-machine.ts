import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import { sampleBernoulli } from '../tensor/sampling.js';
import type { Rng } from '../random.js';
import { denseForward, type DenseParams } from '../nn/dense.js';
import { initWeights } from '../nn/init.js';
import type { Network, Param } from '../nn/network.js';

/*
 * A Helmholtz machine on a network's hidden layers (Hinton, Dayan, Frey & Neal 1995; Dayan, Hinton, Neal &
 * Zemel 1995). Activities s_0 = v (the input) and s_1 … s_K, the K = L − 1 hidden layers of the net (its
 * output layer, a readout, is no part of the machine), all binary:
 *   recognition (the net's layers):  q(s_k | s_{k−1}) = Bernoulli(σ(W_k s_{k−1} + b_k)),   k = 1 … K;
 *   generation (GenerativeModel):    p(s_K) = Bernoulli(σ(g)),  p(s_{k−1} | s_k) = Bernoulli(σ(G_k s_k + c_k)).
 * In code the net's layer k−1 holds W_k, and G[k−1], c[k−1] hold G_k [n_{k−1}, n_k], c_k [n_{k−1}]. Arrays of
 * activities are indexed by layer i = 0 … K.
 */

/** The generative half of the machine: top-down weights and biases, and the top layer's prior. */
export interface GenerativeModel {
  /** G[k−1] = G_k, [n_{k−1}, n_k]: layer k's top-down weights onto layer k − 1 (k = 1 … K). */
  G: Matrix[];
  /** c[k−1] = c_k, [n_{k−1}]: the generative biases of layer k − 1. */
  c: Float32Array[];
  /** The prior's logits on the top hidden layer s_K, [n_K]. */
  g: Float32Array;
}

/** G_k drawn as the net's forward weights are (its --init, fan-in n_k), biases and prior logits 0. */
export function initGenerativeModel(net: Network, rng: Rng): GenerativeModel {
  const { sizes, init } = net.spec;
  const K = sizes.length - 2;
  const G = Array.from({ length: K }, (_, i) => {
    const m = matrix(sizes[i], sizes[i + 1]);
    initWeights(init, sizes[i + 1], sizes[i], rng, m.data);
    return m;
  });
  return { G, c: G.map((m) => new Float32Array(m.rows)), g: new Float32Array(sizes[K]) };
}

/** The model's tensors in a fixed order, G_1, c_1, …, G_K, c_K, g (the order of generativeGradsLike's). */
export function generativeParams(model: GenerativeModel): Param[] {
  return [
    ...model.G.flatMap((G, i) => [
      { name: `G${i + 1}`, value: G.data, isBias: false },
      { name: `c${i + 1}`, value: model.c[i], isBias: true },
    ]),
    { name: 'g', value: model.g, isBias: true },
  ];
}

/** Update buffers of the model's shapes. */
export function generativeGradsLike(model: GenerativeModel): GenerativeModel {
  return { G: model.G.map((G) => matrix(G.rows, G.cols)), c: model.c.map((c) => new Float32Array(c.length)), g: new Float32Array(model.g.length) };
}

export function generativeGradList(grads: GenerativeModel): Float32Array[] {
  return [...grads.G.flatMap((G, i) => [G.data, grads.c[i]]), grads.g];
}

/** A batch's buffers for both phases, each [rows, n_i] for i = 0 … K (0 × 0 where a layer has none). */
export interface MachineBuffers {
  rows: number;
  /** The wake phase's s_i: s_0 the (binarised) input, s_1 … s_K sampled bottom-up from q. */
  wake: Matrix[];
  /** The sleep phase's dream s_i, sampled top-down from p. */
  dream: Matrix[];
  /** Recognition logits z_i = W_i s_{i−1} + b_i (i ≥ 1) of the phase last run. */
  recognition: Matrix[];
  /** Generative logits a_i = G_{i+1} s_{i+1} + c_{i+1} (i < K), and a_K = g on every row. */
  generation: Matrix[];
  /** Prediction errors σ(logit) − s: the delta rule's error, in gradient sign. */
  delta: Matrix[];
  uniform: Matrix[];
  /** One number per row (free energies, likelihoods). */
  perRow: Float64Array;
}

export function machineBuffers(sizes: readonly number[], rows: number): MachineBuffers {
  const K = sizes.length - 2, widths = sizes.slice(0, K + 1);
  const make = (has: (i: number) => boolean) => widths.map((n, i) => (has(i) ? matrix(rows, n) : matrix(0, 0)));
  const all = () => true;
  return { rows, wake: make(all), dream: make(all), recognition: make((i) => i > 0), generation: make(all), delta: make(all), uniform: make(all), perRow: new Float64Array(rows) };
}

/** Buffers kept per batch size (and net shape), so that no step allocates; the few sizes of a run are kept. */
export class MachineBufferCache {
  private readonly cache = new Map<string, MachineBuffers>();
  get(sizes: readonly number[], rows: number): MachineBuffers {
    const key = `${rows}:${sizes.join('-')}`;
    let buffers = this.cache.get(key);
    if (!buffers) {
      if (this.cache.size >= 4) this.cache.delete(this.cache.keys().next().value as string);
      buffers = machineBuffers(sizes, rows);
      this.cache.set(key, buffers);
    }
    return buffers;
  }
}

/** s_0: the pixels in [0, 1], sampled v ~ Bernoulli(x) (dynamic binarisation) or taken as they are. */
export function wakeInput(be: Backend, rng: Rng, x: Matrix, binarize: boolean, buf: MachineBuffers): void {
  const v = buf.wake[0].data;
  if (binarize) sampleBernoulli(be, rng, x.data, buf.uniform[0].data, v);
  else v.set(x.data);
}

/** The wake phase's hidden units from s_0 up: s_k ~ q(s_k | s_{k−1}) = Bernoulli(σ(W_k s_{k−1} + b_k)), then
 * the generative logits a_i at those states (what p predicts for each layer from the one above). */
export function wakeHidden(be: Backend, layers: readonly DenseParams[], model: GenerativeModel, rng: Rng, buf: MachineBuffers): void {
  const K = model.G.length, { wake, recognition, uniform } = buf;
  for (let k = 1; k <= K; k++) {
    denseForward(be, layers[k - 1], wake[k - 1], recognition[k]);
    be.activate('sigmoid', recognition[k].data, wake[k].data, 0);
    sampleBernoulli(be, rng, wake[k].data, uniform[k].data, wake[k].data);
  }
  generativeLogits(be, model, wake, buf.generation);
}

/** a_i = G_{i+1} s_{i+1} + c_{i+1} for i < K (rows of s: s·Gᵀ), and a_K = g broadcast to every row. */
function generativeLogits(be: Backend, model: GenerativeModel, s: readonly Matrix[], a: Matrix[]): void {
  const K = model.G.length;
  for (let i = 0; i < K; i++) denseForward(be, { W: model.G[i], b: model.c[i] }, s[i + 1], a[i]);
  priorLogits(be, model.g, a[K]);
}

function priorLogits(be: Backend, g: Float32Array, out: Matrix): void {
  out.data.fill(0);
  be.addRowVector(out, g);
}

/**
 * The wake phase's update of the generative model, in gradient sign and averaged over the batch: the delta
 * rule on each layer's prediction from the layer above (Hinton et al. 1995, the wake rule: Δw_kj = ε s_k (s_j − p_j),
 * p_j = σ(Σ_k s_k w_kj) the top-down prediction of unit j from the units k above it), which is −∇ log p(s_0 … s_K) at the sample:
 *   ∂/∂G_k = (σ(a_{k−1}) − s_{k−1}) s_kᵀ,   ∂/∂c_k = σ(a_{k−1}) − s_{k−1},   ∂/∂g = σ(g) − s_K.
 */
export function wakeGrads(be: Backend, buf: MachineBuffers, out: GenerativeModel): void {
  const K = out.G.length, B = buf.rows, { wake, generation, delta } = buf;
  for (let i = 0; i <= K; i++) {
    be.activate('sigmoid', generation[i].data, delta[i].data, 0);
    be.axpby(-1, wake[i].data, 1, delta[i].data);
    if (i < K) {
      be.gemm(true, false, 1 / B, delta[i], wake[i + 1], 0, out.G[i]);
      be.sumRows(delta[i], 1 / B, 0, out.c[i]);
    } else be.sumRows(delta[i], 1 / B, 0, out.g);
  }
}

/** The sleep phase's dream: s_K ~ p(s_K) = Bernoulli(σ(g)), then s_{k−1} ~ p(s_{k−1} | s_k) down to s_0. Leaves
 * the visible probabilities σ(a_0) … as logits a_i in buf.generation. */
export function dream(be: Backend, model: GenerativeModel, rng: Rng, buf: MachineBuffers): void {
  const K = model.G.length, { dream: s, generation: a, uniform } = buf;
  priorLogits(be, model.g, a[K]);
  for (let i = K; i >= 0; i--) {
    if (i < K) denseForward(be, { W: model.G[i], b: model.c[i] }, s[i + 1], a[i]);
    be.activate('sigmoid', a[i].data, s[i].data, 0);
    sampleBernoulli(be, rng, s[i].data, uniform[i].data, s[i].data);
  }
}

/**
 * The sleep phase's update of the recognition weights on the dream, in gradient sign and averaged over the
 * batch: the delta rule on each layer's bottom-up prediction of the dream's layer above (Hinton et al. 1995,
 * the sleep rule: Δw_jk = ε s_j (s_k − q_k), q_k = σ(Σ_j s_j w_jk) the bottom-up prediction of unit k), which is −∇ log q(s_1 … s_K | s_0) at the dream:
 *   ∂/∂W_k = (σ(z_k) − s_k) s_{k−1}ᵀ,   ∂/∂b_k = σ(z_k) − s_k.
 */
export function sleepGrads(be: Backend, layers: readonly DenseParams[], buf: MachineBuffers, out: DenseParams[]): void {
  const K = buf.wake.length - 1, B = buf.rows, { dream: s, recognition: z, delta } = buf;
  for (let k = 1; k <= K; k++) {
    denseForward(be, layers[k - 1], s[k - 1], z[k]);
    be.activate('sigmoid', z[k].data, delta[k].data, 0);
    be.axpby(-1, s[k].data, 1, delta[k].data);
    be.gemm(true, false, 1 / B, delta[k], s[k - 1], 0, out[k - 1].W);
    be.sumRows(delta[k], 1 / B, 0, out[k - 1].b);
  }
}

/** Σ_j −log Bernoulli(s_j; σ(a_j)) = Σ_j softplus(a_j) − s_j a_j over row r of a [rows, n] (s may be any value
 * in [0, 1]: then it is the cross-entropy). */
function rowNegLogBernoulli(a: Matrix, s: Matrix, r: number): number {
  let sum = 0;
  const end = (r + 1) * a.cols;
  for (let j = r * a.cols; j < end; j++) {
    const z = a.data[j];
    // NOTE: softplus(z) = max(z, 0) + log1p(exp(−|z|)), exact for large |z| where log(1 + e^z) overflows.
    sum += (z > 0 ? z : 0) + Math.log1p(Math.exp(-Math.abs(z))) - s.data[j] * z;
  }
  return sum;
}

/** out[r] = log q(s_1 … s_K | s_0) − log p(s_0 … s_K) of row r of the wake sample last drawn, in nats: one
 * sample of the free energy F(v) = E_q[log q(h|v) − log p(v, h)] ≥ −log p(v) (Hinton et al. 1995: the description length of v
 * under the recognition model's codes, in nats). */
export function sampleFreeEnergies(buf: MachineBuffers, out: Float64Array): Float64Array {
  const K = buf.wake.length - 1, { wake: s, generation: a, recognition: z } = buf;
  for (let r = 0; r < buf.rows; r++) {
    let f = 0;
    for (let i = 0; i <= K; i++) f += rowNegLogBernoulli(a[i], s[i], r); // −log p
    for (let k = 1; k <= K; k++) f -= rowNegLogBernoulli(z[k], s[k], r); // + log q
    out[r] = f;
  }
  return out;
}

/**
 * −log p(v) of each row of the wake input s_0 by importance sampling with q as the proposal (the estimator of
 * Bornschein & Bengio 2015): p(v) ≈ (1/S) Σ_s p(v, h_s) / q(h_s | v), h_s ~ q(h | v); the estimate of −log p(v) is
 * biased upwards, by less for more samples, and equals one sample of F(v) for S = 1. Redraws the wake
 * phase's hidden units (S times) from rng; out[r] gets the estimate.
 */
export function importanceSampledNll(
  be: Backend, layers: readonly DenseParams[], model: GenerativeModel, rng: Rng, samples: number, buf: MachineBuffers, out: Float64Array,
): Float64Array {
  const B = buf.rows, logWeights = new Float64Array(samples * B), f = new Float64Array(B);
  for (let s = 0; s < samples; s++) {
    wakeHidden(be, layers, model, rng, buf);
    sampleFreeEnergies(buf, f);
    for (let r = 0; r < B; r++) logWeights[s * B + r] = -f[r];
  }
  for (let r = 0; r < B; r++) {
    let max = -Infinity;
    for (let s = 0; s < samples; s++) max = Math.max(max, logWeights[s * B + r]);
    let sum = 0;
    for (let s = 0; s < samples; s++) sum += Math.exp(logWeights[s * B + r] - max);
    out[r] = -(max + Math.log(sum / samples));
  }
  return out;
}

/** Mean over the rows of x of the one-sample free energy F(v) and, with samples > 0, of the importance-sampled
 * −log p(v), in chunks of `chunk` rows; v binarised (once, from rng) as the rule does. For evaluation. */
export function machineLikelihood(
  be: Backend, net: Network, model: GenerativeModel, x: Matrix, options: { binarize: boolean; samples: number; rng: Rng; chunk?: number },
): { bound: number; nll: number | null } {
  const chunk = options.chunk ?? 100, cache = new MachineBufferCache();
  let boundSum = 0, nllSum = 0;
  for (let start = 0; start < x.rows; start += chunk) {
    const rows = Math.min(chunk, x.rows - start);
    const buf = cache.get(net.spec.sizes, rows);
    wakeInput(be, options.rng, { rows, cols: x.cols, data: x.data.subarray(start * x.cols, (start + rows) * x.cols) }, options.binarize, buf);
    wakeHidden(be, net.layers, model, options.rng, buf);
    for (const f of sampleFreeEnergies(buf, new Float64Array(rows))) boundSum += f;
    if (options.samples > 0) {
      for (const n of importanceSampledNll(be, net.layers, model, options.rng, options.samples, buf, new Float64Array(rows))) nllSum += n;
    }
  }
  return { bound: boundSum / x.rows, nll: options.samples > 0 ? nllSum / x.rows : null };
}
