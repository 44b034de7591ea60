import { denseForward } from '../nn/dense.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward } from '../nn/network.js';
import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { Network } from '../nn/network.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';
import {
  checkTargetNet, DifferenceCorrection, initInverses, inverseGradsLike, inverseParams, layerLocalLoss, matrixScratch,
  readTargetOptions, targetPhase, trainExamplesFor, UpperForward, type InverseParams,
  inverseOnlyStep, nonNegativeOption,
  layerBuffers, hiddenTargets,
} from './target-propagation.js';

export interface DrlState {
  /** inverses[l] = g_l for l = 1 … L−1, the output layer's included: the trainable group 'inverse'. */
  inverses: (InverseParams | null)[];
  seen: number;
  /** The training set's size (the alternating schedule's pass length), kept with the state so a resumed run
   * alternates where it left off. */
  trainExamples: number;
}

/** Meulemans et al. 2020's official MNIST config mnist_DTPDRL: feedback noise σ (their target step λ = 0.0686
 * is on the batch-mean loss, so per example it is λ/B: 5.4e-4 at their batch of 128). */
export const DRL_DEFAULTS = { alpha: 0.0686 / 128, sigma: 0.0569 } as const;
/** Below this σ the loss is scaled by 1/MIN_SIGMA² instead of 1/σ² (as the official code does). */
export const DRL_MIN_SIGMA = 0.02;

/**
 * Difference target propagation with the difference reconstruction loss (Meulemans, Carzaniga, Suykens,
 * Sacramento & Grewe 2020, NeurIPS; official code DTPDRL), on dense layers:
 *   output target:  t_L = h_L − α ∂ℓ/∂h_L (ℓ the example's loss);  t_{l−1} = h_{l−1} + g_l(t_l) − g_l(h_l),
 *                   g_l(h) = tanh(V_l h + c_l); every layer, the output's included, learns ‖h_l − t_l‖²;
 *   DRL feedback loss of g_l: corrupt h̃_{l−1} = h_{l−1} + σε, run it forward to the output, send that
 *                   output back down with the difference correction to ĥ_l, and reconstruct
 *                   r_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l);  L_fb = (1/σ²)·mean‖r_{l−1} − h̃_{l−1}‖²
 *                   (mean over units and examples), only g_l's parameters learning from it.
 * Unlike DTP's reconstruction loss it trains g_l in the context of the whole upper stack, which makes the
 * targets Gauss–Newton-like in non-invertible nets (Meulemans et al.). Costs a forward and a backward
 * difference pass of the upper stack per layer: O(L²) per batch.
 * Options: alpha, sigma, schedule (parallel | alternating, as for dtp).
 */
export function differenceReconstruction(options: RuleOptions = {}): LearningRule<DrlState> {
  checkRuleOptions('drl', options, ['alpha', 'sigma', 'schedule']);
  const alpha = nonNegativeOption('drl', 'alpha', options.alpha, DRL_DEFAULTS.alpha);
  const { sigma, schedule } = readTargetOptions('drl', options, { sigma: DRL_DEFAULTS.sigma, inverseLoss: 'preserving' });
  const targets = layerBuffers();
  const correction = new DifferenceCorrection();
  const trainer = new DrlTrainer();
  let grads: (InverseParams | null)[] = [];
  return {
    id: 'drl',
    locality: {
      weightTransport: false,
      note: 'the output target uses only the output error; targets travel down through inverses g_l, which learn from forward passes of noisy activity through the upper stack',
    },
    init(net, rng, info) {
      checkTargetNet('drl', net);
      const trainExamples = trainExamplesFor('drl', schedule, info);
      return { inverses: initInverses(net, rng, 1, net.layers.length - 1), seen: 0, trainExamples };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws } = ctx;
      const { spec } = net;
      const L = net.layers.length, top = L - 1, B = batch.x.rows;
      const phase = targetPhase(schedule, state.seen, state.trainExamples);
      const next = { ...state, seen: state.seen + B };
      forward(be, net, batch.x, ws);
      const loss = lossAndGrad(spec.loss, ws.h[top], batch.y, ws.dh[top]);
      const metrics: Record<string, number> = {};
      let groupGrads: Record<string, Float32Array[]> | undefined;
      if (phase !== 'forward') {
        if (grads.length !== L) grads = inverseGradsLike(state.inverses);
        for (let l = 1; l <= top; l++) metrics[`reconstruction_${l + 1}`] = trainer.lossAndGrads(be, net, ws.h, l, state.inverses, sigma, ctx.rng, grads[l] as InverseParams);
        groupGrads = { inverse: grads.flatMap((g) => (g ? [g.V.data, g.c] : [])) };
      }
      if (phase === 'inverse') return inverseOnlyStep(ctx.grads, loss, next, groupGrads, metrics);
      const hat = (l: number) => targets(l, B, spec.sizes[l + 1]);
      hat(top).data.set(ws.h[top].data.subarray(0, B * spec.sizes[L]));
      be.axpby(-alpha * B, ws.dh[top].data, 1, hat(top).data); // t_L = h_L − α ∂ℓ_n/∂h_L
      for (let l = top; l >= 1; l--) correction.apply(be, state.inverses[l] as InverseParams, hat(l), ws.h[l], ws.h[l - 1], hat(l - 1));
      for (let l = 0; l <= top; l++) metrics[`target_loss_${l + 1}`] = layerLocalLoss(be, net, batch.x, ws, l, hat(l), ctx.grads[l]);
      return { loss, grads: ctx.grads, state: next, groupGrads, metrics, signals: ws.dh.slice(0, top), targets: hiddenTargets(hat, top) };
    },
    groups: (state): TrainableGroup[] => [{ name: 'inverse', params: inverseParams(state.inverses), lr: 'run', optimizer: 'run' }],
  };
}

/** The DRL loss of inverse g_l and its gradient (see differenceReconstruction). */
export class DrlTrainer {
  private readonly upper = new UpperForward();
  private readonly correction = new DifferenceCorrection();
  private readonly stack = layerBuffers();
  private readonly work = Array.from({ length: 8 }, () => matrixScratch());

  lossAndGrads(be: Backend, net: Network, h: readonly Matrix[], l: number, inverses: readonly (InverseParams | null)[], sigma: number, rng: Rng, grad: InverseParams): number {
    const top = net.layers.length - 1, g = inverses[l] as InverseParams, B = h[l].rows, n = g.V.rows;
    const [noisy, u1, a1, u2, a2, r, dr, du] = this.work.map((m) => m(B, n)); // all of layer l−1's width
    rng.fillNormal(noisy.data, 0, sigma);
    be.axpby(1, h[l - 1].data.subarray(0, B * n), 1, noisy.data); // h̃_{l−1}
    const acts = this.upper.run(be, net, l, noisy); // forward to the output
    let t = acts[top];
    for (let j = top; j > l; j--) { // down with differences to ĥ_l
      const below = this.stack(j - 1, B, net.spec.sizes[j]);
      this.correction.apply(be, inverses[j] as InverseParams, t, h[j], h[j - 1], below);
      t = below;
    }
    // r = h_{l−1} + g_l(ĥ_l) − g_l(h_l), keeping both pre-activations for the gradient.
    denseForward(be, { W: g.V, b: g.c }, t, u1);
    be.activate('tanh', u1.data, a1.data, 0);
    denseForward(be, { W: g.V, b: g.c }, h[l], u2);
    be.activate('tanh', u2.data, a2.data, 0);
    r.data.set(a1.data);
    be.axpby(-1, a2.data, 1, r.data);
    be.axpby(1, h[l - 1].data.subarray(0, B * n), 1, r.data);
    const scale = 1 / Math.max(sigma, DRL_MIN_SIGMA) ** 2, count = B * n;
    dr.data.set(r.data);
    be.axpby(-1, noisy.data, 1, dr.data);
    let sum = 0;
    for (let i = 0; i < count; i++) sum += dr.data[i] * dr.data[i];
    be.axpby(0, dr.data, (2 * scale) / count, dr.data); // ∂L_fb/∂r
    be.activateBackward('tanh', u1.data, a1.data, dr.data, du.data, 0);
    be.gemm(true, false, 1, du, t, 0, grad.V);
    be.sumRows(du, 1, 0, grad.c);
    be.activateBackward('tanh', u2.data, a2.data, dr.data, du.data, 0);
    be.gemm(true, false, -1, du, h[l], 1, grad.V);
    be.sumRows(du, -1, 1, grad.c);
    return (scale * sum) / count;
  }
}
