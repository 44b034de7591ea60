import type { Backend } from '../tensor/backend.js';
import type { Param } from '../nn/network.js';

/** Passed to every transform on each step. */
export interface StepInfo {
  backend: Backend;
  /** 1-based count of updates so far, including this one. */
  step: number;
  /** Epochs of the stage completed before this update (0 during its first epoch); absent: past any warm-up. */
  epoch?: number;
}

/**
 * An update transform in the style of optax: `init` makes plain-data state, `update` rewrites the
 * update tensors in place (gradient sign convention) and returns the next state. The loop then applies
 * params −= lr · update, so every transform stays free of the learning rate and its schedule.
 */
export interface Transform<S = unknown> {
  readonly name: string;
  init(params: readonly Param[]): S;
  update(updates: Float32Array[], state: S, params: readonly Param[], info: StepInfo): S;
}

/** Applies transforms left to right; the state is the list of their states. */
export function chain(...transforms: Transform[]): Transform<unknown[]> {
  return {
    name: transforms.map((t) => t.name).join('+') || 'identity',
    init: (params) => transforms.map((t) => t.init(params)),
    update(updates, states, params, info) {
      return transforms.map((t, i) => t.update(updates, states[i], params, info));
    },
  };
}

export function zerosFor(params: readonly Param[]): Float32Array[] {
  return params.map((p) => new Float32Array(p.value.length));
}
