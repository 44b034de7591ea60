import { architectureText } from '../src/nn/layer-spec.js';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveCheckpoint, writeFileAtomic } from '../node/files.js';
import type { Backend } from '../src/tensor/backend.js';
import { meanAlignment, type LayerAlignment } from '../src/metrics/alignment.js';
import { TrainingDivergedError, type TrainEvent } from '../src/train/events.js';
import type { RunConfig } from '../src/train/run.js';
import type { Trainer, TrainState } from '../src/train/trainer.js';
import { progressReporter } from './progress.js';
import { RUN_FILES } from './run-folder.js';

/** Where a run's data came from, saved in its checkpoint so that `ngrad eval` and `--resume` find the same
 * data: the data set's name, its folder as an absolute path, and a fingerprint of the test set. */
export interface DataSource {
  data: string;
  dataDir?: string;
  limitTrain?: number;
  limitTest?: number;
  validation?: number;
  /** datasetFingerprint of the test set the run was evaluated on. */
  testFingerprint?: string;
}

/** What OUT/checkpoint.ngrad holds. */
export interface SavedRun {
  format: 'ngrad-checkpoint';
  run: RunConfig;
  data: string;
  source?: DataSource;
  /** The backend that trained it (a resumed run uses it too, for bit-identical numbers). */
  backend?: string;
  state: TrainState;
  /** The metrics lines of the checkpoint's epoch (the epoch and its evaluations), written to metrics.jsonl
   * right after the checkpoint: a resumed run writes them if a kill came in between. */
  pending?: string[];
}

/** The summary a run writes to OUT/summary.json (and prints with --json). */
export interface RunSummary {
  rule: string;
  data: string;
  arch: string;
  act: string;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: string;
  backend: string;
  threads: number;
  seed: number;
  test_error: number | null;
  test_loss: number;
  validation_error: number | null;
  train_loss: number;
  epoch_seconds_median: number;
  seconds_total: number;
  /** Per layer, the mean angles (degrees) measured during the last epoch; empty without --align-every. */
  angles: {
    layer: number; update: number; signal: number | null; feedback: number | null; feedback_norm_ratio: number | null;
    gauss_newton_update: number | null; gauss_newton_signal: number | null;
  }[];
  out: string;
  /** Set when training stopped because the loss was no longer finite: where and why. */
  diverged?: string;
}

/** What the summary is made of, accumulated from the events (also from the lines of a resumed run). */
class SummaryFacts {
  epochSeconds: number[] = [];
  trainLoss = NaN;
  test = { loss: NaN, error: null as number | null };
  validationError: number | null = null;
  lastEpochAngles: LayerAlignment[][] = [];
  private alignEpoch = 0;

  see(e: TrainEvent): void {
    if (e.type === 'epoch') {
      this.epochSeconds.push(e.seconds);
      this.trainLoss = e.trainLoss;
    } else if (e.type === 'eval' && e.split === 'test') this.test = e;
    else if (e.type === 'eval') this.validationError = e.error;
    else if (e.type === 'alignment') {
      if (e.epoch !== this.alignEpoch) this.lastEpochAngles = [];
      this.alignEpoch = e.epoch;
      this.lastEpochAngles.push(e.layers);
    }
  }
}

/**
 * Runs a trainer, appending to OUT/metrics.jsonl as events arrive (one JSON object a line, so a crash
 * loses at most the line being written) and writing atomically OUT/checkpoint.ngrad after each epoch and
 * OUT/summary.json at the end. The folder must have been prepared (prepareRunFolder).
 * NOTE: an epoch's own lines (the epoch and its evaluations) are written after its checkpoint, and the
 * checkpoint carries them: metrics.jsonl never runs ahead of the checkpoint, and `--resume` cuts the lines
 * of an epoch the checkpoint does not hold.
 */
export function trainWithFiles(
  trainer: Trainer, saved: Omit<SavedRun, 'format' | 'state' | 'pending'>,
  io: { out: string; quiet: boolean; label?: string; resumed?: { pending: readonly string[] } }, backend: Backend,
): { summary: RunSummary; events: TrainEvent[] } {
  const { run } = saved;
  const metricsPath = join(io.out, RUN_FILES.metrics);
  const facts = new SummaryFacts();
  const events: TrainEvent[] = [];
  if (io.resumed) for (const e of keepLinesUpTo(metricsPath, trainer.state.epoch, io.resumed.pending)) { facts.see(e); events.push(e); }
  else writeFileSync(metricsPath, '');
  const progress = progressReporter(io.label ?? trainer.rule.id, io.quiet);
  let pending: string[] = [];
  const onEvent = (e: TrainEvent) => {
    events.push(e);
    facts.see(e);
    progress.onEvent(e);
    if (e.type === 'epoch' || e.type === 'eval') pending.push(JSON.stringify(e));
    else appendFileSync(metricsPath, `${JSON.stringify(e)}\n`);
  };
  const onEpochEnd = (state: TrainState) => {
    saveCheckpoint(join(io.out, RUN_FILES.checkpoint), { format: 'ngrad-checkpoint', ...saved, state, pending } satisfies SavedRun);
    flush();
  };
  const flush = () => {
    if (pending.length) appendFileSync(metricsPath, pending.map((l) => `${l}\n`).join(''));
    pending = [];
  };
  const started = performance.now();
  let diverged: string | undefined;
  try {
    trainer.run(onEvent, onEpochEnd);
  } catch (err) {
    if (!(err instanceof TrainingDivergedError)) throw err;
    diverged = err.message; // the summary still records what the run reached
  } finally {
    flush();
    progress.stop();
  }
  const summary: RunSummary = {
    rule: run.rule, data: saved.data, arch: run.spec.layers && run.spec.inputShape ? architectureText(run.spec.inputShape, run.spec.layers) : run.spec.sizes.join('-'), act: run.spec.hidden,
    epochs: trainer.state.epoch, batch: run.train.batchSize, lr: run.train.lr, optimizer: run.optimizer.name,
    backend: backend.name, threads: backend.getThreads(), seed: run.seed,
    test_error: facts.test.error, test_loss: facts.test.loss, validation_error: facts.validationError, train_loss: facts.trainLoss,
    epoch_seconds_median: median(facts.epochSeconds), seconds_total: (performance.now() - started) / 1000,
    angles: meanAlignment(facts.lastEpochAngles).map((a) => ({
      layer: a.layer, update: a.updateAngle, signal: a.signalAngle, feedback: a.feedbackAngle, feedback_norm_ratio: a.feedbackNormRatio,
      gauss_newton_update: a.gaussNewtonUpdateAngle, gauss_newton_signal: a.gaussNewtonSignalAngle,
    })),
    out: io.out,
    ...(diverged ? { diverged } : {}),
  };
  writeFileAtomic(join(io.out, RUN_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  return { summary, events };
}

/**
 * For a resumed run: rewrites metrics.jsonl with only the lines of epochs the checkpoint holds (epoch ≤
 * `epoch`; a line cut by the kill is dropped), then the checkpoint's pending lines if the kill came before
 * they were written. Returns the kept events.
 */
function keepLinesUpTo(path: string, epoch: number, pending: readonly string[] = []): TrainEvent[] {
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n') : [];
  const kept: TrainEvent[] = [];
  for (const line of lines) {
    let e: TrainEvent;
    try {
      e = JSON.parse(line) as TrainEvent;
    } catch {
      continue; // the empty last line, or one cut by the kill
    }
    // A stage begins after the checkpoint of its first epoch's predecessor: its line belongs to the next epoch.
    const at = e.type === 'done' ? Infinity : e.type === 'stage' ? e.epoch + 1 : e.epoch;
    if (at <= epoch) kept.push(e);
  }
  if (!kept.some((e) => e.type === 'epoch' && e.epoch === epoch)) {
    for (const line of pending) kept.push(JSON.parse(line) as TrainEvent);
  }
  writeFileAtomic(path, kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
  return kept;
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b), mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
