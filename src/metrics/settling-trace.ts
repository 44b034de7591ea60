import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import {
  computeInputDrive, energies, relax, settlingScratch, settlingState,
  type RelaxOptions, type SettlingNet, type SettlingScratch, type SettlingState,
} from '../nn/settling.js';

/**
 * A settling network's relaxation recorded step by step (nn/settling.ts; Scellier & Bengio 2017): the batch's
 * mean energy, the residual and a few units' states after every step, of a free phase and of a second phase
 * (nudged, or whatever a rule's second phase is) from the free phase's last state. Each step is one call of
 * relax with steps: 1 and the phase's other options passed through unchanged, so a trace runs the same
 * arithmetic as relax in one go (tested: same states, same energies) and follows any option relax learns.
 */

/** A unit to trace: `layer` 1 … L (s_layer; the input is not traced) and its index in that layer. */
export interface TracedUnit {
  layer: number;
  unit: number;
}

export interface PhaseTrace {
  /** F = E + βC (E in a free phase: β = 0), the batch mean (float64), at the start and after each step:
   * steps + 1 values. */
  energy: Float64Array;
  /** residual[t − 1]: step t's largest |Δs|/ε over the batch, i.e. the projected ‖∂F/∂s‖∞ at the state the
   * step started from (RelaxResult.residual of a one-step relax). */
  residual: Float64Array;
  /** states[u][t]: traced unit u's state in the traced row, at the start and after each step. */
  states: Float32Array[];
  /** Steps taken: the phase's `steps`, or fewer when its tolerance stopped it. */
  steps: number;
}

export interface SettlingTrace {
  units: TracedUnit[];
  /** The batch row whose units were traced. */
  row: number;
  free: PhaseTrace;
  /** From the free phase's last state; null when no second phase was asked for. */
  second: PhaseTrace | null;
}

export interface SettlingTraceOptions {
  /** The free phase: e.g. the spec's `settle` (ε, steps, tolerance). */
  free: RelaxOptions;
  /** The second phase (e.g. EP's nudged one: ε, its steps, β, y); none when absent. */
  second?: RelaxOptions;
  /** The free phase's starting state (copied, left unchanged); zeros when absent. */
  start?: SettlingState;
  units: readonly TracedUnit[];
  /** The row whose units are traced; default 0. */
  row?: number;
}

/** Relaxes s in place one step at a time through one phase, recording as it goes (computeInputDrive must have
 * run for x). Stops early where relax would: once a step's residual is below the phase's tolerance. */
export function tracePhase(be: Backend, net: SettlingNet, x: Matrix, s: SettlingState, options: RelaxOptions, scratch: SettlingScratch,
  units: readonly TracedUnit[], row = 0): PhaseTrace {
  const tolerance = options.tolerance ?? 0, oneStep: RelaxOptions = { ...options, steps: 1 };
  const meanEnergy = () => {
    const e = energies(net, x, s, options.beta ?? 0, options.y);
    return e.reduce((sum, v) => sum + v, 0) / e.length;
  };
  const unitState = ({ layer, unit }: TracedUnit) => s[layer - 1].data[row * s[layer - 1].cols + unit];
  const energy = [meanEnergy()], residual: number[] = [], states = units.map((u) => [unitState(u)]);
  for (let t = 0; t < options.steps; t++) {
    const result = relax(be, net, s, oneStep, scratch);
    energy.push(meanEnergy());
    residual.push(result.residual);
    units.forEach((u, i) => states[i].push(unitState(u)));
    if (result.residual < tolerance) break;
  }
  return { energy: Float64Array.from(energy), residual: Float64Array.from(residual), states: states.map((v) => Float32Array.from(v)), steps: residual.length };
}

/** The free phase from `start` (or zeros), then the second phase from where the free one stopped, for input x
 * [rows, n_0]. */
export function settlingTrace(be: Backend, net: SettlingNet, x: Matrix, options: SettlingTraceOptions): SettlingTrace {
  const rows = x.rows, row = options.row ?? 0, L = net.sizes.length - 1;
  if (!(Number.isInteger(row) && row >= 0 && row < rows)) throw new RangeError(`the batch has rows 0–${rows - 1}, not ${row}`);
  for (const { layer, unit } of options.units) {
    if (!(Number.isInteger(layer) && layer >= 1 && layer <= L && Number.isInteger(unit) && unit >= 0 && unit < net.sizes[layer])) {
      throw new RangeError(`no unit ${unit} in layer ${layer} of a ${net.sizes.join('-')} settling network`);
    }
  }
  const s = settlingState(net.sizes, rows), scratch = settlingScratch(net.sizes, rows), units = options.units.map((u) => ({ ...u }));
  options.start?.forEach((m, l) => s[l].data.set(m.data.subarray(0, rows * m.cols)));
  computeInputDrive(be, net, x, scratch);
  const free = tracePhase(be, net, x, s, options.free, scratch, units, row);
  const second = options.second ? tracePhase(be, net, x, s, options.second, scratch, units, row) : null;
  return { units, row, free, second };
}

/** The units a view traces: the first `perHidden` units of every hidden layer and the first `outputs` output
 * units (all of them in a classifier up to that many classes). */
export function tracedUnits(sizes: readonly number[], perHidden = 3, outputs = 10): TracedUnit[] {
  const L = sizes.length - 1, units: TracedUnit[] = [];
  for (let layer = 1; layer <= L; layer++) {
    const n = Math.min(sizes[layer], layer === L ? outputs : perHidden);
    for (let unit = 0; unit < n; unit++) units.push({ layer, unit });
  }
  return units;
}
