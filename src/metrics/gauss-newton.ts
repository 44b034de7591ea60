/**
 * The Gauss–Newton target direction of Meulemans et al. 2020 ("A theoretical framework for target
 * propagation", NeurIPS), the second reference, beside backprop, that target propagation is measured against:
 * for each example and layer l, the minimum-norm change of the layer's activity that moves the output by the
 * output error e = −∂L/∂h_L to first order,
 *   Δh_l = J_l⁺ e,   J_l = ∂h_L/∂h_l  [outputs, width_l],   J_l⁺ = J_lᵀ (J_l J_lᵀ)⁻¹,
 * and the weight update that target would give, in gradient sign convention: δz_l = −Δh_l ⊙ f'(z_l),
 * ΔW_l = δz_lᵀ h_{l−1}, Δb_l = Σ δz_l. The rows of every J_l come from one backward pass (through the true
 * Wᵀ) per output unit: about `outputs` times backprop's backward pass, paid only when angles are measured.
 * Dense nets only (null otherwise).
 */
import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import { denseInputError, type DenseParams } from '../nn/dense.js';
import { lossAndGrad } from '../nn/losses.js';
import { createWorkspace, forward, layerDerivative, layerInput, networkLayers, zerosLike, type Network, type Workspace } from '../nn/network.js';
import type { Batch } from '../rules/rule.js';
import { luFactor, luSolve } from '../tensor/lu.js';

export interface GaussNewtonDirections {
  /** The update each layer's Gauss–Newton target gives, in gradient sign convention. */
  grads: DenseParams[];
  /** −Δh_l for every layer but the output, [batch, width_l]: compare with a rule's signals. */
  signals: Matrix[];
}

export class GaussNewtonReference {
  private ws: Workspace;
  private readonly grads: DenseParams[];

  constructor(private readonly net: Network, capacity: number) {
    this.ws = createWorkspace(net.spec, capacity);
    this.grads = zerosLike(net.layers);
  }

  /** null for nets with other than dense layers. */
  compute(be: Backend, batch: Batch): GaussNewtonDirections | null {
    const { net } = this, { spec } = net;
    if (networkLayers(spec).some((k) => k.kind !== 'dense')) return null;
    const B = batch.x.rows, L = net.layers.length, top = L - 1, K = spec.sizes[L];
    if (B !== this.ws.capacity) this.ws = createWorkspace(spec, B);
    const ws = this.ws;
    forward(be, net, batch.x, ws);
    const grad = matrix(B, K);
    lossAndGrad(spec.loss, ws.h[top], batch.y, grad); // e = −grad (its scale does not matter for directions)
    // rows[l][k] [B, width_l]: ∂h_L,k/∂h_l for every example, by a backward pass from output unit k.
    const rows: Matrix[][] = net.layers.map((_, l) => Array.from({ length: K }, () => matrix(B, spec.sizes[l + 1])));
    const dh = matrix(B, K);
    for (let k = 0; k < K; k++) {
      dh.data.fill(0);
      for (let n = 0; n < B; n++) dh.data[n * K + k] = 1;
      rows[top][k].data.set(dh.data);
      let above = dh;
      for (let l = top; l >= 1; l--) {
        const dz = matrix(B, spec.sizes[l + 1]);
        layerDerivative(be, spec, l, ws, above.data, dz.data);
        denseInputError(be, dz, net.layers[l].W, rows[l - 1][k]);
        above = rows[l - 1][k];
      }
    }
    const signals: Matrix[] = [];
    for (let l = 0; l <= top; l++) {
      const width = spec.sizes[l + 1], s = matrix(B, width);
      for (let n = 0; n < B; n++) {
        // M = J Jᵀ (K×K), lightly damped; y = M⁻¹ e; Δh = Jᵀ y; the signal is −Δh = Jᵀ M⁻¹ grad.
        const J = (k: number, j: number) => rows[l][k].data[n * width + j];
        const M = new Float64Array(K * K);
        let trace = 0;
        for (let a = 0; a < K; a++) for (let b = a; b < K; b++) {
          let sum = 0;
          for (let j = 0; j < width; j++) sum += J(a, j) * J(b, j);
          M[a * K + b] = M[b * K + a] = sum;
          if (a === b) trace += sum;
        }
        for (let a = 0; a < K; a++) M[a * K + a] += 1e-9 * (trace / K) + 1e-30;
        const y = luSolve(luFactor(K, M), Array.from(grad.data.subarray(n * K, (n + 1) * K)), new Float64Array(K));
        for (let j = 0; j < width; j++) {
          let sum = 0;
          for (let k = 0; k < K; k++) sum += J(k, j) * y[k];
          s.data[n * width + j] = sum;
        }
      }
      const dz = matrix(B, width);
      layerDerivative(be, spec, l, ws, s.data, dz.data);
      networkLayers(spec)[l].paramGrads(be, dz, layerInput(batch.x, ws, l), this.grads[l]);
      if (l < top) signals.push(s);
    }
    return { grads: this.grads, signals };
  }
}
