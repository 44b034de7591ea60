import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { DenseParams } from '../nn/dense.js';
import type { Network, Workspace } from '../nn/network.js';

/** One mini-batch: inputs, targets, and class labels for classification. */
export interface Batch {
  x: Matrix;
  y: Matrix;
  labels?: Int32Array;
}

/** What a rule may use during a step. The rule reads the network; only the training loop writes it. */
export interface RuleContext {
  backend: Backend;
  net: Network;
  /** Forward/backward buffers sized for this batch. */
  ws: Workspace;
  /** This step's random stream (perturbations, sampling, noise). */
  rng: Rng;
  /** Output buffers of the parameters' shapes for the proposed update. */
  grads: DenseParams[];
}

export interface StepResult<S> {
  /** Mean loss of the batch at the parameters before the update. */
  loss: number;
  /** The proposed update in the sign convention of a gradient (the optimizer turns it into a step),
   * usually ctx.grads filled in. Hebbian rules negate theirs so that all rules compare alike. */
  grads: DenseParams[];
  /** The rule's next state (may reuse the buffers of the one passed in). */
  state: S;
  /** Optional, for diagnostics: the error signal the rule delivered to each hidden layer's activity
   * (∂L/∂h_l in backprop's sign convention), signals[l] for l = 0 … L−2, [batch, width_l]. */
  signals?: readonly Matrix[];
}

/** The update the loop applied after a step: params −= lr · direction. */
export interface AppliedUpdate {
  direction: readonly DenseParams[];
  lr: number;
}

/**
 * A learning rule: a way of assigning credit. Pure in spirit: state in, state out, randomness from the
 * context; the training loop is the only code that changes parameters.
 *
 * The interface covers the families to come: the feedback family passes its own matrices to the
 * layer's backward step (nn/network.ts `backward`); direct feedback alignment and target propagation
 * keep their matrices or inverses in the state and use the forward buffers in ctx.ws; energy-based
 * rules run their free and clamped/nudged phases inside `step`; perturbation rules only call `forward`;
 * RBMs sample from ctx.rng.
 */
export interface LearningRule<S = unknown> {
  readonly id: string;
  /** The rule's state for a network (feedback matrices, running averages…): plain, serialisable data. */
  init(net: Network, rng: Rng): S;
  step(ctx: RuleContext, state: S, batch: Batch): StepResult<S>;
  /** Optional: adjusts the initial parameters once, before training (e.g. removes pruned connections).
   * Called by the loop, which stays the only code that writes parameters. */
  prepareParams?(layers: DenseParams[], state: S): void;
  /** Optional, for diagnostics: the matrix each layer sends its error down through in place of W_l
   * (W_l's shape, [out, in]); null where the rule has none (layer 0, or error routes unlike W_lᵀ). */
  feedbackMatrices?(state: S): readonly (Matrix | null)[];
  /** Optional: sees each applied update (Kolen–Pollack mirrors it into its feedback weights). */
  afterApply?(ctx: RuleContext, state: S, applied: AppliedUpdate): S;
}

/** Options given to a rule factory by name (from the CLI's --rule-opt or a config). */
export type RuleOptions = Readonly<Record<string, number | boolean | string>>;

/** Rejects option names a rule does not know, so a typo is an error rather than a silent default. */
export function checkRuleOptions(rule: string, options: RuleOptions, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(`rule '${rule}' has no option '${key}'` + (known.length ? ` (it has: ${known.join(', ')})` : ' (it takes none)'));
    }
  }
}
