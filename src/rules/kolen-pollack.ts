import { stepThroughFeedback } from './feedback-step.js';
import type { Matrix } from '../tensor/matrix.js';
import { randomFeedback, readFeedbackInit } from './feedback-matrices.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';

export interface KolenPollackState {
  /** B[l] in W_l's shape (standing for Bᵀ); null for layer 0. Learned: the rule's trainable group 'feedback'. */
  B: (Matrix | null)[];
}

/** Default λ of both decays; chosen on a validation split (docs/RESULTS.md, issue 8). */
export const KP_DEFAULT_DECAY = 1e-3;

/**
 * Kolen–Pollack (Kolen & Pollack 1994; Akrout, Wilson, Humphreys, Lillicrap & Tweed 2019, NeurIPS, eqs. 9–10):
 * the error travels through learned feedback weights B (as in feedback alignment), and B learns from the
 * same locally available product of activity and error as W, transposed; both decay towards zero:
 *   eq. 9:  ΔW_l = −η (δ_l h_{l−1}ᵀ + λ W_l),   eq. 10:  ΔB_l = −η (h_{l−1} δ_lᵀ + λ B_l).
 * The gradient terms are equal (B is stored in W's shape, so its term is W's δ hᵀ), hence
 * Δ(B − W) = −ηλ (B − W): the difference shrinks by (1 − ηλ) every step and B converges to Wᵀ. B never
 * reads W: the synapses of each pair see the same pre- and post-synaptic signals and nothing else.
 * B is the rule's trainable group 'feedback', stepped by the loop with the run's learning rate and its own
 * optimizer state (so with momentum both receive the same transform, and B − W still contracts).
 * Options: decay λ (default KP_DEFAULT_DECAY); dist and scale of the initial B (as for fa).
 */
export function kolenPollack(options: RuleOptions = {}): LearningRule<KolenPollackState> {
  checkRuleOptions('kp', options, ['decay', 'dist', 'scale']);
  const init = readFeedbackInit(options);
  const decay = options.decay ?? KP_DEFAULT_DECAY;
  if (typeof decay !== 'number' || !(decay >= 0) || !Number.isFinite(decay)) throw new Error(`kp option decay must be a number ≥ 0, got '${String(decay)}'`);
  // B's update buffers, one per B (scratch, not state: rewritten every step).
  let scratch: Float32Array[] = [];
  return {
    id: 'kp',
    locality: { weightTransport: false, note: 'errors travel through B, which learns from the same pre- and post-synaptic signals as W; B never reads W' },
    init: (net, rng) => ({ B: randomFeedback(net, init, rng) }),
    step(ctx, state, batch) {
      const { backend: be, net } = ctx;
      const result = stepThroughFeedback(ctx, batch, (l) => state.B[l] as Matrix);
      const feedback = state.B.filter((B): B is Matrix => B !== null);
      if (scratch.length !== feedback.length || scratch.some((g, i) => g.length !== feedback[i].data.length)) {
        scratch = feedback.map((B) => new Float32Array(B.data.length));
      }
      let k = 0;
      state.B.forEach((B, l) => {
        if (!B) return;
        const gB = scratch[k++];
        gB.set(result.grads[l].W.data); // eq. 10: h δᵀ, i.e. δ hᵀ in W's layout
        if (decay) be.axpby(decay, B.data, 1, gB); // + λ B
      });
      // eq. 9: + λ W, each layer's own weights in its own update.
      if (decay) net.layers.forEach((p, l) => be.axpby(decay, p.W.data, 1, result.grads[l].W.data));
      return { ...result, state, groupGrads: { feedback: scratch } };
    },
    groups: (state): TrainableGroup[] => [{
      name: 'feedback',
      params: state.B.flatMap((B, l) => (B ? [{ name: `B${l + 1}`, value: B.data, isBias: false }] : [])),
      lr: 'run',
      optimizer: 'run',
    }],
    feedbackMatrices: (state) => state.B,
  };
}
