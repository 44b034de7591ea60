import { denseForward } from '../nn/dense.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward, layerActivation, type Network } from '../nn/network.js';
import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import { scratch } from '../nn/im2col.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';
import {
  checkTargetNet, DifferenceCorrection, initInverses, inverseGradsLike, layerActivity, layerLocalLoss, matrixScratch,
  type Activity, type InverseParams,
  nonNegativeOption,
  layerBuffers, hiddenTargets,
} from './target-propagation.js';

export interface LdrlState {
  /** inverses[l] = G_l for l = 1 … L−1 (the output layer's included, reading the logits); each is its own
   * trainable group 'inverse_{l+1}' (so each can have its own rate, as in Ernoult et al.'s per-layer rates). */
  inverses: (InverseParams | null)[];
  /** The feedback iteration this batch is at (0 … iterations − 1); the last one also trains the forward weights. */
  iteration: number;
}

/** Ernoult et al. 2022, scalingDTP defaults: the output target's step β; the feedback noise σ of the top layer. */
export const LDRL_DEFAULTS = { beta: 0.7, sigma: 0.08, iterations: 1 } as const;

/**
 * Local difference reconstruction loss (Ernoult, Normandin, Moudgil, Spinney, Belilovsky, Rish, Richards &
 * Bengio 2022, ICML; official code ernoult/scalingDTP, where it is called DTP), on dense layers:
 *   output target:       t_L = h_L − β ∂ℓ/∂h_L  (ℓ the example's cross-entropy, summed, not averaged);
 *   below:               t_{l−1} = h_{l−1} + G_l(t_l) − G_l(h_l),  G_l(h) = tanh(V_l h + c_l);
 *   forward loss:        Σ_l ½‖h_l − t_l‖²  (every layer, the output's included);
 *   feedback loss of G_l, with x = h_{l−1}, y = f_l(x), r = G_l(y), δx, δy ~ N(0, σ_l²):
 *                        L_fb = −2 δx·[G_l(f_l(x + δx)) − r] + ‖G_l(y + δy) − r‖²,
 * local to one layer; minimising it drives G_l's Jacobian towards the transpose of f_l's (Jacobian matching),
 * which makes the targets approximate backprop's gradient. Each batch first runs `iterations` feedback
 * updates (one loop step each, StepResult.again), then updates the forward weights in the last.
 * Metrics per layer: the target loss, the feedback loss and the Jacobian mismatch ‖J_G − J_fᵀ‖²/‖J_f‖² at the
 * batch's first example (a diagnostic that reads W; the updates do not).
 * Options: beta; sigma and iterations, each one number or a comma list with one per inverse (layers 2 … L,
 * bottom first), e.g. iterations=20,30,35.
 */
export function localDifferenceReconstruction(options: RuleOptions = {}): LearningRule<LdrlState> {
  checkRuleOptions('ldrl', options, ['beta', 'sigma', 'iterations']);
  const beta = nonNegativeOption('ldrl', 'beta', options.beta, LDRL_DEFAULTS.beta);
  const sigmaOption = perLayerOption('sigma', options.sigma ?? LDRL_DEFAULTS.sigma, (v) => v >= 0);
  const iterationsOption = perLayerOption('iterations', options.iterations ?? LDRL_DEFAULTS.iterations, (v) => Number.isInteger(v) && v >= 1);
  const targets = layerBuffers();
  const correction = new DifferenceCorrection();
  const trainer = new FeedbackTrainer();
  let grads: (InverseParams | null)[] = [];
  return {
    id: 'ldrl',
    locality: {
      weightTransport: false,
      note: 'the output target uses only the output error; targets travel down through inverses G_l that learn from forward passes of noisy activity in their own layer',
    },
    init(net, rng) {
      checkTargetNet('ldrl', net);
      const L = net.layers.length;
      sigmaOption(L - 1); // checked here; recomputed from the net in step, so a resumed run has them too
      iterationsOption(L - 1);
      return { inverses: initInverses(net, rng, 1, L - 1), iteration: 0 };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws } = ctx;
      const { spec } = net;
      const L = net.layers.length, top = L - 1, B = batch.x.rows, k = state.iteration;
      const sigma = sigmaOption(L - 1), iterations = iterationsOption(L - 1);
      const last = Math.max(...iterations) - 1;
      forward(be, net, batch.x, ws);
      const loss = lossAndGrad(spec.loss, ws.h[top], batch.y, ws.dh[top]);
      if (grads.length !== L) grads = inverseGradsLike(state.inverses);
      const metrics: Record<string, number> = {}, groupGrads: Record<string, Float32Array[]> = {};
      for (let l = 1; l <= top; l++) {
        if (k >= iterations[l - 1]) continue; // this layer's iterations are done: its group sits out
        const g = state.inverses[l] as InverseParams, grad = grads[l] as InverseParams;
        metrics[`feedback_loss_${l + 1}`] = trainer.lossAndGrads(be, ws.h[l - 1], ws.h[l], layerActivity(net, l), g, sigma[l - 1], ctx.rng, grad);
        groupGrads[`inverse_${l + 1}`] = [grad.V.data, grad.c];
      }
      if (k < last) {
        for (const g of ctx.grads) { g.W.data.fill(0); g.b.fill(0); }
        return { loss, grads: ctx.grads, state: { ...state, iteration: k + 1 }, groupGrads, metrics, updatesForward: false, again: true };
      }
      for (let l = 1; l <= top; l++) metrics[`jacobian_mismatch_${l + 1}`] = jacobianMismatch(be, net, ws, l, state.inverses[l] as InverseParams);
      const hat = (l: number) => targets(l, B, spec.sizes[l + 1]);
      // t_L = h_L − β ∂ℓ_n/∂h_L: the mean loss's gradient ws.dh[top] times B is the example's.
      hat(top).data.set(ws.h[top].data.subarray(0, B * spec.sizes[L]));
      be.axpby(-beta * B, ws.dh[top].data, 1, hat(top).data);
      for (let l = top; l >= 1; l--) correction.apply(be, state.inverses[l] as InverseParams, hat(l), ws.h[l], ws.h[l - 1], hat(l - 1));
      for (let l = 0; l <= top; l++) metrics[`target_loss_${l + 1}`] = layerLocalLoss(be, net, batch.x, ws, l, hat(l), ctx.grads[l], 0.5);
      return { loss, grads: ctx.grads, state: { ...state, iteration: 0 }, groupGrads, metrics, signals: ws.dh.slice(0, top), targets: hiddenTargets(hat, top) };
    },
    groups: (state): TrainableGroup[] => state.inverses.flatMap((g, l) => g ? [{
      name: `inverse_${l + 1}`,
      params: [{ name: `V${l + 1}`, value: g.V.data, isBias: false }, { name: `c${l + 1}`, value: g.c, isBias: true }],
      lr: 'run' as const,
      optimizer: 'run' as const,
    }] : []),
  };
}

/** A number for every inverse, from one number or a comma list of exactly that many. */
function perLayerOption(name: string, value: unknown, ok: (v: number) => boolean): (count: number) => number[] {
  const values = typeof value === 'number' ? [value] : typeof value === 'string' ? value.split(',').map((v) => Number(v.trim())) : [];
  if (!values.length || !values.every((v) => Number.isFinite(v) && ok(v))) {
    throw new Error(`ldrl option ${name} must be a number or a comma list of numbers (${name === 'iterations' ? 'whole, ≥ 1' : '≥ 0'}), got '${String(value)}'`);
  }
  return (count) => {
    if (values.length === 1) return Array.from({ length: count }, () => values[0]);
    if (values.length !== count) throw new Error(`ldrl option ${name} lists ${values.length} values, but the net has ${count} inverses (layers 2 … ${count + 1})`);
    return values;
  };
}

/**
 * L_fb and its gradients for one inverse G (x = h_{l−1}, y = h_l):
 *   r = G(y), r_a = G(f(x + δx)), r_c = G(y + δy);  L = (1/B) [−2 Σ δx·(r_a − r) + Σ ‖r_c − r‖²];
 *   ∂L/∂r_a = −2δx/B,  ∂L/∂r_c = 2(r_c − r)/B,  ∂L/∂r = 2δx/B − 2(r_c − r)/B,
 * each taken through tanh and onto V, c by its own input (as scalingDTP's autograd does: r is not held fixed).
 */
export class FeedbackTrainer {
  /** Buffers of the layer's input width (nIn) and of its output width (nOut). */
  private readonly inputs = Array.from({ length: 9 }, () => matrixScratch());
  private readonly outputs = Array.from({ length: 3 }, () => matrixScratch());

  lossAndGrads(be: Backend, x: Matrix, y: Matrix, f: Activity, g: InverseParams, sigma: number, rng: Rng, grad: InverseParams): number {
    const B = x.rows, nIn = g.V.rows, nOut = g.V.cols;
    const [dx, xa, uR, r, uA, rA, uC, rC, d] = this.inputs.map((m) => m(B, nIn));
    const [a, dy, c] = this.outputs.map((m) => m(B, nOut));
    const apply = (input: Matrix, u: Matrix, out: Matrix) => {
      denseForward(be, { W: g.V, b: g.c }, input, u);
      be.activate('tanh', u.data, out.data, 0);
    };
    rng.fillNormal(dx.data, 0, sigma);
    xa.data.set(x.data.subarray(0, B * nIn));
    be.axpby(1, dx.data, 1, xa.data); // x + δx
    f(be, xa, a); // f(x + δx): a forward pass of the layer
    rng.fillNormal(dy.data, 0, sigma);
    c.data.set(y.data.subarray(0, B * nOut));
    be.axpby(1, dy.data, 1, c.data); // y + δy
    apply(y, uR, r);
    apply(a, uA, rA);
    apply(c, uC, rC);
    // Loss: −2 Σ δx·(r_a − r) + Σ (r_c − r)², over B.
    let cross = 0, spread = 0;
    const dxv = dx.data, rAv = rA.data, rv = r.data, rCv = rC.data;
    for (let i = 0; i < B * nIn; i++) {
      const e = rCv[i] - rv[i];
      cross += dxv[i] * (rAv[i] - rv[i]);
      spread += e * e; // e ** 2 is e * e exactly (fdlibm's pow squares by one multiply)
    }
    // Gradients at r_a, r_c and r, each through tanh then onto (V, c), summed.
    const through = (dOut: Matrix, u: Matrix, out: Matrix, input: Matrix, beta: number) => {
      be.activateBackward('tanh', u.data, out.data, dOut.data, dOut.data, 0);
      be.gemm(true, false, 1, dOut, input, beta, grad.V);
      be.sumRows(dOut, 1, beta, grad.c);
    };
    d.data.set(dx.data);
    be.axpby(0, d.data, -2 / B, d.data); // ∂L/∂r_a
    through(d, uA, rA, a, 0);
    d.data.set(rC.data);
    be.axpby(-1, r.data, 1, d.data);
    be.axpby(0, d.data, 2 / B, d.data); // ∂L/∂r_c
    through(d, uC, rC, c, 1);
    d.data.set(rC.data);
    be.axpby(-1, r.data, 1, d.data);
    be.axpby(2 / B, dx.data, -2 / B, d.data); // ∂L/∂r = 2δx/B − 2(r_c − r)/B
    through(d, uR, r, y, 1);
    return (-2 * cross + spread) / B;
  }
}

/** ‖J_G − J_fᵀ‖²_F / ‖J_f‖²_F at the batch's first example: J_f = diag(f'(z)) W [out, in] of forward layer
 * l, J_G = diag(1 − r²) V [in, out] of its inverse at r = G(h_l). */
function jacobianMismatch(be: Backend, net: Network, ws: { z: Matrix[]; h: Matrix[] }, l: number, g: InverseParams): number {
  const { spec } = net, W = net.layers[l].W, nOut = W.rows, nIn = W.cols;
  const z = ws.z[l].data.subarray(0, nOut), h = ws.h[l].data.subarray(0, nOut);
  const fPrime = mismatchScratch.fPrime(nOut), ones = mismatchScratch.ones(nOut), r = mismatchScratch.r(nIn);
  ones.fill(1);
  be.activateBackward(layerActivation(spec, l), z, h, ones, fPrime, spec.leakySlope);
  const hRow = mismatchScratch.h(nOut);
  hRow.set(h);
  denseForward(be, { W: g.V, b: g.c }, { rows: 1, cols: nOut, data: hRow }, { rows: 1, cols: nIn, data: r });
  // Wᵀ copied once, so that the inner loop reads both matrices along rows (the sums' order is unchanged).
  const Wt = mismatchScratch.Wt(nIn * nOut), Wd = W.data, V = g.V.data;
  be.transposeBlocks(1, nOut, nIn, Wd.subarray(0, nOut * nIn), Wt);
  let diff = 0, ref = 0;
  for (let i = 0; i < nIn; i++) {
    const t = Math.tanh(r[i]), gPrime = 1 - t * t, row = i * nOut;
    for (let o = 0; o < nOut; o++) {
      const jf = fPrime[o] * Wt[row + o], jg = gPrime * V[row + o], e = jg - jf;
      diff += e * e;
      ref += jf * jf;
    }
  }
  return diff / ref;
}

const mismatchScratch = { fPrime: scratch(), ones: scratch(), r: scratch(), h: scratch(), Wt: scratch() };
