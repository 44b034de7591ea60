import {
  DEFAULT_SETTLE, EP_DEFAULTS, RULES, settlingNet, settlingTrace, tracedUnits,
  type Backend, type Dataset, type Matrix, type Network, type RelaxOptions, type RuleId, type RuleInfo, type RuleOptions,
} from '../../../src/index.js';
import type { SettlingReport } from '../protocol.js';

/** Hidden units traced per hidden layer (every output unit is traced too, up to ten). */
const HIDDEN_UNITS_TRACED = 3;

export function isSettlingRule(rule: RuleId): boolean {
  return (RULES[rule] as RuleInfo).model === 'settling';
}

/**
 * The phases the settling view traces for a rule: the free phase is the net's own (spec.settle, as the rule
 * and the predictor relax); the second is the rule's own, with its options (their defaults where absent):
 * EP's nudged phase at +β (even when the rule draws β's sign at random each batch); CHL's and GeneRec's
 * clamped phase (the output held at the target); none for ap, whose second relaxation is of its adjoint
 * error state, not of the units' activities.
 */
export function tracedPhases(rule: RuleId, options: RuleOptions, net: Network, y: Matrix): { free: RelaxOptions; second: RelaxOptions | null; label: string } {
  const settle = net.spec.settle ?? DEFAULT_SETTLE;
  if (rule === 'chl' || rule === 'generec') {
    const steps = Number(options.clampedSteps ?? settle.steps);
    return { free: settle, second: { epsilon: settle.epsilon, steps, clamp: y }, label: 'clamped to the target' };
  }
  if (rule === 'ap') return { free: settle, second: null, label: 'no second phase (the adjoint relaxes an error state)' };
  const beta = Number(options.beta ?? EP_DEFAULTS.beta), steps = Number(options.nudgedSteps ?? EP_DEFAULTS.nudgedSteps);
  return { free: settle, second: { epsilon: settle.epsilon, steps, beta, y }, label: `nudged, β = ${beta}` };
}

/** For a settling rule, its relaxation on the batch's first example at the current parameters, from zero
 * states (recomputed here, not read from the rule's step); null for every other rule. */
export function settlingReport(rule: RuleId, options: RuleOptions, net: Network, be: Backend, batch: Dataset): SettlingReport | null {
  if (!isSettlingRule(rule) || batch.x.rows === 0) return null;
  const snet = settlingNet(net), x = firstRow(batch.x), y = firstRow(batch.y);
  const { free, second, label } = tracedPhases(rule, options, net, y);
  const trace = settlingTrace(be, snet, x, { free, ...(second && { second }), units: tracedUnits(snet.sizes, HIDDEN_UNITS_TRACED) });
  return { trace, second: label, label: batch.labels ? batch.labels[0] : null };
}

function firstRow(m: Matrix): Matrix {
  return { rows: 1, cols: m.cols, data: m.data.subarray(0, m.cols) };
}
