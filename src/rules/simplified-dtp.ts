import { initWeights } from '../nn/init.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward } from '../nn/network.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';
import {
  checkTargetNet, DifferenceCorrection, initInverses, inverseGradsLike, inverseParams, InverseTrainer, layerActivity, layerLocalLoss,
  inverseOnlyStep, matrixScratch, outputActivity, outputLayerGrads, readTargetOptions, targetPhase, trainExamplesFor, type Activity, type InverseParams,
  layerBuffers, hiddenTargets,
} from './target-propagation.js';

export interface SimplifiedDtpState {
  /** inverses[l] = g_l for l = 1 … L−1, the output layer's included (it maps the output's activity, or
   * [output, auxiliary features] for aosdtp, back to the penultimate layer): the trainable group 'inverse'. */
  inverses: (InverseParams | null)[];
  /** aosdtp: the fixed random projection R [aux, width_{L−1}] of the auxiliary features z = tanh(R h_{L−1});
   * null for sdtp. Never trained. */
  aux: Matrix | null;
  seen: number;
  /** The training set's size (the alternating schedule's pass length), kept with the state so a resumed run
   * alternates where it left off. */
  trainExamples: number;
}

/** Bartunov et al. 2018, Table 5, SDTP parallel on MNIST: the inverses' noise σ. */
export const SDTP_DEFAULT_SIGMA = 0.213995;
/** Auxiliary output units of aosdtp (Bartunov et al. §3.2 used 512 on CIFAR-10). */
export const AOSDTP_DEFAULT_AUX = 512;

/**
 * Simplified difference target propagation (Bartunov et al. 2018, §2.1.2, Algorithm 1), on dense layers:
 * no gradient anywhere. The first target is the output the loss wants, ĥ_L = argmin L — the label's one-hot
 * distribution for a softmax net, compared with the class probabilities p — and every target below comes
 * through learned inverses with the difference correction (eq. 2), the output layer's inverse included:
 *   ĥ_{L−1} = h_{L−1} + g_L(ĥ_L) − g_L(p),   ĥ_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l);
 *   layer-local losses ‖f_l(h_{l−1}) − ĥ_l‖²; the output layer learns from the task loss;
 *   inverse losses ‖g_l(f_l(h̃_{l−1})) − h_{l−1}‖² (denoising, Bartunov's; option inverseLoss=preserving).
 * With auxiliary outputs (aosdtp, eq. 3, Algorithm 2) the top layer's activity is [p, z], z = tanh(R h_{L−1})
 * a fixed random projection of the penultimate layer, and its target [ĥ_L, z] keeps z: so a 10-class label
 * still gives the penultimate layer a target of full rank. (Paper indices; the code's layer l is paper's l+1.)
 * Options: sigma, inverseLoss, schedule (parallel | alternating, as for dtp).
 */
export function simplifiedDtp(options: RuleOptions = {}): LearningRule<SimplifiedDtpState> {
  checkRuleOptions('sdtp', options, ['sigma', 'inverseLoss', 'schedule']);
  return simplifiedTargetPropagation('sdtp', options, 0);
}

/** The shared body of sdtp and aosdtp (auxiliary-output-sdtp.ts): aux = 0 for sdtp. */
export function simplifiedTargetPropagation(id: string, options: RuleOptions, auxUnits: number): LearningRule<SimplifiedDtpState> {
  const { sigma, inverseLoss, schedule } = readTargetOptions(id, options, { sigma: SDTP_DEFAULT_SIGMA, inverseLoss: 'denoising' });
  const targets = layerBuffers();
  const topActivity = matrixScratch(), topTarget = matrixScratch(), auxOut = matrixScratch(), probabilities = matrixScratch();
  const correction = new DifferenceCorrection();
  const trainer = new InverseTrainer();
  let inverseGrads: (InverseParams | null)[] = [];
  const classes = (s: SimplifiedDtpState, width: number) => width - (s.aux?.rows ?? 0);
  /** The top layer's activity: p, or [p, tanh(R h)] for aosdtp, from a batch of penultimate activities. */
  const topOf = (state: SimplifiedDtpState, output: Activity): Activity => (be, x, out) => {
    if (!state.aux) return output(be, x, out);
    const k = classes(state, out.cols), p = probabilities(x.rows, k), z = auxOut(x.rows, state.aux.rows);
    output(be, x, p);
    be.gemm(false, true, 1, x, state.aux, 0, z);
    be.activate('tanh', z.data, z.data, 0);
    joinColumns(p, z, out);
  };
  return {
    id,
    locality: {
      weightTransport: false,
      note: 'the first target is the label; targets travel down through learned inverses g_l, which learn from forward passes of noisy activity; W is read only in forward passes',
    },
    init(net, rng, info) {
      checkTargetNet(id, net);
      const trainExamples = trainExamplesFor(id, schedule, info);
      const L = net.layers.length, sizes = net.spec.sizes;
      const inverses = initInverses(net, rng, 1, L - 1);
      let aux: Matrix | null = null;
      if (auxUnits > 0) {
        aux = matrix(auxUnits, sizes[L - 1]);
        initWeights(net.spec.init, sizes[L - 1], auxUnits, rng, aux.data);
        const V = matrix(sizes[L - 1], sizes[L] + auxUnits); // the top inverse reads [p, z]
        initWeights(net.spec.init, sizes[L] + auxUnits, sizes[L - 1], rng, V.data);
        inverses[L - 1] = { V, c: new Float32Array(sizes[L - 1]) };
      }
      return { inverses, aux, seen: 0, trainExamples };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws, grads } = ctx;
      const { spec } = net;
      const L = net.layers.length, top = L - 1, B = batch.x.rows;
      const phase = targetPhase(schedule, state.seen, state.trainExamples);
      const next: SimplifiedDtpState = { ...state, seen: state.seen + B };
      forward(be, net, batch.x, ws);
      const loss = lossAndGrad(spec.loss, ws.h[top], batch.y, ws.dh[top]);
      const metrics: Record<string, number> = {};
      const output = outputActivity(net), topWidth = (state.inverses[top] as InverseParams).V.cols;
      let groupGrads: Record<string, Float32Array[]> | undefined;
      if (phase !== 'forward') {
        if (inverseGrads.length !== L) inverseGrads = inverseGradsLike(state.inverses);
        for (let l = 1; l <= top; l++) {
          const f = l === top ? topOf(state, output) : layerActivity(net, l);
          metrics[`reconstruction_${l + 1}`] = trainer.lossAndGrads(be, ws.h[l - 1], f, state.inverses[l] as InverseParams, sigma, inverseLoss, ctx.rng, inverseGrads[l] as InverseParams);
        }
        groupGrads = { inverse: inverseGrads.flatMap((g) => (g ? [g.V.data, g.c] : [])) };
      }
      if (phase === 'inverse') return inverseOnlyStep(grads, loss, next, groupGrads, metrics);
      outputLayerGrads(be, net, ws, grads); // the output layer on the task loss
      // The top layer's activity and its target: [p, z] and [y, z] (z only for aosdtp).
      const activity = topActivity(B, topWidth), wanted = topTarget(B, topWidth);
      topOf(state, output)(be, ws.h[top - 1], activity);
      wanted.data.set(activity.data);
      const k = classes(state, topWidth);
      for (let n = 0; n < B; n++) wanted.data.set(batch.y.data.subarray(n * k, (n + 1) * k), n * topWidth); // ĥ_L = argmin L: the label
      const hat = (l: number) => targets(l, B, spec.sizes[l + 1]);
      correction.apply(be, state.inverses[top] as InverseParams, wanted, activity, ws.h[top - 1], hat(top - 1));
      for (let l = top - 1; l >= 1; l--) correction.apply(be, state.inverses[l] as InverseParams, hat(l), ws.h[l], ws.h[l - 1], hat(l - 1));
      for (let l = 0; l < top; l++) metrics[`target_loss_${l + 1}`] = layerLocalLoss(be, net, batch.x, ws, l, hat(l), grads[l]);
      return { loss, grads, state: next, groupGrads, metrics, signals: ws.dh.slice(0, top), targets: hiddenTargets(hat, top) };
    },
    groups: (state): TrainableGroup[] => [{ name: 'inverse', params: inverseParams(state.inverses), lr: 'run', optimizer: 'run' }],
  };
}

/** out [B, a.cols + b.cols] = [a, b] row by row. */
function joinColumns(a: Matrix, b: Matrix, out: Matrix): void {
  for (let n = 0; n < a.rows; n++) {
    out.data.set(a.data.subarray(n * a.cols, (n + 1) * a.cols), n * out.cols);
    out.data.set(b.data.subarray(n * b.cols, (n + 1) * b.cols), n * out.cols + a.cols);
  }
}
