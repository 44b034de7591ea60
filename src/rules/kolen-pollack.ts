import type { Matrix } from '../tensor/matrix.js';
import { lossAndGrad } from '../nn/losses.js';
import { backward, forward } from '../nn/network.js';
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
 * Here the shared term is whatever update the optimizer applied to W (momentum included), minus W's decay.
 * Options: decay λ (default 1e-3); dist and scale of the initial B (as for fa).
 */
export function kolenPollack(options: RuleOptions = {}): LearningRule<KolenPollackState> {
  checkRuleOptions('kp', options, ['decay', 'dist', 'scale']);
  const init = readFeedbackInit(options);
  const decay = Number(options.decay ?? 1e-3);
  if (!(decay >= 0)) throw new Error(`kp option decay must be a number ≥ 0, got ${options.decay}`);
  return {
    id: 'kp',
    init: (net, rng) => ({ B: randomFeedback(net, init, rng) }),
    step(ctx, state, batch) {
      const { backend: be, net, ws } = ctx;
      const out = forward(be, net, batch.x, ws);
      const L = net.layers.length;
      const loss = lossAndGrad(net.spec.loss, out, batch.y, ws.dh[L - 1]);
      backward(be, net, batch.x, ws, (l) => state.B[l] as Matrix, ctx.grads);
      // ΔW's decay term λW, added to the proposed update like any weight decay.
      net.layers.forEach((p, l) => be.axpby(decay, p.W.data, 1, ctx.grads[l].W.data));
      return { loss, grads: ctx.grads, state, signals: ws.dh.slice(0, L - 1) };
    },
    afterApply(ctx, state, { direction, lr }) {
      // B ← B − lr·(u − λW + λB), u the direction just applied to W: same gradient term, own decay.
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
