import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Network } from '../nn/network.js';
import {
  dream, generativeGradList, generativeGradsLike, generativeParams, importanceSampledNll, initGenerativeModel, MachineBufferCache,
  sampleFreeEnergies, sleepGrads, wakeGrads, wakeHidden, wakeInput, type GenerativeModel,
} from './helmholtz-machine.js';
import { flag } from './perturbation.js';
import { checkRuleOptions, type LearningRule, type Picture, type RuleOptions, type TrainableGroup } from './rule.js';
import { checkTargetNet } from './target-propagation.js';

/** The rule's state: the generative model, its trainable group 'generative'. */
export type WakeSleepState = GenerativeModel;

export interface WakeSleepConfig {
  /** true (default): each wake phase samples v ~ Bernoulli(pixel), the dynamic binarisation of images in [0, 1];
   * false: v is the pixels as they are (then the bound is a cross-entropy, not a log-probability). */
  binarize: boolean;
  /** > 0: each step also reports `nll`, the importance-sampled −log p(v) of the batch with this many samples of
   * q (S more wake passes a step). NOTE: its samples come from the step's stream, so turning it on changes the
   * draws of the steps after. Default 0: off. */
  likelihoodSamples: number;
}

export const WAKE_SLEEP_DEFAULTS: WakeSleepConfig = { binarize: true, likelihoodSamples: 0 };

/** How many images each picture grid shows at most. */
const PICTURE_COUNT = 64;

/**
 * The wake–sleep algorithm (Hinton, Dayan, Frey & Neal 1995, Science 268) for a Helmholtz machine on the
 * network's hidden layers (rules/helmholtz-machine.ts): the forward layers, of logistic units, are the
 * recognition model q, and the rule owns a top-down generative model p (prior σ(g) on the top hidden layer,
 * weights G_k and biases c_k down to the input), its trainable group 'generative'. Each step, on one batch:
 *   wake:  v from the batch, h ~ q(h | v) bottom-up; each generative synapse learns by the delta rule to predict
 *          the layer below from the layer above: ΔG_k ∝ (s_{k−1} − σ(G_k s_k + c_k)) s_kᵀ, Δg ∝ s_K − σ(g);
 *   sleep: a dream (h, v) ~ p top-down; each recognition synapse learns to predict the dream's layer above from
 *          its layer below: ΔW_k ∝ (s_k − σ(W_k s_{k−1} + b_k)) s_{k−1}ᵀ.
 * Both are returned in gradient sign, averaged over the batch (grads for W, groupGrads for p), from the
 * parameters the batch found. The wake update is the exact gradient of log p(v, h) at the sample, so it follows
 * the free energy F = E_q[log q − log p] downhill in p; the sleep update follows KL(p‖q) rather than F's
 * KL(q‖p), which is why wake–sleep only approximately minimises F (Hinton et al.). The output layer is a readout
 * the rule leaves alone (its update is exactly 0), so a later stage can train a classifier on the features.
 * Metric `bound`: F(v) in nats per example from the wake sample (≥ −log p(v); lower is better), also the loss.
 * Options: binarize, likelihoodSamples (WakeSleepConfig).
 */
export function wakeSleep(options: RuleOptions = {}): LearningRule<WakeSleepState> {
  const config = readWakeSleepConfig(options);
  const buffers = new MachineBufferCache();
  let updates: { of: GenerativeModel; grads: GenerativeModel; list: Float32Array[] } | null = null;
  return {
    id: 'wakesleep',
    locality: {
      weightTransport: false,
      note: 'recognition and generative weights are separate; each learns by a delta rule from its own pre-synaptic activity and its unit\'s prediction error, reading the other only through sampling passes',
    },
    init(net, rng) {
      checkHelmholtzNet(net);
      return initGenerativeModel(net, rng);
    },
    step(ctx, state, batch) {
      const { backend: be, net, rng, grads } = ctx;
      const rows = batch.x.rows, K = net.layers.length - 1;
      const buf = buffers.get(net.spec.sizes, rows);
      if (updates?.of !== state) {
        const g = generativeGradsLike(state);
        updates = { of: state, grads: g, list: generativeGradList(g) };
      }
      // Wake: v and h ~ q(h | v); the generative model learns to reconstruct each layer from the one above.
      wakeInput(be, rng, batch.x, config.binarize, buf);
      wakeHidden(be, net.layers, state, rng, buf);
      wakeGrads(be, buf, updates.grads);
      const bound = mean(sampleFreeEnergies(buf, buf.perRow));
      const metrics: Record<string, number> = { bound };
      if (config.likelihoodSamples > 0) {
        metrics.nll = mean(importanceSampledNll(be, net.layers, state, rng, config.likelihoodSamples, buf, buf.perRow));
      }
      // Sleep: a dream from p; the recognition weights learn to recover its hidden causes layer by layer.
      dream(be, state, rng, buf);
      sleepGrads(be, net.layers, buf, grads);
      grads[K].W.data.fill(0); // the readout is no part of the machine
      grads[K].b.fill(0);
      return { loss: bound, grads, state, groupGrads: { generative: updates.list }, metrics };
    },
    groups: (state): TrainableGroup[] => [{ name: 'generative', params: generativeParams(state), lr: 'run', optimizer: 'run' }],
    pictures(ctx, state) {
      const { backend: be, net, imageShape } = ctx;
      if (!imageShape || imageShape[0] * imageShape[1] !== net.spec.sizes[0]) return [];
      const [height, width] = imageShape;
      const buf = buffers.get(net.spec.sizes, PICTURE_COUNT);
      dream(be, state, ctx.rng, buf);
      const samples = matrix(PICTURE_COUNT, net.spec.sizes[0]);
      be.activate('sigmoid', buf.generation[0].data, samples.data, 0); // σ(G_1 h_1 + c_1): the dreams' pixel probabilities
      const W1 = net.layers[0].W, count = Math.min(PICTURE_COUNT, W1.rows);
      const picture = (name: string, title: string, images: Matrix, scale: Picture['scale']): Picture => ({ name, title, images, height, width, scale });
      return [
        picture('samples', `${PICTURE_COUNT} dreams of the generative model: the pixel probabilities σ(G₁h₁ + c₁) of top-down samples`, samples, 'unit'),
        picture('features', `recognition weights W₁ of the first ${count} hidden units`, { rows: count, cols: W1.cols, data: W1.data.slice(0, count * W1.cols) }, 'symmetric'),
        picture('generative', `generative weights G₁ of the first ${count} hidden units (their top-down fields on the pixels)`, firstColumns(state.G[0], count), 'symmetric'),
      ];
    },
  };
}

export function readWakeSleepConfig(options: RuleOptions): WakeSleepConfig {
  checkRuleOptions('wakesleep', options, ['binarize', 'likelihoodSamples']);
  const binarize = options.binarize === undefined ? WAKE_SLEEP_DEFAULTS.binarize : flag('wakesleep', 'binarize', options.binarize);
  const samples = options.likelihoodSamples ?? WAKE_SLEEP_DEFAULTS.likelihoodSamples;
  if (typeof samples !== 'number' || !Number.isInteger(samples) || samples < 0) {
    throw new Error(`wakesleep option likelihoodSamples must be a whole number ≥ 0, got '${String(samples)}'`);
  }
  return { binarize, likelihoodSamples: samples };
}

/** Dense layers, at least one hidden layer, and logistic hidden units: the machine's stochastic binary units. */
export function checkHelmholtzNet(net: Network): void {
  checkTargetNet('wakesleep', net);
  if (net.spec.hidden !== 'sigmoid') {
    throw new Error(`rule 'wakesleep' needs logistic hidden units (q(h | v) = Bernoulli(σ(Wv + b))), but they are ${net.spec.hidden}: use --act sigmoid`);
  }
}

/** Columns 0 … count−1 of m [rows, cols] as rows of a [count, rows] matrix. */
function firstColumns(m: Matrix, count: number): Matrix {
  const out = matrix(count, m.rows);
  for (let j = 0; j < count; j++) for (let i = 0; i < m.rows; i++) out.data[j * m.rows + i] = m.data[i * m.cols + j];
  return out;
}

function mean(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}
