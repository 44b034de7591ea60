import { denseInputError } from '../nn/dense.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward, layerActivation } from '../nn/network.js';
import type { ActivationKind } from '../tensor/backend.js';
import { luFactor, luSolveRows } from '../tensor/lu.js';
import type { Matrix } from '../tensor/matrix.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';
import { layerBuffers, hiddenTargets, checkTargetNet, layerLocalLoss, outputLayerGrads, nonNegativeOption } from './target-propagation.js';

/** Targets of a tanh or sigmoid layer are clipped this far inside the activation's open range. */
export const TP_RANGE_MARGIN = 1e-6;

const INVERTIBLE: readonly ActivationKind[] = ['tanh', 'sigmoid', 'leaky_relu', 'linear'];

/**
 * Target propagation with exact inverses (Bengio 2014; the review's Fig. 3, Lillicrap et al. 2020): every
 * hidden layer above the first is square and invertible, g_l = f_l⁻¹, so
 *   first target (penultimate layer):  ĥ_{L−1} = h_{L−1} − α ∂L/∂h_{L−1}  (as in DTP, Lee et al. 2015);
 *   below:                              ĥ_{l−1} = f_l⁻¹(ĥ_l) = W_l⁻¹ (act⁻¹(ĥ_l) − b_l);
 *   layer-local losses ‖f_l(h_{l−1}) − ĥ_l‖²; the output layer learns from the task loss.
 * The idealised member of the family, against which learned inverses are measured: for a small α the
 * displacement ĥ_l − h_l approaches the Gauss–Newton step J⁻¹(ĥ_{L−1} − h_{L−1}), J = ∂h_{L−1}/∂h_l,
 * not backprop's Jᵀ (Meulemans et al. 2020; tested). It reads W to invert it (weight transport).
 * Needs an invertible hidden activation (tanh, sigmoid, leaky_relu with a slope > 0, linear); tanh and
 * sigmoid targets are clipped to TP_RANGE_MARGIN inside the range. W⁻¹ is applied through a float64 LU
 * factorisation per layer and step, O(n³): a reference rule for small nets, not a fast one.
 * Options: alpha (the target step).
 */
export function exactTargetPropagation(options: RuleOptions = {}): LearningRule<Record<string, never>> {
  checkRuleOptions('tp', options, ['alpha']);
  const alpha = nonNegativeOption('tp', 'alpha', options.alpha, 0.1);
  const targets = layerBuffers();
  let solveBuffer = new Float64Array(0);
  const buffer = (size: number) => (solveBuffer.length >= size ? solveBuffer : (solveBuffer = new Float64Array(size))).subarray(0, size);
  return {
    id: 'tp',
    locality: { weightTransport: true, note: 'targets travel down through the exact inverses W_l⁻¹ of the forward layers, computed from W' },
    init(net) {
      checkTargetNet('tp', net);
      const { spec } = net, { sizes } = spec;
      const L = net.layers.length;
      for (let l = 1; l < L - 1; l++) {
        if (sizes[l] !== sizes[l + 1]) throw new Error(`rule 'tp' needs square hidden layers above the first, but layer ${l + 1} maps ${sizes[l]} → ${sizes[l + 1]}; use an architecture like 784-64-64-64-10`);
      }
      const act = spec.hidden;
      if (!INVERTIBLE.includes(act) || (act === 'leaky_relu' && !(spec.leakySlope > 0))) {
        throw new Error(`rule 'tp' needs an invertible hidden activation (tanh, sigmoid, leaky_relu with a slope > 0, or linear), got ${act}`);
      }
      return {};
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws, grads } = ctx;
      const { spec } = net;
      const L = net.layers.length, top = L - 1, B = batch.x.rows;
      forward(be, net, batch.x, ws);
      const loss = lossAndGrad(spec.loss, ws.h[top], batch.y, ws.dh[top]);
      outputLayerGrads(be, net, ws, grads);
      const hat = (l: number) => targets(l, B, spec.sizes[l + 1]);
      // First target: ĥ = h − α ∂L_n/∂h at the penultimate layer (∂(mean loss)/∂h = δz·W, so ∂L_n/∂h = B·δz·W).
      denseInputError(be, ws.dz[top], net.layers[top].W, hat(top - 1));
      be.axpby(1, ws.h[top - 1].data, -alpha * B, hat(top - 1).data);
      for (let l = top - 1; l >= 1; l--) invertLayer(net.layers[l].W, net.layers[l].b, layerActivation(spec, l), spec.leakySlope, hat(l), hat(l - 1), buffer);
      const metrics: Record<string, number> = {};
      for (let l = 0; l < top; l++) metrics[`target_loss_${l + 1}`] = layerLocalLoss(be, net, batch.x, ws, l, hat(l), grads[l]);
      return { loss, grads, state, metrics, signals: ws.dh.slice(0, top), targets: hiddenTargets(hat, top) };
    },
  };
}

/** below[r] = W⁻¹ (act⁻¹(above[r]) − b) for every row r: the rows solved together ([n, rows] float64 buffers,
 * column r row r's right-hand side), each with the same operations as a solve of its own. */
function invertLayer(W: Matrix, b: Float32Array, act: ActivationKind, slope: number, above: Matrix, below: Matrix, buffer: (size: number) => Float64Array): void {
  const n = W.rows, m = above.rows, factors = luFactor(n, W.data);
  const all = buffer(2 * n * m), u = all.subarray(0, n * m), x = all.subarray(n * m, 2 * n * m);
  const hi = 1 - TP_RANGE_MARGIN, a = above.data;
  for (let r = 0; r < m; r++) {
    const row = r * n;
    if (act === 'tanh') for (let i = 0; i < n; i++) u[i * m + r] = Math.atanh(Math.min(hi, Math.max(-hi, a[row + i]))) - b[i];
    else if (act === 'sigmoid') {
      for (let i = 0; i < n; i++) { const p = Math.min(hi, Math.max(TP_RANGE_MARGIN, a[row + i])); u[i * m + r] = Math.log(p / (1 - p)) - b[i]; }
    } else if (act === 'leaky_relu') for (let i = 0; i < n; i++) { const v = a[row + i]; u[i * m + r] = (v > 0 ? v : v / slope) - b[i]; }
    else for (let i = 0; i < n; i++) u[i * m + r] = a[row + i] - b[i];
  }
  luSolveRows(factors, m, u, x);
  const out = below.data;
  for (let i = 0; i < n; i++) for (let r = 0; r < m; r++) out[r * n + i] = x[i * m + r];
}
