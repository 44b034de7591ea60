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
import { layerActivation, networkLayers, type Network, type Param, type Workspace } from '../nn/network.js';
import { scratch } from '../nn/im2col.js';
import { dot } from '../tensor/vector.js';

/** A learned inverse of layer l: V [width_{l−1}, width_l] (a dense layer's [out, in]) and c [width_{l−1}]. */
export interface InverseParams {
  V: Matrix;
  c: Float32Array;
}

/** Throws unless every layer of the net is dense and there is a hidden layer to give a target to. */
export function checkTargetNet(rule: string, net: Network): void {
  const kinds = networkLayers(net.spec);
  const other = kinds.findIndex((k) => k.kind !== 'dense');
  if (other >= 0) {
    throw new Error(`rule '${rule}' needs dense layers, but layer ${other + 1} is ${kinds[other].kind}; use an architecture like 784-256-256-10`);
  }
  if (kinds.length < 2) throw new Error(`rule '${rule}' needs at least one hidden layer (an architecture like 784-256-10)`);
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
 * The layer-local loss of layer l, L_l = (1/B) Σ ‖f_l(h_{l−1}) − ĥ_l‖² with h_{l−1} and the target ĥ_l held
 * constant (Lee et al. 2015; Bartunov et al. 2018 §2.1.2), and its parameter gradients: ws.dh[l] = ∂L_l/∂h_l,
 * ws.dz[l] = ws.dh[l] ⊙ f'(z_l), grads = ∂L_l/∂(W_l, b_l). Returns L_l.
 */
export function layerLocalLoss(be: Backend, net: Network, x: Matrix, ws: Workspace, l: number, target: Matrix, grads: DenseParams): number {
  const { spec } = net;
  const loss = squaredErrorAndGrad(be, ws.h[l], target, ws.dh[l]);
  be.activateBackward(layerActivation(spec, l), ws.z[l].data, ws.h[l].data, ws.dh[l].data, ws.dz[l].data, spec.leakySlope);
  networkLayers(spec)[l].paramGrads(be, ws.dz[l], l === 0 ? x : ws.h[l - 1], grads);
  return loss;
}

/** Lee et al.'s noise-preserving inverse loss (the corrupted input is the target) or Bartunov et al.'s
 * denoising one (the clean input is). */
export type InverseLoss = 'preserving' | 'denoising';

/**
 * The reconstruction loss of inverse g_l and its gradients (Bartunov et al. 2018, App. 5.1 and §2.1.2):
 *   h̃ = h_{l−1} + σ·ε,  ε ~ N(0, I);   r = g_l(f_l(h̃));
 *   L_inv = (1/B) Σ ‖r − h̃‖²  (preserving, Lee)   or   (1/B) Σ ‖r − h_{l−1}‖²  (denoising, Bartunov);
 * with f_l(h̃) held constant, so only V_l and c_l learn. f_l(h̃) is a forward pass of layer l (its W in
 * a forward product only). Returns L_inv; fills grad.
 */
export class InverseTrainer {
  private readonly noisy = matrixScratch();
  private readonly fz = matrixScratch();
  private readonly pre = matrixScratch();
  private readonly recon = matrixScratch();
  private readonly dr = matrixScratch();
  private readonly du = matrixScratch();

  lossAndGrads(be: Backend, net: Network, l: number, hPrev: Matrix, g: InverseParams, sigma: number, mode: InverseLoss, rng: Rng, grad: InverseParams): number {
    const { spec } = net, B = hPrev.rows, width = spec.sizes[l + 1], below = spec.sizes[l];
    const noisy = this.noisy(B, below);
    rng.fillNormal(noisy.data, 0, sigma);
    be.axpby(1, hPrev.data, 1, noisy.data); // h̃ = h_{l−1} + σε
    const f = this.fz(B, width);
    denseForward(be, net.layers[l], noisy, f); // f_l(h̃)
    be.activate(layerActivation(spec, l), f.data, f.data, spec.leakySlope);
    const u = this.pre(B, below), r = this.recon(B, below), dr = this.dr(B, below), du = this.du(B, below);
    denseForward(be, { W: g.V, b: g.c }, f, u);
    be.activate('tanh', u.data, r.data, 0); // r = g_l(f_l(h̃))
    const loss = squaredErrorAndGrad(be, r, mode === 'preserving' ? noisy : hPrev, dr);
    be.activateBackward('tanh', u.data, r.data, dr.data, du.data, 0);
    denseParamGrads(be, du, f, { W: grad.V, b: grad.c });
    return loss;
  }
}
