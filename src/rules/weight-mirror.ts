import { stepThroughFeedback } from './feedback-step.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import { randomFeedback, readFeedbackInit } from './feedback-matrices.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

export interface WeightMirrorState {
  /** B[l] in W_l's shape (standing for Bᵀ); null for layer 0. Learned in mirror mode. */
  B: (Matrix | null)[];
}

/**
 * Weight mirror (Akrout, Wilson, Humphreys, Lillicrap & Tweed 2019, NeurIPS, eqs. 5–8). Two modes alternate:
 * - engaged: the network learns W exactly as in feedback alignment, sending errors down through B;
 * - mirror: each layer's input neurons fire noise x (zero mean, covariance σ²I) and the layer's output
 *   y = W_l x; B learns from the correlation, ΔB = η_B (y xᵀ − λ B), whose mean σ² W − λB pulls B (here in
 *   W's shape) to (σ²/λ)·W. With λ = σ² (the default) B converges to W itself, i.e. to Wᵀ in the papers'
 *   notation.
 * NOTE: the paper's noise is Gaussian; any white noise with covariance σ²I has the same fixed point, and
 * ±σ (Rademacher) noise both costs a 32nd of a random draw per value and gives a lower-variance estimate
 * of σ²W (its fourth moment is the smallest possible), so it is the default.
 * Options: mirrorLr η_B (default 0.01), noise σ (default 1), noiseDist (rademacher | gaussian),
 * decay λ (default σ²), mirrorSteps per engaged step (default 1), mirrorBatch noise samples per mirror
 * step (default 100); dist and scale of the initial B (as for fa).
 */
export function weightMirror(options: RuleOptions = {}): LearningRule<WeightMirrorState> {
  checkRuleOptions('wm', options, ['mirrorLr', 'noise', 'noiseDist', 'decay', 'mirrorSteps', 'mirrorBatch', 'dist', 'scale']);
  const init = readFeedbackInit(options);
  const mirrorLr = positive('mirrorLr', options.mirrorLr ?? 0.01);
  const sigma = positive('noise', options.noise ?? 1);
  const decay = positive('decay', options.decay ?? sigma * sigma);
  // B ← (1 − η_B λ) B + …: a factor outside (−1, 1) would make B grow without bound.
  if (!(mirrorLr * decay < 1)) throw new Error(`wm options need mirrorLr·decay < 1, got ${mirrorLr}·${decay}`);
  const mirrorSteps = Math.round(positive('mirrorSteps', options.mirrorSteps ?? 1));
  const mirrorBatch = Math.round(positive('mirrorBatch', options.mirrorBatch ?? 100));
  const noiseDist = options.noiseDist ?? 'rademacher';
  if (noiseDist !== 'rademacher' && noiseDist !== 'gaussian') throw new Error(`wm option noiseDist must be rademacher or gaussian, got '${String(noiseDist)}'`);
  // Noise and drive buffers per layer, made on first use (scratch, not state).
  let scratch: { x: Matrix; y: Matrix }[] | null = null;
  return {
    id: 'wm',
    init: (net, rng) => ({ B: randomFeedback(net, init, rng) }),
    step(ctx, state, batch) {
      const { backend: be, net } = ctx;
      // Engaged mode: feedback alignment through the current B.
      const result = stepThroughFeedback(ctx, batch, (l) => state.B[l] as Matrix);
      // Mirror mode.
      // Noise and drive buffers per layer that has a B; remade if the network's shapes change.
      const layers = net.layers;
      const stale = !scratch || scratch.length !== layers.length ||
        scratch.some((buf, l) => buf.x.cols !== layers[l].W.cols || buf.y.cols !== layers[l].W.rows);
      if (stale) {
        // Layer 0 has no B, so its buffers stay empty.
        scratch = layers.map((p, l) => ({ x: matrix(l ? mirrorBatch : 0, p.W.cols), y: matrix(l ? mirrorBatch : 0, p.W.rows) }));
      }
      for (let s = 0; s < mirrorSteps; s++) {
        net.layers.forEach((p, l) => {
          const B = state.B[l];
          if (!B) return;
          const { x, y } = (scratch as { x: Matrix; y: Matrix }[])[l];
          if (noiseDist === 'gaussian') ctx.rng.fillNormal(x.data, 0, sigma);
          else ctx.rng.fillSigns(x.data, sigma);
          be.gemm(false, true, 1, x, p.W, 0, y); // y = W x for each noise sample (rows)
          // B ← (1 − η_B λ) B + (η_B / n) yᵀ x
          be.gemm(true, false, mirrorLr / mirrorBatch, y, x, 1 - mirrorLr * decay, B);
        });
      }
      return { ...result, state };
    },
    feedbackMatrices: (state) => state.B,
  };
}

function positive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) throw new Error(`wm option ${name} must be a number > 0, got '${String(value)}'`);
  return value;
}
