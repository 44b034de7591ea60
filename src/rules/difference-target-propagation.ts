import { denseInputError } from '../nn/dense.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward, layerActivation, networkLayers } from '../nn/network.js';
import type { Matrix } from '../tensor/matrix.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';
import {
  applyInverse, checkTargetNet, initInverses, inverseGradsLike, inverseParams, InverseTrainer, layerLocalLoss, matrixScratch,
  type InverseLoss, type InverseParams,
} from './target-propagation.js';

export interface DtpState {
  /** inverses[l] = g_l for the hidden layers above the first (l = 1 … L−2), null elsewhere: the rule's
   * trainable group 'inverse'. */
  inverses: (InverseParams | null)[];
  /** Training examples seen (for the alternating schedule's passes). */
  seen: number;
}

export type DtpSchedule = 'parallel' | 'alternating';

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
  const alpha = numberOption(options.alpha ?? DTP_DEFAULTS.alpha, 'alpha');
  const sigma = numberOption(options.sigma ?? DTP_DEFAULTS.sigma, 'sigma');
  const inverseLoss = choiceOption(options.inverseLoss ?? 'preserving', 'inverseLoss', ['preserving', 'denoising']) as InverseLoss;
  const schedule = choiceOption(options.schedule ?? 'parallel', 'schedule', ['parallel', 'alternating']) as DtpSchedule;
  const targets: ((rows: number, cols: number) => Matrix)[] = [];
  const scratchA = matrixScratch(), scratchB = matrixScratch();
  const trainer = new InverseTrainer();
  let inverseGrads: (InverseParams | null)[] = [];
  let trainExamples = 0;
  return {
    id: 'dtp',
    locality: {
      weightTransport: true,
      note: 'targets travel down through learned inverses g_l, never Wᵀ, but the first (penultimate) target is a gradient step through the output weights, as in Lee et al.',
    },
    init(net, rng, info) {
      checkTargetNet('dtp', net);
      if (schedule === 'alternating') {
        if (!info) throw new Error("dtp's alternating schedule needs the training set's size (InitInfo.trainExamples)");
        trainExamples = info.trainExamples;
      }
      const L = net.layers.length;
      return { inverses: initInverses(net, rng, 1, L - 2), seen: 0 };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws, grads } = ctx;
      const { spec } = net;
      const L = net.layers.length, B = batch.x.rows;
      const phase = schedule === 'parallel' ? 'both' : Math.floor(state.seen / trainExamples) % 2 === 0 ? 'inverse' : 'forward';
      const next: DtpState = { inverses: state.inverses, seen: state.seen + B };
      const out = forward(be, net, batch.x, ws);
      const loss = lossAndGrad(spec.loss, out, batch.y, ws.dh[L - 1]);
      const metrics: Record<string, number> = {};
      let groupGrads: Record<string, Float32Array[]> | undefined;
      if (phase !== 'forward') {
        if (inverseGrads.length !== L) inverseGrads = inverseGradsLike(state.inverses);
        for (let l = 1; l <= L - 2; l++) {
          metrics[`reconstruction_${l + 1}`] = trainer.lossAndGrads(be, net, l, ws.h[l - 1], state.inverses[l] as InverseParams, sigma, inverseLoss, ctx.rng, inverseGrads[l] as InverseParams);
        }
        groupGrads = { inverse: inverseGrads.flatMap((g) => (g ? [g.V.data, g.c] : [])) };
      }
      if (phase === 'inverse') {
        for (const g of grads) { g.W.data.fill(0); g.b.fill(0); }
        return { loss, grads, state: next, groupGrads, metrics, updatesForward: false };
      }
      // The output layer on the task loss.
      const top = L - 1;
      be.activateBackward(layerActivation(spec, top), ws.z[top].data, ws.h[top].data, ws.dh[top].data, ws.dz[top].data, spec.leakySlope);
      networkLayers(spec)[top].paramGrads(be, ws.dz[top], ws.h[top - 1], grads[top]);
      // First target: ĥ = h − α ∂L_n/∂h at the penultimate layer; ∂(mean loss)/∂h = δz·W, so ∂L_n/∂h = B·δz·W.
      while (targets.length < L) targets.push(matrixScratch());
      const hat = (l: number) => targets[l](B, spec.sizes[l + 1]);
      denseInputError(be, ws.dz[top], net.layers[top].W, hat(top - 1));
      be.axpby(1, ws.h[top - 1].data, -alpha * B, hat(top - 1).data);
      // Difference correction, Bartunov et al. eq. 2: ĥ_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l).
      for (let l = top - 1; l >= 1; l--) {
        const g = state.inverses[l] as InverseParams, width = spec.sizes[l];
        const gTarget = scratchA(B, width), gActivity = scratchB(B, width), below = hat(l - 1);
        applyInverse(be, g, hat(l), gTarget);
        applyInverse(be, g, ws.h[l], gActivity);
        be.axpby(-1, gActivity.data, 1, gTarget.data); // the difference first: exactly 0 where ĥ_l = h_l
        below.data.set(ws.h[l - 1].data.subarray(0, below.data.length));
        be.axpby(1, gTarget.data, 1, below.data);
      }
      for (let l = 0; l < top; l++) {
        metrics[`target_loss_${l + 1}`] = layerLocalLoss(be, net, batch.x, ws, l, hat(l), grads[l]);
      }
      return { loss, grads, state: next, groupGrads, metrics, signals: ws.dh.slice(0, top) };
    },
    groups: (state): TrainableGroup[] => [{ name: 'inverse', params: inverseParams(state.inverses), lr: 'run', optimizer: 'run' }],
  };
}

function numberOption(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`dtp option ${name} must be a number ≥ 0, got '${String(value)}'`);
  return value;
}

function choiceOption(value: unknown, name: string, choices: readonly string[]): string {
  if (typeof value !== 'string' || !choices.includes(value)) throw new Error(`dtp option ${name} must be one of ${choices.join(', ')}, got '${String(value)}'`);
  return value;
}
