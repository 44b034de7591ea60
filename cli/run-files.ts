import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { saveCheckpoint, writeFileAtomic } from '../node/files.js';
import type { Backend } from '../src/tensor/backend.js';
import { meanAlignment, type LayerAlignment } from '../src/metrics/alignment.js';
import { TrainingDivergedError, type TrainEvent } from '../src/train/events.js';
import type { RunConfig } from '../src/train/run.js';
import type { Trainer } from '../src/train/trainer.js';
import { progressReporter } from './progress.js';

/** Where a run's data came from, saved in its checkpoint so that `ngrad eval` finds the same test set. */
export interface DataSource {
  data: string;
  dataDir?: string;
  limitTest?: number;
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
  angles: { layer: number; update: number; signal: number | null; feedback: number | null; feedback_norm_ratio: number | null }[];
  out: string;
  /** Set when training stopped because the loss was no longer finite: where and why. */
  diverged?: string;
}

/**
 * Runs a trainer, appending to OUT/metrics.jsonl as events arrive (one JSON object a line, so a crash
 * loses at most the line being written) and writing atomically OUT/checkpoint.ngrad after each epoch and
 * OUT/summary.json at the end.
 */
export function trainWithFiles(
  trainer: Trainer, run: RunConfig, io: { data: string; source: DataSource; out: string; quiet: boolean; label?: string }, backend: Backend,
): { summary: RunSummary; events: TrainEvent[] } {
  mkdirSync(io.out, { recursive: true });
  const metricsPath = join(io.out, 'metrics.jsonl');
  rmSync(metricsPath, { force: true });
  const progress = progressReporter(io.label ?? run.rule, io.quiet);
  const events: TrainEvent[] = [];
  const epochSeconds: number[] = [];
  let trainLoss = NaN, test = { loss: NaN, error: null as number | null }, validationError: number | null = null;
  let lastEpochAngles: LayerAlignment[][] = [], alignEpoch = 0;
  const onEvent = (e: TrainEvent) => {
    appendFileSync(metricsPath, `${JSON.stringify(e)}\n`);
    events.push(e);
    progress.onEvent(e);
    if (e.type === 'epoch') {
      epochSeconds.push(e.seconds);
      trainLoss = e.trainLoss;
      saveCheckpoint(join(io.out, 'checkpoint.ngrad'), { format: 'ngrad-checkpoint', run, data: io.data, source: io.source, state: trainer.state });
    } else if (e.type === 'eval' && e.split === 'test') test = e;
    else if (e.type === 'eval') validationError = e.error;
    else if (e.type === 'alignment') {
      if (e.epoch !== alignEpoch) lastEpochAngles = [];
      alignEpoch = e.epoch;
      lastEpochAngles.push(e.layers);
    }
  };
  const started = performance.now();
  let diverged: string | undefined;
  try {
    trainer.run(onEvent);
  } catch (err) {
    if (!(err instanceof TrainingDivergedError)) throw err;
    diverged = err.message; // the summary still records what the run reached
  } finally {
    progress.stop();
  }
  const summary: RunSummary = {
    rule: run.rule, data: io.data, arch: run.spec.sizes.join('-'), act: run.spec.hidden,
    epochs: trainer.state.epoch, batch: run.train.batchSize, lr: run.train.lr, optimizer: run.optimizer.name,
    backend: backend.name, threads: backend.getThreads(), seed: run.seed,
    test_error: test.error, test_loss: test.loss, validation_error: validationError, train_loss: trainLoss,
    epoch_seconds_median: median(epochSeconds), seconds_total: (performance.now() - started) / 1000,
    angles: meanAlignment(lastEpochAngles).map((a) => ({
      layer: a.layer, update: a.updateAngle, signal: a.signalAngle, feedback: a.feedbackAngle, feedback_norm_ratio: a.feedbackNormRatio,
    })),
    out: io.out,
    ...(diverged ? { diverged } : {}),
  };
  writeFileAtomic(join(io.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return { summary, events };
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b), mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
