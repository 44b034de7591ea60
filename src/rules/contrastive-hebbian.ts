import {
  DEFAULT_SETTLE, energyParamGradients, relax, settlingNet, type RelaxResult, type SettlingNet, type SettlingScratch, type SettlingState,
} from '../nn/settling.js';
import type { Backend } from '../tensor/backend.js';
import type { Batch } from './rule.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';
import { flag } from './perturbation.js';
import {
  copyState, feedbackGainScale, freePhase, layerScales, phaseBuffers, phaseRows, settlingRuleState, stepsOption,
  type PhaseBuffers, type SettlingRuleState,
} from './settling-phases.js';

/** The plus (clamped) phase: from the free fixed point, the output layer held at the target, the layers below
 * settle for `steps` steps of the free phase's size. Shared by chl and generec. */
export function clampedPhase(be: Backend, net: SettlingNet, epsilon: number, steps: number, batch: Batch, free: SettlingState,
  clamped: SettlingState, scratch: SettlingScratch): RelaxResult {
  copyState(free, clamped);
  return relax(be, net, clamped, { epsilon, steps, clamp: batch.y }, scratch);
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
  const persistent = options.persistent === undefined ? true : flag('chl', 'persistent', options.persistent);
  const scales = layerScales('chl', options.layerScale);
  const clampedStepsOption = options.clampedSteps === undefined ? null : stepsOption('chl', 'clampedSteps', options.clampedSteps, 0); // absent: the free phase's
  let buffers: PhaseBuffers | null = null;
  return {
    id: 'chl',
    locality: {
      weightTransport: true,
      note: 'symmetric connections: the clamped target reaches the hidden layers through W_lᵀ, the synapses of the forward drive; each update is local (pre × post activity in two phases)',
    },
    init: (net, _rng, info) => settlingRuleState('chl', net, persistent, scales, info),
    step(ctx, state, batch) {
      const { backend: be, net } = ctx, snet = settlingNet(net), settle = net.spec.settle ?? DEFAULT_SETTLE, rows = batch.x.rows;
      const clampedSteps = clampedStepsOption ?? settle.steps;
      buffers = phaseBuffers(buffers, snet.sizes, rows);
      const { free, second: clamped, scratch } = phaseRows(buffers, rows);
      const { result: freeResult, loss } = freePhase(be, snet, settle, state, batch, free, scratch);
      const clampedResult = clampedPhase(be, snet, settle.epsilon, clampedSteps, batch, free, clamped, scratch);
      // Gradient sign convention: ∂E/∂θ(s⁺) − ∂E/∂θ(s⁻), a batch mean, times each layer's factors.
      const alphas = ctx.grads.map((_, l) => (scales ? scales[l] ?? 1 : 1) * feedbackGainScale(snet, l) / Math.max(rows, 1));
      energyParamGradients(be, snet, batch.x, clamped, scratch, ctx.grads, alphas, 0);
      energyParamGradients(be, snet, batch.x, free, scratch, ctx.grads, alphas.map((a) => -a), 1);
      return {
        loss, grads: ctx.grads, state, freeState: free,
        metrics: { free_steps: freeResult.steps, free_residual: freeResult.residual, clamped_residual: clampedResult.residual },
      };
    },
  };
}
