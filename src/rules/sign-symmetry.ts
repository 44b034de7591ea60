import { stepThroughFeedback } from './feedback-step.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

export type SignMagnitude = 'mean' | 'unit' | 'fixed' | 'batch';

export interface SignSymmetryState {
  /** The feedback used at the last step, F_l = sign(W_l) ⊙ M_l in W_l's shape; null for layer 0. */
  F: (Matrix | null)[];
  /** Fixed random magnitudes for magnitude = 'fixed'; null otherwise. */
  M: (Matrix | null)[] | null;
}

/**
 * Sign symmetry (Liao, Leibo & Poggio 2016, AAAI, "How important is weight symmetry in
 * backpropagation?"): feedback shares only the signs of the forward weights, B = sign(W)ᵀ ⊙ M.
 * Option magnitude:
 *   mean  — M = mean |W_l| (default): sign(W) at the forward weights' scale, so deep nets do not blow up;
 *   unit  — M = 1, the literal sign(W)ᵀ (the paper trains it with batch normalisation);
 *   fixed — M = |N(0, 1)| drawn once, times the current mean|W_l| (the paper's "random magnitude" feedback);
 *   batch — M = |N(0, 1)| drawn afresh for every batch, times mean|W_l| ("batch-random magnitude").
 * ∠(B, Wᵀ) is not 0 even for unit magnitudes: cos = Σ|w| / (√n ‖w‖), the price of keeping only signs.
 */
export function signSymmetry(options: RuleOptions = {}): LearningRule<SignSymmetryState> {
  checkRuleOptions('sign', options, ['magnitude']);
  const magnitude = (options.magnitude ?? 'mean') as SignMagnitude;
  if (!['mean', 'unit', 'fixed', 'batch'].includes(magnitude)) {
    throw new Error(`sign option magnitude must be mean, unit, fixed or batch, got '${String(options.magnitude)}'`);
  }
  return {
    id: 'sign',
    locality: { weightTransport: true, note: 'the feedback reads sign(W) (and mean |W|) of the forward weights at every step' },
    init(net, rng) {
      const F = net.layers.map((p, l) => (l === 0 || p.W.data.length === 0 ? null : matrix(p.W.rows, p.W.cols)));
      const M = magnitude === 'fixed'
        ? F.map((f) => (f ? { ...f, data: absNormal(rng, f.data.length) } : null))
        : null;
      return { F, M };
    },
    step(ctx, state, batch) {
      const { net } = ctx;
      net.layers.forEach((p, l) => {
        const F = state.F[l];
        if (!F) return;
        const W = p.W.data;
        let meanAbs = 0;
        for (let i = 0; i < W.length; i++) meanAbs += Math.abs(W[i]);
        meanAbs /= W.length;
        const m = magnitude === 'fixed' ? (state.M?.[l]?.data ?? null) : magnitude === 'batch' ? absNormal(ctx.rng, W.length) : null;
        const scale = magnitude === 'unit' ? 1 : meanAbs;
        for (let i = 0; i < W.length; i++) F.data[i] = Math.sign(W[i]) * scale * (m ? m[i] : 1);
      });
      return { ...stepThroughFeedback(ctx, batch, (l) => state.F[l] as Matrix), state };
    },
    feedbackMatrices: (state) => state.F,
  };
}

function absNormal(rng: { fillNormal(out: Float32Array, mean: number, std: number): Float32Array }, n: number): Float32Array {
  const m = rng.fillNormal(new Float32Array(n), 0, 1);
  for (let i = 0; i < n; i++) m[i] = Math.abs(m[i]);
  return m;
}
