import type { Backend } from '../tensor/backend.js';
import { gatherRows, matrix, topRows, type Matrix } from '../tensor/matrix.js';
import { Rng, type RngState } from '../random.js';
import type { DataSplits, Dataset } from '../data/dataset.js';
import { createWorkspace, paramList, spikingSpec, workspaceRows, zerosLike, type Network, type Param, type Workspace } from '../nn/network.js';
import type { DenseParams } from '../nn/dense.js';
import type { Transform } from '../optim/transform.js';
import type { Batch, InitInfo, LearningRule, Picture } from '../rules/rule.js';
import { evaluate, type Evaluation } from '../metrics/classification.js';
import { BackpropReference, compareWithBackprop } from '../metrics/alignment.js';
import { GaussNewtonReference } from '../metrics/gauss-newton.js';
import { SettlingReference } from '../metrics/settling-reference.js';
import { exampleTargets, type ExampleTargets } from '../metrics/targets.js';
import { TrainingDivergedError, type EventSink } from './events.js';
import { learningRate, type ScheduleConfig } from './schedule.js';
import { checkGroupSettings, resolveGroup, singleStage, type ResolvedGroup, type Stage } from './stage.js';

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
  /** Optimizer state of each of the rule's trainable groups, by group name (made at the group's first step). */
  groupStates: Record<string, unknown>;
  /** The stage being trained (0-based) and the epoch count at which it started. */
  stage: number;
  stageStart: number;
  /** Completed epochs over all stages, and updates applied in the current stage (the optimizers' step count). */
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
export function initialState(net: Network, rule: LearningRule, optimizer: Transform, streams: RunStreams, info: InitInfo): TrainState {
  const ruleState = rule.init(net, streams.ruleInit, info);
  rule.prepareParams?.(net.layers, ruleState);
  return {
    net, ruleState, optimizerState: optimizer.init(paramList(net.layers)), groupStates: {},
    stage: 0, stageStart: 0, epoch: 0, step: 0, orderRng: streams.order.getState(), ruleRng: streams.rule.getState(),
  };
}

export interface EpochResult { trainLoss: number; seconds: number; lr: number }

/**
 * The one training loop: shuffled mini-batches, the rule proposes, the optimizers transform, the loop
 * applies params −= lr·update to the forward parameters and to the rule's trainable groups. It is the only
 * code that writes parameters. A run is a list of stages (train/stage.ts); the loop moves from one to the
 * next when a stage's epochs are done.
 */
export class Trainer {
  private readonly params: Param[];
  /** Index of the layer each entry of params belongs to. */
  private readonly paramLayer: number[];
  private readonly grads: DenseParams[];
  private readonly gradList: Float32Array[];
  private readonly ws: Workspace;
  private readonly xBatch: Matrix;
  private readonly yBatch: Matrix;
  private readonly labelBatch: Int32Array;
  private readonly orderRng: Rng;
  private ruleRng: Rng;
  private reference: BackpropReference | null = null;
  private gaussNewton: GaussNewtonReference | null = null;
  private settlingGradient: SettlingReference | null = null;
  private groupCache: { ruleState: unknown; stage: number; groups: readonly ResolvedGroup[] } | null = null;
  private sink: EventSink = () => {};
  /** Collects a batch's rule metrics into the running epoch's means (set by trainEpoch). */
  private onMetrics: (metrics: Readonly<Record<string, number>>, rows: number) => void = () => {};
  /** Whether the last rule step asked to step again on the same batch (StepResult.again). */
  private lastAgain = false;
  /** An alignment measurement is due (every alignEvery steps) and waits for a step that updates W. NOTE: not
   * checkpointed; one still pending at a checkpoint (only possible inside a rule's inverse-only pass) is dropped
   * on resume, which changes no number but that diagnostic. */
  private alignPending = false;
  /** The last rule step's targets (StepResult.targets) and the activities they are for: views that the next
   * step overwrites, kept so that lastTargets can copy one example out when asked; null if it set none. */
  private targetStep: { activities: readonly Matrix[]; targets: readonly Matrix[]; indices?: Int32Array } | null = null;

  constructor(
    readonly backend: Backend,
    readonly stages: readonly Stage[],
    readonly data: DataSplits,
    readonly state: TrainState,
  ) {
    if (!stages.length) throw new Error('a run needs at least one stage');
    const { net } = state;
    checkDataFits(net, data);
    for (const stage of stages) {
      if (!(stage.train.batchSize >= 1)) throw new Error(`batch size must be at least 1, got ${stage.train.batchSize}`);
      for (const l of stage.trains ?? []) {
        if (!Number.isInteger(l) || l < 0 || l >= net.layers.length) {
          throw new Error(`a stage trains layer ${l + 1}, but the network has layers 1–${net.layers.length}`);
        }
      }
    }
    if (!(state.stage >= 0 && state.stage < stages.length)) {
      throw new Error(`the saved state is in stage ${state.stage + 1}, but the run has ${stages.length} stage(s)`);
    }
    const rows = Math.min(Math.max(...stages.map((s) => s.train.batchSize)), data.train.x.rows);
    this.params = paramList(net.layers);
    this.paramLayer = net.layers.flatMap((_, l) => [l, l]);
    this.grads = zerosLike(net.layers);
    this.gradList = paramList(this.grads).map((p) => p.value);
    this.ws = createWorkspace(net.spec, rows);
    this.xBatch = matrix(rows, data.train.x.cols);
    this.yBatch = matrix(rows, data.train.y.cols);
    this.labelBatch = new Int32Array(rows);
    this.orderRng = Rng.fromState(state.orderRng);
    this.ruleRng = Rng.fromState(state.ruleRng);
    checkGroupSettings(this.stage, this.rule.groups?.(state.ruleState) ?? []);
  }

  /** The stage being trained. */
  get stage(): Stage {
    return this.stages[this.state.stage];
  }

  get rule(): LearningRule {
    return this.stage.rule;
  }

  get config(): TrainConfig {
    return this.stage.train;
  }

  /** Epochs done in the current stage. */
  get stageEpoch(): number {
    return this.state.epoch - this.state.stageStart;
  }

  /** Trains one epoch; returns its mean training loss and its time (evaluation excluded). */
  trainEpoch(onEvent: EventSink = () => {}): EpochResult {
    const { train } = this.data;
    const { batchSize } = this.config;
    const n = train.x.rows;
    const order = this.orderRng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    this.state.orderRng = this.orderRng.getState();
    const batches = Math.ceil(n / batchSize);
    const epoch = this.state.epoch, stageEpoch = this.stageEpoch;
    this.sink = onEvent;
    const started = performance.now();
    let lossSum = 0, lr = this.config.lr;
    const metricSums = new Map<string, { sum: number; weight: number }>();
    this.onMetrics = (metrics, rows) => {
      for (const [name, value] of Object.entries(metrics)) {
        const m = metricSums.get(name) ?? { sum: 0, weight: 0 };
        m.sum += value * rows;
        m.weight += rows;
        metricSums.set(name, m);
      }
    };
    for (let b = 0; b < batches; b++) {
      const indices = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
      lr = learningRate(this.config.lr, this.config.schedule, stageEpoch + b / batches);
      const loss = this.trainBatch(this.gatherBatch(train, indices), lr);
      if (!Number.isFinite(loss)) throw new TrainingDivergedError(epoch + 1, b + 1, loss);
      lossSum += loss * indices.length;
      const every = this.config.stepEventEvery;
      if (every > 0 && (b + 1) % every === 0) onEvent({ type: 'step', epoch: epoch + 1, batch: b + 1, batches, loss, lr });
    }
    const seconds = (performance.now() - started) / 1000;
    this.state.epoch++;
    const trainLoss = lossSum / n;
    const metrics = metricSums.size ? Object.fromEntries([...metricSums].map(([name, m]) => [name, m.sum / m.weight])) : undefined;
    onEvent({ type: 'epoch', epoch: this.state.epoch, trainLoss, seconds, lr, ...(metrics && { metrics }) });
    return { trainLoss, seconds, lr };
  }

  /** One update from one batch: rule step, optimizers transform, params −= lr·update (forward parameters of
   * the layers the stage trains, and the rule's trainable groups). */
  trainBatch(batch: Batch, lr: number): number {
    // A rule's inner iterations (StepResult.again) run on the same batch; the batch's loss is the first one's,
    // at the parameters the batch found.
    const loss = this.trainStep(batch, lr);
    while (this.lastAgain && Number.isFinite(loss)) this.trainStep(batch, lr);
    return loss;
  }

  /** One rule step on the batch and the updates it proposes. */
  private trainStep(batch: Batch, lr: number): number {
    const { backend: be, state, rule } = this;
    const ws = workspaceRows(this.ws, batch.x.rows);
    ws.rng = this.ruleRng; // stochastic units (1-bit activities, k-bit errors, spikes) sample from the step's stream
    const ctx = { backend: be, net: state.net, ws, rng: this.ruleRng, grads: this.grads };
    if (this.config.alignEvery > 0 && (state.step + 1) % this.config.alignEvery === 0) this.alignPending = true;
    const result = rule.step(ctx, state.ruleState, batch);
    state.ruleState = result.state;
    this.lastAgain = result.again === true;
    this.targetStep = result.targets ? { activities: ws.h, targets: result.targets, indices: batch.indices } : null;
    // Measured on a step that updates the forward weights (a step that trains only a rule's groups is compared
    // on the next one that does), before any update is applied: rules never write parameters, so the
    // references see the parameters the rule saw, and the feedback matrices are the ones the step used.
    if (this.alignPending && result.updatesForward !== false) {
      this.alignPending = false;
      const settling = state.net.spec.model === 'settling';
      const reference = settling ? this.settlingReference().compute(be, batch, settledState(rule.id, result.freeState)) : this.backpropReference().compute(be, batch);
      const gaussNewton = settling ? null : this.gaussNewtonReference().compute(be, batch);
      const feedback = rule.feedbackMatrices?.(state.ruleState);
      const layers = compareWithBackprop(state.net, result, reference, feedback, gaussNewton);
      this.sink({ type: 'alignment', epoch: state.epoch + 1, step: state.step + 1, layers });
    }
    if (!Number.isFinite(result.loss)) return result.loss;
    if (result.metrics) this.onMetrics(result.metrics, batch.x.rows);
    const spiking = spikingSpec(state.net.spec);
    if (spiking) this.onMetrics({ spikesPerNeuron: meanSpikeCount(ws, spiking.steps) }, batch.x.rows);
    state.step++;
    const info = { backend: be, step: state.step, epoch: this.stageEpoch };
    if (result.updatesForward !== false) {
      const direction = result.grads === this.grads ? this.gradList : paramList(result.grads).map((p) => p.value);
      state.optimizerState = this.stage.optimizer.update(direction, state.optimizerState, this.params, info);
      const trains = trainedLayers(this.stage.trains, rule.layersTrained?.(state.ruleState));
      this.params.forEach((p, i) => {
        if (!trains || trains.includes(this.paramLayer[i])) be.axpby(-lr, direction[i], 1, p.value);
      });
    }
    for (const { group, optimizer, fixedLr } of this.resolvedGroups()) {
      const updates = result.groupGrads?.[group.name];
      if (!updates) continue;
      if (updates.length !== group.params.length) {
        throw new Error(`rule '${rule.id}' proposed ${updates.length} updates for group '${group.name}' of ${group.params.length} tensors`);
      }
      const before = state.groupStates[group.name] ?? optimizer.init(group.params);
      state.groupStates[group.name] = optimizer.update(updates as Float32Array[], before, group.params, info);
      const rate = fixedLr ?? lr;
      group.params.forEach((p, i) => be.axpby(-rate, updates[i], 1, p.value));
    }
    // NOTE: kept in step with every update, so `state` is a consistent snapshot between any two batches.
    state.ruleRng = this.ruleRng.getState();
    return result.loss;
  }

  /** The rule's groups with the stage's settings, made once per rule-state object (see TrainableGroup). */
  private resolvedGroups(): readonly ResolvedGroup[] {
    const { ruleState, stage } = this.state;
    const cached = this.groupCache;
    if (cached && cached.ruleState === ruleState && cached.stage === stage) return cached.groups;
    const groups = (this.rule.groups?.(ruleState) ?? []).map((g) => resolveGroup(g, this.stage));
    this.groupCache = { ruleState, stage, groups };
    return groups;
  }

  private gaussNewtonReference(): GaussNewtonReference {
    this.gaussNewton ??= new GaussNewtonReference(this.state.net, this.ws.capacity);
    return this.gaussNewton;
  }

  private backpropReference(): BackpropReference {
    this.reference ??= new BackpropReference(this.state.net, this.ws.capacity);
    return this.reference;
  }

  private settlingReference(): SettlingReference {
    this.settlingGradient ??= new SettlingReference(this.state.net, this.ws.capacity);
    return this.settlingGradient;
  }

  /** For target-propagation rules: one example (row) of the last step's batch, its hidden activities h_l and the
   * targets ĥ_l the rule set for them, at the parameters that step saw; null when the last step set no targets
   * (another kind of rule, or an inverse-only pass). Copied only when called, so training does not pay for it. */
  lastTargets(row = 0): ExampleTargets | null {
    const step = this.targetStep;
    return step && exampleTargets(step.activities, step.targets, row, step.indices);
  }

  /** The current rule's pictures (LearningRule.pictures) at the current parameters, drawn from the first `count`
   * training inputs; [] when the rule draws none. Their randomness comes from a copy of the rule's stream, so
   * drawing them changes no number of the run. */
  pictures(count = 16): Picture[] {
    const { rule, state } = this;
    if (!rule.pictures) return [];
    const { x, shape } = this.data.train;
    const rows = Math.min(count, x.rows);
    const examples: Matrix = { rows, cols: x.cols, data: x.data.slice(0, rows * x.cols) };
    const oneChannel = shape && (shape.length === 2 || (shape.length === 3 && shape[0] === 1));
    const imageShape = oneChannel ? ([shape[shape.length - 2], shape[shape.length - 1]] as const) : null;
    const rng = Rng.fromState(state.ruleRng).split();
    return rule.pictures({ backend: this.backend, net: state.net, examples, imageShape, rng }, state.ruleState);
  }

  evaluate(ds: Dataset): Evaluation {
    return evaluate(this.backend, this.state.net, ds);
  }

  /** True when every stage's epochs are done. */
  get finished(): boolean {
    return this.state.stage === this.stages.length - 1 && this.stageEpoch >= this.config.epochs;
  }

  /**
   * Trains until every stage's epochs are complete, evaluating as configured. `onEpochEnd` runs after each
   * epoch's events (epoch, evaluations): the moment the state is a whole epoch, for checkpoints.
   */
  run(onEvent: EventSink = () => {}, onEpochEnd: (state: TrainState) => void = () => {}): void {
    const started = performance.now();
    for (;;) {
      if (this.stageEpoch >= this.config.epochs) {
        if (this.state.stage + 1 >= this.stages.length) break;
        this.beginStage(this.state.stage + 1, onEvent);
        continue;
      }
      this.trainEpoch(onEvent);
      const e = this.stageEpoch, { epochs, evalEvery } = this.config;
      if ((evalEvery > 0 && e % evalEvery === 0) || e === epochs) this.evaluateAll(onEvent);
      onEpochEnd(this.state);
    }
    onEvent({ type: 'done', epochs: this.state.epoch, seconds: (performance.now() - started) / 1000 });
  }

  /** Moves to stage s: a fresh rule state and optimizer state on the current parameters. Its randomness
   * continues the rule's stream, so a run resumed at a stage boundary takes the same path. */
  private beginStage(s: number, onEvent: EventSink): void {
    const { state } = this;
    const stream = Rng.fromState(state.ruleRng);
    const initRng = stream.split();
    state.stage = s;
    state.stageStart = state.epoch;
    state.step = 0;
    const { rule, optimizer } = this.stage;
    state.ruleState = rule.init(state.net, initRng, { trainExamples: this.data.train.x.rows, trains: this.stage.trains });
    rule.prepareParams?.(state.net.layers, state.ruleState);
    state.optimizerState = optimizer.init(this.params);
    state.groupStates = {};
    state.ruleRng = stream.getState();
    this.ruleRng = stream;
    checkGroupSettings(this.stage, rule.groups?.(state.ruleState) ?? []);
    onEvent({ type: 'stage', stage: s + 1, rule: rule.id, epoch: state.epoch, epochs: this.config.epochs });
  }

  private evaluateAll(onEvent: EventSink): void {
    const epoch = this.state.epoch;
    const splits = [['validation', this.data.validation], ['test', this.data.test]] as const;
    for (const [split, ds] of splits) {
      if (!ds) continue;
      const result = this.evaluate(ds);
      // A finite training loss can still leave weights that overflow on other data: that is divergence too.
      if (!Number.isFinite(result.loss)) {
        throw new TrainingDivergedError(epoch, null, result.loss, `training diverged by the end of epoch ${epoch}: the ${split} loss is ${result.loss}; lower the learning rate (--lr)`);
      }
      onEvent({ type: 'eval', epoch, split, ...result });
    }
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
    return { x, y, labels, indices };
  }
}

/** A trainer for a single-stage run (the common case). */
export function singleStageTrainer(
  backend: Backend, rule: LearningRule, optimizer: Transform, data: DataSplits, config: TrainConfig, state: TrainState,
): Trainer {
  return new Trainer(backend, singleStage(rule, optimizer, config), data, state);
}

/** Refuses data whose inputs or outputs do not fit the network, on every split, before any training. */
export function checkDataFits(net: Network, data: DataSplits): void {
  const sizes = net.spec.sizes, inputs = sizes[0], outputs = sizes[sizes.length - 1];
  const splits: [string, Dataset | undefined][] = [['training', data.train], ['validation', data.validation], ['test', data.test]];
  for (const [name, ds] of splits) {
    if (!ds) continue;
    if (ds.x.cols !== inputs || ds.y.cols !== outputs) {
      throw new Error(
        `the network ${sizes.join('-')} does not fit the ${name} data (${ds.x.cols} inputs, ${ds.y.cols} outputs): ` +
          (name === 'training' ? `use --arch ${ds.x.cols}-…-${ds.y.cols}` : 'its examples must have the shape of the training examples'),
      );
    }
  }
  const image = net.spec.inputShape;
  const shape = data.train.shape;
  if (image && shape && image.join('x') !== shape.join('x')) {
    throw new Error(`the network's input ${image.join('x')} does not fit the data's images of ${shape.join('x')}: start --arch with ${shape.join('x')}`);
  }
  if (data.train.x.rows === 0) throw new Error('the training set is empty: give a data set with at least one training example');
}

/** The layers an update changes: those the stage trains and the rule changes (null: every layer). */
function trainedLayers(stage: readonly number[] | null, rule: readonly number[] | undefined): readonly number[] | null {
  if (!rule) return stage;
  return stage ? stage.filter((l) => rule.includes(l)) : rule;
}

/** Spikes per hidden neuron per input in the last forward pass: the hidden layers' mean rate × T. */
function meanSpikeCount(ws: Workspace, steps: number): number {
  const hidden = ws.h.slice(0, -1);
  let sum = 0, count = 0;
  for (const h of hidden) {
    for (let i = 0; i < h.data.length; i++) sum += h.data[i];
    count += h.data.length;
  }
  return count ? (sum / count) * steps : 0;
}

/** A settling rule's free fixed point, which its angles' reference needs. */
function settledState(rule: string, freeState: readonly Matrix[] | undefined): readonly Matrix[] {
  if (!freeState) throw new Error(`rule '${rule}' trains a settling network but reports no free state: it cannot be compared with Almeida–Pineda's gradient (--align-every 0)`);
  return freeState;
}
