import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import { createWorkspace, networkLayers, spikingSpec, type Network } from '../nn/network.js';
import { simulateSpikes, type SpikingInput, type SpikingNeuron } from '../nn/spiking.js';

/** One layer's rows of a spike raster: the shown units and, for each, its spikes over the T steps. */
export interface SpikeRasterLayer {
  /** −1: the input; l ≥ 0: hidden layer l (0-based, input side first). */
  layer: number;
  /** The layer's width, of which `units` are shown. */
  width: number;
  /** The shown units' indices in the layer, ascending. */
  units: Int32Array;
  /** [units.length, T] row-major: 1 where the unit spiked at that step, else 0. */
  spikes: Uint8Array;
  /** Each shown unit's spike count over the T steps (its row's sum). */
  counts: Int32Array;
}

/** A spiking network's spikes on one example, for a raster (time on x, unit on y). */
export interface SpikeRaster {
  /** T, the time steps simulated. */
  steps: number;
  neuron: SpikingNeuron;
  input: SpikingInput;
  /** The input's rows first (only when inputs are sent as spikes: a constant current has none), then each hidden
   * layer's. */
  layers: SpikeRasterLayer[];
}

export interface SpikeRasterOptions {
  /** Hidden units shown per hidden layer: its first ones. Default 16. */
  units?: number;
  /** Input units shown (spike inputs only): the example's largest inputs (the most active, ties by index), in index
   * order, so an image shows pixels that fire rather than its empty border. Default 16. */
  inputs?: number;
  /** Which row of x is the example. Default 0. */
  example?: number;
}

/**
 * The spikes of a few units of every layer of a spiking network while it reads one example, at the current
 * parameters: the same simulation as the network's prediction (simulateSpikes from the spec's evaluation stream,
 * seeded by spiking.seed), run on that one example with a recorder, so count / T of every shown unit is the rate
 * the predictor's forward pass on that example sees. Draws from no stream but that fixed one: a training run's
 * streams are not moved, and the same parameters and example give the same raster.
 */
export function spikeRaster(be: Backend, net: Network, x: Matrix, options: SpikeRasterOptions = {}): SpikeRaster {
  const s = spikingSpec(net.spec);
  if (!s) throw new Error('a spike raster is drawn for a spiking network (model spiking)');
  const { units = 16, inputs = 16, example = 0 } = options;
  if (!(Number.isInteger(example) && example >= 0 && example < x.rows)) throw new Error(`example ${example} is not a row of the ${x.rows}-row input`);
  const one: Matrix = { rows: 1, cols: x.cols, data: x.data.subarray(example * x.cols, (example + 1) * x.cols) };
  const ws = createWorkspace(net.spec, 1), T = s.steps;
  const hidden = net.layers.length - 1;
  const shown: { layer: number; units: Int32Array }[] = [];
  if (s.input === 'spikes') shown.push({ layer: -1, units: largest(one.data, inputs) });
  for (let l = 0; l < hidden; l++) shown.push({ layer: l, units: firstUnits(net.spec.sizes[l + 1], units) });
  const out: SpikeRasterLayer[] = shown.map(({ layer, units: u }) => ({
    layer, width: net.spec.sizes[layer + 1], units: u, spikes: new Uint8Array(u.length * T), counts: new Int32Array(u.length),
  }));
  const byLayer = new Map(out.map((r) => [r.layer, r]));
  simulateSpikes(be, networkLayers(net.spec), net.layers, s, one, ws.z, ws.h, ws.spikes!, null, (t, layer, spikes) => {
    const r = byLayer.get(layer);
    if (!r) return;
    for (let i = 0; i < r.units.length; i++) {
      const fired = spikes.data[r.units[i]] > 0 ? 1 : 0;
      r.spikes[i * T + t] = fired;
      r.counts[i] += fired;
    }
  });
  return { steps: T, neuron: s.neuron, input: s.input, layers: out };
}

function firstUnits(width: number, count: number): Int32Array {
  return Int32Array.from({ length: Math.min(width, Math.max(0, count)) }, (_, i) => i);
}

/** The indices of the `count` largest values (ties: the lower index), ascending. */
function largest(values: Float32Array, count: number): Int32Array {
  const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b);
  return Int32Array.from(order.slice(0, Math.max(0, count)).sort((a, b) => a - b));
}
