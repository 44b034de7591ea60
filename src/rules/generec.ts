import { layerActivities, settlingState, stateRows, type SettlingState } from '../nn/settling.js';
import type { Matrix } from '../tensor/matrix.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';
import { minusAndPlusPhases, twoPhaseOptions } from './contrastive-hebbian.js';
import { feedbackGainScale, rateFactor, settlingRuleState, type PhaseBuffers, type SettlingRuleState } from './settling-phases.js';

export const GENEREC_VARIANTS = ['basic', 'midpoint', 'symmetric'] as const;
export type GeneRecVariant = (typeof GENEREC_VARIANTS)[number];

/** The activities of both phases and the buffers the update is formed in, per layer above the input. */
interface ActivityBuffers {
  capacity: number;
  minus: SettlingState;
  plus: SettlingState;
  /** plus − minus */
  change: SettlingState;
  /** minus + plus */
  sum: SettlingState;
}

/**
 * GeneRec (O'Reilly 1996): the phases of contrastive Hebbian learning (minus: free; plus: outputs clamped to
 * the target), but the error is the receiving unit's change between them, y⁺ − y⁻, times a sending activity
 * (x the sending unit, y the receiving one; FAMILIES B4, from the O'Reilly lab's notes):
 *   basic       Δw = x⁻ (y⁺ − y⁻)
 *   midpoint    Δw = ½ (x⁻ + x⁺)(y⁺ − y⁻)
 *   symmetric   Δw = ½ [(x⁻ + x⁺)(y⁺ − y⁻) + (y⁻ + y⁺)(x⁺ − x⁻)]  = x⁺y⁺ − x⁻y⁻, CHL (tested)
 * A bias is a weight from a unit always at 1: Δb = y⁺ − y⁻. The input is clamped in both phases (x⁺ = x⁻).
 * Under a feedback gain, W_l's rate takes Xie & Seung's γ^{(l+1)−L}, as in chl.
 */
export function generec(options: RuleOptions = {}): LearningRule<SettlingRuleState> {
  checkRuleOptions('generec', options, ['variant', 'clampedSteps', 'persistent', 'layerScale']);
  const variant = (options.variant ?? 'basic') as GeneRecVariant;
  if (!GENEREC_VARIANTS.includes(variant)) {
    throw new Error(`rule 'generec': option 'variant' is ${GENEREC_VARIANTS.join(', ')}, not '${String(options.variant)}'`);
  }
  const { persistent, scales, clampedSteps } = twoPhaseOptions('generec', options);
  let buffers: PhaseBuffers | null = null;
  let activity: ActivityBuffers | null = null;
  return {
    id: 'generec',
    locality: {
      weightTransport: true,
      note: 'symmetric connections: the clamped target reaches the hidden layers through W_lᵀ; each update is the receiving unit\'s change between the phases times a sending activity',
    },
    init: (net, _rng, info) => settlingRuleState('generec', net, persistent, scales, info),
    step(ctx, state, batch) {
      const phases = minusAndPlusPhases(ctx, state, batch, buffers, clampedSteps);
      const { snet, free, clamped } = phases, be = ctx.backend, rows = batch.x.rows;
      buffers = phases.buffers;

      if (!activity || activity.capacity < rows) {
        const make = () => settlingState(snet.sizes, rows);
        activity = { capacity: rows, minus: make(), plus: make(), change: make(), sum: make() };
      }
      const minus = stateRows(activity.minus, rows), plus = stateRows(activity.plus, rows);
      const change = stateRows(activity.change, rows), sum = stateRows(activity.sum, rows);
      layerActivities(be, snet, free, minus);
      layerActivities(be, snet, clamped, plus);
      for (let l = 0; l < minus.length; l++) {
        change[l].data.set(plus[l].data);
        be.axpby(-1, minus[l].data, 1, change[l].data); // y⁺ − y⁻
        sum[l].data.set(plus[l].data);
        be.axpby(1, minus[l].data, 1, sum[l].data); // y⁺ + y⁻
      }
      // Gradient sign convention (minus the Hebbian Δw), a batch mean, times each layer's factors.
      for (let l = 0; l < ctx.grads.length; l++) {
        const alpha = rateFactor(scales, l) * feedbackGainScale(snet, l) / Math.max(rows, 1);
        const { W, b } = ctx.grads[l], post = change[l];
        const input = l === 0;
        if (variant === 'basic') be.gemm(true, false, -alpha, post, input ? batch.x : minus[l - 1], 0, W);
        else {
          // ½ (x⁻ + x⁺)(y⁺ − y⁻); at the input x⁻ + x⁺ = 2x.
          const preSum: Matrix = input ? batch.x : sum[l - 1];
          be.gemm(true, false, -alpha * (input ? 1 : 0.5), post, preSum, 0, W);
          if (variant === 'symmetric' && !input) be.gemm(true, false, -alpha * 0.5, sum[l], change[l - 1], 1, W); // + ½ (y⁻ + y⁺)(x⁺ − x⁻)
        }
        be.sumRows(post, -alpha, 0, b);
      }
      return { loss: phases.loss, grads: ctx.grads, state, freeState: free, metrics: phases.metrics };
    },
  };
}
