/**
 * What the target-propagation rules share (Lee, Zhang, Fischer & Bengio 2015; Bartunov et al. 2018 §2.1.2):
 * learned inverses g_l(h_l) = tanh(V_l h_l + c_l) that map layer l's activity back to its input, the
 * layer-local loss that pulls a layer towards its target, and the inverse's reconstruction loss.
 * Indices are the code's: layer l maps h_{l−1} (x for l = 0) to h_l; the inverse g_l maps h_l back to h_{l−1}.
 */
import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import { denseForward, denseParamGrads, type DenseParams } from '../nn/dense.js';
import { initWeights } from '../nn/init.js';
import { checkDenseNetwork, layerActivation, layerDerivative, layerInput, networkLayers, type Network, type Param, type Workspace } from '../nn/network.js';
import { scratch } from '../nn/im2col.js';
import { dot } from '../tensor/vector.js';
import { softmax } from '../nn/losses.js';

/** A learned inverse of layer l: V [width_{l−1}, width_l] (a dense layer's [out, in]) and c [width_{l−1}]. */
export interface InverseParams {
  V: Matrix;
  c: Float32Array;
}

/** Throws unless every layer of the net is dense and there is a hidden layer to give a target to. */
export function checkTargetNet(rule: string, net: Network): void {
  checkDenseNetwork(rule, net.spec);
  if (net.layers.length < 2) throw new Error(`rule '${rule}' needs at least one hidden layer (an architecture like 784-256-10)`);
}

/** Inverses g_l for layers first … last (inclusive), Glorot-initialised like a dense layer of their shape
 * (the net's init), c = 0; null elsewhere, so the array is indexed by layer. */
export function initInverses(net: Network, rng: Rng, first: number, last: number): (InverseParams | null)[] {
  const { sizes, init } = net.spec;
  return net.layers.map((_, l) => {
    if (l < first || l > last) return null;
    const V = matrix(sizes[l], sizes[l + 1]);
    initWeights(init, sizes[l + 1], sizes[l], rng, V.data);
    return { V, c: new Float32Array(sizes[l]) };
  });
}

/** The trainable tensors of the inverses (V_l, c_l for each l that has one), for a TrainableGroup. */
export function inverseParams(inverses: readonly (InverseParams | null)[]): Param[] {
  return inverses.flatMap((g, l) => g ? [
    { name: `V${l + 1}`, value: g.V.data, isBias: false },
    { name: `c${l + 1}`, value: g.c, isBias: true },
  ] : []);
}

/** Zeroed update buffers of the inverses' shapes (null where none). */
export function inverseGradsLike(inverses: readonly (InverseParams | null)[]): (InverseParams | null)[] {
  return inverses.map((g) => g && { V: matrix(g.V.rows, g.V.cols), c: new Float32Array(g.c.length) });
}

/** A view of `rows` × `cols` on a buffer that grows to the largest size asked for. */
export function matrixScratch(): (rows: number, cols: number) => Matrix {
  const buffer = scratch();
  return (rows, cols) => ({ rows, cols, data: buffer(rows * cols) });
}

/** One grow-only buffer per layer index, e.g. for the layers' targets ĥ_l: at(l, rows, cols) is a view on
 * layer l's buffer (so two layers' views never overlap). */
export function layerBuffers(): (l: number, rows: number, cols: number) => Matrix {
  const buffers: ((rows: number, cols: number) => Matrix)[] = [];
  return (l, rows, cols) => {
    while (buffers.length <= l) buffers.push(matrixScratch());
    return buffers[l](rows, cols);
  };
}

/** StepResult.targets: the targets ĥ_0 … ĥ_{count−1} of the hidden layers, as views on the rule's buffers. */
export function hiddenTargets(hat: (l: number) => Matrix, count: number): Matrix[] {
  return Array.from({ length: count }, (_, l) => hat(l));
}

/** out = g(h) = tanh(h·Vᵀ + c): the inverse applied to a batch of activities h [batch, width_l]. */
export function applyInverse(be: Backend, g: InverseParams, h: Matrix, out: Matrix): void {
  denseForward(be, { W: g.V, b: g.c }, h, out);
  be.activate('tanh', out.data, out.data, 0);
}

/** d = (2/B)(a − t) and returns (1/B) Σ ‖a − t‖² over the batch's rows (B = a.rows): a squared-error loss
 * summed over units and averaged over the batch, as Lee et al.'s code does, and its gradient at a. */
export function squaredErrorAndGrad(be: Backend, a: Matrix, t: Matrix, d: Matrix): number {
  const B = a.rows;
  d.data.set(a.data.subarray(0, d.data.length));
  be.axpby(-1, t.data, 1, d.data);
  const loss = dot(d.data, d.data) / B;
  be.axpby(0, d.data, 2 / B, d.data);
  return loss;
}

/**
 * The layer-local loss of layer l, L_l = w·(1/B) Σ ‖f_l(h_{l−1}) − ĥ_l‖² with h_{l−1} and the target ĥ_l held
 * constant (Lee et al. 2015, Bartunov et al. 2018 §2.1.2: w = 1; Ernoult et al. 2022: w = ½), and its
 * parameter gradients: ws.dh[l] = ∂L_l/∂h_l, ws.dz[l] = ws.dh[l] ⊙ f'(z_l), grads = ∂L_l/∂(W_l, b_l).
 * Returns L_l.
 */
export function layerLocalLoss(be: Backend, net: Network, x: Matrix, ws: Workspace, l: number, target: Matrix, grads: DenseParams, weight = 1): number {
  const { spec } = net;
  let loss = squaredErrorAndGrad(be, ws.h[l], target, ws.dh[l]);
  if (weight !== 1) {
    loss *= weight;
    be.axpby(0, ws.dh[l].data, weight, ws.dh[l].data);
  }
  layerDerivative(be, spec, l, ws, ws.dh[l].data, ws.dz[l].data);
  networkLayers(spec)[l].paramGrads(be, ws.dz[l], layerInput(x, ws, l), grads);
  return loss;
}

/** Lee et al.'s noise-preserving inverse loss (the corrupted input is the target) or Bartunov et al.'s
 * denoising one (the clean input is). */
export type InverseLoss = 'preserving' | 'denoising';

/** What a layer sends up from a batch of its inputs: out = f(x) [batch, width]. */
export type Activity = (be: Backend, x: Matrix, out: Matrix) => void;

/** Hidden layer l's activity f_l(x) = act(x·W_lᵀ + b_l): a forward pass (W_l in a forward product only). */
export function layerActivity(net: Network, l: number): Activity {
  const { spec } = net;
  return (be, x, out) => {
    denseForward(be, net.layers[l], x, out);
    be.activate(layerActivation(spec, l), out.data, out.data, spec.leakySlope);
  };
}

/** The output layer's activity in the space of its targets: class probabilities softmax(z) for a
 * softmax cross-entropy net (its target is the label's one-hot distribution), else the output itself. */
export function outputActivity(net: Network): Activity {
  const L = net.layers.length, hidden = layerActivity(net, L - 1);
  if (net.spec.loss !== 'softmax_xent') return hidden;
  return (be, x, out) => {
    hidden(be, x, out);
    softmax(out, out);
  };
}

/**
 * The reconstruction loss of an inverse g and its gradients (Bartunov et al. 2018, App. 5.1 and §2.1.2),
 * for the layer whose input is h_{l−1} and whose activity is f:
 *   h̃ = h_{l−1} + σ·ε,  ε ~ N(0, I);   r = g(f(h̃));
 *   L_inv = (1/B) Σ ‖r − h̃‖²  (preserving, Lee)   or   (1/B) Σ ‖r − h_{l−1}‖²  (denoising, Bartunov);
 * with f(h̃) held constant, so only V and c learn. f(h̃) is a forward pass of the layer (its W in a forward
 * product only). Returns L_inv; fills grad.
 */
export class InverseTrainer {
  private readonly noisy = matrixScratch();
  private readonly fz = matrixScratch();
  private readonly pre = matrixScratch();
  private readonly recon = matrixScratch();
  private readonly dr = matrixScratch();
  private readonly du = matrixScratch();

  lossAndGrads(be: Backend, hPrev: Matrix, f: Activity, g: InverseParams, sigma: number, mode: InverseLoss, rng: Rng, grad: InverseParams): number {
    const B = hPrev.rows, width = g.V.cols, below = g.V.rows;
    const noisy = this.noisy(B, below);
    rng.fillNormal(noisy.data, 0, sigma);
    be.axpby(1, hPrev.data.subarray(0, B * below), 1, noisy.data); // h̃ = h_{l−1} + σε
    const up = this.fz(B, width);
    f(be, noisy, up);
    const u = this.pre(B, below), r = this.recon(B, below), dr = this.dr(B, below), du = this.du(B, below);
    denseForward(be, { W: g.V, b: g.c }, up, u);
    be.activate('tanh', u.data, r.data, 0); // r = g(f(h̃))
    const loss = squaredErrorAndGrad(be, r, mode === 'preserving' ? noisy : hPrev, dr);
    be.activateBackward('tanh', u.data, r.data, dr.data, du.data, 0);
    denseParamGrads(be, du, up, { W: grad.V, b: grad.c });
    return loss;
  }
}

/**
 * The difference correction (Bartunov et al. 2018, eq. 2): below = h_below + g(ĥ_above) − g(h_above), the
 * difference taken first so that ĥ_above = h_above gives below = h_below exactly.
 */
export class DifferenceCorrection {
  private readonly a = matrixScratch();
  private readonly b = matrixScratch();

  apply(be: Backend, g: InverseParams, hatAbove: Matrix, hAbove: Matrix, hBelow: Matrix, below: Matrix): void {
    const B = hatAbove.rows, gTarget = this.a(B, g.V.rows), gActivity = this.b(B, g.V.rows);
    applyInverse(be, g, hatAbove, gTarget);
    applyInverse(be, g, hAbove, gActivity);
    be.axpby(-1, gActivity.data, 1, gTarget.data);
    below.data.set(hBelow.data.subarray(0, below.data.length));
    be.axpby(1, gTarget.data, 1, below.data);
  }
}

/** Which parameters a batch of a target-propagation rule trains: both (parallel), or — alternating, one
 * pass over the training set each (Lee et al. 2015) — the inverses first, then the forward weights. */
export type TargetPhase = 'both' | 'inverse' | 'forward';

export function targetPhase(schedule: 'parallel' | 'alternating', seen: number, trainExamples: number): TargetPhase {
  if (schedule === 'parallel') return 'both';
  return Math.floor(seen / trainExamples) % 2 === 0 ? 'inverse' : 'forward';
}

/** The output layer's gradients from the task loss, whose gradient at the output lossAndGrad left in
 * ws.dh[L−1]: δz = δh ⊙ f'(z), then (W, b) of the top layer. */
export function outputLayerGrads(be: Backend, net: Network, ws: Workspace, grads: DenseParams[]): void {
  const { spec } = net, top = net.layers.length - 1;
  be.activateBackward(layerActivation(spec, top), ws.z[top].data, ws.h[top].data, ws.dh[top].data, ws.dz[top].data, spec.leakySlope);
  networkLayers(spec)[top].paramGrads(be, ws.dz[top], ws.h[top - 1], grads[top]);
}

/** Reads the options every target-propagation rule shares, with the rule's defaults. */
export function readTargetOptions(rule: string, options: Readonly<Record<string, unknown>>, defaults: { sigma: number; inverseLoss: InverseLoss }) {
  const sigma = options.sigma ?? defaults.sigma;
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0) throw new Error(`${rule} option sigma must be a number ≥ 0, got '${String(sigma)}'`);
  const choice = (name: string, value: unknown, choices: readonly string[]) => {
    if (typeof value !== 'string' || !choices.includes(value)) throw new Error(`${rule} option ${name} must be one of ${choices.join(', ')}, got '${String(value)}'`);
    return value;
  };
  return {
    sigma,
    inverseLoss: choice('inverseLoss', options.inverseLoss ?? defaults.inverseLoss, ['preserving', 'denoising']) as InverseLoss,
    schedule: choice('schedule', options.schedule ?? 'parallel', ['parallel', 'alternating']) as 'parallel' | 'alternating',
  };
}

/** Throws unless the alternating schedule knows the training set's size. */
export function trainExamplesFor(rule: string, schedule: 'parallel' | 'alternating', info: { trainExamples: number } | undefined): number {
  if (schedule === 'parallel') return 0;
  if (!info) throw new Error(`${rule}'s alternating schedule needs the training set's size (InitInfo.trainExamples)`);
  return info.trainExamples;
}

/** The activities of layers first … L−1 from a batch of inputs to layer `first` (a forward pass of the upper
 * stack: each W in a forward product only), into buffers of its own. */
export class UpperForward {
  private readonly buffers = layerBuffers();

  run(be: Backend, net: Network, first: number, input: Matrix): Matrix[] {
    const out: Matrix[] = [];
    let x = input;
    for (let l = first; l < net.layers.length; l++) {
      const h = this.buffers(l, input.rows, net.spec.sizes[l + 1]);
      layerActivity(net, l)(be, x, h);
      out[l] = h;
      x = h;
    }
    return out;
  }
}

/** A rule option that must be a finite number ≥ 0 (α, β, a target step), or its default. */
export function nonNegativeOption(rule: string, name: string, value: unknown, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${rule} option ${name} must be a number ≥ 0, got '${String(v)}'`);
  return v;
}

/** The step of an inverse-only pass (alternating schedules): forward updates zeroed and not applied. */
export function inverseOnlyStep<S>(grads: DenseParams[], loss: number, state: S, groupGrads: Record<string, Float32Array[]> | undefined, metrics: Record<string, number>) {
  for (const g of grads) { g.W.data.fill(0); g.b.fill(0); }
  return { loss, grads, state, groupGrads, metrics, updatesForward: false };
}
