import { chain, type Transform } from './transform.js';
import { adam, momentum, weightDecay } from './transforms.js';

export type OptimizerName = 'sgd' | 'momentum' | 'nesterov' | 'adam';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'momentum', 'nesterov', 'adam'];

export interface OptimizerConfig {
  /** sgd, momentum (heavy ball), nesterov, or adam. Default sgd. */
  name: OptimizerName;
  /** Momentum coefficient μ for momentum and nesterov. Default 0.9. */
  momentum: number;
  /** L2 weight decay λ on weights (not biases), added to the update before momentum/Adam. Default 0. */
  weightDecay: number;
  /** A different momentum for the first epochs of each stage (Hinton & Salakhutdinov's RBMs: 0.5 for 5
   * epochs, then 0.9); absent: `momentum` throughout. */
  initialMomentum?: { momentum: number; epochs: number };
  /** Adam's β1, β2, ε. Defaults 0.9, 0.999, 1e-8. */
  beta1: number;
  beta2: number;
  eps: number;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = {
  name: 'sgd', momentum: 0.9, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8,
};

/** The chain of transforms for a config, e.g. momentum with decay = chain(weightDecay, momentum). */
export function makeOptimizer(config: OptimizerConfig): Transform<unknown[]> {
  const parts: Transform[] = [];
  if (config.weightDecay > 0) parts.push(weightDecay(config.weightDecay) as Transform);
  if (config.name === 'momentum' || config.name === 'nesterov') {
    parts.push(momentum(config.momentum, config.name === 'nesterov', config.initialMomentum) as Transform);
  } else if (config.name === 'adam') {
    parts.push(adam(config.beta1, config.beta2, config.eps) as Transform);
  } else if (config.name !== 'sgd') {
    throw new Error(`unknown optimizer '${String(config.name)}' (choose ${OPTIMIZER_NAMES.join(', ')})`);
  }
  return chain(...parts);
}
