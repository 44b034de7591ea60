import { stepThroughFeedback } from './feedback-step.js';
import type { Matrix } from '../tensor/matrix.js';
import { applyMask, randomFeedback, randomMask, readFeedbackInit } from './feedback-matrices.js';
import { flag } from './perturbation.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

export interface FeedbackAlignmentState {
  /** B[l] in W_l's shape [out, in] (so it stands for Bᵀ of the paper); null for layer 0. Fixed. */
  B: (Matrix | null)[];
  /** Connection masks (1 kept, 0 removed) for W when a fraction is pruned; null otherwise. */
  masks: (Uint8Array | null)[] | null;
  /** Masks for B: the same arrays as `masks` unless independentMasks; null when nothing is pruned. */
  feedbackMasks: (Uint8Array | null)[] | null;
}

/**
 * Feedback alignment (Lillicrap, Cownden, Tweed & Akerman 2016, Nat. Commun. 7:13276):
 * the backward pass uses fixed random matrices instead of the transposes of the forward weights,
 * δ_l = (B_{l+1} δ_{l+1}) ⊙ f'(z_l); the forward weights come to align with B (eq. 2 of the paper with
 * B in place of Wᵀ). Options:
 *   dist (uniform | normal) and scale (0 = scaled to ‖W_l‖) of B;
 *   sparsity: fraction of connections removed from W and B (the paper's "50 % removed" run); pruned
 *     weights start at 0 and their updates are masked, so they stay exactly 0 under any optimizer (tested);
 *   independentMasks: remove W's and B's connections independently (default false: the same connections,
 *     i.e. a pruned synapse has no feedback partner either).
 * With B_l := W_l the update is exactly backprop's (tested).
 */
export function feedbackAlignment(options: RuleOptions = {}): LearningRule<FeedbackAlignmentState> {
  checkRuleOptions('fa', options, ['dist', 'scale', 'sparsity', 'independentMasks']);
  const init = readFeedbackInit(options);
  const sparsity = options.sparsity ?? 0;
  if (typeof sparsity !== 'number' || !(sparsity >= 0 && sparsity < 1)) throw new Error(`fa option sparsity must be a number in [0, 1), got '${String(sparsity)}'`);
  const independent = flag('fa', 'independentMasks', options.independentMasks ?? false);
  if (independent && sparsity === 0) throw new Error('fa option independentMasks needs sparsity > 0');
  return {
    id: 'fa',
    locality: { weightTransport: false, note: 'errors travel through fixed random B; W is read by the forward pass only' },
    init(net, rng) {
      const B = randomFeedback(net, init, rng);
      if (sparsity === 0) return { B, masks: null, feedbackMasks: null };
      const draw = () => net.layers.map((layer) => randomMask(layer.W.data.length, sparsity, rng));
      const masks = draw();
      const feedbackMasks = independent ? draw() : masks;
      B.forEach((b, l) => b && applyMask(b.data, feedbackMasks[l]));
      return { B, masks, feedbackMasks };
    },
    prepareParams(layers, state) {
      state.masks?.forEach((mask, l) => mask && applyMask(layers[l].W.data, mask));
    },
    step(ctx, state, batch) {
      const result = stepThroughFeedback(ctx, batch, (l) => state.B[l] as Matrix);
      state.masks?.forEach((mask, l) => mask && applyMask(result.grads[l].W.data, mask));
      return { ...result, state };
    },
    feedbackMatrices: (state) => state.B,
  };
}
