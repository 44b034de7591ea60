import { lossAndGrad } from '../nn/losses.js';
import {
  computeInputDrive, relax, scratchRows, settlingNet, settlingScratch, settlingState, stateRows,
  type RelaxResult, type SettleSpec, type SettlingNet, type SettlingScratch, type SettlingState,
} from '../nn/settling.js';
import type { Backend } from '../tensor/backend.js';
import type { Network } from '../nn/network.js';
import type { Batch, InitInfo } from './rule.js';
import { checkTargetNet } from './target-propagation.js';

/**
 * What the settling rules (ep, chl, generec, ap) share: the free phase from persistent particles, the
 * buffers of the phases, and their options' checks. Each rule's own phases and update are in its file.
 */

/** Persistent particles: every training example's free-phase state, kept across epochs (S&B 2017), rows of
 * Σ_{l≥1} n_l floats; null when the run starts each batch's states from zero. */
export interface SettlingRuleState {
  particles: Float32Array | null;
  trainExamples: number;
}

/** Throws unless the net is a settling network a settling rule can train. */
export function checkSettlingNet(rule: string, net: Network): void {
  checkTargetNet(rule, net); // dense layers, a hidden one at least
  if (net.spec.model !== 'settling') throw new Error(`rule '${rule}' trains a settling network: add --model settling --act hard_sigmoid`);
  settlingNet(net); // and units a settling network can have
}

/** Floats of one example's state: every layer above the input. */
export function particleWidth(net: Network): number {
  return net.spec.sizes.slice(1).reduce((n, w) => n + w, 0);
}

/** A settling rule's first state: particles for every training example when persistent (and the run says how
 * many examples it has), after checking the net and that the per-layer rate factors fit it. */
export function settlingRuleState(rule: string, net: Network, persistent: boolean, scales: readonly number[] | null,
  info: InitInfo | undefined): SettlingRuleState {
  checkSettlingNet(rule, net);
  checkLayerScales(rule, scales, net);
  const trainExamples = info?.trainExamples ?? 0;
  return { particles: persistent && trainExamples > 0 ? new Float32Array(trainExamples * particleWidth(net)) : null, trainExamples };
}

/** 'load': the batch's free states from their persistent particles (zero without them, or without example
 * indices); 'store': back into the particles. */
export function freeStateRows(state: SettlingRuleState, batch: Batch, free: SettlingState, direction: 'load' | 'store'): void {
  const particles = state.particles, indices = batch.indices, rows = batch.x.rows;
  if (!particles || !indices) {
    if (direction === 'load') for (const m of free) m.data.fill(0, 0, rows * m.cols);
    return;
  }
  const width = free.reduce((n, m) => n + m.cols, 0);
  for (let r = 0; r < rows; r++) {
    let at = indices[r] * width;
    for (const m of free) {
      const row = m.data.subarray(r * m.cols, (r + 1) * m.cols);
      if (direction === 'load') row.set(particles.subarray(at, at + m.cols));
      else particles.set(row, at);
      at += m.cols;
    }
  }
}

/** Per-layer factors on the run's learning rate, e.g. '1,0.5' (S&B's α = 0.1, 0.05 at --lr 0.1); null: all 1. */
export function layerScales(rule: string, value: unknown): number[] | null {
  if (value === undefined) return null;
  const scales = String(value).split(',').map(Number);
  if (!scales.every((v) => Number.isFinite(v) && v >= 0)) throw new Error(`rule '${rule}': option 'layerScale' takes non-negative numbers joined by ',', got '${String(value)}'`);
  return scales;
}

/** Throws unless there is one factor a layer. */
function checkLayerScales(rule: string, scales: readonly number[] | null, net: Network): void {
  if (scales && scales.length !== net.layers.length) {
    throw new Error(`rule '${rule}': option 'layerScale' needs ${net.layers.length} factors (one a layer), got ${scales.length}`);
  }
}

/** A whole number of steps ≥ 1, or the fallback when the option is absent. */
export function stepsOption(rule: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const steps = Number(value);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`rule '${rule}': option '${name}' must be a whole number ≥ 1`);
  return steps;
}

/** The buffers of up to three phases' states and the relaxation's scratch, grown to the largest batch seen. */
export interface PhaseBuffers {
  capacity: number;
  free: SettlingState;
  second: SettlingState;
  third: SettlingState;
  scratch: SettlingScratch;
}

/** buffers, or new ones when they are missing or too small for `rows`. */
export function phaseBuffers(buffers: PhaseBuffers | null, sizes: readonly number[], rows: number): PhaseBuffers {
  if (buffers && buffers.capacity >= rows) return buffers;
  return { capacity: rows, free: settlingState(sizes, rows), second: settlingState(sizes, rows), third: settlingState(sizes, rows), scratch: settlingScratch(sizes, rows) };
}

/** The first `rows` rows of every buffer. */
export function phaseRows(buffers: PhaseBuffers, rows: number): Omit<PhaseBuffers, 'capacity'> {
  return {
    free: stateRows(buffers.free, rows), second: stateRows(buffers.second, rows), third: stateRows(buffers.third, rows),
    scratch: scratchRows(buffers.scratch, rows),
  };
}

/** The free phase: the batch's states from their particles, the input's drive, relaxation with the input
 * clamped, the fixed point back into the particles; the loss ½‖s_L − y‖² (batch mean) at it. */
export function freePhase(be: Backend, net: SettlingNet, settle: SettleSpec, state: SettlingRuleState, batch: Batch,
  free: SettlingState, scratch: SettlingScratch): { result: RelaxResult; loss: number } {
  freeStateRows(state, batch, free, 'load');
  computeInputDrive(be, net, batch.x, scratch);
  const result = relax(be, net, free, settle, scratch);
  freeStateRows(state, batch, free, 'store');
  return { result, loss: lossAndGrad('mse', free[free.length - 1], batch.y, null) };
}

/** target := source, layer by layer (a second phase starts from the free fixed point). */
export function copyState(source: SettlingState, target: SettlingState): void {
  target.forEach((m, l) => m.data.set(source[l].data.subarray(0, m.rows * m.cols)));
}

/** Xie & Seung 2003's rate factor γ^{(l+1)−L} for W_l (l = 0 … L−1): under weak feedback the clamped phase
 * changes layer l+1 by O(γ^{L−(l+1)}), and this factor brings every layer's contrastive update to backprop's
 * scale; 1 at γ = 1. */
export function feedbackGainScale(net: SettlingNet, l: number): number {
  return (net.feedbackGain ?? 1) ** (l + 1 - net.layers.length);
}

/** Layer l's factor on the run's rate (layerScale's, 1 without it). */
export function rateFactor(scales: readonly number[] | null, l: number): number {
  return scales ? scales[l] ?? 1 : 1;
}
