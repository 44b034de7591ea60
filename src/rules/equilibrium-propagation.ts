import { DEFAULT_SETTLE, energyParamGradients, layerWeight, relax, settlingNet, type SettlingState } from '../nn/settling.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';
import { nonNegativeOption } from './target-propagation.js';
import { flag } from './perturbation.js';
import {
  copyState, freePhase, layerScales, phaseBuffers, phaseRows, rateFactor, settlingRuleState, stepsOption,
  type PhaseBuffers, type SettlingRuleState,
} from './settling-phases.js';

/** The rule's options: Scellier & Bengio's net1 settings (their train_model.py), and Laborieux et al.'s
 * symmetric estimate as an option. */
export const EP_DEFAULTS = { beta: 0.5, nudgedSteps: 4, randomSign: true, symmetric: false, persistent: true };

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
export function equilibriumPropagation(options: RuleOptions = {}): LearningRule<SettlingRuleState> {
  checkRuleOptions('ep', options, ['beta', 'nudgedSteps', 'randomSign', 'symmetric', 'persistent', 'layerScale']);
  const beta = nonNegativeOption('ep', 'beta', options.beta, EP_DEFAULTS.beta);
  if (!(beta > 0)) throw new Error("rule 'ep': option 'beta' must be positive");
  const nudgedSteps = stepsOption('ep', 'nudgedSteps', options.nudgedSteps, EP_DEFAULTS.nudgedSteps);
  const randomSign = options.randomSign === undefined ? EP_DEFAULTS.randomSign : flag('ep', 'randomSign', options.randomSign);
  const symmetric = options.symmetric === undefined ? EP_DEFAULTS.symmetric : flag('ep', 'symmetric', options.symmetric);
  const persistent = options.persistent === undefined ? EP_DEFAULTS.persistent : flag('ep', 'persistent', options.persistent);
  const scales = layerScales('ep', options.layerScale);

  let buffers: PhaseBuffers | null = null;
  return {
    id: 'ep',
    locality: {
      weightTransport: true,
      note: 'symmetric connections: the nudge reaches the hidden layers through W_lᵀ, the same synapses as the forward drive, and each update is local (pre × post activity in two phases)',
    },
    init: (net, _rng, info) => settlingRuleState('ep', net, persistent, scales, info),
    step(ctx, state, batch) {
      const { backend: be, net } = ctx, snet = settlingNet(net), settle = net.spec.settle ?? DEFAULT_SETTLE, rows = batch.x.rows;
      buffers = phaseBuffers(buffers, snet.sizes, rows);
      const { free, second: nudged, third: other, scratch } = phaseRows(buffers, rows);
      const { result: freeResult, loss } = freePhase(be, snet, settle, state, batch, free, scratch);
      // The nudged phase(s), from the free fixed point.
      const b = randomSign && ctx.rng.uniform() < 0.5 ? -beta : beta;
      const nudge = (target: SettlingState, strength: number) => {
        copyState(free, target);
        return relax(be, snet, target, { epsilon: settle.epsilon, steps: nudgedSteps, beta: strength, y: batch.y }, scratch);
      };
      const nudgedResult = nudge(nudged, b);
      if (symmetric) nudge(other, -b);
      // Gradient sign convention (the optimizer steps against it): (1/β)(∂E/∂θ(s^β) − ∂E/∂θ(s⁰)), a batch mean,
      // each layer's times its rate factor: the first phase's term written into ctx.grads, the second's added on.
      // Under a feedback gain, E_γ weights layer l+1's terms by c_{l+1} = γ^l, and the nudge (εβ(y − s_L) a step,
      // whatever γ) settles to a fixed point of E_γ + β c_L C: hence c_{l+1} / c_L (1 at γ = 1).
      const factor = 1 / ((symmetric ? 2 * b : b) * Math.max(rows, 1));
      const alphas = ctx.grads.map((_, l) => factor * rateFactor(scales, l) * (layerWeight(snet, l + 1) / layerWeight(snet, ctx.grads.length)));
      energyParamGradients(be, snet, batch.x, nudged, scratch, ctx.grads, alphas, 0);
      energyParamGradients(be, snet, batch.x, symmetric ? other : free, scratch, ctx.grads, alphas.map((a) => -a), 1);
      return {
        loss, grads: ctx.grads, state, freeState: free,
        metrics: { free_steps: freeResult.steps, free_residual: freeResult.residual, nudged_residual: nudgedResult.residual },
      };
    },
  };
}
