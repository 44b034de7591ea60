import { paramList, zerosLike, type Network } from '../nn/network.js';
import type { DenseParams } from '../nn/dense.js';
import {
  batchLoss, DEFAULT_SIGMA, passesPerSample, readPerturbationConfig, type PerturbationConfig, type PerturbationState,
} from './perturbation.js';
import { checkRuleOptions, type Batch, type LearningRule, type RuleContext, type RuleOptions } from './rule.js';

export type WeightPerturbationState = PerturbationState;

export type WeightPerturbationMode = 'parallel' | 'serial';

/** Size of serial mode's ± step when no sigma is given: it is the step itself, not a probe. */
export const DEFAULT_SERIAL_SIGMA = 0.01;

/** Options of weight perturbation. */
export interface WeightPerturbationConfig extends PerturbationConfig {
  /** parallel: all weights and biases at once, a gradient estimate; serial: one weight at a time, kept only
   * if the loss falls. Default parallel. In serial mode sigma is the step (default 0.01), and samples and
   * central do not apply. */
  mode: WeightPerturbationMode;
}

export function readWeightPerturbationConfig(options: RuleOptions): WeightPerturbationConfig {
  checkRuleOptions('wp', options, ['mode', 'sigma', 'samples', 'central']);
  const mode = options.mode ?? 'parallel';
  if (mode !== 'parallel' && mode !== 'serial') throw new Error(`wp option mode must be parallel or serial, got '${String(mode)}'`);
  if (mode === 'serial' && (options.samples !== undefined || options.central !== undefined)) {
    throw new Error('wp options samples and central apply to mode=parallel only (serial tries one weight per step)');
  }
  return { mode, ...readPerturbationConfig('wp', options, mode === 'serial' ? DEFAULT_SERIAL_SIGMA : DEFAULT_SIGMA) };
}

/**
 * Weight perturbation: the gradient from loss differences under random changes of the weights. Two modes:
 *
 * - parallel (default): every weight at once, the stochastic error descent of Cauwenberghs 1993 (NeurIPS 5,
 *   "A fast stochastic error-descent algorithm for supervised learning and optimization") and the parallel
 *   perturbation of Alspector, Meir, Yuhas, Jayakumar & Lippe 1993 (NeurIPS 5), in the form analysed by
 *   Werfel, Xie & Seung 2005. (Jabri & Flower 1992 perturb one weight at a time and take the finite
 *   difference as that weight's gradient; ngrad does not implement that serial gradient estimate.) Add ξ ~ N(0, σ²) to every weight and bias, measure ΔL = L(w+ξ) − L(w) (or, with
 *   central, [L(w+ξ) − L(w−ξ)]/2) on the batch, and propose ĝ = (ΔL/σ²)·ξ averaged over `samples`
 *   perturbations, an estimate of ∇L in gradient sign convention. Cost: 1 + samples (central:
 *   1 + 2·samples) forward passes, and the variance grows with the number of parameters.
 * - serial: the accept/reject scheme of Hinton's lecture "Can the brain do backpropagation?" (the seed deck's
 *   slide "Learning by perturbing weights (evolution)"), i.e. random-search hill climbing, a (1+1) evolution
 *   strategy with a fixed step (Rechenberg 1973): change ONE weight or
 *   bias, chosen uniformly, by ±sigma (sign at random); keep the change only if the batch loss falls.
 *   The rule proposes update = −Δw (zero when the change is rejected), so that with --optimizer sgd
 *   --lr 1 the loop applies exactly the kept change, w ← w + Δw, bit for bit (the perturbed copy is
 *   formed with the same float32 rounding as the loop's step), and the batch loss never rises. Any other
 *   lr scales the kept change; other optimizers transform it. Cost: 2 forward passes per step.
 *
 * Perturbations are applied to a copy of the parameters: the network is only read.
 * Options: see WeightPerturbationConfig.
 */
export function weightPerturbation(options: RuleOptions = {}): LearningRule<WeightPerturbationState> {
  const config = readWeightPerturbationConfig(options);
  // The perturbed copy of the parameters and the noise, made on first use (scratch, not state).
  let scratch: { copy: DenseParams[]; xi: DenseParams[] } | null = null;
  const scratchFor = (net: Network) => {
    if (!scratch || !sameShapes(scratch.copy, net.layers)) scratch = { copy: zerosLike(net.layers), xi: zerosLike(net.layers) };
    return scratch;
  };
  return {
    id: 'wp',
    locality: { weightTransport: false, note: 'no error path: a global scalar (the loss change) times each weight\'s own perturbation' },
    init: () => ({ forwardPasses: 0 }),
    step(ctx, state, batch) {
      const { copy, xi } = scratchFor(ctx.net);
      const { loss, passes } = config.mode === 'serial'
        ? stepSerial(ctx, batch, config.sigma, copy)
        : stepParallel(ctx, batch, config, copy, xi);
      return { loss, grads: ctx.grads, state: { forwardPasses: state.forwardPasses + passes } };
    },
  };
}

/** Werfel, Xie & Seung 2005 (weight perturbation): ĝ = (1/S) Σ_s [L(w + ξ_s) − L(w)]/σ² · ξ_s, ξ_s ~ N(0, σ²I). */
function stepParallel(
  ctx: RuleContext, batch: Batch, config: PerturbationConfig, copy: DenseParams[], xi: DenseParams[],
): { loss: number; passes: number } {
  const { backend: be, net, ws, rng } = ctx;
  const { sigma, samples, central } = config;
  const loss = batchLoss(be, net, batch.x, batch.y, ws);
  const w = paramList(net.layers), noisy = paramList(copy), noise = paramList(xi), g = paramList(ctx.grads);
  const perturbed = { spec: net.spec, layers: copy };
  const lossAt = (sign: 1 | -1) => {
    noisy.forEach((p, i) => {
      p.value.set(noise[i].value);
      be.axpby(1, w[i].value, sign, p.value); // w ± ξ: each weight's own value, perturbed
    });
    return batchLoss(be, perturbed, batch.x, batch.y, ws);
  };
  g.forEach((p) => p.value.fill(0));
  for (let s = 0; s < samples; s++) {
    noise.forEach((p) => rng.fillNormal(p.value, 0, sigma));
    const dL = central ? (lossAt(1) - lossAt(-1)) / 2 : lossAt(1) - loss;
    const coef = dL / (sigma * sigma * samples);
    g.forEach((p, i) => be.axpby(coef, noise[i].value, 1, p.value));
  }
  return { loss, passes: 1 + samples * passesPerSample(config) };
}

/** The lecture's evolution: w_k ← w_k ± σ for one random k, kept only if L falls; proposes −Δw. */
function stepSerial(ctx: RuleContext, batch: Batch, sigma: number, copy: DenseParams[]): { loss: number; passes: number } {
  const { backend: be, net, ws, rng } = ctx;
  const loss = batchLoss(be, net, batch.x, batch.y, ws);
  const w = paramList(net.layers), trial = paramList(copy), g = paramList(ctx.grads);
  const total = w.reduce((n, p) => n + p.value.length, 0);
  let k = rng.int(total);
  // NOTE: Δw is rounded to float32 first, so that the loop's w − 1·(−Δw) rounds exactly as the trial did.
  const dw = Math.fround(rng.uniform() < 0.5 ? -sigma : sigma);
  let t = 0;
  while (k >= w[t].value.length) k -= w[t++].value.length;
  trial.forEach((p, i) => be.axpby(1, w[i].value, 0, p.value)); // a copy of the weights, for the trial
  trial[t].value[k] += dw;
  const trialLoss = batchLoss(be, { spec: net.spec, layers: copy }, batch.x, batch.y, ws);
  g.forEach((p) => p.value.fill(0));
  if (trialLoss < loss) g[t].value[k] = -dw;
  return { loss, passes: 2 };
}

function sameShapes(a: readonly DenseParams[], b: readonly DenseParams[]): boolean {
  return a.length === b.length && a.every((p, l) => p.W.rows === b[l].W.rows && p.W.cols === b[l].W.cols);
}
