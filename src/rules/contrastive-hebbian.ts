import { DEFAULT_SETTLE, energyParamGradients, relax, settlingNet } from '../nn/settling.js';
import { checkRuleOptions, type Batch, type LearningRule, type RuleContext, type RuleOptions } from './rule.js';
import { flag } from './perturbation.js';
import {
  copyState, feedbackGainScale, freePhase, layerScales, phaseBuffers, phaseRows, rateFactor, settlingRuleState, stepsOption,
  type PhaseBuffers, type SettlingRuleState,
} from './settling-phases.js';

/** The options chl and generec share, checked once when the rule is made. */
export interface TwoPhaseOptions {
  persistent: boolean;
  scales: number[] | null;
  /** The plus phase's steps; null: the free phase's. */
  clampedSteps: number | null;
}

export function twoPhaseOptions(rule: string, options: RuleOptions): TwoPhaseOptions {
  return {
    persistent: options.persistent === undefined ? true : flag(rule, 'persistent', options.persistent),
    scales: layerScales(rule, options.layerScale),
    clampedSteps: options.clampedSteps === undefined ? null : stepsOption(rule, 'clampedSteps', options.clampedSteps, 0),
  };
}

/** A batch's two phases, shared by chl and generec: the minus phase is the free one (from the particles);
 * the plus phase starts at its fixed point with the output layer held at the target, and the layers below
 * settle for the plus phase's steps of the free phase's size. buffers are grown when needed and returned. */
export function minusAndPlusPhases(ctx: RuleContext, state: SettlingRuleState, batch: Batch, buffers: PhaseBuffers | null,
  clampedSteps: number | null) {
  const { backend: be, net } = ctx, snet = settlingNet(net), settle = net.spec.settle ?? DEFAULT_SETTLE, rows = batch.x.rows;
  const grown = phaseBuffers(buffers, snet.sizes, rows);
  const { free, second: clamped, scratch } = phaseRows(grown, rows);
  const { result: freeResult, loss } = freePhase(be, snet, settle, state, batch, free, scratch);
  copyState(free, clamped);
  const clampedResult = relax(be, snet, clamped, { epsilon: settle.epsilon, steps: clampedSteps ?? settle.steps, clamp: batch.y }, scratch);
  const metrics = { free_steps: freeResult.steps, free_residual: freeResult.residual, clamped_residual: clampedResult.residual };
  return { buffers: grown, snet, free, clamped, scratch, loss, metrics };
}

/**
 * Contrastive Hebbian learning (Movellan 1991). The minus phase is the free phase (input clamped, the net
 * settles); in the plus phase the output units are clamped to the target too and the hidden layers settle
 * again. Every synapse changes by the difference of its pre × post activity between the phases:
 *   ΔW_l = ε (ρ(s⁺_{l+1}) ρ(s⁺_l)ᵀ − ρ(s⁻_{l+1}) ρ(s⁻_l)ᵀ)                     (Movellan 1991; FAMILIES B3)
 * which is −(∂E/∂W(s⁺) − ∂E/∂W(s⁻)): the free phase unlearnt, the clamped one learnt. With weak feedback
 * γ (--feedback-gain) and the rate of W_l scaled by γ^{(l+1)−L}, the update follows backprop's gradient
 * of the feed-forward net the free phase becomes as γ → 0 (Xie & Seung 2003; tested).
 */
export function contrastiveHebbian(options: RuleOptions = {}): LearningRule<SettlingRuleState> {
  checkRuleOptions('chl', options, ['clampedSteps', 'persistent', 'layerScale']);
  const { persistent, scales, clampedSteps } = twoPhaseOptions('chl', options);
  let buffers: PhaseBuffers | null = null;
  return {
    id: 'chl',
    locality: {
      weightTransport: true,
      note: 'symmetric connections: the clamped target reaches the hidden layers through W_lᵀ, the synapses of the forward drive; each update is local (pre × post activity in two phases)',
    },
    init: (net, _rng, info) => settlingRuleState('chl', net, persistent, scales, info),
    step(ctx, state, batch) {
      const phases = minusAndPlusPhases(ctx, state, batch, buffers, clampedSteps);
      const { snet, free, clamped, scratch } = phases, be = ctx.backend, rows = batch.x.rows;
      buffers = phases.buffers;
      // Gradient sign convention: ∂E/∂θ(s⁺) − ∂E/∂θ(s⁻), a batch mean, times each layer's factors.
      const alphas = ctx.grads.map((_, l) => rateFactor(scales, l) * feedbackGainScale(snet, l) / Math.max(rows, 1));
      energyParamGradients(be, snet, batch.x, clamped, scratch, ctx.grads, alphas, 0);
      energyParamGradients(be, snet, batch.x, free, scratch, ctx.grads, alphas.map((a) => -a), 1);
      return { loss: phases.loss, grads: ctx.grads, state, freeState: free, metrics: phases.metrics };
    },
  };
}
