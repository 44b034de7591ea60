import { denseInputError } from '../nn/dense.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward } from '../nn/network.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';
import {
  checkTargetNet, DifferenceCorrection, initInverses, inverseGradsLike, inverseParams, InverseTrainer, layerActivity, layerLocalLoss,
  outputLayerGrads, readTargetOptions, targetPhase, trainExamplesFor, type InverseParams,
  inverseOnlyStep, nonNegativeOption,
  layerBuffers, hiddenTargets,
} from './target-propagation.js';

export interface DtpState {
  /** inverses[l] = g_l for the hidden layers above the first (l = 1 … L−2), null elsewhere: the rule's
   * trainable group 'inverse'. */
  inverses: (InverseParams | null)[];
  /** Training examples seen (for the alternating schedule's passes). */
  seen: number;
  /** The training set's size (the alternating schedule's pass length), kept with the state so a resumed run
   * alternates where it left off. */
  trainExamples: number;
}

/** Bartunov et al. 2018, Table 5, DTP alternating on MNIST: target step α and inverse noise σ. */
export const DTP_DEFAULTS = { alpha: 0.231758, sigma: 0.220444 } as const;

/**
 * Difference target propagation (Lee, Zhang, Fischer & Bengio 2015, as restated by Bartunov et al. 2018
 * §2.1.2, Algorithm Box 1 of Lee et al.), on dense layers:
 *   first target (penultimate layer):  ĥ_{L−1} = h_{L−1} − α ∂L/∂h_{L−1}  (L the example's loss);
 *   difference correction (eq. 2):      ĥ_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l),  g_l(h) = tanh(V_l h + c_l);
 *   layer-local losses:                 L_l = ‖f_l(h_{l−1}) − ĥ_l‖²  (summed over units, averaged over the batch);
 *   the output layer learns from the task loss itself;
 *   inverse losses (App. 5.1):          ‖g_l(f_l(h̃_{l−1})) − h̃_{l−1}‖², h̃ = h + N(0, σ²) (noise-preserving,
 *                                       Lee; option inverseLoss=denoising targets the clean h instead).
 * (Paper indices: the penultimate layer L−1 is the code's layer L−2.) With the top target equal to the
 * output's activity nothing moves: every ĥ_l = h_l and every layer-local gradient is 0 (tested).
 * Schedules: parallel (default) trains the inverses and the forward weights on every batch; alternating
 * (Lee; Bartunov's best) trains only the inverses for one pass over the training set, then only the
 * forward weights for the next, and so on: one of Lee's epochs is two of ours.
 * NOTE: α multiplies the gradient of the example's own loss. Lee et al.'s code steps on the batch's mean
 * loss, so their lr0 = 0.3277 is α·B there; Bartunov et al.'s α (0.01 … 0.2 searched) is taken as per example.
 * Options: alpha, sigma, inverseLoss (preserving | denoising), schedule (parallel | alternating).
 * The inverses are the trainable group 'inverse' (--group-opt inverse.lr=… gives them their own rate).
 */
export function differenceTargetPropagation(options: RuleOptions = {}): LearningRule<DtpState> {
  checkRuleOptions('dtp', options, ['alpha', 'sigma', 'inverseLoss', 'schedule']);
  const alpha = nonNegativeOption('dtp', 'alpha', options.alpha, DTP_DEFAULTS.alpha);
  const { sigma, inverseLoss, schedule } = readTargetOptions('dtp', options, { sigma: DTP_DEFAULTS.sigma, inverseLoss: 'preserving' });
  const targets = layerBuffers();
  const correction = new DifferenceCorrection();
  const trainer = new InverseTrainer();
  let inverseGrads: (InverseParams | null)[] = [];
  return {
    id: 'dtp',
    locality: {
      weightTransport: true,
      note: 'targets travel down through learned inverses g_l, never Wᵀ, but the first (penultimate) target is a gradient step through the output weights, as in Lee et al.',
    },
    init(net, rng, info) {
      checkTargetNet('dtp', net);
      const trainExamples = trainExamplesFor('dtp', schedule, info);
      const L = net.layers.length;
      return { inverses: initInverses(net, rng, 1, L - 2), seen: 0, trainExamples };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws, grads } = ctx;
      const { spec } = net;
      const L = net.layers.length, B = batch.x.rows;
      const phase = targetPhase(schedule, state.seen, state.trainExamples);
      const next: DtpState = { ...state, seen: state.seen + B };
      const out = forward(be, net, batch.x, ws);
      const loss = lossAndGrad(spec.loss, out, batch.y, ws.dh[L - 1]);
      const metrics: Record<string, number> = {};
      let groupGrads: Record<string, Float32Array[]> | undefined;
      if (phase !== 'forward') {
        if (inverseGrads.length !== L) inverseGrads = inverseGradsLike(state.inverses);
        for (let l = 1; l <= L - 2; l++) {
          const g = state.inverses[l] as InverseParams;
          metrics[`reconstruction_${l + 1}`] = trainer.lossAndGrads(be, ws.h[l - 1], layerActivity(net, l), g, sigma, inverseLoss, ctx.rng, inverseGrads[l] as InverseParams);
        }
        groupGrads = { inverse: inverseGrads.flatMap((g) => (g ? [g.V.data, g.c] : [])) };
      }
      if (phase === 'inverse') return inverseOnlyStep(grads, loss, next, groupGrads, metrics);
      const top = L - 1;
      outputLayerGrads(be, net, ws, grads); // the output layer on the task loss
      // First target: ĥ = h − α ∂L_n/∂h at the penultimate layer; ∂(mean loss)/∂h = δz·W, so ∂L_n/∂h = B·δz·W.
      const hat = (l: number) => targets(l, B, spec.sizes[l + 1]);
      denseInputError(be, ws.dz[top], net.layers[top].W, hat(top - 1));
      be.axpby(1, ws.h[top - 1].data, -alpha * B, hat(top - 1).data);
      // Difference correction, Bartunov et al. eq. 2: ĥ_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l).
      for (let l = top - 1; l >= 1; l--) correction.apply(be, state.inverses[l] as InverseParams, hat(l), ws.h[l], ws.h[l - 1], hat(l - 1));
      for (let l = 0; l < top; l++) {
        metrics[`target_loss_${l + 1}`] = layerLocalLoss(be, net, batch.x, ws, l, hat(l), grads[l]);
      }
      return { loss, grads, state: next, groupGrads, metrics, signals: ws.dh.slice(0, top), targets: hiddenTargets(hat, top) };
    },
    groups: (state): TrainableGroup[] => [{ name: 'inverse', params: inverseParams(state.inverses), lr: 'run', optimizer: 'run' }],
  };
}

