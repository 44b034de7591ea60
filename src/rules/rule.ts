import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { DenseParams } from '../nn/dense.js';
import type { Network, Param, Workspace } from '../nn/network.js';
import type { OptimizerConfig } from '../optim/optimizer.js';

/** One mini-batch: inputs, targets, and class labels for classification. */
export interface Batch {
  x: Matrix;
  y: Matrix;
  labels?: Int32Array;
  /** Row r is example indices[r] of the training set (set by the loop for training batches), so a rule can
   * keep per-example state: persistent particles, PCD chains, settled states. */
  indices?: Int32Array;
}

/** What a rule's error path may read, declared by the rule and checked by the locality test. */
export interface Locality {
  /** true when the error path reads the forward weights: W in the backward pass, or W in the update of
   * feedback weights. false promises that updates depend on W only through forward passes (activities and
   * losses) and each parameter's own update; the test feeds the error path a poisoned W and checks. */
  weightTransport: boolean;
  /** One line: what carries the error and what it reads. */
  note: string;
}

/**
 * Parameters a rule owns and the loop trains: feedback weights, inverse networks, an RBM's visible biases.
 * The tensors live in the rule's state (so they are checkpointed with it); the loop steps them with the
 * group's own optimizer state, exactly like the forward parameters, and stays the only code that writes them.
 */
export interface TrainableGroup {
  /** Unique within the rule; names the group in checkpoints and in the run's group settings. */
  name: string;
  /** NOTE: the loop asks for the groups once per state object, so these must stay the same arrays for as
   * long as the rule keeps returning that state object (a rule that reallocates returns a new state). */
  params: readonly Param[];
  /** 'run': the run's scheduled learning rate; a number: this fixed rate. */
  lr: 'run' | number;
  /** 'run': the run's optimizer settings (with state of its own); or settings of its own. */
  optimizer: 'run' | OptimizerConfig;
}

/** What a rule may know about the run when it makes its state. */
export interface InitInfo {
  /** Examples in the training set: the length of per-example state. */
  trainExamples: number;
  /** 0-based indices of the layers the stage trains (train/stage.ts); null or absent: every layer. A rule that
   * trains one layer at a time (an RBM of a deep belief net's greedy pre-training) reads its layer here. */
  trains?: readonly number[] | null;
}

/** A grid of small images a rule can show: learned features, reconstructions, samples of a generative model. */
export interface Picture {
  /** File-safe name, e.g. 'features', 'reconstructions', 'samples'. */
  name: string;
  /** One line saying what the grid shows. */
  title: string;
  /** One image per row, height·width values each, row-major. */
  images: Matrix;
  height: number;
  width: number;
  /** 'unit': values in [0, 1] drawn as they are (0 black, 1 white, clipped outside); 'symmetric': each image
   * scaled by its own largest |value|, 0 mid-grey (weights, features). */
  scale: 'unit' | 'symmetric';
  /** Images per row of the grid; default ceil(√count). */
  columns?: number;
}

/** What a rule's pictures may use: the network at its current parameters, a few training inputs, and a
 * random stream of their own (drawing pictures never moves the training's streams). */
export interface PictureContext {
  backend: Backend;
  net: Network;
  /** A few training inputs, [count, inputs] (the first ones of the training set). */
  examples: Matrix;
  /** [height, width] of one input image (one channel), or null when the inputs are not images. */
  imageShape: readonly [number, number] | null;
  rng: Rng;
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
  /** Optional, for diagnostics (target-propagation rules): the target ĥ_l this step set for each hidden layer's
   * activity h_l (ctx.ws.h[l]), targets[l] for l = 0 … L−2, [batch, width_l]; absent on a step that sets none
   * (an inverse-only pass). Views on the rule's own buffers, valid until its next step: nothing is copied. */
  targets?: readonly Matrix[];
  /** Optional, for diagnostics (settling rules): the free phase's fixed point s_1 … s_L this step reached, [batch,
   * n_l] each, where the angles' reference (Almeida–Pineda's gradient) is taken. Views on the rule's buffers,
   * valid until its next step. */
  freeState?: readonly Matrix[];
  /** Proposed updates of the rule's trainable groups, by group name, one array per tensor of the group (in
   * gradient sign convention, like grads). A group left out is not updated this step. */
  groupGrads?: Readonly<Record<string, readonly Float32Array[]>>;
  /** false: the forward parameters are left alone this step, their optimizer state too (a phase that trains
   * only the rule's groups, e.g. the inverse pass of alternating target propagation). Default true. */
  updatesForward?: boolean;
  /** true: after applying this step's updates the loop calls step again on the same batch (a rule's inner
   * iterations, e.g. several feedback-weight updates per batch); each call counts as a step. Default false. */
  again?: boolean;
  /** Named diagnostics of this batch (layer-local losses, reconstruction errors): the loop reports each one's
   * mean over the epoch's batches that gave it, weighted by batch size, in the epoch event. */
  metrics?: Readonly<Record<string, number>>;
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
  readonly locality: Locality;
  /** The rule's state for a network (feedback matrices, running averages…): plain, serialisable data. */
  init(net: Network, rng: Rng, info?: InitInfo): S;
  step(ctx: RuleContext, state: S, batch: Batch): StepResult<S>;
  /** Optional: the rule's own trainable parameters, which live in its state (see TrainableGroup). */
  groups?(state: S): readonly TrainableGroup[];
  /** Optional: the 0-based layers whose parameters the rule changes (an RBM: its one layer); the loop leaves the
   * others alone, weight decay included, as if the stage trained only these. Default: every layer. */
  layersTrained?(state: S): readonly number[];
  /** Optional: adjusts the initial parameters once, before training (e.g. removes pruned connections).
   * Called by the loop, which stays the only code that writes parameters. */
  prepareParams?(layers: DenseParams[], state: S): void;
  /** Optional, for diagnostics: the matrix each layer sends its error down through in place of W_l
   * (W_l's shape, [out, in]); null where the rule has none (layer 0, or error routes unlike W_lᵀ). */
  feedbackMatrices?(state: S): readonly (Matrix | null)[];
  /** Optional, for users who look rather than read: image grids of the rule's model at its current state
   * (features, reconstructions, samples); [] when there is nothing to draw (inputs that are not images). The CLI
   * writes them next to the run at the end of each stage; the lab draws them. */
  pictures?(ctx: PictureContext, state: S): Picture[];
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
