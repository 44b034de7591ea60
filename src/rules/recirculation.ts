import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import { lossAndGrad } from '../nn/losses.js';
import { checkDenseNetwork, forward, layerActivation, layerInput, type Network, type Param } from '../nn/network.js';
import { denseParamGrads } from '../nn/dense.js';
import { activationChange } from '../nn/activations.js';
import { applyMask, fillRandom, randomMask, readFeedbackInit, scaleToNorm } from './feedback-matrices.js';
import { dot, norm } from '../tensor/vector.js';
import { choiceOption, positiveNumber } from './perturbation.js';
import { layerBuffers } from './target-propagation.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';

export interface RecirculationState {
  /** Learned top-down weights: G[l] in W_l's shape [n_l, n_{l−1}] carries layer l's activity down to layer l − 1
   * (r_{l−1} = f(h_l·G_l + c_{l−1}), row form); null for layer 0 and in tied mode (G_l = W_l). */
  G: (Matrix | null)[];
  /** Reconstruction biases c_{l−1} of the hidden layers, c[l] for l = 1 … L−1 (c[0] is empty). */
  c: Float32Array[];
  /** Masks (1 kept) of the forward connections and of the top-down ones, drawn independently; null: none removed. */
  forwardMasks: (Uint8Array | null)[] | null;
  topDownMasks: (Uint8Array | null)[] | null;
}

/**
 * The temporal-derivative rule (Hinton 2007, "How to do backpropagation in a brain"; Lillicrap et al. 2020,
 * Supplementary Fig. 1): in a stack of autoencoders, after the forward pass the output is moved by the error,
 *   Δ_L = −η ∂ℓ/∂x_L  (the change of the output units' activity; x the total input),
 * the change flows down through the top-down (reconstruction) connections, each hidden unit's activity
 * changing by what its top-down drive makes of it,
 *   Δh_{l−1} = f(x̃_{l−1} + Δh_l·G_l) − f(x̃_{l−1}),  x̃_{l−1} = h_l·G_l + c_{l−1}  (the reconstruction's input),
 * which to first order is f'(x̃) (G_l Δh_l): backprop's δ when G_l = W_lᵀ and the reconstruction is perfect
 * (x̃ = x); and each synapse changes by pre-synaptic activity × the change of post-synaptic activity,
 *   ΔW_l ∝ Δh_l h_{l−1}ᵀ,  Δb_l ∝ Δh_l   (returned divided by −η, in gradient units and sign).
 * Options:
 *   feedback: tied (G_l = W_l, the RBM's symmetric weights: weight transport) or learned (G_l the rule's own,
 *     group 'reconstruction', trained as autoencoders on ½‖f(h_l·G_l + c) − h_{l−1}‖², a local delta rule);
 *   init (learned): random (dist, scale as for fa; scale 0 = ‖W_l‖) or transpose (a copy of W_l at the start);
 *   perturbation η (default 0.01);
 *   drive: reconstruction (the unit is driven top-down, at x̃: the talk's picture, which needs good autoencoders,
 *     default) or forward (the top-down change adds to the unit's forward input x: the reconstruction taken as
 *     perfect at the data, Δh = f(x + ΔG) − f(x), which isolates the question of symmetry);
 *   baseline (drive reconstruction): topdown (Δ against the unperturbed reconstruction, default) or
 *   forward (Δh = f(x̃ + ΔG) − h, the literal change from the forward activity, which carries the
 *   reconstruction error too); sparsity: the fraction of directed connections removed, independently in each
 *   direction (forward W and top-down G: the talk's "randomly remove many of the directed connections").
 * The reconstruction biases c always learn (group 'reconstruction'), in tied mode too.
 */
export function recirculation(options: RuleOptions = {}): LearningRule<RecirculationState> {
  checkRuleOptions('recirc', options, ['feedback', 'init', 'dist', 'scale', 'perturbation', 'drive', 'baseline', 'sparsity']);
  const feedback = choiceOption('recirc', 'feedback', options.feedback ?? 'tied', ['tied', 'learned']);
  const initKind = choiceOption('recirc', 'init', options.init ?? 'random', ['random', 'transpose']);
  if (options.init !== undefined && feedback === 'tied') throw new Error('recirc option init is for feedback=learned (tied top-down weights are W itself)');
  const random = readFeedbackInit(options);
  const eta = positiveNumber('recirc', 'perturbation', options.perturbation ?? 0.01);
  const driveKind = choiceOption('recirc', 'drive', options.drive ?? 'reconstruction', ['reconstruction', 'forward']);
  const baseline = choiceOption('recirc', 'baseline', options.baseline ?? 'topdown', ['topdown', 'forward']);
  if (options.baseline !== undefined && driveKind === 'forward') throw new Error('recirc option baseline is for drive=reconstruction (with drive=forward the unit starts at its forward activity)');
  const sparsity = options.sparsity ?? 0;
  if (typeof sparsity !== 'number' || !(sparsity >= 0 && sparsity < 1)) throw new Error(`recirc option sparsity must be a number in [0, 1), got '${String(sparsity)}'`);
  const tied = feedback === 'tied';
  const buffers = layerBuffers(), maskedCopies = layerBuffers();
  let groupGrads: Float32Array[] = [];
  return {
    id: 'recirc',
    locality: tied
      ? { weightTransport: true, note: 'tied: the top-down connections are the forward weights themselves (symmetric synapses), read in the downward pass' }
      : { weightTransport: false, note: 'learned: the change of activity flows down through top-down weights G trained as autoencoders from activities; W is read by the forward pass only' },
    init(net, rng) {
      checkStack(net);
      const G = net.layers.map((p, l) => {
        if (tied || l === 0) return null;
        const g = matrix(p.W.rows, p.W.cols);
        if (initKind === 'transpose') g.data.set(p.W.data);
        else {
          fillRandom(g.data, random, rng);
          if (random.scale === 0) scaleToNorm(g.data, norm(p.W.data));
        }
        return g;
      });
      const c = net.layers.map((_, l) => new Float32Array(l === 0 ? 0 : net.spec.sizes[l]));
      if (sparsity === 0) return { G, c, forwardMasks: null, topDownMasks: null };
      const forwardMasks = net.layers.map((p) => randomMask(p.W.data.length, sparsity, rng));
      const topDownMasks = net.layers.map((p, l) => (l === 0 ? null : randomMask(p.W.data.length, sparsity, rng)));
      G.forEach((g, l) => g && applyMask(g.data, topDownMasks[l]));
      return { G, c, forwardMasks, topDownMasks };
    },
    prepareParams(layers, state) {
      state.forwardMasks?.forEach((mask, l) => applyMask(layers[l].W.data, mask));
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws, grads } = ctx;
      const L = net.layers.length, rows = batch.x.rows, { spec } = net;
      const out = forward(be, net, batch.x, ws);
      const loss = lossAndGrad(spec.loss, out, batch.y, ws.dh[L - 1]);
      be.activateBackward(layerActivation(spec, L - 1), ws.z[L - 1].data, ws.h[L - 1].data, ws.dh[L - 1].data, ws.dz[L - 1].data, spec.leakySlope);
      // Δ_L = −η·∂ℓ/∂x_L per example (ws.dz holds the batch mean's gradient, ∂ℓ/∂x / rows).
      let change = buffers(0, rows, spec.sizes[L]);
      be.axpby(-eta * rows, ws.dz[L - 1].data, 0, change.data);
      denseParamGrads(be, ws.dz[L - 1], layerInput(batch.x, ws, L - 1), grads[L - 1]);
      const metrics: Record<string, number> = {};
      const updates: Float32Array[] = [];
      for (let l = L - 1; l >= 1; l--) {
        const down = topDown(be, state, net, l);
        const act = layerActivation(spec, l - 1), width = spec.sizes[l];
        const h = ws.h[l - 1], upper = ws.h[l];
        // x̃ = h_l·G_l + c (the reconstruction's input) and r = f(x̃); then x̃ + Δh_l·G_l and its f.
        const drive = buffers(1 + 4 * l, rows, width), recon = buffers(2 + 4 * l, rows, width), push = buffers(3 + 4 * l, rows, width);
        be.gemm(false, false, 1, upper, down, 0, drive);
        be.addRowVector(drive, state.c[l]);
        be.activate(act, drive.data, recon.data, spec.leakySlope);
        // The top-down change of input Δh_l·G_l, and the unit's change of output at its operating point:
        // Δh_{l−1} = f(x̃ + ΔG) − f(x̃) (drive reconstruction), or f(x + ΔG) − f(x) (drive forward).
        be.gemm(false, false, 1, change, down, 0, push);
        const next = buffers(4 + 4 * l, rows, width);
        activationChange(act, (driveKind === 'reconstruction' ? drive : ws.z[l - 1]).data, push.data, next.data, spec.leakySlope);
        // baseline forward: f(x̃ + ΔG) − h_{l−1}, the change from the forward activity (adds r − h).
        if (baseline === 'forward') {
          be.axpby(1, recon.data, 1, next.data);
          be.axpby(-1, h.data, 1, next.data);
        }
        // The layer's update: −Δh/(η·rows) stands where backprop's δ stands (gradient sign, batch mean).
        const delta = push;
        be.axpby(-1 / (eta * rows), next.data, 0, delta.data);
        denseParamGrads(be, delta, layerInput(batch.x, ws, l - 1), grads[l - 1]);
        // The autoencoder's delta rule: e = (r − h) ⊙ f'(x̃) / rows; ∂/∂G_l = h_lᵀ e (W_l's shape), ∂/∂c = Σ e.
        const e = recon;
        be.axpby(-1, h.data, 1, e.data);
        metrics[`reconstruction${l}`] = dot(e.data, e.data) / rows;
        be.activateBackward(act, drive.data, recon.data, e.data, e.data, spec.leakySlope);
        const gc = groupBuffer(updates, state.c[l].length);
        be.sumRows(e, 1 / rows, 0, gc);
        if (!tied) {
          const G = state.G[l] as Matrix;
          const gG = { rows: G.rows, cols: G.cols, data: groupBuffer(updates, G.data.length) };
          be.gemm(true, false, 1 / rows, upper, e, 0, gG);
          applyMask(gG.data, state.topDownMasks?.[l] ?? null);
        }
        change = next;
      }
      state.forwardMasks?.forEach((mask, l) => applyMask(grads[l].W.data, mask));
      groupGrads = updates;
      return { loss, grads, state, groupGrads: { reconstruction: groupGrads }, metrics };
    },
    groups: (state): TrainableGroup[] => [{ name: 'reconstruction', params: reconstructionParams(state), lr: 'run', optimizer: 'run' }],
    feedbackMatrices: (state) => (tied ? state.G.map(() => null) : state.G),
  };

  /** The top-down weights of layer l in W_l's shape: W_l itself when tied (masked by the top-down mask when
   * connections are removed), or the learned G_l. */
  function topDown(be: Backend, state: RecirculationState, net: Network, l: number): Matrix {
    if (!tied) return state.G[l] as Matrix;
    const W = net.layers[l].W, mask = state.topDownMasks?.[l];
    if (!mask) return W;
    const copy = maskedCopies(l, W.rows, W.cols);
    be.axpby(1, W.data, 0, copy.data);
    applyMask(copy.data, mask);
    return copy;
  }

  function groupBuffer(updates: Float32Array[], length: number): Float32Array {
    const i = updates.length;
    const buffer = groupGrads[i]?.length === length ? groupGrads[i] : new Float32Array(length);
    updates.push(buffer);
    return buffer;
  }
}

/** The group's tensors in the order the step proposes their updates: for l = L−1 … 1, c_{l−1} then G_l. */
function reconstructionParams(state: RecirculationState): Param[] {
  const params: Param[] = [];
  for (let l = state.c.length - 1; l >= 1; l--) {
    params.push({ name: `c${l}`, value: state.c[l], isBias: true });
    const G = state.G[l];
    if (G) params.push({ name: `G${l + 1}`, value: G.data, isBias: false });
  }
  return params;
}

function checkStack(net: Network): void {
  checkDenseNetwork('recirc', net.spec);
  if (net.spec.model === 'settling') throw new Error('recirc trains a feed-forward stack: use --model feedforward');
}

