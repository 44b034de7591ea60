import { matrix, type Matrix } from '../tensor/matrix.js';
import type { DenseParams } from '../nn/dense.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward, layerActivation, layerInput, networkLayers } from '../nn/network.js';
import { positiveNumber } from './perturbation.js';
import { checkRuleOptions, type Batch, type LearningRule, type RuleContext, type RuleOptions } from './rule.js';

/** The delta rule keeps no state. */
export type DeltaRuleState = Record<string, never>;

export type DeltaMode = 'batch' | 'online';

/** Options of the delta rule. */
export interface DeltaRuleConfig {
  /** 'batch': one update per batch, the error averaged over its cases; 'online': the cases one at a time
   * (see deltaRule). Default batch. */
  mode: DeltaMode;
  /** ε of online mode's per-case steps: required with mode=online, refused otherwise (no default, because
   * it should equal the loop's lr, which a rule cannot see). */
  caseLr: number | null;
}

export function readDeltaRuleConfig(options: RuleOptions): DeltaRuleConfig {
  checkRuleOptions('delta', options, ['mode', 'caseLr']);
  const mode = options.mode ?? 'batch';
  if (mode !== 'batch' && mode !== 'online') throw new Error(`delta option mode must be batch or online, got '${String(mode)}'`);
  if (mode === 'batch') {
    if (options.caseLr !== undefined) throw new Error('delta option caseLr applies to mode=online only');
    return { mode, caseLr: null };
  }
  if (options.caseLr === undefined) {
    throw new Error('delta mode=online needs caseLr, the per-case learning rate (set it to --lr, with --optimizer sgd, for the literal online rule)');
  }
  return { mode, caseLr: positiveNumber('delta', 'caseLr', options.caseLr) };
}

/**
 * The delta rule (Widrow & Hoff 1960, the LMS rule of ADALINE): Δw = −ε Σ_n (y_n − t_n) x_n for linear
 * output units y = W x + b under the squared error. It learns the output layer only:
 * - on a network without hidden layers (e.g. --arch 3-1 --out-act linear --loss mse) it is Widrow–Hoff;
 * - with softmax_xent on linear outputs, y_n is the softmax and the rule is the same, (y − t) x;
 * - with a non-linear output f, the error is (y − t) ⊙ f'(z): the generalised delta rule (Rumelhart,
 *   Hinton & Williams 1986) at the output layer only;
 * - hidden layers, if any, are never trained (their proposed update is exactly zero): they stay fixed
 *   random features, as the association units of Rosenblatt's perceptron. Training them is backprop.
 * So in batch mode the update equals backprop's gradient for the output layer.
 *
 * Options:
 * - mode: 'batch' (default): one update per batch, the error averaged over its cases (the gradient of the
 *   mean loss; Widrow–Hoff's sum is lr·batch). 'online': the cases of a batch are taken one at a time, in
 *   order, on a copy of the output layer: case n's error is evaluated at the weights left by cases
 *   1 … n−1, and the copy steps w ← w − caseLr·g_n. The rule proposes the SUM Σ_n g_n of these per-case
 *   gradients (each of the case's own loss, not divided by the batch). The loop then applies
 *   w − lr·Σ_n g_n, which with --optimizer sgd and --lr equal to caseLr is exactly where the sequence
 *   ended (up to float32 rounding): the literal online algorithm, batch after batch. With batch size 1 the
 *   two modes are the same rule. As caseLr → 0 online mode proposes batch × the batch-mode update.
 * - caseLr: see DeltaRuleConfig.
 */
export function deltaRule(options: RuleOptions = {}): LearningRule<DeltaRuleState> {
  const { caseLr } = readDeltaRuleConfig(options); // null in batch mode
  let scratch: OnlineScratch | null = null; // made on first use (scratch, not state)
  return {
    id: 'delta',
    locality: { weightTransport: false, note: 'no error path: the output layer learns from its own error and input' },
    init: () => ({}),
    step(ctx, state, batch) {
      const { backend: be, net, ws } = ctx;
      const top = net.layers.length - 1;
      const out = forward(be, net, batch.x, ws);
      const loss = lossAndGrad(net.spec.loss, out, batch.y, caseLr === null ? ws.dh[top] : null);
      for (let l = 0; l < top; l++) {
        ctx.grads[l].W.data.fill(0);
        ctx.grads[l].b.fill(0);
      }
      if (caseLr === null) {
        // Widrow & Hoff 1960: ∂E/∂w = Σ_n (y_n − t_n) x_n, here the mean over the batch (ws.dh is divided by it).
        be.activateBackward(layerActivation(net.spec, top), ws.z[top].data, ws.h[top].data, ws.dh[top].data, ws.dz[top].data, net.spec.leakySlope);
        networkLayers(net.spec)[top].paramGrads(be, ws.dz[top], layerInput(batch.x, ws, top), ctx.grads[top]);
      } else {
        const W = net.layers[top].W;
        if (!scratch || scratch.params.W.rows !== W.rows || scratch.params.W.cols !== W.cols) scratch = onlineScratch(net.layers[top]);
        onlineSequence(ctx, batch, caseLr, scratch);
      }
      return { loss, grads: ctx.grads, state };
    },
  };
}

/** A copy of the output layer and one-row buffers for the online sequence. */
interface OnlineScratch {
  params: DenseParams;
  z: Matrix;
  h: Matrix;
  dh: Matrix;
  dz: Matrix;
}

function onlineScratch(top: DenseParams): OnlineScratch {
  const row = () => matrix(1, top.W.rows);
  return { params: { W: matrix(top.W.rows, top.W.cols), b: new Float32Array(top.b.length) }, z: row(), h: row(), dh: row(), dz: row() };
}

/** Widrow & Hoff 1960, one case at a time: g_n = (y_n − t_n) x_n at w_{n−1}; w_n = w_{n−1} − ε g_n. Fills
 * the output layer's entry of ctx.grads with Σ_n g_n. Uses the clean pass in ctx.ws for the layer's input. */
function onlineSequence(ctx: RuleContext, batch: Batch, caseLr: number, s: OnlineScratch): void {
  const { backend: be, net, ws } = ctx;
  const top = net.layers.length - 1;
  const act = layerActivation(net.spec, top);
  const input = layerInput(batch.x, ws, top); // the hidden features stay fixed, so one clean pass serves all cases
  const g = ctx.grads[top];
  be.axpby(1, net.layers[top].W.data, 0, s.params.W.data); // the layer's own weights, copied for its own update
  s.params.b.set(net.layers[top].b);
  g.W.data.fill(0);
  g.b.fill(0);
  const row = (m: Matrix, n: number): Matrix => ({ rows: 1, cols: m.cols, data: m.data.subarray(n * m.cols, (n + 1) * m.cols) });
  for (let n = 0; n < batch.x.rows; n++) {
    const x = row(input, n);
    networkLayers(net.spec)[top].forward(be, s.params, x, s.z);
    be.activate(act, s.z.data, s.h.data, net.spec.leakySlope);
    lossAndGrad(net.spec.loss, s.h, row(batch.y, n), s.dh); // one row: the case's own loss gradient
    be.activateBackward(act, s.z.data, s.h.data, s.dh.data, s.dz.data, net.spec.leakySlope);
    be.gemm(true, false, 1, s.dz, x, 1, g.W); // Σ_n g_n
    be.axpby(1, s.dz.data, 1, g.b);
    be.gemm(true, false, -caseLr, s.dz, x, 1, s.params.W); // w_n = w_{n−1} − ε g_n
    be.axpby(-caseLr, s.dz.data, 1, s.params.b);
  }
}
