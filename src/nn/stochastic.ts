import type { Rng } from '../random.js';
import type { Matrix } from '../tensor/matrix.js';

/**
 * Stochastic, low-precision signals (Hinton 2007, "How to do backpropagation in a brain": "backpropagation still
 * works very well if we add a lot of unbiased noise … we can use 1 bit in the FWD pass and 2 bits in the BWD pass,
 * if we make them stochastic so that the expected values are correct"). Both quantisers are unbiased:
 * E[q(x)] = x exactly, which the tests check by averaging many draws.
 *
 * They act during training steps only, where the workspace carries the step's random stream (nn/network.ts
 * Workspace.rng); evaluation and the diagnostics' references run on the expected values.
 */
export interface QuantizeSpec {
  /** 1: every hidden logistic unit sends a sample of {0, 1} with P(1) = σ(z) instead of σ(z); 0: real values. */
  forwardBits: 0 | 1;
  /** k ≥ 2: every error signal sent down to a hidden layer is quantised to k bits (see quantizeErrors); 0: real. */
  backwardBits: number;
}

export const FULL_PRECISION: QuantizeSpec = { forwardBits: 0, backwardBits: 0 };

/** Checks a quantisation setting with a one-line error that names the fix. */
export function checkQuantize(q: QuantizeSpec, hidden: string): void {
  if (q.forwardBits !== 0 && q.forwardBits !== 1) throw new Error(`forward bits must be 0 (real values) or 1 (spikes {0, 1}), got ${String(q.forwardBits)}`);
  if (q.forwardBits === 1 && hidden !== 'sigmoid') {
    throw new Error(`1-bit forward activities are samples of logistic units: use sigmoid hidden units (--act sigmoid), not ${hidden}`);
  }
  const k = q.backwardBits;
  if (!(k === 0 || (Number.isInteger(k) && k >= 2 && k <= 16))) {
    throw new Error(`backward bits must be 0 (real values) or a whole number from 2 (sign and one magnitude bit) to 16, got ${String(k)}`);
  }
}

/** Uniforms for the draws, one generator step each (Rng.fillUniformFloat32), grown as needed. */
let uniforms = new Float32Array(0);
function drawUniforms(n: number, rng: Rng): Float32Array {
  if (uniforms.length < n) uniforms = new Float32Array(n);
  return rng.fillUniformFloat32(uniforms.subarray(0, n));
}

/** p → a sample of {0, 1} with P(1) = p, in place (p in [0, 1]): E = p (to float32's 2⁻²⁴). */
export function sampleBinary(p: Float32Array, rng: Rng): void {
  const u = drawUniforms(p.length, rng);
  for (let i = 0; i < p.length; i++) p[i] = u[i] < p[i] ? 1 : 0;
}

/**
 * Stochastic k-bit error signals, in place: a sign bit and k − 1 magnitude bits. Each example's error vector at
 * a layer (a row of d) shares one scale s = max_j |d_j| (a gain sent with it); a value's magnitude |d|/s·m, with
 * m = 2^(k−1) − 1 levels above 0, is rounded down or up to a neighbouring level with the probabilities that make
 * the expectation exact: q = sign(d)·s·(⌊a⌋ + [u < a − ⌊a⌋])/m for a = |d|·m/s, so E[q] = d. With k = 2 the values
 * are {−s, 0, +s}: P(±s) = |d|/s. A row of zeros stays zero.
 */
export function quantizeErrors(d: Matrix, bits: number, rng: Rng): void {
  const levels = 2 ** (bits - 1) - 1, { rows, cols, data } = d;
  const u = drawUniforms(rows * cols, rng);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s = Math.max(s, Math.abs(data[row + j]));
    if (!(s > 0) || !Number.isFinite(s)) continue; // zeros stay zero; a NaN row stays NaN (the loop reports it)
    for (let j = 0; j < cols; j++) {
      const x = data[row + j], a = (Math.abs(x) * levels) / s, low = Math.floor(a);
      const level = Math.min(levels, low + (u[row + j] < a - low ? 1 : 0));
      data[row + j] = (Math.sign(x) * s * level) / levels;
    }
  }
}

/** dz = dh ⊙ σ'(z), from z: the error of a stochastic logistic unit (a 1-bit sample, a Bernoulli spiking neuron),
 * whose h holds samples rather than σ(z), so σ' must come from the current z. */
export function logisticSlope(z: Float32Array, dh: Float32Array, dz: Float32Array): void {
  for (let i = 0; i < z.length; i++) {
    const p = 1 / (1 + Math.exp(-z[i]));
    dz[i] = dh[i] * p * (1 - p);
  }
}
