import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import type { DenseParams } from '../nn/dense.js';
import { createWorkspace, zerosLike, type Network, type Workspace } from '../nn/network.js';
import { backprop } from '../rules/backprop.js';
import type { Batch, StepResult } from '../rules/rule.js';
import { Rng } from '../random.js';
import { angleDegrees, cosineFromDots, degrees, norm } from './angles.js';
import type { GaussNewtonDirections } from './gauss-newton.js';

/** How closely one layer's learning follows backprop, at the same parameters and batch. */
export interface LayerAlignment {
  /** 1-based layer index (layer 1 maps the input to the first hidden layer). */
  layer: number;
  /** ∠(rule's update of W_l and b_l, true gradient), degrees. */
  updateAngle: number;
  /** ∠(error signal the rule delivers to the layer's output, backprop's W_{l+1}ᵀ·δ), degrees; null for the
   * output layer or a rule that reports no signals. */
  signalAngle: number | null;
  /** ∠(the layer's feedback matrix, W_l), i.e. ∠(B, Wᵀ) in the papers' notation; null without one. */
  feedbackAngle: number | null;
  /** ‖B‖ / ‖W‖ for the feedback matrix; null without one. */
  feedbackNormRatio: number | null;
  /** ∠(rule's update of the layer, the update its Gauss–Newton target gives), degrees (metrics/gauss-newton.ts);
   * null where not measured (non-dense nets). */
  gaussNewtonUpdateAngle: number | null;
  /** ∠(error signal the rule delivers to the layer, the Gauss–Newton activity change −J⁺e), degrees; null for
   * the output layer, a rule without signals, or where not measured. */
  gaussNewtonSignalAngle: number | null;
}

/** Backprop's gradient and hidden error signals at given parameters: the reference for the angles. */
export class BackpropReference {
  private readonly rule = backprop();
  private readonly grads: DenseParams[];
  private ws: Workspace;

  constructor(private readonly net: Network, capacity: number) {
    this.grads = zerosLike(net.layers);
    this.ws = createWorkspace(net.spec, capacity);
  }

  /** Runs backprop on the batch; the result stays valid until the next call. */
  compute(backend: Backend, batch: Batch): { grads: DenseParams[]; signals: readonly Matrix[] } {
    if (batch.x.rows !== this.ws.capacity) this.ws = createWorkspace(this.net.spec, batch.x.rows);
    const out = this.rule.step({ backend, net: this.net, ws: this.ws, rng: Rng.fromSeed(0), grads: this.grads }, {}, batch);
    return { grads: out.grads, signals: out.signals ?? [] };
  }
}

export function compareWithBackprop(
  net: Network,
  result: StepResult<unknown>,
  reference: { grads: DenseParams[]; signals: readonly Matrix[] },
  feedback: readonly (Matrix | null)[] | undefined,
  gaussNewton: GaussNewtonDirections | null = null,
): LayerAlignment[] {
  return net.layers.map((layer, l) => {
    const F = feedback?.[l] ?? null;
    const signal = result.signals?.[l];
    const gnSignal = gaussNewton?.signals[l];
    return {
      layer: l + 1,
      updateAngle: paramAngle(result.grads[l], reference.grads[l]),
      signalAngle: signal && reference.signals[l] ? angleDegrees(signal.data, reference.signals[l].data) : null,
      feedbackAngle: F ? angleDegrees(F.data, layer.W.data) : null,
      feedbackNormRatio: F ? norm(F.data) / norm(layer.W.data) : null,
      gaussNewtonUpdateAngle: gaussNewton ? paramAngle(result.grads[l], gaussNewton.grads[l]) : null,
      gaussNewtonSignalAngle: signal && gnSignal ? angleDegrees(signal.data, gnSignal.data) : null,
    };
  });
}

/** Angle between two updates of a layer, weights and biases taken together as one vector. */
function paramAngle(a: DenseParams, b: DenseParams): number {
  let ab = 0, aa = 0, bb = 0;
  for (const [x, y] of [[a.W.data, b.W.data], [a.b, b.b]] as const) {
    for (let i = 0; i < x.length; i++) {
      ab += x[i] * y[i];
      aa += x[i] * x[i];
      bb += y[i] * y[i];
    }
  }
  return degrees(cosineFromDots(ab, aa, bb));
}

/** Per-layer means over several measurements (NaN and null entries skipped): the angles a run ends with. */
export function meanAlignment(measurements: readonly (readonly LayerAlignment[])[]): LayerAlignment[] {
  if (!measurements.length) return [];
  const mean = (values: (number | null)[]) => {
    const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
    return xs.length ? xs.reduce((s, v) => s + v, 0) / xs.length : null;
  };
  return measurements[0].map((_, l) => {
    const at = measurements.map((m) => m[l]);
    return {
      layer: l + 1,
      updateAngle: mean(at.map((a) => a.updateAngle)) ?? NaN,
      signalAngle: mean(at.map((a) => a.signalAngle)),
      feedbackAngle: mean(at.map((a) => a.feedbackAngle)),
      feedbackNormRatio: mean(at.map((a) => a.feedbackNormRatio)),
      gaussNewtonUpdateAngle: mean(at.map((a) => a.gaussNewtonUpdateAngle)),
      gaussNewtonSignalAngle: mean(at.map((a) => a.gaussNewtonSignalAngle)),
    };
  });
}
