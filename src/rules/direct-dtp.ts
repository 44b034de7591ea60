import { lossAndGrad } from '../nn/losses.js';
import { forward } from '../nn/network.js';
import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { Network } from '../nn/network.js';
import { initWeights } from '../nn/init.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';
import { layerBuffers, hiddenTargets, checkTargetNet, layerLocalLoss, matrixScratch, readTargetOptions, targetPhase, trainExamplesFor, UpperForward, inverseOnlyStep, nonNegativeOption } from './target-propagation.js';
import { DRL_MIN_SIGMA } from './difference-reconstruction.js';

export interface DdtpState {
  /** Q[l] [width_l, outputs]: the linear feedback from the output to hidden layer l (l = 0 … L−2); the
   * trainable group 'feedback'. */
  Q: Matrix[];
  seen: number;
  /** The training set's size (the alternating schedule's pass length), kept with the state so a resumed run
   * alternates where it left off. */
  trainExamples: number;
}

/** Meulemans et al. 2020's official MNIST config mnist_DDTPlinear: σ, and λ = 0.06097 on the batch-mean
 * loss at batch 128, so α = λ/128 per example. */
export const DDTP_DEFAULTS = { alpha: 0.06097 / 128, sigma: 0.0908 } as const;

/**
 * Direct difference target propagation with linear feedback (DDTP-linear; Meulemans, Carzaniga, Suykens,
 * Sacramento & Grewe 2020, NeurIPS), on dense layers: every hidden layer gets its target straight from the
 * output through its own linear map Q_l, with the difference correction:
 *   t_L = h_L − α ∂ℓ/∂h_L;   t_l = h_l + Q_l t_L − Q_l h_L = h_l + Q_l (t_L − h_L);
 *   every layer, the output's included, learns ‖h_l − t_l‖²;
 *   DRL feedback loss of Q_l: corrupt h̃_l = h_l + σε, run it forward to the output h̃_L, reconstruct
 *   r_l = h_l + Q_l (h̃_L − h_L);  L_fb = (1/σ²)·mean‖r_l − h̃_l‖²,
 * so Q_l learns the map from output changes back to layer l's, the pseudo-inverse of the Jacobian
 * ∂h_L/∂h_l at the data: the targets then approach the Gauss–Newton direction (Meulemans et al.).
 * Like DFA, one feedback matrix per hidden layer from the output; unlike DFA's, it is learned.
 * Options: alpha, sigma, schedule (parallel | alternating).
 */
export function directDtp(options: RuleOptions = {}): LearningRule<DdtpState> {
  checkRuleOptions('ddtp', options, ['alpha', 'sigma', 'schedule']);
  const alpha = nonNegativeOption('ddtp', 'alpha', options.alpha, DDTP_DEFAULTS.alpha);
  const { sigma, schedule } = readTargetOptions('ddtp', options, { sigma: DDTP_DEFAULTS.sigma, inverseLoss: 'preserving' });
  const topTarget = matrixScratch(), change = matrixScratch();
  const targets = layerBuffers();
  const trainer = new DirectFeedbackTrainer();
  let grads: Float32Array[] = [];
  return {
    id: 'ddtp',
    locality: {
      weightTransport: false,
      note: 'every hidden layer gets its target from the output change through its own learned linear Q_l, which learns from forward passes of noisy activity',
    },
    init(net, rng, info) {
      checkTargetNet('ddtp', net);
      const trainExamples = trainExamplesFor('ddtp', schedule, info);
      const { sizes, init } = net.spec, L = net.layers.length;
      const Q = sizes.slice(1, L).map((width) => {
        const q = matrix(width, sizes[L]);
        initWeights(init, sizes[L], width, rng, q.data);
        return q;
      });
      return { Q, seen: 0, trainExamples };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws } = ctx;
      const { spec } = net;
      const L = net.layers.length, top = L - 1, B = batch.x.rows, outputs = spec.sizes[L];
      const phase = targetPhase(schedule, state.seen, state.trainExamples);
      const next = { ...state, seen: state.seen + B };
      forward(be, net, batch.x, ws);
      const loss = lossAndGrad(spec.loss, ws.h[top], batch.y, ws.dh[top]);
      const metrics: Record<string, number> = {};
      let groupGrads: Record<string, Float32Array[]> | undefined;
      if (phase !== 'forward') {
        if (grads.length !== state.Q.length) grads = state.Q.map((q) => new Float32Array(q.data.length));
        state.Q.forEach((Q, l) => {
          metrics[`reconstruction_${l + 1}`] = trainer.lossAndGrads(be, net, ws.h, l, Q, sigma, ctx.rng, { rows: Q.rows, cols: Q.cols, data: grads[l] });
        });
        groupGrads = { feedback: grads };
      }
      if (phase === 'inverse') return inverseOnlyStep(ctx.grads, loss, next, groupGrads, metrics);
      const tTop = topTarget(B, outputs), dTop = change(B, outputs);
      dTop.data.set(ws.dh[top].data.subarray(0, B * outputs));
      be.axpby(0, dTop.data, -alpha * B, dTop.data); // t_L − h_L = −α ∂ℓ_n/∂h_L
      tTop.data.set(ws.h[top].data.subarray(0, B * outputs));
      be.axpby(1, dTop.data, 1, tTop.data);
      const hat = (l: number) => targets(l, B, spec.sizes[l + 1]);
      for (let l = 0; l < top; l++) {
        const t = hat(l);
        be.gemm(false, true, 1, dTop, state.Q[l], 0, t); // Q_l (t_L − h_L)
        be.axpby(1, ws.h[l].data.subarray(0, t.data.length), 1, t.data);
        metrics[`target_loss_${l + 1}`] = layerLocalLoss(be, net, batch.x, ws, l, t, ctx.grads[l]);
      }
      metrics[`target_loss_${L}`] = layerLocalLoss(be, net, batch.x, ws, top, tTop, ctx.grads[top]);
      return { loss, grads: ctx.grads, state: next, groupGrads, metrics, signals: ws.dh.slice(0, top), targets: hiddenTargets(hat, top) };
    },
    groups: (state): TrainableGroup[] => [{
      name: 'feedback',
      params: state.Q.map((Q, l) => ({ name: `Q${l + 1}`, value: Q.data, isBias: false })),
      lr: 'run',
      optimizer: 'run',
    }],
  };
}

/** The DRL loss of Q_l and its gradient: dQ = (2/(σ² B n)) (r − h̃)ᵀ (h̃_L − h_L). */
export class DirectFeedbackTrainer {
  private readonly upper = new UpperForward();
  private readonly work = Array.from({ length: 3 }, () => matrixScratch());
  private readonly outChange = matrixScratch();

  lossAndGrads(be: Backend, net: Network, h: readonly Matrix[], l: number, Q: Matrix, sigma: number, rng: Rng, grad: Matrix): number {
    const top = net.layers.length - 1, B = h[l].rows, n = Q.rows;
    const [noisy, r, dr] = this.work.map((m) => m(B, n));
    rng.fillNormal(noisy.data, 0, sigma);
    be.axpby(1, h[l].data.subarray(0, B * n), 1, noisy.data); // h̃_l
    const acts = this.upper.run(be, net, l + 1, noisy);
    const d = this.outChange(B, Q.cols);
    d.data.set(acts[top].data);
    be.axpby(-1, h[top].data.subarray(0, d.data.length), 1, d.data); // h̃_L − h_L
    be.gemm(false, true, 1, d, Q, 0, r); // Q_l (h̃_L − h_L)
    be.axpby(1, h[l].data.subarray(0, B * n), 1, r.data); // r_l
    dr.data.set(r.data);
    be.axpby(-1, noisy.data, 1, dr.data);
    let sum = 0;
    for (let i = 0; i < B * n; i++) sum += dr.data[i] * dr.data[i];
    const scale = 1 / Math.max(sigma, DRL_MIN_SIGMA) ** 2;
    be.gemm(true, false, (2 * scale) / (B * n), dr, d, 0, grad);
    return (scale * sum) / (B * n);
  }
}
