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
