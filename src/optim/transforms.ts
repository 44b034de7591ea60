import { zerosFor, type Transform } from './transform.js';

/** Coupled L2 weight decay: g ← g + λ·w, on weights only (biases are not decayed). */
export function weightDecay(lambda: number): Transform<null> {
  return {
    name: `decay(${lambda})`,
    init: () => null,
    update(updates, state, params, { backend }) {
      params.forEach((p, i) => { if (!p.isBias) backend.axpby(lambda, p.value, 1, updates[i]); });
      return state;
    },
  };
}

/** Heavy-ball momentum: v ← μ·v + g, g ← v. With `nesterov`: g ← g + μ·v (Sutskever et al. 2013). With
 * `initial`: μ = initial.momentum while fewer than initial.epochs epochs of the stage are done. */
export function momentum(finalMu: number, nesterov = false, initial?: { momentum: number; epochs: number }): Transform<Float32Array[]> {
  const warm = initial ? `${initial.momentum}×${initial.epochs}→` : '';
  return {
    name: nesterov ? `nesterov(${warm}${finalMu})` : `momentum(${warm}${finalMu})`,
    init: zerosFor,
    update(updates, velocity, _params, { backend, epoch }) {
      const mu = initial && epoch !== undefined && epoch < initial.epochs ? initial.momentum : finalMu;
      updates.forEach((g, i) => {
        backend.axpby(1, g, mu, velocity[i]);
        if (nesterov) backend.axpby(mu, velocity[i], 1, g);
        else g.set(velocity[i]);
      });
      return velocity;
    },
  };
}

/** t: the updates this state has made (absent in checkpoints written before it was kept: then the loop's
 * step, which was the same count as long as every step updated every tensor). */
export interface AdamState { m: Float32Array[]; v: Float32Array[]; t?: number }

/** Adam (Kingma & Ba 2015, Algorithm 1) without the learning rate, which the loop applies. The bias
 * corrections count this state's own updates, so parameters that sit out some steps (a group a rule leaves
 * out, the forward weights in an inverse-only phase) are corrected for the updates they had. */
export function adam(beta1 = 0.9, beta2 = 0.999, eps = 1e-8): Transform<AdamState> {
  return {
    name: `adam(${beta1},${beta2},${eps})`,
    init: (params) => ({ m: zerosFor(params), v: zerosFor(params), t: 0 }),
    update(updates, state, _params, { backend, step }) {
      const t = (state.t ?? step - 1) + 1;
      state.t = t;
      const c1 = 1 - Math.pow(beta1, t), c2 = 1 - Math.pow(beta2, t);
      updates.forEach((g, i) => backend.adam(g, state.m[i], state.v[i], beta1, beta2, c1, c2, eps));
      return state;
    },
  };
}
