import { backprop } from './backprop.js';
import type { LearningRule, RuleOptions } from './rule.js';

/** What the CLI, the lab and the docs show about a rule. */
export interface RuleInfo {
  /** One-line name. */
  title: string;
  /** The paper that defines the rule. */
  paper: string;
  /** A short paragraph: what carries the error signal, and why it is (or is not) biologically plausible. */
  summary: string;
  create(options?: RuleOptions): LearningRule;
}

/** Every rule by its short id; the id is the same in the CLI, configs and the lab's URL. */
export const RULES = {
  bp: {
    title: 'Backpropagation',
    paper: 'Rumelhart, Hinton & Williams 1986, Learning representations by back-propagating errors, Nature 323',
    summary:
      'Exact gradient of the loss. Errors travel down through the transposes of the forward weights ' +
      '(weight transport), a second kind of signal next to the forward activity: the reference every ' +
      'other rule is compared with.',
    create: (options) => backprop(options) as LearningRule,
  },
} satisfies Record<string, RuleInfo>;

export type RuleId = keyof typeof RULES;
export const RULE_IDS = Object.keys(RULES) as RuleId[];

export function isRuleId(id: string): id is RuleId {
  return Object.prototype.hasOwnProperty.call(RULES, id);
}

export function createRule(id: string, options: RuleOptions = {}): LearningRule {
  if (!isRuleId(id)) throw new Error(`unknown rule '${id}' (choose ${RULE_IDS.join(', ')}; 'ngrad rules' lists them)`);
  return RULES[id].create(options);
}
