import { stepThroughFeedback } from './feedback-step.js';
import type { Matrix } from '../tensor/matrix.js';
import { randomFeedback, readFeedbackInit } from './feedback-matrices.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

export interface FeedbackAlignmentState {
  /** B[l] in W_l's shape [out, in] (so it stands for Bᵀ of the paper); null for layer 0. Fixed. */
  B: (Matrix | null)[];
  /** Connection masks (1 kept, 0 removed) for W and B when a fraction is pruned; null otherwise. */
  masks: (Uint8Array | null)[] | null;
}

/**
 * Feedback alignment (Lillicrap, Cownden, Tweed & Akerman 2016, Nat. Commun. 7:13276):
 * the backward pass uses fixed random matrices instead of the transposes of the forward weights,
 * δ_l = (B_{l+1} δ_{l+1}) ⊙ f'(z_l); the forward weights come to align with B (eq. 2 of the paper with
 * B in place of Wᵀ). Options:
 *   dist (uniform | normal) and scale (0 = scaled to ‖W_l‖) of B;
 *   sparsity: fraction of connections removed from both W and B (the paper's "50 % removed" run).
 * With B_l := W_l the update is exactly backprop's (tested).
 */
export function feedbackAlignment(options: RuleOptions = {}): LearningRule<FeedbackAlignmentState> {
  checkRuleOptions('fa', options, ['dist', 'scale', 'sparsity']);
  const init = readFeedbackInit(options);
  const sparsity = Number(options.sparsity ?? 0);
  if (!(sparsity >= 0 && sparsity < 1)) throw new Error(`fa option sparsity must be in [0, 1), got ${options.sparsity}`);
  return {
    id: 'fa',
    init(net, rng) {
      const B = randomFeedback(net, init, rng);
      if (sparsity === 0) return { B, masks: null };
      const masks = net.layers.map((layer) => {
        const mask = new Uint8Array(layer.W.data.length);
        for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < sparsity ? 0 : 1;
        return mask;
      });
      B.forEach((b, l) => b && applyMask(b.data, masks[l]));
      return { B, masks };
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

function applyMask(data: Float32Array, mask: Uint8Array | null): void {
  if (!mask) return;
  for (let i = 0; i < data.length; i++) if (!mask[i]) data[i] = 0;
}
