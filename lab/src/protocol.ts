import type { RuleId, SettlingTrace, SpikeRaster } from '../../src/index.js';
import type { Settings } from './state.js';

/* The messages between the page (draws) and the training worker (computes). Plain data only: typed arrays
 * and numbers cross postMessage unchanged. */

export type ToWorker =
  /** Build the task's data and one trainer per rule from the settings; forgets any previous run. */
  | { type: 'configure'; settings: Settings }
  | { type: 'run' }
  | { type: 'pause' }
  /** One tick (settings.speed batches per rule), then pause. */
  | { type: 'step' }
  /** Draw the rules' pictures now (the worker also draws them every few seconds while training). */
  | { type: 'pictures' };

export type FromWorker =
  | { type: 'ready'; task: TaskInfo }
  | { type: 'progress'; report: TickReport }
  | { type: 'running'; running: boolean }
  /** Sent only for races in which some rule draws pictures. */
  | { type: 'pictures'; report: PicturesReport }
  | { type: 'error'; message: string };

/** What the page needs to know about the task to draw it. */
export interface TaskInfo {
  /** Layer widths, input to output. */
  sizes: number[];
  classification: boolean;
  /** For tasks with 2-D inputs: training points [x0, y0, x1, y1, …], their labels, and the plotted square. */
  points: { xy: Float32Array; labels: Int32Array; extent: [number, number, number, number] } | null;
  /** For image tasks: the side of the square images. */
  imageSide: number | null;
  /** For image tasks: the side of each first-layer field drawn (the image side for a dense first layer, the
   * kernel size for a convolutional or locally connected one), and whether they are kernels. */
  fieldSide: number | null;
  fieldsAreKernels: boolean;
  trainSize: number;
  testSize: number;
  /** The backend the worker trains on: 'wasm' when the server has the kernels, else 'js'. */
  backend: string;
  /** Rules that cannot train this network (e.g. a dense-only rule and a convnet), each with its one-line reason;
   * the other rules train. */
  refusals: { rule: RuleId; message: string }[];
  /** The units and signals every rule's network is made of, in words (session/network-kind.ts): 'tanh units,
   * full-precision signals', 'LIF spiking (τ 10, θ 0.25), T 20, inputs as spikes'. */
  network: string;
}

/** Per-layer angles of one alignment measurement (degrees; null where not defined). */
export interface AngleReport {
  update: number[];
  feedback: (number | null)[];
}

/** A target-propagation rule's targets for one example of the tick's last batch (Trainer.lastTargets). */
export interface TargetsReport {
  /** Per hidden layer, input side first: the example's activity h_l and the target ĥ_l the rule set for it. */
  activity: Float32Array[];
  target: Float32Array[];
  /** The example's class on classification tasks, else null. */
  label: number | null;
}

/** A settling rule's relaxation on one example of the tick's last batch, at the current parameters (settling-report.ts). */
export interface SettlingReport {
  /** The free phase from zero states, then the second phase from its last state. */
  trace: SettlingTrace;
  /** What the second phase is, for the legends: 'nudged, β = 0.5'. */
  second: string;
  /** The example's class on classification tasks, else null. */
  label: number | null;
}

/** A spiking net's spikes on one example of the tick's last batch, at the current parameters (spikes-report.ts). */
export interface SpikeRasterReport {
  /** A few units of the input (when it spikes) and of every hidden layer, over the T steps, with their counts. */
  raster: SpikeRaster;
  /** The example's class on classification tasks, else null. */
  label: number | null;
}

/** One of a rule's pictures as an 8-bit grey raster (pictureRaster: tiles with padding, values scaled to 0…255). */
export interface PictureImage {
  /** File-safe name ('features') and one line saying what it shows. */
  name: string;
  title: string;
  width: number;
  height: number;
  /** [height, width] grey levels, row-major. */
  data: Uint8Array;
}

/** A rule's pictures (LearningRule.pictures) at its current parameters, or why it could not draw them. */
export interface RulePictures {
  rule: string;
  images: PictureImage[];
  error: string | null;
}

/** Every rule's pictures after `step` updates: null for a rule that draws none (or refused the network). */
export interface PicturesReport {
  step: number;
  rules: (RulePictures | null)[];
}

export interface RuleReport {
  rule: RuleId;
  /** Why the rule cannot train this network (its one-line error), or null; a refused rule reports nothing else. */
  refused: string | null;
  /** Mean training loss over this tick's batches; null once the rule has diverged. */
  trainLoss: number | null;
  testLoss: number | null;
  /** Classification error on the test set; null for regression or after divergence. */
  testError: number | null;
  /** Why the rule stopped, if it did. */
  diverged: string | null;
  /** The last alignment measurement in this tick, if one was due. */
  angles: AngleReport | null;
  /** 2-D tasks: p(class 1) on a SURFACE_GRID × SURFACE_GRID grid over TaskInfo.points.extent, rows from the top. */
  surface: Float32Array | null;
  /** Image tasks: the incoming weights of the first FIELD_COUNT hidden units (or kernels), each fieldSide² long. */
  fields: Float32Array | null;
  /** The tick's means of the rule's named diagnostics (StepResult.metrics: layer-local losses target_loss_k,
   * reconstruction errors reconstruction_k, burstprop's burstProbK, …, and a spiking net's spikesPerNeuron, which
   * the trainer adds); null for rules that give none. */
  metrics: Record<string, number> | null;
  /** Target-propagation rules: the targets of the tick's last update for one of its examples; null otherwise. */
  targets: TargetsReport | null;
  /** Settling rules: their relaxation on one example of the tick's last batch; null otherwise. */
  settling: SettlingReport | null;
  /** Spiking nets: the spikes of a few units on one example of the tick's last batch; null otherwise. */
  spikes: SpikeRasterReport | null;
}

export interface TickReport {
  /** Updates applied per rule so far. */
  step: number;
  /** Passes over the training set so far (fractional). */
  epoch: number;
  rules: RuleReport[];
}

export const SURFACE_GRID = 48;
export const FIELD_COUNT = 36;
