import type { Backend } from '../tensor/backend.js';
import { topRows, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import { sampleBernoulli } from '../tensor/sampling.js';
import { checkDenseNetwork, layerActivation, type Network } from '../nn/network.js';
import { denseForward } from '../nn/dense.js';
import { exactLogLikelihood, likelihoodCost, type RbmParams, type VisibleKind } from '../metrics/rbm-likelihood.js';
import { choiceOption, flag, positiveInteger } from './perturbation.js';
import { squaredDistance } from '../tensor/vector.js';
import { layerBuffers } from './target-propagation.js';
import { checkRuleOptions, type LearningRule, type Picture, type PictureContext, type RuleOptions, type TrainableGroup } from './rule.js';

/** Where the negative phase's chains start: at the data (CD-k), at persistent fantasy particles of the batch's
 * size (PCD, Tieleman 2008), or at one persistent chain per training example (engine-v2's example indices). */
export type ChainKind = 'data' | 'persistent' | 'per-example';

export interface RbmState {
  /** The layer (0-based) that is this RBM: its W [hidden, visible] and b (hidden biases) are the layer's. */
  layer: number;
  /** Visible biases a: the rule's trainable group 'visible'. */
  visibleBias: Float32Array;
  /** The chains' visible states, rows of `visible` values; null for CD-k from the data. */
  chains: Float32Array | null;
  /** Per-example chains: whether example i's chain has started (from its data). */
  started: Uint8Array | null;
}

/** The most values (configurations × units) the exact log-likelihood may enumerate per step when `likelihood`
 * is auto: 2^20, a few milliseconds. */
export const AUTO_LIKELIHOOD_COST = 2 ** 20;

/**
 * A restricted Boltzmann machine trained by contrastive divergence (Hinton 2002; the recipe of Hinton &
 * Salakhutdinov 2006's rbm.m). The RBM is one dense layer of the network: its weights W [hidden, visible] and
 * biases b are the layer's, and its visible biases a are the rule's group 'visible'. Energy (binary visible):
 *   E(v, h) = −aᵀv − bᵀh − hᵀWv,   p(h_j = 1 | v) = σ(b_j + W_j·v),   p(v_i = 1 | h) = σ(a_i + (Wᵀh)_i);
 * Gaussian visible units (unit variance): E = ½‖v − a‖² − bᵀh − hᵀWv, v | h ~ N(a + Wᵀh, I).
 * CD-k (Hinton's talk: Δw_ij = ε(⟨v_i h_j⟩⁰ − ⟨v_i h_j⟩ᵏ)): hidden states driven by the data are sampled
 * (binary), reconstructions are probabilities unless sampleVisible, and the statistics use probabilities,
 * so the update is, averaged over the batch,
 *   ΔW ∝ ⟨p(h|v⁰) v⁰ᵀ⟩ − ⟨p(h|vᵏ) vᵏᵀ⟩,  Δb ∝ ⟨p(h|v⁰)⟩ − ⟨p(h|vᵏ)⟩,  Δa ∝ ⟨v⁰⟩ − ⟨vᵏ⟩,
 * returned in gradient sign (negated). Weight cost and momentum are the run's optimizer's (--weight-decay
 * 2e-4, --initial-momentum 0.5:5 --momentum 0.9 in Hinton & Salakhutdinov's code; --pretrain sets them).
 * The layer: option `layer` (1-based), else the one layer the stage trains (--stage rbm:E:L), else layer 1.
 * The layer's input is the layers below run forward (their units' probabilities: a deep belief net's greedy
 * stack). Options: k (≥ 1), visible (binary | gaussian), chains (data | persistent | per-example),
 * sampleVisible (default: true for persistent chains, false for CD from the data), meanField (hidden
 * probabilities drive the reconstructions too: CD-1 is then deterministic, the talk's autoencoder view), likelihood (auto | off: the
 * exact log p(v) by enumeration as the metric logLikelihood when small enough, AUTO_LIKELIHOOD_COST).
 * The loss is the squared reconstruction error Σ_i (v⁰_i − p(v_i|h⁰))² per example, as rbm.m prints.
 */
export function rbm(options: RuleOptions = {}): LearningRule<RbmState> {
  checkRuleOptions('rbm', options, ['k', 'visible', 'chains', 'sampleVisible', 'meanField', 'layer', 'likelihood']);
  const k = positiveInteger('rbm', 'k', options.k ?? 1);
  const visible = choiceOption<VisibleKind>('rbm', 'visible', options.visible ?? 'binary', ['binary', 'gaussian']);
  const chains = choiceOption<ChainKind>('rbm', 'chains', options.chains ?? 'data', ['data', 'persistent', 'per-example']);
  const sampleVisible = flag('rbm', 'sampleVisible', options.sampleVisible ?? chains !== 'data');
  const meanField = flag('rbm', 'meanField', options.meanField ?? false);
  const layerOption = options.layer === undefined ? null : positiveInteger('rbm', 'layer', options.layer) - 1;
  const likelihood = choiceOption('rbm', 'likelihood', options.likelihood ?? 'auto', ['auto', 'off']);
  const buffers = layerBuffers(), chainScratch = layerBuffers();
  let gradA = new Float32Array(0);
  return {
    id: 'rbm',
    locality: { weightTransport: true, note: 'symmetric connections: the reconstruction drives the visible units through Wᵀ, the same synapses as the recognition' },
    init(net, _rng, info) {
      const trains = info?.trains;
      const layer = layerOption ?? (trains && trains.length === 1 ? trains[0] : trains && trains.length > 1 ? -1 : 0);
      if (layer < 0) throw new Error(`rbm trains one layer at a time, but its stage trains layers ${trains?.map((l) => l + 1).join(', ')}: give one layer (--stage rbm:EPOCHS:LAYER) or use --pretrain rbm`);
      checkRbmLayer(net, layer);
      const width = net.spec.sizes[layer];
      const perExample = chains === 'per-example';
      if (perExample && !(info && info.trainExamples > 0)) throw new Error("rbm's per-example chains need the training set's size (InitInfo.trainExamples)");
      return {
        layer,
        visibleBias: new Float32Array(width),
        chains: perExample ? new Float32Array((info as { trainExamples: number }).trainExamples * width) : null,
        started: perExample ? new Uint8Array((info as { trainExamples: number }).trainExamples) : null,
      };
    },
    step(ctx, state, batch) {
      const { backend: be, net, rng, grads } = ctx;
      const l = state.layer, rows = batch.x.rows;
      const { W, b } = net.layers[l];
      const params: RbmParams = { W, b, a: state.visibleBias, visible };
      const v0 = l === 0 ? batch.x : lowerActivity(be, net, l, batch.x, buffers);
      const nv = W.cols, nh = W.rows;
      const ph0 = buffers(0, rows, nh), h = buffers(1, rows, nh), u = buffers(2, rows, Math.max(nh, nv));
      const pv = buffers(3, rows, nv), v = buffers(4, rows, nv), ph = buffers(5, rows, nh);
      hiddenProbabilities(be, params, v0, ph0);
      // The negative phase's chain starts at the data's hidden sample (CD) or at the chain's visible state (PCD).
      const chainStart = chainRows(state, batch.indices, v0, rows, nv, chains, chainScratch(0, rows, nv));
      if (chainStart) hiddenProbabilities(be, params, chainStart, ph);
      const hiddenStates = (p: Matrix) => (meanField ? h.data.set(p.data) : sampleBernoulli(be, rng, p.data, u.data.subarray(0, rows * nh), h.data));
      hiddenStates(chainStart ? ph : ph0);
      let error = 0;
      for (let step = 1; step <= k; step++) {
        visibleMeans(be, params, h, pv);
        if (step === 1) error = squaredDistance(v0.data, pv.data) / rows;
        if (sampleVisible) sampleVisibleUnits(be, rng, visible, pv, u, v);
        else v.data.set(pv.data);
        hiddenProbabilities(be, params, v, ph);
        if (step < k) hiddenStates(ph);
      }
      if (chainStart) storeChains(state, batch.indices, v, rows, nv);
      const metrics: Record<string, number> = { reconstruction: error };
      if (likelihood === 'auto' && likelihoodCost(nv, nh, visible) <= AUTO_LIKELIHOOD_COST) {
        metrics.logLikelihood = exactLogLikelihood(params, v0);
      }
      // Gradient sign: −(⟨p(h|v⁰) v⁰ᵀ⟩ − ⟨p(h|vᵏ) vᵏᵀ⟩)/rows, and the same for the biases.
      grads.forEach((g, i) => { if (i !== l) { g.W.data.fill(0); g.b.fill(0); } });
      const g = grads[l];
      be.gemm(true, false, -1 / rows, ph0, v0, 0, g.W);
      be.gemm(true, false, 1 / rows, ph, v, 1, g.W);
      be.sumRows(ph0, -1 / rows, 0, g.b);
      be.sumRows(ph, 1 / rows, 1, g.b);
      if (gradA.length !== nv) gradA = new Float32Array(nv);
      be.sumRows(v0, -1 / rows, 0, gradA);
      be.sumRows(v, 1 / rows, 1, gradA);
      return { loss: error, grads, state, groupGrads: { visible: [gradA] }, metrics };
    },
    layersTrained: (state) => [state.layer],
    groups: (state): TrainableGroup[] => [{
      name: 'visible', params: [{ name: `a${state.layer + 1}`, value: state.visibleBias, isBias: true }], lr: 'run', optimizer: 'run',
    }],
    pictures: (ctx, state) => rbmPictures(ctx, state, visible),
  };
}

/** Refuses a layer that cannot be an RBM, with the fix. */
function checkRbmLayer(net: Network, layer: number): void {
  const { spec } = net;
  if (layer >= net.layers.length) throw new Error(`rbm option layer ${layer + 1} is beyond the network's ${net.layers.length} layers`);
  checkDenseNetwork('rbm', spec);
  const act = layerActivation(spec, layer);
  if (act !== 'sigmoid') {
    const flagName = layer === net.layers.length - 1 ? '--out-act' : '--act';
    throw new Error(`rbm's hidden units are binary logistic units, but layer ${layer + 1} has ${act} units: use ${flagName} sigmoid`);
  }
  for (let l = 0; l < layer; l++) {
    if (layerActivation(spec, l) !== 'sigmoid') throw new Error(`rbm's visible units at layer ${layer + 1} are the probabilities of layer ${l + 1}, which has ${layerActivation(spec, l)} units: use --act sigmoid`);
  }
}

/** The activity of layer `layer` − 1 (the RBM's visible units) from the inputs: the layers below run forward,
 * their units' probabilities passed up (buffers 6, 7, … of the rule's scratch). */
function lowerActivity(be: Backend, net: Network, layer: number, x: Matrix, buffers: ReturnType<typeof layerBuffers>): Matrix {
  let input = x;
  for (let l = 0; l < layer; l++) {
    const out = buffers(6 + l, x.rows, net.spec.sizes[l + 1]);
    denseForward(be, net.layers[l], input, out);
    be.activate('sigmoid', out.data, out.data, 0);
    input = out;
  }
  return input;
}

/** p(h = 1 | v) = σ(v·Wᵀ + b), rows of a batch. */
export function hiddenProbabilities(be: Backend, p: RbmParams, v: Matrix, out: Matrix): void {
  denseForward(be, { W: p.W, b: p.b }, v, out);
  be.activate('sigmoid', out.data, out.data, 0);
}

/** E[v | h]: σ(h·W + a) for binary visible units, h·W + a for Gaussian ones. */
export function visibleMeans(be: Backend, p: RbmParams, h: Matrix, out: Matrix): void {
  be.gemm(false, false, 1, h, p.W, 0, out);
  be.addRowVector(out, p.a);
  if (p.visible === 'binary') be.activate('sigmoid', out.data, out.data, 0);
}

/** v ~ p(v | h) from its means: Bernoulli for binary units, mean + N(0, 1) for Gaussian ones. */
function sampleVisibleUnits(be: Backend, rng: Rng, kind: VisibleKind, mean: Matrix, u: Matrix, out: Matrix): void {
  const n = mean.rows * mean.cols;
  if (kind === 'binary') {
    sampleBernoulli(be, rng, mean.data, u.data.subarray(0, n), out.data);
    return;
  }
  rng.fillNormal(out.data.subarray(0, n), 0, 1);
  be.axpby(1, mean.data, 1, out.data);
}

/** The negative phase's starting visible states for persistent chains (null for CD from the data): the
 * batch-size fantasy particles, or each example's own chain, started at the data the first time. */
function chainRows(state: RbmState, indices: Int32Array | undefined, v0: Matrix, rows: number, nv: number, kind: ChainKind, start: Matrix): Matrix | null {
  if (kind === 'data') return null;
  if (kind === 'persistent') {
    if (!state.chains || state.chains.length < rows * nv) {
      const grown = new Float32Array(rows * nv);
      if (state.chains) grown.set(state.chains);
      grown.set(v0.data.subarray(state.chains?.length ?? 0, rows * nv), state.chains?.length ?? 0);
      state.chains = grown;
    }
    return { rows, cols: nv, data: state.chains.subarray(0, rows * nv) };
  }
  if (!indices) throw new Error("rbm's per-example chains need the batch's example indices (Batch.indices)");
  const chains = state.chains as Float32Array, started = state.started as Uint8Array;
  for (let r = 0; r < rows; r++) {
    const i = indices[r];
    if (!started[i]) { chains.set(v0.data.subarray(r * nv, (r + 1) * nv), i * nv); started[i] = 1; }
    start.data.set(chains.subarray(i * nv, (i + 1) * nv), r * nv);
  }
  return start;
}

function storeChains(state: RbmState, indices: Int32Array | undefined, v: Matrix, rows: number, nv: number): void {
  const chains = state.chains as Float32Array;
  if (!state.started) { chains.set(v.data.subarray(0, rows * nv)); return; }
  for (let r = 0; r < rows; r++) chains.set(v.data.subarray(r * nv, (r + 1) * nv), (indices as Int32Array)[r] * nv);
}

/** The first layer's features (each hidden unit's incoming weights) and examples beside their reconstructions;
 * for a higher layer, its features drawn in pixel space through the layers below (W_l·…·W_1, linearly). */
function rbmPictures(ctx: PictureContext, state: RbmState, visible: VisibleKind): Picture[] {
  const { backend: be, net, examples, imageShape } = ctx;
  if (!imageShape || net.spec.sizes[0] !== imageShape[0] * imageShape[1]) return [];
  const [height, width] = imageShape;
  const l = state.layer, count = Math.min(64, net.layers[l].W.rows);
  let features: Matrix = topRows(net.layers[l].W, count);
  for (let below = l - 1; below >= 0; below--) {
    const projected = { rows: count, cols: net.layers[below].W.cols, data: new Float32Array(count * net.layers[below].W.cols) };
    be.gemm(false, false, 1, features, net.layers[below].W, 0, projected);
    features = projected;
  }
  const pictures: Picture[] = [{
    name: 'features', title: `RBM ${l + 1}: the incoming weights of its first ${count} hidden units` + (l ? ' (through the layers below)' : ''),
    images: features, height, width, scale: 'symmetric',
  }];
  if (l > 0) return pictures;
  const params: RbmParams = { ...net.layers[0], a: state.visibleBias, visible };
  const rows = examples.rows, nh = params.W.rows;
  const ph = { rows, cols: nh, data: new Float32Array(rows * nh) };
  const recon = { rows, cols: examples.cols, data: new Float32Array(examples.data.length) };
  hiddenProbabilities(be, params, examples, ph);
  sampleBernoulli(be, ctx.rng, ph.data, new Float32Array(ph.data.length), ph.data);
  visibleMeans(be, params, ph, recon);
  const pairs = { rows: 2 * rows, cols: examples.cols, data: new Float32Array(2 * examples.data.length) };
  for (let r = 0; r < rows; r++) {
    pairs.data.set(examples.data.subarray(r * examples.cols, (r + 1) * examples.cols), 2 * r * examples.cols);
    pairs.data.set(recon.data.subarray(r * examples.cols, (r + 1) * examples.cols), (2 * r + 1) * examples.cols);
  }
  pictures.push({
    name: 'reconstructions', title: 'training images, each followed by its reconstruction p(v | h) from a sampled h',
    images: pairs, height, width, scale: 'unit', columns: 8,
  });
  return pictures;
}
