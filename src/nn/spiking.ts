import type { Backend } from '../tensor/backend.js';
import { matrix, topRows, type Matrix } from '../tensor/matrix.js';
import { sampleBernoulli } from '../tensor/sampling.js';
import { Rng } from '../random.js';
import type { DenseParams } from './dense.js';
import type { Layer } from './layer.js';
import { logisticSlope } from './stochastic.js';

/**
 * Spiking networks (model 'spiking'): every hidden unit is a spiking neuron simulated for T time steps per input,
 * and the output layer reads the last hidden layer's spike counts out linearly (logits = W_L·count/T + b_L), so
 * the prediction is made from spike counts. Lillicrap et al. 2016 (Fig. 4) train such a network with feedback
 * alignment; Samadi, Lillicrap & Tweed 2017 add that each neuron's teaching signal should reflect its own
 * non-linearity, which here is its rate function's derivative at its mean input current (spikingDerivative).
 *
 * After a forward pass the workspace holds, for each hidden layer l, z_l = the mean input current over the T steps
 * and h_l = the spike count / T (the rate in spikes per step); for the input, the input's own rate (the input
 * spike count / T). Every feed-forward rule then trains through those rates unchanged: backprop through the rates
 * is the reference, feedback alignment sends its errors through fixed random B.
 *
 * Neurons:
 * - 'lif': leaky integrate-and-fire, v_t = α v_{t−1} + (1 − α) I_t with α = e^(−1/τ); a spike when v_t ≥ θ, then
 *   v_t = 0. For a constant current I > θ it fires every n* = ⌈ln(1 − θ/I) / ln α⌉ steps (lifRate); the smooth
 *   rate ln α / ln(1 − θ/I), with (I − θ) softened as in Hunsberger & Eliasmith 2015's soft LIF, gives the
 *   derivative the error signals use.
 * - 'bernoulli': a stochastic binary neuron, a spike with probability σ(I_t) at each step (Hinton's stochastic
 *   logistic unit run in time); its rate function is σ.
 * Inputs: 'spikes' sends pixel x ∈ [0, 1] as a spike with probability x at every step (rate coding); 'current'
 * feeds x in as a constant current.
 */
export type SpikingNeuron = 'lif' | 'bernoulli';
export type SpikingInput = 'spikes' | 'current';

export interface SpikingSpec {
  neuron: SpikingNeuron;
  /** T: time steps per input. */
  steps: number;
  /** LIF membrane time constant τ, in time steps. */
  tau: number;
  /** LIF threshold θ. */
  threshold: number;
  input: SpikingInput;
  /** The seed of the spikes drawn where no training step's stream is given (evaluation, the diagnostics'
   * references): the same stream at every call, so a prediction depends on the parameters and input only. */
  seed: number;
}

export const DEFAULT_SPIKING: SpikingSpec = { neuron: 'lif', steps: 50, tau: 10, threshold: 0.25, input: 'spikes', seed: 1 };

/** Soft LIF's smoothing γ, as a fraction of θ: (I − θ) becomes γ·softplus((I − θ)/γ) in the derivative. */
const SOFT_LIF_GAMMA = 0.05;

export function checkSpiking(s: SpikingSpec): void {
  if (s.neuron !== 'lif' && s.neuron !== 'bernoulli') throw new Error(`unknown spiking neuron '${String(s.neuron)}' (choose lif or bernoulli)`);
  if (!(Number.isInteger(s.steps) && s.steps >= 1 && s.steps <= 10000)) throw new Error(`time steps must be a whole number from 1 to 10000, got ${s.steps}`);
  if (!(s.tau > 0 && Number.isFinite(s.tau))) throw new Error(`the membrane time constant must be a positive number of steps, got ${s.tau}`);
  if (!(s.threshold > 0 && Number.isFinite(s.threshold))) throw new Error(`the threshold must be a positive number, got ${s.threshold}`);
  if (s.input !== 'spikes' && s.input !== 'current') throw new Error(`unknown spiking input '${String(s.input)}' (choose spikes or current)`);
  if (!Number.isInteger(s.seed)) throw new Error(`the spiking evaluation seed must be an integer, got ${s.seed}`);
}

/** Steps between spikes of a LIF neuron driven by a constant current I from rest: ⌈ln(1 − θ/I) / ln α⌉, or Infinity
 * when I ≤ θ (v_n = I(1 − αⁿ) never reaches θ). */
export function lifInterval(current: number, s: Pick<SpikingSpec, 'tau' | 'threshold'>): number {
  if (!(current > s.threshold)) return Infinity;
  return Math.max(1, Math.ceil(Math.log(1 - s.threshold / current) / (-1 / s.tau)));
}

/** Spikes per step of a LIF neuron driven by a constant current I (the exact rate of the discrete dynamics). */
export function lifRate(current: number, s: Pick<SpikingSpec, 'tau' | 'threshold'>): number {
  return 1 / lifInterval(current, s);
}

/** The soft LIF rate and its derivative at current I: r = ln α / ln(ε/(θ + ε)), ε = γ·softplus((I − θ)/γ), capped
 * at one spike per step (where the derivative is 0). */
export function softLifRate(current: number, s: Pick<SpikingSpec, 'tau' | 'threshold'>): { rate: number; slope: number } {
  const th = s.threshold, gamma = SOFT_LIF_GAMMA * th, u = (current - th) / gamma;
  const eps = gamma * (u > 30 ? u : Math.log1p(Math.exp(u)));
  const logAlpha = -1 / s.tau, L = Math.log(eps / (th + eps));
  if (!(eps > 0) || !(L < 0)) return { rate: 0, slope: 0 };
  const rate = logAlpha / L;
  if (rate >= 1) return { rate: 1, slope: 0 };
  const dRate = (-logAlpha * th) / (eps * (th + eps) * L * L); // dr/dε
  return { rate, slope: dRate / (1 + Math.exp(-u)) }; // dε/dI = σ(u)
}

/** Buffers of the simulation, for a batch of up to `capacity` rows, made with the workspace. */
export interface SpikeBuffers {
  /** The input spikes of one step, and the input's rate (count / T) after the pass. */
  inputSpikes: Matrix;
  inputRate: Matrix;
  /** Per hidden layer: membrane potential, this step's spikes, this step's input current. */
  v: Matrix[];
  spikes: Matrix[];
  current: Matrix[];
  /** Uniforms for the Bernoulli draws, as long as the widest layer's batch. */
  uniforms: Float32Array;
}

export function spikeBuffers(widths: readonly number[], inputs: number, capacity: number): SpikeBuffers {
  const hidden = widths.slice(0, -1);
  const make = () => hidden.map((w) => matrix(capacity, w));
  return {
    inputSpikes: matrix(capacity, inputs), inputRate: matrix(capacity, inputs),
    v: make(), spikes: make(), current: make(),
    uniforms: new Float32Array(capacity * Math.max(inputs, ...hidden)),
  };
}

export function spikeBufferRows(b: SpikeBuffers, rows: number): SpikeBuffers {
  const cut = (ms: Matrix[]) => ms.map((m) => topRows(m, rows));
  return {
    inputSpikes: topRows(b.inputSpikes, rows), inputRate: topRows(b.inputRate, rows),
    v: cut(b.v), spikes: cut(b.spikes), current: cut(b.current), uniforms: b.uniforms,
  };
}

/** Called with each step's spikes of every hidden layer (and the input's, layer −1): a raster's recorder. */
export type SpikeRecorder = (step: number, layer: number, spikes: Matrix) => void;

/**
 * Runs the hidden layers for T steps: I_t = layer(spikes of the layer below at t), the neurons' dynamics, and the
 * counts. Fills z[l] with the mean current and h[l] with count / T for every hidden layer, and b.inputRate.
 * `rng` draws the input spikes and the Bernoulli neurons' spikes (the training step's stream, or the spec's
 * evaluation stream when null).
 */
export function simulateSpikes(
  be: Backend, kinds: readonly Layer[], layers: readonly DenseParams[], s: SpikingSpec, x: Matrix,
  z: readonly Matrix[], h: readonly Matrix[], b: SpikeBuffers, rng: Rng | null, record?: SpikeRecorder,
): void {
  const stream = rng ?? Rng.fromSeed(s.seed);
  const hidden = layers.length - 1, T = s.steps, alpha = Math.exp(-1 / s.tau), th = s.threshold;
  const spikesIn = s.input === 'spikes';
  if (spikesIn) checkRates(x);
  if (spikesIn) b.inputRate.data.fill(0);
  else b.inputRate.data.set(x.data); // a constant current is its own rate
  for (let l = 0; l < hidden; l++) {
    b.v[l].data.fill(0);
    z[l].data.fill(0);
    h[l].data.fill(0);
  }
  for (let t = 0; t < T; t++) {
    let below = x;
    if (spikesIn) {
      sampleBernoulli(be, stream, x.data, b.uniforms.subarray(0, x.data.length), b.inputSpikes.data);
      below = b.inputSpikes;
      be.axpby(1, below.data, 1, b.inputRate.data);
    }
    record?.(t, -1, below);
    for (let l = 0; l < hidden; l++) {
      const I = b.current[l], out = b.spikes[l], v = b.v[l].data, spikes = out.data, cur = I.data;
      kinds[l].forward(be, layers[l], below, I);
      be.axpby(1, cur, 1, z[l].data);
      if (s.neuron === 'lif') {
        for (let i = 0; i < cur.length; i++) {
          const vi = alpha * v[i] + (1 - alpha) * cur[i];
          const fire = vi >= th;
          v[i] = fire ? 0 : vi;
          spikes[i] = fire ? 1 : 0;
        }
      } else {
        be.activate('sigmoid', cur, spikes, 0);
        sampleBernoulli(be, stream, spikes, b.uniforms.subarray(0, spikes.length), spikes);
      }
      be.axpby(1, spikes, 1, h[l].data);
      record?.(t, l, out);
      below = out;
    }
  }
  if (spikesIn) be.axpby(0, b.inputRate.data, 1 / T, b.inputRate.data);
  for (let l = 0; l < hidden; l++) {
    be.axpby(0, z[l].data, 1 / T, z[l].data);
    be.axpby(0, h[l].data, 1 / T, h[l].data);
  }
}

/** dz = dh ⊙ r'(z): the derivative of the neuron's rate function at its mean current z (σ' for Bernoulli neurons,
 * soft LIF's for LIF neurons), the intracellular teaching signal of Samadi et al. 2017. */
export function spikingDerivative(s: SpikingSpec, z: Float32Array, dh: Float32Array, dz: Float32Array): void {
  if (s.neuron === 'bernoulli') {
    logisticSlope(z, dh, dz);
    return;
  }
  for (let i = 0; i < z.length; i++) dz[i] = dh[i] * softLifRate(z[i], s).slope;
}

function checkRates(x: Matrix): void {
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i];
    if (!(v >= 0 && v <= 1)) {
      throw new Error(`spike inputs are rates in [0, 1], but an input is ${v}: scale the data to [0, 1] or use the 'current' input`);
    }
  }
}
