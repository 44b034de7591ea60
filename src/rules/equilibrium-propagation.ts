import { lossAndGrad } from '../nn/losses.js';
import {
  computeInputDrive, DEFAULT_SETTLE, energyParamGradients, relax, scratchRows, settlingNet, settlingScratch, settlingState, stateRows,
  type SettlingScratch, type SettlingState,
} from '../nn/settling.js';
import { checkRuleOptions, type Batch, type LearningRule, type RuleOptions } from './rule.js';
import type { Network } from '../nn/network.js';
import { checkTargetNet, nonNegativeOption } from './target-propagation.js';
import { flag } from './perturbation.js';

/** The rule's options: Scellier & Bengio's net1 settings (their train_model.py), and Laborieux et al.'s
 * symmetric estimate as an option. */
export const EP_DEFAULTS = { beta: 0.5, nudgedSteps: 4, randomSign: true, symmetric: false, persistent: true };

/** Persistent particles: every training example's free-phase state, kept across epochs (S&B 2017), rows of
 * Σ_{l≥1} n_l floats; null when the run starts each batch's states from zero. */
export interface EquilibriumPropagationState {
  particles: Float32Array | null;
  trainExamples: number;
}

/** Throws unless the net is a settling network a settling rule can train. */
export function checkSettlingNet(rule: string, net: Network): void {
  checkTargetNet(rule, net); // dense layers, a hidden one at least
  if (net.spec.model !== 'settling') throw new Error(`rule '${rule}' trains a settling network: add --model settling --act hard_sigmoid`);
  settlingNet(net); // and units a settling network can have
}

/** Floats of one example's state: every layer above the input. */
export function particleWidth(net: Network): number {
  return net.spec.sizes.slice(1).reduce((n, w) => n + w, 0);
}

/** 'load': the batch's free states from their persistent particles (zero without them, or without example
 * indices); 'store': back into the particles. */
export function freeStateRows(state: EquilibriumPropagationState, batch: Batch, free: SettlingState, direction: 'load' | 'store'): void {
  const particles = state.particles, indices = batch.indices, rows = batch.x.rows;
  if (!particles || !indices) {
    if (direction === 'load') for (const m of free) m.data.fill(0, 0, rows * m.cols);
    return;
  }
  const width = free.reduce((n, m) => n + m.cols, 0);
  for (let r = 0; r < rows; r++) {
    let at = indices[r] * width;
    for (const m of free) {
      const row = m.data.subarray(r * m.cols, (r + 1) * m.cols);
      if (direction === 'load') row.set(particles.subarray(at, at + m.cols));
      else particles.set(row, at);
      at += m.cols;
    }
  }
}


/** Per-layer factors on the run's learning rate, e.g. '1,0.5' (S&B's α = 0.1, 0.05 at --lr 0.1). */
function layerScales(value: unknown): number[] | null {
  if (value === undefined) return null;
  const scales = String(value).split(',').map(Number);
  if (!scales.every((v) => Number.isFinite(v) && v >= 0)) throw new Error(`rule 'ep': option 'layerScale' takes non-negative numbers joined by ',', got '${String(value)}'`);
  return scales;
}

/**
 * Equilibrium propagation (Scellier & Bengio 2017). With the input clamped, the state settles to a free
 * fixed point s⁰ of the energy E (nn/settling.ts), then, nudged towards the target with strength β, to
 * s^β, a fixed point of F = E + βC, C = ½‖s_L − y‖². The update is the difference of the two phases'
 * Hebbian terms:
 *   ΔW_l ∝ −(1/β)(∂E/∂W_l(s^β) − ∂E/∂W_l(s⁰)) = (1/β)(ρ(s^β_{l+1})ρ(s^β_l)ᵀ − ρ(s⁰_{l+1})ρ(s⁰_l)ᵀ)   (S&B 2017, eq. 12)
 * which tends to −dC/dθ as β → 0 (their Theorem 1; tested against Almeida–Pineda). Options: β (a random sign
 * per batch, as in their code), the nudged steps, the symmetric estimate from s^{+β} and s^{−β}
 * (Laborieux et al. 2021), persistent per-example free states, per-layer rate factors.
 */
export function equilibriumPropagation(options: RuleOptions = {}): LearningRule<EquilibriumPropagationState> {
  checkRuleOptions('ep', options, ['beta', 'nudgedSteps', 'randomSign', 'symmetric', 'persistent', 'layerScale']);
  const beta = nonNegativeOption('ep', 'beta', options.beta, EP_DEFAULTS.beta);
  if (!(beta > 0)) throw new Error("rule 'ep': option 'beta' must be positive");
  const nudgedSteps = nonNegativeOption('ep', 'nudgedSteps', options.nudgedSteps, EP_DEFAULTS.nudgedSteps);
  if (!Number.isInteger(nudgedSteps) || nudgedSteps < 1) throw new Error("rule 'ep': option 'nudgedSteps' must be a whole number ≥ 1");
  const randomSign = options.randomSign === undefined ? EP_DEFAULTS.randomSign : flag('ep', 'randomSign', options.randomSign);
  const symmetric = options.symmetric === undefined ? EP_DEFAULTS.symmetric : flag('ep', 'symmetric', options.symmetric);
  const persistent = options.persistent === undefined ? EP_DEFAULTS.persistent : flag('ep', 'persistent', options.persistent);
  const scales = layerScales(options.layerScale);

  let buffers: { capacity: number; free: SettlingState; nudged: SettlingState; other: SettlingState; scratch: SettlingScratch } | null = null;
  return {
    id: 'ep',
    locality: {
      weightTransport: true,
      note: 'symmetric connections: the nudge reaches the hidden layers through W_lᵀ, the same synapses as the forward drive, and each update is local (pre × post activity in two phases)',
    },
    init(net, _rng, info) {
      checkSettlingNet('ep', net);
      if (scales && scales.length !== net.layers.length) {
        throw new Error(`rule 'ep': option 'layerScale' needs ${net.layers.length} factors (one a layer), got ${scales.length}`);
      }
      const trainExamples = info?.trainExamples ?? 0;
      return { particles: persistent && trainExamples > 0 ? new Float32Array(trainExamples * particleWidth(net)) : null, trainExamples };
    },
    step(ctx, state, batch) {
      const { backend: be, net } = ctx, snet = settlingNet(net), settle = net.spec.settle ?? DEFAULT_SETTLE;
      const rows = batch.x.rows, sizes = snet.sizes;
      if (!buffers || buffers.capacity < rows) {
        buffers = {
          capacity: rows, free: settlingState(sizes, rows), nudged: settlingState(sizes, rows), other: settlingState(sizes, rows),
          scratch: settlingScratch(sizes, rows),
        };
      }
      const free = stateRows(buffers.free, rows), nudged = stateRows(buffers.nudged, rows), other = stateRows(buffers.other, rows);
      const scratch = scratchRows(buffers.scratch, rows);
      freeStateRows(state, batch, free, 'load');
      computeInputDrive(be, snet, batch.x, scratch);
      const freeResult = relax(be, snet, free, settle, scratch);
      freeStateRows(state, batch, free, 'store');
      const loss = lossAndGrad('mse', free[free.length - 1], batch.y, null);
      // The nudged phase(s), from the free fixed point.
      const b = randomSign && ctx.rng.uniform() < 0.5 ? -beta : beta;
      const nudge = (target: SettlingState, strength: number) => {
        target.forEach((m, l) => m.data.set(free[l].data));
        return relax(be, snet, target, { epsilon: settle.epsilon, steps: nudgedSteps, beta: strength, y: batch.y }, scratch);
      };
      const nudgedResult = nudge(nudged, b);
      if (symmetric) nudge(other, -b);
      // Gradient sign convention (the optimizer steps against it): (1/β)(∂E/∂θ(s^β) − ∂E/∂θ(s⁰)), a batch mean,
      // each layer's times its rate factor: the first phase's term written into ctx.grads, the second's added on.
      const factor = 1 / ((symmetric ? 2 * b : b) * Math.max(rows, 1));
      const alphas = ctx.grads.map((_, l) => factor * (scales ? scales[l] ?? 1 : 1));
      energyParamGradients(be, snet, batch.x, nudged, scratch, ctx.grads, alphas, 0);
      energyParamGradients(be, snet, batch.x, symmetric ? other : free, scratch, ctx.grads, alphas.map((a) => -a), 1);
      return {
        loss, grads: ctx.grads, state,
        metrics: { free_steps: freeResult.steps, free_residual: freeResult.residual, nudged_residual: nudgedResult.residual },
      };
    },
  };
}
