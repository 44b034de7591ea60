import { stepThroughFeedback } from './feedback-step.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

/** Backprop needs no state of its own. */
export type BackpropState = Record<string, never>;

/**
 * Backpropagation (Rumelhart, Hinton & Williams 1986): the exact gradient of the mean batch loss.
 * δ_L = ∂L/∂h_L ⊙ f'(z_L);  δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ f'(z_l);  ∂L/∂W_l = δ_l h_{l−1}ᵀ.
 * The reference every other rule is measured against.
 */
export function backprop(options: RuleOptions = {}): LearningRule<BackpropState> {
  checkRuleOptions('bp', options, []);
  return {
    id: 'bp',
    locality: { weightTransport: true, note: 'δ_l = W_{l+1}ᵀ δ_{l+1}: the backward pass reads every forward matrix' },
    init: () => ({}),
    step(ctx, state, batch) {
      // Weight transport: the backward pass reuses each forward matrix W_l.
      return { ...stepThroughFeedback(ctx, batch, (l) => ctx.net.layers[l].W), state };
    },
  };
}
