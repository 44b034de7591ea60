import { stepThroughFeedback } from './feedback-step.js';
import type { Matrix } from '../tensor/matrix.js';
import { randomFeedback, readFeedbackInit } from './feedback-matrices.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

export interface KolenPollackState {
  /** B[l] in W_l's shape (standing for Bᵀ); null for layer 0. Learned. */
  B: (Matrix | null)[];
}

/**
 * Kolen–Pollack (Kolen & Pollack 1994; Akrout, Wilson, Humphreys, Lillicrap & Tweed 2019, NeurIPS, eqs. 9–10):
 * the error travels through learned feedback weights B (as in feedback alignment), and B receives the
 * transpose of W's update; both decay:
 *   ΔW_l = −η (δ_l h_{l−1}ᵀ + λ W_l),   ΔB_l = −η (h_{l−1} δ_lᵀ + λ B_l).
 * The gradient terms are the same, so B_l − W_lᵀ shrinks by (1 − ηλ) every step and B converges to Wᵀ.
 * Here B receives exactly the update the optimizer applied to W (momentum and any --weight-decay
 * included) and decays towards W at rate λ: B ← B − η u − η λ (B − W). With plain SGD and
 * --weight-decay λ this is the paper's pair of equations; with momentum the difference B − W still
 * shrinks by exactly (1 − ηλ) per step.
 * NOTE: the default λ = 0.01 is far larger than a usual weight decay, so that B aligns within the
 * few thousand updates of an MNIST run (Akrout et al. train for hundreds of thousands).
 * Options: decay λ (default 0.01); dist and scale of the initial B (as for fa).
 */
export function kolenPollack(options: RuleOptions = {}): LearningRule<KolenPollackState> {
  checkRuleOptions('kp', options, ['decay', 'dist', 'scale']);
  const init = readFeedbackInit(options);
  const decay = Number(options.decay ?? 0.01);
  if (!(decay >= 0)) throw new Error(`kp option decay must be a number ≥ 0, got ${options.decay}`);
  return {
    id: 'kp',
    init: (net, rng) => ({ B: randomFeedback(net, init, rng) }),
    step(ctx, state, batch) {
      return { ...stepThroughFeedback(ctx, batch, (l) => state.B[l] as Matrix), state };
    },
    afterApply(ctx, state, { direction, lr }) {
      // B ← B − lr·u − lr·λ·(B − W), u the direction just applied to W (W is already updated).
      ctx.net.layers.forEach((p, l) => {
        const B = state.B[l];
        if (!B) return;
        ctx.backend.axpby(-lr, direction[l].W.data, 1, B.data);
        ctx.backend.axpby(lr * decay, p.W.data, 1 - lr * decay, B.data);
      });
      return state;
    },
    feedbackMatrices: (state) => state.B,
  };
}
