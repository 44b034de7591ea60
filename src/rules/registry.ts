import { backprop } from './backprop.js';
import { directFeedbackAlignment } from './direct-feedback-alignment.js';
import { feedbackAlignment } from './feedback-alignment.js';
import { kolenPollack } from './kolen-pollack.js';
import { signSymmetry } from './sign-symmetry.js';
import { weightMirror } from './weight-mirror.js';
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
  fa: {
    title: 'Feedback alignment',
    paper: 'Lillicrap, Cownden, Tweed & Akerman 2016, Random synaptic feedback weights support error backpropagation for deep learning, Nat. Commun. 7:13276',
    summary:
      'Errors travel down through fixed random matrices B instead of the transposes of the forward weights, ' +
      'so no weight transport is needed. The forward weights come to align with B, and learning works as ' +
      'long as the delivered error lies within 90° of the true one.',
    create: (options) => feedbackAlignment(options) as LearningRule,
  },
  dfa: {
    title: 'Direct feedback alignment',
    paper: 'Nøkland 2016, Direct feedback alignment provides learning in deep neural networks, NeurIPS',
    summary:
      'Each hidden layer receives the output error directly through its own fixed random matrix: no ' +
      'layer-by-layer backward pass at all, and no symmetric weights.',
    create: (options) => directFeedbackAlignment(options) as LearningRule,
  },
  sign: {
    title: 'Sign symmetry',
    paper: 'Liao, Leibo & Poggio 2016, How important is weight symmetry in backpropagation?, AAAI',
    summary:
      'The feedback weights share only the signs of the forward weights, B = sign(W)ᵀ, with unit, fixed ' +
      'random or per-batch random magnitudes: a weaker form of weight transport that still learns well.',
    create: (options) => signSymmetry(options) as LearningRule,
  },
  wm: {
    title: 'Weight mirror',
    paper: 'Akrout, Wilson, Humphreys, Lillicrap & Tweed 2019, Deep learning without weight transport, NeurIPS',
    summary:
      'Feedback weights are learned: in a mirror mode, neurons fire noise and B learns from the correlation ' +
      'of each layer’s noisy input with its output, which is proportional to Wᵀ. Engaged mode then learns W ' +
      'through B as in feedback alignment.',
    create: (options) => weightMirror(options) as LearningRule,
  },
  kp: {
    title: 'Kolen–Pollack',
    paper: 'Kolen & Pollack 1994, Backpropagation without weight transport; Akrout et al. 2019, NeurIPS',
    summary:
      'Forward and feedback weights receive the same (transposed) update, computed from locally available ' +
      'activity and error, and both decay: their difference shrinks every step, so B converges to Wᵀ.',
    create: (options) => kolenPollack(options) as LearningRule,
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
