import { matrix, topRows, type Matrix } from '../tensor/matrix.js';
import type { Backend } from '../tensor/backend.js';
import { lossAndGrad, rowLosses } from '../nn/losses.js';
import { forward, layerActivation, layerInput, networkLayers, type Network } from '../nn/network.js';
import { passesPerSample, readPerturbationConfig, type PerturbationState } from './perturbation.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

export type NodePerturbationState = PerturbationState;

/** Buffers of the noisy pass, [capacity, width_l] per layer: pre-activations, activities, the noise ν. */
interface NoisyPass {
  capacity: number;
  z: Matrix[];
  h: Matrix[];
  nu: Matrix[];
  /** Per-example losses of the clean and the two noisy passes. */
  clean: Float64Array;
  plus: Float64Array;
  minus: Float64Array;
}

/**
 * Node perturbation (Williams 1992, REINFORCE with Gaussian units; Werfel, Xie & Seung 2005 for linear
 * networks): every unit's pre-activation, hidden and output, receives its own noise in a second forward
 * pass, z̃_l = W_l h̃_{l−1} + b_l + ν_l with ν ~ N(0, σ²), each example n its own ν_n. Each example's loss
 * difference ΔL_n = ℓ_n(noisy) − ℓ_n(clean) (central: [ℓ_n(+ν) − ℓ_n(−ν)]/2), correlated with the
 * noise, estimates the error at every node, δ̂_{l,n} = (ΔL_n/σ²)·ν_{l,n} ≈ ∂ℓ_n/∂z_{l,n}, and each layer
 * learns locally from it and the CLEAN pass's presynaptic activity, as backprop's dense gradients do:
 *   ĝW_l = δ̂_lᵀ·h_{l−1} / batch,  ĝb_l = Σ_n δ̂_{l,n} / batch  (Werfel et al.: ΔW ∝ −(ΔE/σ²) ξ xᵀ).
 * Averaged over `samples` noise draws. Cost: 1 + samples (central: 1 + 2·samples) forward passes; the
 * noise has as many dimensions as there are units, not weights, so the estimate is far less noisy than
 * weight perturbation's. Reports no hidden signals: its estimate is of ∂L/∂z, not of ∂L/∂h.
 * Options: sigma (default 1e-3), samples (default 1), central (default false).
 */
export function nodePerturbation(options: RuleOptions = {}): LearningRule<NodePerturbationState> {
  checkRuleOptions('np', options, ['sigma', 'samples', 'central']);
  const config = readPerturbationConfig('np', options);
  const { sigma, samples, central } = config;
  let scratch: NoisyPass | null = null; // made on first use (scratch, not state)
  return {
    id: 'np',
    locality: { weightTransport: false, note: 'no error path: a global scalar (the loss change) times each unit\'s own noise' },
    init: () => ({ forwardPasses: 0 }),
    step(ctx, state, batch) {
      const { backend: be, net, ws, rng } = ctx;
      const L = net.layers.length, rows = batch.x.rows;
      const out = forward(be, net, batch.x, ws); // clean pass: ws keeps h_{l−1} for the updates
      const loss = lossAndGrad(net.spec.loss, out, batch.y, null);
      if (!scratch || scratch.capacity < rows || !fits(scratch, net)) scratch = noisyPass(net, rows);
      const pass = cut(scratch, rows);
      rowLosses(net.spec.loss, out, batch.y, pass.clean);
      // ws.dz[l] accumulates δ̂_l, already divided by batch and samples (as lossAndGrad divides by batch).
      const delta = ws.dz;
      delta.forEach((d) => d.data.fill(0));
      for (let s = 0; s < samples; s++) {
        pass.nu.forEach((nu) => rng.fillNormal(nu.data, 0, sigma));
        rowLosses(net.spec.loss, noisyForward(be, net, batch.x, pass, 1), batch.y, pass.plus);
        if (central) rowLosses(net.spec.loss, noisyForward(be, net, batch.x, pass, -1), batch.y, pass.minus);
        for (let n = 0; n < rows; n++) {
          const dL = central ? (pass.plus[n] - pass.minus[n]) / 2 : pass.plus[n] - pass.clean[n];
          // Williams 1992; Werfel et al. 2005: δ̂_{l,n} = (ΔL_n/σ²)·ν_{l,n}, here over batch and samples too.
          const coef = dL / (sigma * sigma * rows * samples);
          for (let l = 0; l < L; l++) {
            const width = delta[l].cols, nu = pass.nu[l].data, d = delta[l].data;
            for (let j = n * width; j < (n + 1) * width; j++) d[j] += coef * nu[j];
          }
        }
      }
      const kinds = networkLayers(net.spec);
      for (let l = 0; l < L; l++) kinds[l].paramGrads(be, delta[l], layerInput(batch.x, ws, l), ctx.grads[l]);
      return { loss, grads: ctx.grads, state: { forwardPasses: state.forwardPasses + 1 + samples * passesPerSample(config) } };
    },
  };
}

/** z̃_l = W_l h̃_{l−1} + b_l ± ν_l, h̃_l = f_l(z̃_l); returns the noisy output (a view into pass). */
function noisyForward(be: Backend, net: Network, x: Matrix, pass: NoisyPass, sign: 1 | -1): Matrix {
  const { spec, layers } = net;
  const kinds = networkLayers(spec);
  let input = x;
  for (let l = 0; l < layers.length; l++) {
    kinds[l].forward(be, layers[l], input, pass.z[l]);
    be.axpby(sign, pass.nu[l].data, 1, pass.z[l].data);
    be.activate(layerActivation(spec, l), pass.z[l].data, pass.h[l].data, spec.leakySlope);
    input = pass.h[l];
  }
  return input;
}

function noisyPass(net: Network, capacity: number): NoisyPass {
  const make = () => net.spec.sizes.slice(1).map((width) => matrix(capacity, width));
  const losses = () => new Float64Array(capacity);
  return { capacity, z: make(), h: make(), nu: make(), clean: losses(), plus: losses(), minus: losses() };
}

function fits(pass: NoisyPass, net: Network): boolean {
  const widths = net.spec.sizes.slice(1);
  return pass.z.length === widths.length && pass.z.every((m, l) => m.cols === widths[l]);
}

/** The pass's buffers cut to `rows` rows (the last batch of an epoch may be short). */
function cut(pass: NoisyPass, rows: number): NoisyPass {
  if (rows === pass.capacity) return pass;
  const top = (ms: Matrix[]) => ms.map((m) => topRows(m, rows));
  return { ...pass, capacity: rows, z: top(pass.z), h: top(pass.h), nu: top(pass.nu) };
}
