import {
  architectureSpec, checkRuleFitsSpec, createTrainer, DEFAULT_OPTIMIZER, DEFAULT_TRAIN, matrix, modelFor, runStreams, softmax, specForRule, spikingSpec,
  TrainingDivergedError, type Backend, type DataSplits, type Dataset, type Matrix, type NetworkSpec, type RunConfig, type TrainEvent, type Trainer, type Predictor,
} from '../../../src/index.js';
import type { Settings } from '../state.js';
import {
  FIELD_COUNT, SURFACE_GRID, type AngleReport, type PicturesReport, type RuleReport, type TargetsReport, type TaskInfo, type TickReport,
} from '../protocol.js';
import { BatchStream } from './batch-stream.js';
import { MetricMeans } from './metric-means.js';
import { labNetwork } from './network-kind.js';
import { rulePictures } from './pictures-report.js';
import { labRuleOptions } from './rule-options.js';
import { settlingReport } from './settling-report.js';
import { spikeRasterReport } from './spikes-report.js';

/** Measure the angles to the true gradient every this many updates: often enough for a smooth curve,
 * rare enough that the extra backprop pass costs little. */
const ALIGN_EVERY = 5;

interface Entrant {
  run: RunConfig;
  /** null when the rule refused the network (see refused). */
  trainer: Trainer | null;
  /** The trainer reads its training set from here; each update swaps in the next batch of the stream. */
  splits: DataSplits;
  diverged: string | null;
  /** The rule's one-line reason for not training this network (a dense-only rule and a convnet…). */
  refused: string | null;
  /** The rule's named diagnostics over the current tick. */
  metrics: MetricMeans;
}

/**
 * Several rules trained side by side under one protocol, as `ngrad compare` does: one seed, so the same
 * initial forward weights (runStreams(seed).init) and the same data, batch by batch. No DOM and no worker
 * globals: the worker drives it, and Node tests can too.
 */
export class Race {
  readonly info: TaskInfo;
  private readonly entrants: Entrant[];
  private readonly stream: BatchStream;
  private readonly batch: number;
  private readonly grid: Matrix | null;
  private readonly gridPredictors: Partial<Record<string, Predictor>> = {};
  private clippedGrid: Matrix | null = null;
  private steps = 0;

  constructor(private readonly settings: Settings, private readonly data: DataSplits, private readonly backend: Backend) {
    const { train, test } = data;
    const classification = train.labels !== undefined;
    const side = Math.round(Math.sqrt(train.x.cols));
    const imageSide = side * side === train.x.cols && side >= 8 ? side : null;
    // Image tasks take --arch's image layers too; the input is then the image, channels first.
    const input = imageSide ? `1x${imageSide}x${imageSide}` : String(train.x.cols);
    const layers = architectureSpec(`${input}-${settings.hidden}-${train.y.cols}`);
    const sizes = layers.sizes;
    const first = layers.layers?.[0];
    // A batch larger than the training set would not fit the trainer's buffers (XOR has 4 examples).
    this.batch = Math.min(settings.batch, train.x.rows);
    // The network kind and signals (spiking neurons, quantised signals) are the same for every rule; a combination no
    // rule could train (1-bit forward signals without sigmoid units) stops here with what to change.
    const network = labNetwork(settings, [train.x, test.x]);
    const spec: NetworkSpec = { ...layers, hidden: settings.act, output: 'linear', leakySlope: 0.01, loss: classification ? 'softmax_xent' : 'mse', init: { kind: 'glorot' }, ...network.spec };
    this.entrants = settings.rules.map((rule): Entrant => {
      const run: RunConfig = {
        rule, ruleOptions: labRuleOptions(rule), seed: settings.seed,
        spec: specForRule(rule, spec),
        optimizer: { ...DEFAULT_OPTIMIZER, name: settings.optimizer },
        train: { ...DEFAULT_TRAIN, epochs: 1, lr: settings.lr, batchSize: this.batch, stepEventEvery: 0, evalEvery: 0, alignEvery: ALIGN_EVERY },
      };
      const splits: DataSplits = { train, test };
      const entrant = { run, trainer: null, splits, diverged: null, refused: null, metrics: new MetricMeans() };
      try {
        // Against the lab's spec, before specForRule recasts a settling rule's (a spiking net is not ep's to train).
        checkRuleFitsSpec(rule, spec);
        return { ...entrant, trainer: createTrainer(run, this.backend, splits) };
      } catch (err) {
        return { ...entrant, refused: err instanceof Error ? err.message : String(err) };
      }
    });
    // Some rules refuse some networks (dense-only rules a convnet, tp non-square layers): the others still train,
    // but a race in which none can is an error of the settings.
    const refused = this.entrants.filter((e) => e.refused);
    if (refused.length === this.entrants.length) throw new Error([...new Set(refused.map((e) => e.refused))].join('; '));
    this.stream = new BatchStream(train, runStreams(settings.seed).order);
    this.info = {
      sizes, classification, trainSize: train.x.rows, testSize: test.x.rows, backend: backend.name,
      points: train.x.cols === 2 ? planePoints(train.x, train.labels) : null,
      imageSide,
      fieldSide: !imageSide || first?.kind === 'pool2d' ? null : first && first.kind !== 'dense' ? first.k : imageSide,
      fieldsAreKernels: first !== undefined && first.kind !== 'dense',
      refusals: refused.map((e) => ({ rule: e.run.rule, message: e.refused as string })),
      network: network.label,
    };
    this.grid = this.info.points && classification && train.y.cols === 2 ? gridInputs(this.info.points.extent) : null;
  }

  /** Trains every rule on the next settings.speed batches, then measures them. */
  tick(): TickReport {
    const reports = this.entrants.map((e): RuleReport => ({
      rule: e.run.rule, refused: e.refused, trainLoss: null, testLoss: null, testError: null, diverged: e.diverged,
      angles: null, surface: null, fields: null, metrics: null, targets: null, settling: null, spikes: null,
    }));
    const lossSums = this.entrants.map(() => 0);
    let rows = 0;
    let lastBatch: Dataset | null = null;
    for (const e of this.entrants) e.metrics.clear();
    for (let b = 0; b < this.settings.speed; b++) {
      const batch = this.stream.next(this.batch);
      lastBatch = batch;
      rows += batch.x.rows;
      this.steps++;
      this.entrants.forEach((e, i) => {
        if (e.trainer && !e.diverged) lossSums[i] += batch.x.rows * this.trainOn(e, e.trainer, batch, reports[i]);
      });
    }
    this.entrants.forEach((e, i) => {
      const report = reports[i];
      report.diverged = e.diverged;
      if (!e.trainer || e.diverged) return;
      report.trainLoss = lossSums[i] / rows;
      const evaluation = e.trainer.evaluate(this.data.test);
      report.testLoss = evaluation.loss;
      report.testError = evaluation.error;
      report.surface = this.surface(e.trainer);
      report.fields = this.fields(e.trainer);
      report.metrics = e.metrics.means();
      report.targets = lastBatch && targetsOf(e.trainer, lastBatch);
      report.settling = lastBatch && settlingReport(e.run.rule, e.run.ruleOptions, e.trainer.state.net, this.backend, lastBatch);
      report.spikes = lastBatch && spikeRasterReport(e.trainer.state.net, this.backend, lastBatch);
    });
    return { step: this.steps, epoch: this.stream.taken / this.data.train.x.rows, rules: reports };
  }

  /** Whether some rule of the race draws pictures (LearningRule.pictures). */
  get drawsPictures(): boolean {
    return this.entrants.some((e) => e.trainer?.rule.pictures !== undefined);
  }

  /** Every rule's pictures at its current parameters, from the task's first training inputs (rule by slot; null for
   * a rule that draws none). Drawing them changes no number of the race. */
  pictures(): PicturesReport {
    return {
      step: this.steps,
      rules: this.entrants.map((e) => {
        if (!e.trainer) return null;
        e.splits.train = this.data.train; // the trainer reads its inputs here: the task's images, not the last batch
        return rulePictures(e.trainer);
      }),
    };
  }

  /**
   * One update of one rule on one batch. The batch goes in as the trainer's whole training set for one
   * trainEpoch: the trainer's own shuffle then only reorders rows within the batch (the same update), and
   * its 'alignment' events arrive as usual. Returns the batch loss (NaN once the rule has diverged).
   */
  private trainOn(e: Entrant, trainer: Trainer, batch: Dataset, report: RuleReport): number {
    e.splits.train = batch;
    try {
      return trainer.trainEpoch((event) => {
        if (event.type === 'alignment') report.angles = anglesOf(event);
        if (event.type === 'epoch' && event.metrics) e.metrics.add(event.metrics);
      }).trainLoss;
    } catch (err) {
      if (!(err instanceof TrainingDivergedError)) throw err;
      e.diverged = `diverged at update ${this.steps} (loss ${err.loss}); lower the learning rate`;
      return Number.NaN;
    }
  }

  /** p(class 1) over the plane, for the decision surface. */
  private surface(trainer: Trainer): Float32Array | null {
    if (!this.grid) return null;
    const net = trainer.state.net;
    const kind = net.spec.model ?? 'feedforward'; // one predictor a model: every rule's network has the same widths
    this.gridPredictors[kind] ??= modelFor(net).createPredictor(net, this.grid.rows);
    const out = this.gridPredictors[kind]!.predict(this.backend, net, spikingSpec(net.spec)?.input === 'spikes' ? this.rateGrid() : this.grid);
    const p = matrix(out.rows, out.cols);
    softmax(out, p);
    return Float32Array.from({ length: p.rows }, (_, i) => p.data[2 * i + 1]);
  }

  /** The grid with every coordinate clipped to [0, 1], for a net that sends its inputs as spikes (rates in [0, 1]):
   * the plotted margin beyond the data reads as the nearest rate. */
  private rateGrid(): Matrix {
    const grid = this.grid as Matrix;
    this.clippedGrid ??= { ...grid, data: grid.data.map((v) => Math.min(1, Math.max(0, v))) };
    return this.clippedGrid;
  }

  /** The first layer's incoming weights of the first hidden units: W is [hidden, inputs], one row per unit. */
  private fields(trainer: Trainer): Float32Array | null {
    if (!this.info.fieldSide) return null;
    const W = trainer.state.net.layers[0].W;
    return W.data.slice(0, Math.min(FIELD_COUNT, W.rows) * W.cols);
  }
}

/** The targets of the trainer's last update (on `batch`) for the first example of that update, with its class. */
function targetsOf(trainer: Trainer, batch: Dataset): TargetsReport | null {
  const t = trainer.lastTargets(0);
  if (!t) return null;
  return { activity: t.activity, target: t.target, label: t.example !== null && batch.labels ? batch.labels[t.example] : null };
}

function anglesOf(event: Extract<TrainEvent, { type: 'alignment' }>): AngleReport {
  return { update: event.layers.map((l) => l.updateAngle), feedback: event.layers.map((l) => l.feedbackAngle) };
}

/** The training points and a square around them with a margin, for 2-D tasks. */
function planePoints(x: Matrix, labels: Int32Array | undefined): NonNullable<TaskInfo['points']> {
  let lo = Infinity, hi = -Infinity;
  for (const v of x.data) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const margin = 0.15 * (hi - lo || 1);
  return { xy: x.data.slice(), labels: labels ? labels.slice() : new Int32Array(x.rows), extent: [lo - margin, hi + margin, lo - margin, hi + margin] };
}

/** Cell centres of a SURFACE_GRID² grid over the extent, row 0 at the top (largest y), as a canvas draws. */
function gridInputs([x0, x1, y0, y1]: [number, number, number, number]): Matrix {
  const n = SURFACE_GRID;
  const g = matrix(n * n, 2);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      g.data[2 * (r * n + c)] = x0 + ((c + 0.5) / n) * (x1 - x0);
      g.data[2 * (r * n + c) + 1] = y1 - ((r + 0.5) / n) * (y1 - y0);
    }
  }
  return g;
}
