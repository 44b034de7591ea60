import { ACTIVATION_KINDS, type ActivationKind } from '../tensor/backend.js';

export type { ActivationKind };

/** Names accepted for each activation (the CLI and configs use these). */
const ALIASES: Record<string, ActivationKind> = {
  linear: 'linear', identity: 'linear',
  tanh: 'tanh',
  sigmoid: 'sigmoid', logistic: 'sigmoid',
  relu: 'relu',
  leaky_relu: 'leaky_relu', 'leaky-relu': 'leaky_relu', leakyrelu: 'leaky_relu',
  hard_sigmoid: 'hard_sigmoid', 'hard-sigmoid': 'hard_sigmoid', hardsigmoid: 'hard_sigmoid',
};

export function parseActivation(name: string): ActivationKind {
  const kind = ALIASES[name.toLowerCase()];
  if (!kind) throw new Error(`unknown activation '${name}' (choose ${ACTIVATION_KINDS.join(', ')})`);
  return kind;
}

/** Scalar f(z), for tests and for code that works on single values. */
export function activationValue(kind: ActivationKind, z: number, slope: number): number {
  switch (kind) {
    case 'linear': return z;
    case 'tanh': return Math.tanh(z);
    case 'sigmoid': return 1 / (1 + Math.exp(-z));
    case 'relu': return z > 0 ? z : 0;
    case 'leaky_relu': return z > 0 ? z : slope * z;
    // Scellier & Bengio 2017: ρ(s) = clip(s, 0, 1); the same comparisons as the kernels (−0 stays −0).
    case 'hard_sigmoid': return z < 0 ? 0 : z > 1 ? 1 : z;
  }
}

/** tanh(a + d) − tanh(a) without cancellation: tanh(d)(1 − t²)/(1 + t·tanh(d)), t = tanh(a) (the addition theorem). */
function tanhChange(a: number, d: number): number {
  const t = Math.tanh(a), u = Math.tanh(d);
  return (u * (1 - t * t)) / (1 + t * u);
}

/**
 * out = f(z + d) − f(z) element-wise: a unit's change of output when its input moves by d, accurate to float32
 * rounding of the change itself even where d is a millionth of z (computed in float64, tanh and sigmoid by the
 * addition theorem: f(z + d) − f(z) in float32 would keep only the change's leading digits). out may alias d.
 */
export function activationChange(kind: ActivationKind, z: Float32Array, d: Float32Array, out: Float32Array, slope: number): void {
  for (let i = 0; i < z.length; i++) {
    const a = z[i], e = d[i];
    out[i] = kind === 'tanh' ? tanhChange(a, e)
      : kind === 'sigmoid' ? 0.5 * tanhChange(0.5 * a, 0.5 * e) // σ(x) = (1 + tanh(x/2))/2
        : kind === 'linear' ? e
          : activationValue(kind, a + e, slope) - activationValue(kind, a, slope);
  }
}
