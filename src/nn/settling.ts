import type { Backend } from '../tensor/backend.js';
import { matrix, topRows, type Matrix } from '../tensor/matrix.js';
import type { DenseParams } from './dense.js';
import type { Network } from './network.js';

/**
 * A settling (energy-based) network on a layered net's dense parameters (Scellier & Bengio 2017): states
 * s_1 … s_L of the hidden and output layers, the input clamped as s_0 = x, one symmetric connection W_l
 * between layers l and l+1 (the net's layers[l].W, [n_{l+1}, n_l]) and biases b_l (layers[l−1].b):
 *   E(s) = ½ Σ_{l≥1} ‖s_l‖² − Σ_{l≥0} ρ(s_{l+1})ᵀ W_l ρ(s_l) − Σ_{l≥1} b_lᵀ ρ(s_l), ρ(s_0) read as x   (S&B 2017, eq. 1)
 *   ∂E/∂s_l = s_l − ρ′(s_l) ⊙ (W_{l−1} ρ(s_{l−1}) + W_lᵀ ρ(s_{l+1}) + b_l)    (no top-down term at l = L)
 *   F = E + β C with C = ½ ‖s_L − y‖²                                            (S&B 2017, eq. 3)
 *   one step: s ← s − ε ∂F/∂s for every layer at once, clipped to [0, 1] under the hard sigmoid; with ε = 1
 *   that is s ← clip(drive), the fixed-point form of Laborieux et al. 2021 (their s ← σ(∂Φ/∂s); tested).
 * ρ is the hard sigmoid clip(s, 0, 1) (their code's; with the states clipped ρ(s) = s, so E is also their
 * ½ Σ‖ρ(s_l)‖² form) or the logistic sigmoid (smooth, unclipped: the form the gradient theorems need).
 * NOTE: the hard sigmoid's ρ′ is 1 on the closed interval [0, 1], as in their Theano code: with an open one a
 * unit clipped to 1 would feel no drive and decay, whatever its input.
 */
export type SettlingActivation = 'hard_sigmoid' | 'sigmoid';

export interface SettlingNet {
  /** Widths n_0 (input) … n_L (output). */
  sizes: readonly number[];
  rho: SettlingActivation;
  /** layers[l]: W_l [n_{l+1}, n_l] and the bias b_{l+1} [n_{l+1}]. */
  layers: readonly DenseParams[];
  /** The feedback gain γ (Xie & Seung 2003): top-down drives are γ W_lᵀ ρ(s_{l+1}); absent: 1. The energy is
   * then E_γ = Σ_{l≥1} γ^{l−1} (½‖s_l‖² − b_lᵀρ(s_l) − ρ(s_l)ᵀ W_{l−1} ρ(s_{l−1})), and a step moves layer l
   * by ε γ^{1−l} ∂E_γ/∂s_l: a descent of E_γ whose fixed points are E_γ's. */
  feedbackGain?: number;
}

/** γ^{l−1}, the weight of layer l's terms in E_γ (l = 1 … L). */
export function layerWeight(net: SettlingNet, l: number): number {
  return (net.feedbackGain ?? 1) ** (l - 1);
}

/** How a settling network relaxes (a NetworkSpec's `settle`): the free phase's step size ε, its most steps,
 * and the tolerance that stops it early (0: always every step). */
export interface SettleSpec {
  epsilon: number;
  steps: number;
  tolerance: number;
  /** The feedback gain γ of every top-down connection (SettlingNet.feedbackGain); absent: 1. */
  feedbackGain?: number;
}

/** Scellier & Bengio's net1 (their train_model.py): ε 0.5, 20 free steps. */
export const DEFAULT_SETTLE: SettleSpec = { epsilon: 0.5, steps: 20, tolerance: 0 };

/** A network's parameters read as a settling network: dense layers, and ρ = its hidden activation for every
 * layer (the spec's output activation is not used). */
export function settlingNet(net: Network): SettlingNet {
  const { spec } = net;
  if (spec.layers && spec.layers.some((l) => l.kind !== 'dense')) {
    throw new Error('a settling network has dense layers only: give --arch as widths, e.g. 784-500-10');
  }
  if (spec.hidden !== 'hard_sigmoid' && spec.hidden !== 'sigmoid') {
    throw new Error(`a settling network's units are hard_sigmoid or sigmoid, not ${spec.hidden}: add --act hard_sigmoid`);
  }
  const feedbackGain = spec.settle?.feedbackGain;
  return { sizes: spec.sizes, rho: spec.hidden, layers: net.layers, ...(feedbackGain !== undefined && feedbackGain !== 1 && { feedbackGain }) };
}

/** s[l − 1] holds layer l's state [rows, n_l], l = 1 … L. */
export type SettlingState = Matrix[];

export function settlingState(sizes: readonly number[], rows: number): SettlingState {
  return sizes.slice(1).map((n) => matrix(rows, n));
}

export interface RelaxOptions {
  /** Step size ε. */
  epsilon: number;
  /** The most steps. */
  steps: number;
  /** Stop once the largest |Δs|/ε of a step (the projected ‖∂F/∂s‖∞) falls below this; 0: run all steps. */
  tolerance?: number;
  /** Nudging strength β and the targets y [rows, n_L] (both or neither). */
  beta?: number;
  y?: Matrix;
  /** The output layer held at these values [rows, n_L] (CHL's and GeneRec's plus phase): set before the first
   * step and never moved; the layers below settle. */
  clamp?: Matrix;
}

export interface RelaxResult {
  /** Steps taken. */
  steps: number;
  /** The largest |Δs|/ε of the last step: the projected gradient's size at the state reached. */
  residual: number;
}

function rho(kind: SettlingActivation, s: number): number {
  return kind === 'hard_sigmoid' ? (s < 0 ? 0 : s > 1 ? 1 : s) : 1 / (1 + Math.exp(-s));
}

function rhoPrime(kind: SettlingActivation, s: number): number {
  if (kind === 'hard_sigmoid') return s >= 0 && s <= 1 ? 1 : 0;
  const r = 1 / (1 + Math.exp(-s));
  return r * (1 - r);
}

function rhoSecond(kind: SettlingActivation, s: number): number {
  if (kind === 'hard_sigmoid') return 0;
  const r = 1 / (1 + Math.exp(-s));
  return r * (1 - r) * (1 - 2 * r);
}

/** Buffers of one batch size: ρ(s_l) and the drives of every layer. */
export interface SettlingScratch {
  rows: number;
  rhos: Matrix[];
  drives: Matrix[];
  /** The input's drive x W_0ᵀ + b_1: constant while the net settles, computed once a batch. */
  inputDrive: Matrix;
  /** Almeida–Pineda's adjoint relaxation: v, ρ′ ⊙ v, the drives of v, ρ′(s), c_l⁻¹ H's diagonal, and
   * c_L⁻¹ ∂C/∂s_L [rows, n_L]. */
  adjoint: { v: SettlingState; pv: SettlingState; mixed: SettlingState; prime: SettlingState; diagonal: SettlingState; cost: Matrix };
}

export function settlingScratch(sizes: readonly number[], rows: number): SettlingScratch {
  const state = () => settlingState(sizes, rows);
  return {
    rows, rhos: state(), drives: state(), inputDrive: matrix(rows, sizes[1]),
    adjoint: { v: state(), pv: state(), mixed: state(), prime: state(), diagonal: state(), cost: matrix(rows, sizes[sizes.length - 1]) },
  };
}

/** The first `rows` rows of buffers made for more. */
export function stateRows(s: SettlingState, rows: number): SettlingState {
  return s.map((m) => topRows(m, rows));
}

export function scratchRows(scratch: SettlingScratch, rows: number): SettlingScratch {
  const { v, pv, mixed, prime, diagonal, cost } = scratch.adjoint;
  return {
    rows, rhos: stateRows(scratch.rhos, rows), drives: stateRows(scratch.drives, rows), inputDrive: topRows(scratch.inputDrive, rows),
    adjoint: {
      v: stateRows(v, rows), pv: stateRows(pv, rows), mixed: stateRows(mixed, rows), prime: stateRows(prime, rows),
      diagonal: stateRows(diagonal, rows), cost: topRows(cost, rows),
    },
  };
}

/** inputDrive = x W_0ᵀ + b_1. */
export function computeInputDrive(be: Backend, net: SettlingNet, x: Matrix, scratch: SettlingScratch): void {
  be.gemm(false, true, 1, x, net.layers[0].W, 0, scratch.inputDrive);
  be.addRowVector(scratch.inputDrive, net.layers[0].b);
}

/** rhos[l] = ρ(s_l) for every layer (the hard sigmoid by the backend's clip kernel). */
function computeRhos(be: Backend, net: SettlingNet, s: SettlingState, scratch: SettlingScratch): void {
  layerActivities(be, net, s, scratch.rhos);
}

/** out[l] = ρ(s_l) for every layer: the activities a layer's units send, for s of the same shape as out. */
export function layerActivities(be: Backend, net: SettlingNet, s: SettlingState, out: SettlingState): void {
  for (let l = 0; l < s.length; l++) {
    const state = s[l].data, n = s[l].rows * s[l].cols, activity = out[l].data;
    if (net.rho === 'hard_sigmoid') be.clip(state.subarray(0, n), 0, 1, activity.subarray(0, n));
    else for (let i = 0; i < n; i++) activity[i] = rho(net.rho, state[i]);
  }
}

/** drives[l−1] = W_{l−1} ρ(s_{l−1}) + W_lᵀ ρ(s_{l+1}) + b_l for every layer l, rhos[l−1] = ρ(s_l), from s. */
function computeDrives(be: Backend, net: SettlingNet, s: SettlingState, scratch: SettlingScratch): void {
  const L = s.length;
  computeRhos(be, net, s, scratch);
  for (let l = 0; l < L; l++) {
    const drive = scratch.drives[l];
    if (l === 0) drive.data.set(scratch.inputDrive.data.subarray(0, drive.rows * drive.cols));
    else {
      be.gemm(false, true, 1, scratch.rhos[l - 1], net.layers[l].W, 0, drive); // bottom-up: ρ(s_l) W_lᵀ …
      be.addRowVector(drive, net.layers[l].b);
    }
    if (l + 1 < L) be.gemm(false, false, net.feedbackGain ?? 1, scratch.rhos[l + 1], net.layers[l + 1].W, 1, drive); // … + γ·top-down ρ(s_{l+2}) W_{l+1}
  }
}

/** The layers a step moves: all, or all but a clamped output layer (which is set to its clamp here). */
function movingLayers(s: SettlingState, options: RelaxOptions): number {
  const top = s[s.length - 1];
  if (!options.clamp) return s.length;
  if (options.clamp.rows !== top.rows || options.clamp.cols !== top.cols) {
    throw new Error(`relax: clamp is [${options.clamp.rows}, ${options.clamp.cols}], the output layer [${top.rows}, ${top.cols}]`);
  }
  top.data.set(options.clamp.data.subarray(0, top.rows * top.cols));
  return s.length - 1;
}

/** Relaxes s in place towards a minimum of F = E + βC (computeInputDrive must have run for this batch). */
export function relax(be: Backend, net: SettlingNet, s: SettlingState, options: RelaxOptions, scratch: SettlingScratch): RelaxResult {
  const { epsilon, steps } = options, tolerance = options.tolerance ?? 0, beta = options.beta ?? 0, L = s.length;
  if (net.rho === 'hard_sigmoid' && tolerance === 0) return relaxHardSigmoid(be, net, s, options, scratch);
  const moving = movingLayers(s, options);
  let residual = Infinity, taken = 0;
  while (taken < steps) {
    computeDrives(be, net, s, scratch);
    residual = 0;
    for (let l = 0; l < moving; l++) {
      const state = s[l].data, drive = scratch.drives[l].data, n = s[l].rows * s[l].cols;
      const y = l === L - 1 && beta !== 0 ? options.y?.data : undefined;
      for (let i = 0; i < n; i++) {
        let grad = state[i] - rhoPrime(net.rho, state[i]) * drive[i]; // ∂E/∂s
        if (y) grad += beta * (state[i] - y[i]); // + β ∂C/∂s_L
        let next = state[i] - epsilon * grad;
        if (net.rho === 'hard_sigmoid') next = next < 0 ? 0 : next > 1 ? 1 : next;
        const moved = Math.abs(next - state[i]) / epsilon;
        if (moved > residual) residual = moved;
        state[i] = next;
      }
    }
    taken++;
    if (residual < tolerance) break;
  }
  return { steps: taken, residual };
}

/**
 * relax for the hard sigmoid without a tolerance, in the backend's kernels. The states stay in [0, 1], where
 * ρ′ = 1, so a step is s ← clip((1 − ε)s + ε·drive − εβ(s_L − y) at the top, 0, 1): two axpby and a clip a layer.
 * The residual is measured on the last step only (rhos hold the state before it).
 */
function relaxHardSigmoid(be: Backend, net: SettlingNet, s: SettlingState, options: RelaxOptions, scratch: SettlingScratch): RelaxResult {
  const { epsilon, steps } = options, beta = options.beta ?? 0, y = options.y, moving = movingLayers(s, options);
  for (let l = 0; l < moving; l++) { // states from outside [0, 1] (a fresh start is 0) are clipped in, as one step would
    const n = s[l].rows * s[l].cols;
    be.clip(s[l].data.subarray(0, n), 0, 1, s[l].data.subarray(0, n));
  }
  let residual = 0;
  for (let t = 0; t < steps; t++) {
    const last = t === steps - 1;
    computeDrives(be, net, s, scratch); // rhos = clip(s) = s: the state before this step (a clamp at 0 or 1 too)
    for (let l = 0; l < moving; l++) {
      const n = s[l].rows * s[l].cols, state = s[l].data.subarray(0, n), drive = scratch.drives[l].data.subarray(0, n);
      const nudged = l === s.length - 1 && beta !== 0 && y;
      be.axpby(epsilon, drive, 1 - epsilon - (nudged ? epsilon * beta : 0), state); // s − ε(s − drive) − εβ s
      if (nudged) be.axpby(epsilon * beta, y.data.subarray(0, n), 1, state); // … + εβ y
      be.clip(state, 0, 1, state);
    }
    if (last) {
      for (let l = 0; l < moving; l++) {
        const state = s[l].data, before = scratch.rhos[l].data, n = s[l].rows * s[l].cols;
        for (let i = 0; i < n; i++) residual = Math.max(residual, Math.abs(state[i] - before[i]) / epsilon);
      }
    }
  }
  return { steps, residual };
}

/** E(s) + βC(s) of every example (float64), for x [rows, n_0]; E_γ under a feedback gain. */
export function energies(net: SettlingNet, x: Matrix, s: SettlingState, beta = 0, y?: Matrix): Float64Array {
  const rows = x.rows, L = s.length, out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let e = 0;
    const below = (l: number) => (l === 0 ? x.data.subarray(r * x.cols, (r + 1) * x.cols) : s[l - 1].data.subarray(r * s[l - 1].cols, (r + 1) * s[l - 1].cols));
    for (let l = 1; l <= L; l++) {
      const sl = s[l - 1].data.subarray(r * s[l - 1].cols, (r + 1) * s[l - 1].cols), { W, b } = net.layers[l - 1];
      const lower = below(l - 1), n = sl.length, m = lower.length, weight = layerWeight(net, l);
      for (let i = 0; i < n; i++) {
        const ri = rho(net.rho, sl[i]);
        let wx = 0;
        for (let j = 0; j < m; j++) wx += W.data[i * m + j] * (l === 1 ? lower[j] : rho(net.rho, lower[j]));
        e += weight * (0.5 * sl[i] * sl[i] - ri * wx - b[i] * ri);
      }
    }
    if (beta !== 0 && y) {
      const top = s[L - 1].data.subarray(r * s[L - 1].cols, (r + 1) * s[L - 1].cols);
      for (let i = 0; i < top.length; i++) e += 0.5 * beta * (top[i] - y.data[r * y.cols + i]) ** 2;
    }
    out[r] = e;
  }
  return out;
}

/** grads = beta·grads + alpha_l·∂E/∂θ_l at state s, summed over the batch (W_l's ∂E/∂θ: −ρ(s_{l+1})ᵀρ(s_l);
 * b_l's: −Σ ρ(s_l)), x the clamped input; alpha one number or one a layer. The ingredient of every contrastive
 * rule: EP's update is the difference of two, the second added onto the first (beta = 1). These are the Hebbian
 * terms of E at gain 1; under a feedback gain E_γ weights layer l's by γ^{l−1} (layerWeight), which a rule
 * that uses a gain folds into its alphas. */
export function energyParamGradients(be: Backend, net: SettlingNet, x: Matrix, s: SettlingState, scratch: SettlingScratch, grads: DenseParams[],
  alpha: number | readonly number[] = 1, beta = 0): void {
  const L = s.length;
  computeRhos(be, net, s, scratch);
  for (let l = 0; l < L; l++) {
    const a = typeof alpha === 'number' ? alpha : alpha[l];
    be.gemm(true, false, -a, scratch.rhos[l], l === 0 ? x : scratch.rhos[l - 1], beta, grads[l].W);
    be.sumRows(scratch.rhos[l], -a, beta, grads[l].b);
  }
}

/**
 * Almeida–Pineda: dC/dθ at a free fixed point s⁰ (∂E/∂s = 0), C = ½‖s_L − y‖², summed over the batch, into
 * grads. With H = ∂²E/∂s² (symmetric), ds⁰/dθ = −H⁻¹ ∂²E/∂s∂θ, so dC/dθ = (∂²E/∂θ∂s)·v with H v = −∂C/∂s;
 * v is found by the adjoint relaxation v ← v − ε (H v + ∂C/∂s), whose H v sends v down and up through the
 * transposed and forward weights:
 *   (H v)_l = v_l − ρ″(s_l) ⊙ d_l ⊙ v_l − ρ′(s_l) ⊙ (W_{l−1} (ρ′(s_{l−1}) ⊙ v_{l−1}) + W_lᵀ (ρ′(s_{l+1}) ⊙ v_{l+1}))
 * (d_l the drive, v_0 = 0: the input is clamped), and the gradient is
 *   dC/dW_l = −[(ρ′(s_{l+1}) ⊙ v_{l+1})ᵀ ρ(s_l) + ρ(s_{l+1})ᵀ (ρ′(s_l) ⊙ v_l)],   dC/db_l = −Σ ρ′(s_l) ⊙ v_l.
 * Under a feedback gain γ, E is E_γ (layer l's terms weighted c_l = γ^{l−1}): H v and the gradient's
 * layer-l terms take c_l, the top-down term of (H v)_l c_{l+1}, and the relaxation moves layer l by
 * ε c_l⁻¹ (H v + ∂C/∂s)_l, as the free phase does.
 * grads are dC/dθ times alpha (one number, or one a layer). Returns the adjoint relaxation's steps and its
 * last residual max|c_l⁻¹ (H v + ∂C/∂s)_l|.
 */
export function almeidaPineda(be: Backend, net: SettlingNet, x: Matrix, s: SettlingState, y: Matrix, options: RelaxOptions,
  scratch: SettlingScratch, grads: DenseParams[], alpha: number | readonly number[] = 1): RelaxResult {
  const L = s.length, gain = net.feedbackGain ?? 1, epsilon = options.epsilon, tolerance = options.tolerance ?? 0;
  const { v, pv, mixed, prime, diagonal } = scratch.adjoint;
  computeDrives(be, net, s, scratch); // rhos = ρ(s) (kept until the gradient below), drives d
  const hard = net.rho === 'hard_sigmoid';
  for (let l = 0; l < L; l++) {
    v[l].data.fill(0);
    if (hard) continue;
    const state = s[l].data, d = scratch.drives[l].data, p = prime[l].data, diag = diagonal[l].data;
    for (let i = 0; i < p.length; i++) {
      p[i] = rhoPrime(net.rho, state[i]);
      diag[i] = 1 - rhoSecond(net.rho, state[i]) * d[i]; // c_l⁻¹ H's diagonal
    }
  }
  const top = s[L - 1].data, dC = scratch.adjoint.cost.data, toTop = 1 / layerWeight(net, L);
  for (let i = 0; i < dC.length; i++) dC[i] = toTop * (top[i] - y.data[i]); // c_L⁻¹ ∂C/∂s_L
  // NOTE: a hard-sigmoid unit at 0 or 1 does not move when θ does a little (its step pushes it against the
  // bound), so it counts as a constant: ρ′ = 0 there, 1 inside (the backend's hard_sigmoid derivative, open
  // interval), ρ″ = 0. This is the derivative of the projected fixed point, which EP's nudge also measures as
  // β → 0; a unit that stays clipped on every example therefore gets no gradient (docs/RESULTS.md, ap).
  /** out = ρ′(s_l) ⊙ u (out may be u) */
  const timesPrime = (l: number, u: Float32Array, out: Float32Array) => {
    if (hard) be.activateBackward('hard_sigmoid', s[l].data, scratch.rhos[l].data, u, out, 0);
    else for (let i = 0; i < out.length; i++) out[i] = prime[l].data[i] * u[i];
  };
  let residual = Infinity, taken = 0;
  while (taken < options.steps) {
    for (let l = 0; l < L; l++) timesPrime(l, v[l].data, pv[l].data);
    for (let l = 0; l < L; l++) {
      // mixed_l = W_{l−1} (ρ′ ⊙ v)_{l−1} + γ W_lᵀ (ρ′ ⊙ v)_{l+1}, v_0 = 0; then ρ′ ⊙ mixed_l.
      if (l > 0) be.gemm(false, true, 1, pv[l - 1], net.layers[l].W, 0, mixed[l]);
      else mixed[l].data.fill(0);
      if (l + 1 < L) be.gemm(false, false, gain, pv[l + 1], net.layers[l + 1].W, 1, mixed[l]);
      timesPrime(l, mixed[l].data, mixed[l].data);
    }
    const measure = tolerance > 0 || taken === options.steps - 1;
    residual = 0;
    for (let l = 0; l < L; l++) {
      // c_l⁻¹ (H v + ∂C/∂s)_l = diag ⊙ v_l − ρ′ ⊙ mixed_l (+ c_L⁻¹ ∂C/∂s_L); v_l ← v_l − ε · that.
      const vl = v[l].data, m = mixed[l].data, atTop = l === L - 1;
      if (hard) {
        if (measure) for (let i = 0; i < vl.length; i++) residual = Math.max(residual, Math.abs(vl[i] - m[i] + (atTop ? dC[i] : 0)));
        be.axpby(epsilon, m, 1 - epsilon, vl);
        if (atTop) be.axpby(-epsilon, dC, 1, vl);
        continue;
      }
      const diag = diagonal[l].data;
      for (let i = 0; i < vl.length; i++) {
        const hv = diag[i] * vl[i] - m[i] + (atTop ? dC[i] : 0);
        residual = Math.max(residual, Math.abs(hv));
        vl[i] -= epsilon * hv;
      }
    }
    taken++;
    if (residual < tolerance) break;
  }
  for (let l = 0; l < L; l++) timesPrime(l, v[l].data, pv[l].data);
  for (let l = 0; l < L; l++) {
    const c = layerWeight(net, l + 1) * (typeof alpha === 'number' ? alpha : alpha[l]);
    be.gemm(true, false, -c, pv[l], l === 0 ? x : scratch.rhos[l - 1], 0, grads[l].W);
    if (l > 0) be.gemm(true, false, -c, scratch.rhos[l], pv[l - 1], 1, grads[l].W);
    be.sumRows(pv[l], -c, 0, grads[l].b);
  }
  return { steps: taken, residual };
}
