import { stepThroughFeedback } from './feedback-step.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import { DEFAULT_OPTIMIZER } from '../optim/optimizer.js';
import { randomFeedback, readFeedbackInit } from './feedback-matrices.js';
import { positiveInteger, positiveNumber } from './perturbation.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';

export interface WeightMirrorState {
  /** B[l] in W_l's shape (standing for Bᵀ); null for layer 0. Learned in mirror mode: the trainable group 'feedback'. */
  B: (Matrix | null)[];
}

/**
 * Weight mirror (Akrout, Wilson, Humphreys, Lillicrap & Tweed 2019, NeurIPS, eqs. 5–8). Two modes alternate:
 * - engaged: the network learns W exactly as in feedback alignment, sending errors down through B;
 * - mirror: each layer's input neurons fire noise x (zero mean, covariance σ²I) and the layer's output
 *   y = W_l x; B learns from the correlation, ΔB = η_B (y xᵀ − λ B), whose mean σ² W − λB pulls B (here in
 *   W's shape) to (σ²/λ)·W. With λ = σ² (the default) B converges to W itself, i.e. to Wᵀ in the papers'
 *   notation.
 * B is the rule's trainable group 'feedback': the rule proposes its mirror-mode update and the loop applies it
 * with plain SGD at the fixed rate η_B, after the engaged step has used the current B. With mirrorSteps k
 * the proposal is the one step equivalent to k successive mirror steps (a = 1 − η_B λ, C_s = y_s x_sᵀ / n):
 *   B_k = a^k B + η_B Σ_s a^{k−1−s} C_s,  i.e.  g = ((1 − a^k)/η_B) B − Σ_s a^{k−1−s} C_s,  B_k = B − η_B g.
 * NOTE: the paper's noise is Gaussian; any white noise with covariance σ²I has the same fixed point, and
 * ±σ (Rademacher) noise both costs a 32nd of a random draw per value and gives a lower-variance estimate
 * of σ²W (its fourth moment is the smallest possible), so it is the default.
 * Options: mirrorLr η_B (default 0.01), noise σ (default 1), noiseDist (rademacher | gaussian),
 * decay λ (default σ²), mirrorSteps per engaged step and mirrorBatch noise samples per mirror step
 * (whole numbers ≥ 1; defaults 1 and 100); dist and scale of the initial B (as for fa).
 */
export function weightMirror(options: RuleOptions = {}): LearningRule<WeightMirrorState> {
  checkRuleOptions('wm', options, ['mirrorLr', 'noise', 'noiseDist', 'decay', 'mirrorSteps', 'mirrorBatch', 'dist', 'scale']);
  const init = readFeedbackInit(options);
  const mirrorLr = positiveNumber('wm', 'mirrorLr', options.mirrorLr ?? 0.01);
  const sigma = positiveNumber('wm', 'noise', options.noise ?? 1);
  const decay = positiveNumber('wm', 'decay', options.decay ?? sigma * sigma);
  // B ← (1 − η_B λ) B + …: a factor outside (−1, 1) would make B grow without bound.
  if (!(mirrorLr * decay < 1)) throw new Error(`wm options need mirrorLr·decay < 1, got ${mirrorLr}·${decay}`);
  const mirrorSteps = positiveInteger('wm', 'mirrorSteps', options.mirrorSteps ?? 1);
  const mirrorBatch = positiveInteger('wm', 'mirrorBatch', options.mirrorBatch ?? 100);
  const noiseDist = options.noiseDist ?? 'rademacher';
  if (noiseDist !== 'rademacher' && noiseDist !== 'gaussian') throw new Error(`wm option noiseDist must be rademacher or gaussian, got '${String(noiseDist)}'`);
  const a = 1 - mirrorLr * decay;
  const keep = (1 - Math.pow(a, mirrorSteps)) / mirrorLr;
  // Noise, drive and update buffers per layer that has a B (scratch, not state); remade if shapes change.
  let scratch: { x: Matrix; y: Matrix; g: Matrix }[] | null = null;
  return {
    id: 'wm',
    locality: { weightTransport: false, note: 'errors travel through B; B learns from its own layer\'s forward pass of noise, y = W x' },
    init: (net, rng) => ({ B: randomFeedback(net, init, rng) }),
    step(ctx, state, batch) {
      const { backend: be, net } = ctx;
      // Engaged mode: feedback alignment through the current B.
      const result = stepThroughFeedback(ctx, batch, (l) => state.B[l] as Matrix);
      const layers = net.layers;
      const stale = !scratch || scratch.length !== layers.length ||
        scratch.some((buf, l) => buf.x.cols !== layers[l].W.cols || buf.y.cols !== layers[l].W.rows);
      if (stale) {
        // Layer 0 has no B, so its buffers stay empty.
        scratch = layers.map((p, l) => ({
          x: matrix(l ? mirrorBatch : 0, p.W.cols), y: matrix(l ? mirrorBatch : 0, p.W.rows), g: matrix(l ? p.W.rows : 0, l ? p.W.cols : 0),
        }));
      }
      const buffers = scratch as { x: Matrix; y: Matrix; g: Matrix }[];
      // Mirror mode: g ← a·g − y xᵀ / n over the mirror steps (Horner form of Σ_s a^{k−1−s} C_s), then + keep·B.
      for (let s = 0; s < mirrorSteps; s++) {
        layers.forEach((p, l) => {
          if (!state.B[l]) return;
          const { x, y, g } = buffers[l];
          if (noiseDist === 'gaussian') ctx.rng.fillNormal(x.data, 0, sigma);
          else ctx.rng.fillSigns(x.data, sigma);
          be.gemm(false, true, 1, x, p.W, 0, y); // y = W x for each noise sample (rows)
          be.gemm(true, false, -1 / mirrorBatch, y, x, s === 0 ? 0 : a, g);
        });
      }
      const updates: Float32Array[] = [];
      state.B.forEach((B, l) => {
        if (!B) return;
        const { g } = buffers[l];
        be.axpby(keep, B.data, 1, g.data);
        updates.push(g.data);
      });
      return { ...result, state, groupGrads: { feedback: updates } };
    },
    groups: (state): TrainableGroup[] => [{
      name: 'feedback',
      params: state.B.flatMap((B, l) => (B ? [{ name: `B${l + 1}`, value: B.data, isBias: false }] : [])),
      lr: mirrorLr,
      optimizer: { ...DEFAULT_OPTIMIZER, name: 'sgd' },
    }],
    feedbackMatrices: (state) => state.B,
  };
}
