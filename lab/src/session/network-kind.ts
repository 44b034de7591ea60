import { DEFAULT_SPIKING, FULL_PRECISION, type Matrix, type NetworkSpec, type QuantizeSpec } from '../../../src/index.js';
import type { Settings, SignalsKind } from '../state.js';

/** The bits of each signals choice (nn/stochastic.ts: 0 = real values). */
export const SIGNAL_BITS: Readonly<Record<SignalsKind, QuantizeSpec>> = {
  full: FULL_PRECISION,
  fwd1: { forwardBits: 1, backwardBits: 0 },
  bwd2: { forwardBits: 0, backwardBits: 2 },
  'fwd1-bwd2': { forwardBits: 1, backwardBits: 2 },
};

/** Whether the signals send 1-bit samples of logistic units forward, which only sigmoid hidden units can. */
export function needsSigmoid(signals: SignalsKind): boolean {
  return SIGNAL_BITS[signals].forwardBits === 1;
}

/** What the settings make of the network, for every rule of the race (specForRule then adapts it per rule). */
export interface LabNetwork {
  spec: Pick<NetworkSpec, 'model' | 'spiking' | 'quantize'>;
  /** One line for the Compare panel and the status: 'tanh units, full-precision signals', 'LIF spiking, T 20, …'. */
  label: string;
}

/**
 * The network kind and signals of the settings as spec fields, with a line that names them. A spiking net is seeded
 * by the run's seed (its evaluation spikes, SpikingSpec.seed), so every random choice of a race comes from one seed;
 * its inputs are sent as spikes (rate code) when every input lies in [0, 1] (images, XOR), else as constant currents.
 * Throws, with what to change, for a combination no rule could train: 1-bit forward signals without sigmoid units, or
 * on a spiking net (which sends spikes already).
 */
export function labNetwork(settings: Pick<Settings, 'net' | 'steps' | 'signals' | 'act' | 'seed'>, inputs: readonly Matrix[]): LabNetwork {
  const bits = SIGNAL_BITS[settings.signals];
  const quantize = bits.forwardBits || bits.backwardBits ? { quantize: { ...bits } } : {};
  const signals = [bits.forwardBits ? '1-bit forward' : '', bits.backwardBits ? `${bits.backwardBits}-bit backward` : ''].filter(Boolean).join(', ');
  if (settings.net === 'feedforward') {
    if (bits.forwardBits && settings.act !== 'sigmoid') {
      throw new Error(`1-bit forward signals are samples of logistic units: choose the sigmoid activation, not ${settings.act}`);
    }
    return { spec: quantize, label: `${settings.act} units, ${signals ? `${signals} signals (stochastic, unbiased)` : 'full-precision signals'}` };
  }
  if (bits.forwardBits) throw new Error('a spiking net already sends spikes forward: choose full-precision or 2-bit backward signals');
  const input = inputs.every(inUnitInterval) ? 'spikes' : 'current';
  const spiking = { ...DEFAULT_SPIKING, neuron: settings.net, steps: settings.steps, input, seed: settings.seed } as const;
  const neurons = settings.net === 'lif' ? `LIF spiking (τ ${spiking.tau}, θ ${spiking.threshold})` : 'Bernoulli spiking (P(spike) = σ(I) a step)';
  const label = `${neurons}, T ${spiking.steps}, inputs as ${input === 'spikes' ? 'spikes' : 'currents'}${signals ? `, ${signals} errors` : ''}`;
  return { spec: { model: 'spiking', spiking, ...quantize }, label };
}

function inUnitInterval(m: Matrix): boolean {
  for (let i = 0; i < m.data.length; i++) if (!(m.data[i] >= 0 && m.data[i] <= 1)) return false;
  return true;
}
