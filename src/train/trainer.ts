import type { Backend } from '../tensor/backend.js';
import { gatherRows, matrix, topRows, type Matrix } from '../tensor/matrix.js';
import { Rng, type RngState } from '../random.js';
import type { DataSplits, Dataset } from '../data/dataset.js';
import { createWorkspace, paramList, workspaceRows, zerosLike, type Network, type Param, type Workspace } from '../nn/network.js';
import type { DenseParams } from '../nn/dense.js';
import type { Transform } from '../optim/transform.js';
import type { Batch, LearningRule } from '../rules/rule.js';
import { evaluate, type Evaluation } from '../metrics/classification.js';
import { BackpropReference, compareWithBackprop } from '../metrics/alignment.js';
import { TrainingDivergedError, type EventSink } from './events.js';
import { learningRate, type ScheduleConfig } from './schedule.js';

export interface TrainConfig {
  /** Number of passes over the training set. */
  epochs: number;
  /** Examples per mini-batch; the last batch of an epoch may be smaller. Default 100. */
  batchSize: number;
  /** Base learning rate; the schedule scales it. */
  lr: number;
  /** Default constant. */
  schedule: ScheduleConfig;
  /** Emit a 'step' event every this many batches (0: never). Default 50. */
  stepEventEvery: number;
  /** Evaluate on the test (and validation) set every this many epochs (0: only at the end). Default 1. */
  evalEvery: number;
  /** Every this many updates, compare the rule's update with backprop's at the same parameters and batch
   * and emit an 'alignment' event (0: never). Costs one backprop pass each time. Default 0. */
  alignEvery: number;
}

export const DEFAULT_TRAIN: Omit<TrainConfig, 'epochs' | 'lr'> = {
  batchSize: 100, schedule: { kind: 'constant' }, stepEventEvery: 50, evalEvery: 1, alignEvery: 0,
};

/** Everything that changes during training, as plain data: what a checkpoint stores. */
export interface TrainState {
  net: Network;
  ruleState: unknown;
  optimizerState: unknown;
  /** Completed epochs and applied updates. */
  epoch: number;
  step: number;
  /** Streams for the data order and for the rule's own randomness. */
  orderRng: RngState;
  ruleRng: RngState;
}

/** The independent random streams of a run, all split from its one seed in a fixed order. */
export interface RunStreams {
  /** Initial forward weights. */
  init: Rng;
  /** Data order (shuffling). */
  order: Rng;
  /** The rule's initial state (feedback matrices…). */
  ruleInit: Rng;
  /** The rule's randomness during training (perturbations, sampling). */
  rule: Rng;
  /** Data preparation: validation split, subsets, synthetic tasks. */
  data: Rng;
}

export function runStreams(seed: number): RunStreams {
  const root = Rng.fromSeed(seed);
  return { init: root.split(), order: root.split(), ruleInit: root.split(), rule: root.split(), data: root.split() };
}

/** The state before the first update. The network is made by the caller from streams.init, so that
 * several rules compared under one seed start from the same forward weights. */
export function initialState(net: Network, rule: LearningRule, optimizer: Transform, streams: RunStreams): TrainState {
  const ruleState = rule.init(net, streams.ruleInit);
  rule.prepareParams?.(net.layers, ruleState);
  return {
    net, ruleState, optimizerState: optimizer.init(paramList(net.layers)),
    epoch: 0, step: 0, orderRng: streams.order.getState(), ruleRng: streams.rule.getState(),
  };
}

export interface EpochResult { trainLoss: number; seconds: number; lr: number }

/**
 * The one training loop: shuffled mini-batches, the rule proposes, the optimizer transforms, the loop
 * applies params −= lr·update. It is the only code that writes parameters.
 */
export class Trainer {
  private readonly params: Param[];
  private readonly grads: DenseParams[];
  private readonly gradList: Float32Array[];
  private readonly ws: Workspace;
  private readonly xBatch: Matrix;
  private readonly yBatch: Matrix;
  private readonly labelBatch: Int32Array;
  private readonly orderRng: Rng;
  private readonly ruleRng: Rng;
  private reference: BackpropReference | null = null;
  private sink: EventSink = () => {};

  constructor(
    readonly backend: Backend,
    readonly rule: LearningRule,
    readonly optimizer: Transform,
    readonly data: DataSplits,
    readonly config: TrainConfig,
    readonly state: TrainState,
  ) {
    const { net } = state;
    const { x, y } = data.train;
    if (x.cols !== net.spec.sizes[0] || y.cols !== net.spec.sizes[net.spec.sizes.length - 1]) {
      throw new Error(
        `the network ${net.spec.sizes.join('-')} does not fit the data (${x.cols} inputs, ${y.cols} outputs): ` +
          `use --arch ${x.cols}-…-${y.cols}`,
      );
    }
    if (!(config.batchSize >= 1)) throw new Error(`batch size must be at least 1, got ${config.batchSize}`);
    const rows = Math.min(config.batchSize, x.rows);
    this.params = paramList(net.layers);
    this.grads = zerosLike(net.layers);
    this.gradList = paramList(this.grads).map((p) => p.value);
    this.ws = createWorkspace(net.spec, rows);
    this.xBatch = matrix(rows, x.cols);
    this.yBatch = matrix(rows, y.cols);
    this.labelBatch = new Int32Array(rows);
    this.orderRng = Rng.fromState(state.orderRng);
    this.ruleRng = Rng.fromState(state.ruleRng);
  }

  /** Trains one epoch; returns its mean training loss and its time (evaluation excluded). */
  trainEpoch(onEvent: EventSink = () => {}): EpochResult {
    const { train } = this.data;
    const { batchSize } = this.config;
    const n = train.x.rows;
    const order = this.orderRng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    this.state.orderRng = this.orderRng.getState();
    const batches = Math.ceil(n / batchSize);
    const epoch = this.state.epoch;
    this.sink = onEvent;
    const started = performance.now();
    let lossSum = 0, lr = this.config.lr;
    for (let b = 0; b < batches; b++) {
      const indices = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
      lr = learningRate(this.config.lr, this.config.schedule, epoch + b / batches);
      const loss = this.trainBatch(this.gatherBatch(train, indices), lr);
      if (!Number.isFinite(loss)) throw new TrainingDivergedError(epoch + 1, b + 1, loss);
      lossSum += loss * indices.length;
      const every = this.config.stepEventEvery;
      if (every > 0 && (b + 1) % every === 0) onEvent({ type: 'step', epoch: epoch + 1, batch: b + 1, batches, loss, lr });
    }
    const seconds = (performance.now() - started) / 1000;
    this.state.epoch++;
    const trainLoss = lossSum / n;
    onEvent({ type: 'epoch', epoch: this.state.epoch, trainLoss, seconds, lr });
    return { trainLoss, seconds, lr };
  }

  /** One update from one batch: rule step, optimizer transforms, params −= lr·update. */
  trainBatch(batch: Batch, lr: number): number {
    const { backend: be, state } = this;
    const ws = workspaceRows(this.ws, batch.x.rows);
    const ctx = { backend: be, net: state.net, ws, rng: this.ruleRng, grads: this.grads };
    const align = this.config.alignEvery > 0 && (state.step + 1) % this.config.alignEvery === 0;
    // The reference runs first, at the parameters and batch the rule is about to see.
    const reference = align ? this.backpropReference().compute(be, batch) : null;
    const result = this.rule.step(ctx, state.ruleState, batch);
    state.ruleState = result.state;
    if (reference) {
      const feedback = this.rule.feedbackMatrices?.(state.ruleState);
      const layers = compareWithBackprop(state.net, result, reference, feedback);
      this.sink({ type: 'alignment', epoch: state.epoch + 1, step: state.step + 1, layers });
    }
    if (!Number.isFinite(result.loss)) return result.loss;
    const direction = result.grads === this.grads ? this.gradList : paramList(result.grads).map((p) => p.value);
    state.step++;
    state.optimizerState = this.optimizer.update(direction, state.optimizerState, this.params, { backend: be, step: state.step });
    this.params.forEach((p, i) => be.axpby(-lr, direction[i], 1, p.value));
    if (this.rule.afterApply) {
      state.ruleState = this.rule.afterApply(ctx, state.ruleState, { direction: result.grads, lr });
    }
    // NOTE: kept in step with every update, so `state` is a consistent snapshot between any two batches.
    state.ruleRng = this.ruleRng.getState();
    return result.loss;
  }

  private backpropReference(): BackpropReference {
    this.reference ??= new BackpropReference(this.state.net, this.ws.capacity);
    return this.reference;
  }

  evaluate(ds: Dataset): Evaluation {
    return evaluate(this.backend, this.state.net, ds);
  }

  /** Trains until `config.epochs` epochs are complete, evaluating as configured. */
  run(onEvent: EventSink = () => {}): void {
    const started = performance.now();
    const { epochs, evalEvery } = this.config;
    while (this.state.epoch < epochs) {
      this.trainEpoch(onEvent);
      const e = this.state.epoch;
      if ((evalEvery > 0 && e % evalEvery === 0) || e === epochs) this.evaluateAll(onEvent);
    }
    onEvent({ type: 'done', epochs: this.state.epoch, seconds: (performance.now() - started) / 1000 });
  }

  private evaluateAll(onEvent: EventSink): void {
    const epoch = this.state.epoch;
    if (this.data.validation) onEvent({ type: 'eval', epoch, split: 'validation', ...this.evaluate(this.data.validation) });
    onEvent({ type: 'eval', epoch, split: 'test', ...this.evaluate(this.data.test) });
  }

  private gatherBatch(ds: Dataset, indices: Int32Array): Batch {
    const rows = indices.length;
    const x = topRows(this.xBatch, rows), y = topRows(this.yBatch, rows);
    gatherRows(ds.x, indices, x);
    gatherRows(ds.y, indices, y);
    let labels: Int32Array | undefined;
    if (ds.labels) {
      labels = this.labelBatch.subarray(0, rows);
      for (let i = 0; i < rows; i++) labels[i] = ds.labels[indices[i]];
    }
    return { x, y, labels };
  }
}
