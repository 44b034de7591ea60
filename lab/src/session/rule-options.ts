import type { RuleId, RuleOptions } from '../../../src/index.js';

/**
 * The options a rule trains with in the lab, where its own defaults (tuned for the papers' nets, often with
 * Adam) do not suit the lab's small nets under SGD at a learning rate near 0.1; every other rule takes its
 * defaults. The reasons were measured on XOR as test/rule-contract.test.ts records them.
 * - sdtp: with Bartunov et al.'s σ = 0.21 the inverse from a 2-class output mostly fits its noise; 0.05 learns.
 * - aosdtp: 512 auxiliary units swamp a small penultimate layer; 64 learn XOR, and MNIST as well as 512.
 * - drl, ddtp: Meulemans et al.'s target step λ/B ≈ 5e-4 per example is tuned with Adam, which ignores the
 *   gradient's scale; under SGD every layer then moves at 2α ≈ 0.001 of backprop's rate. α = 0.3 learns.
 */
export const LAB_RULE_OPTIONS: Readonly<Partial<Record<RuleId, RuleOptions>>> = {
  sdtp: { sigma: 0.05 },
  aosdtp: { aux: 64 },
  drl: { alpha: 0.3 },
  ddtp: { alpha: 0.3 },
};

export function labRuleOptions(rule: RuleId): RuleOptions {
  return LAB_RULE_OPTIONS[rule] ?? {};
}

/** 'alpha = 0.3, …' for the rule's panel; '' when it takes its defaults. */
export function describeLabOptions(rule: RuleId): string {
  return Object.entries(labRuleOptions(rule)).map(([k, v]) => `${k} = ${v}`).join(', ');
}
