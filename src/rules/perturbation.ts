import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward, type Network, type Workspace } from '../nn/network.js';
import type { RuleOptions } from './rule.js';

/*
 * What weight and node perturbation share: their options, their budget counter and the loss of a batch.
 * Both estimate the gradient from loss differences alone, ĝ = (ΔL/σ²)·ξ, which is unbiased to first order
 * in σ because E[ξξᵀ] = σ²I: E[(∇L·ξ)ξ]/σ² = ∇L. Only forward passes; no error is sent anywhere.
 */

/** State of a perturbation rule: the work done, so that experiments can report budgets. */
export interface PerturbationState {
  /** Forward passes over a whole batch so far, summed over steps: the clean pass of each step included. */
  forwardPasses: number;
}

/** Options shared by weight and node perturbation. */
export interface PerturbationConfig {
  /** Standard deviation σ of the Gaussian perturbation. Default 1e-3. */
  sigma: number;
  /** Independent perturbations averaged per step; the estimate's variance falls as 1/samples. Default 1. */
  samples: number;
  /** Central difference ΔL = [L(+ξ) − L(−ξ)]/2, which cancels the even-order (curvature) terms of ΔL, at
   * two noisy passes per sample instead of one. Default false: ΔL = L(+ξ) − L, reusing the clean pass. */
  central: boolean;
}

export const DEFAULT_SIGMA = 1e-3;

export function readPerturbationConfig(rule: string, options: RuleOptions, defaultSigma = DEFAULT_SIGMA): PerturbationConfig {
  return {
    sigma: positiveNumber(rule, 'sigma', options.sigma ?? defaultSigma),
    samples: positiveInteger(rule, 'samples', options.samples ?? 1),
    central: flag(rule, 'central', options.central ?? false),
  };
}

/** Noisy forward passes per sample. */
export function passesPerSample(config: PerturbationConfig): number {
  return config.central ? 2 : 1;
}

/** Mean loss of a batch under the given network (one forward pass through ws). */
export function batchLoss(be: Backend, net: Network, x: Matrix, y: Matrix, ws: Workspace): number {
  return lossAndGrad(net.spec.loss, forward(be, net, x, ws), y, null);
}

export function positiveNumber(rule: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new Error(`${rule} option ${name} must be a number > 0, got '${String(value)}'`);
  }
  return value;
}

export function positiveInteger(rule: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`${rule} option ${name} must be an integer ≥ 1, got '${String(value)}'`);
  }
  return value;
}

export function flag(rule: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new Error(`${rule} option ${name} must be true or false, got '${String(value)}'`);
  return value;
}

/** A string option that must be one of `choices`. */
export function choiceOption<T extends string>(rule: string, name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new Error(`${rule} option ${name} must be one of ${choices.join(', ')}, got '${String(value)}'`);
  }
  return value as T;
}
