import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createBackend } from '../node/backends.js';
import { loadDataset } from '../node/datasets.js';
import { saveCheckpoint, writeFileAtomic } from '../node/files.js';
import type { Backend } from '../src/tensor/backend.js';
import type { DataSplits } from '../src/data/dataset.js';
import type { TrainEvent } from '../src/train/events.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { runStreams, type Trainer } from '../src/train/trainer.js';
import { progressReporter } from './progress.js';
import { parseTrainArgs, type TrainInvocation } from './train-options.js';
import { UsageError } from './usage-error.js';

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
  out: string;
}

export function trainCommand(argv: string[]): number {
  const inv = parseTrainArgs(argv);
  const { backend, note } = openBackend(inv.backend, inv.threads);
  if (note && !inv.quiet) process.stderr.write(`${note}\n`);
  const data = loadData(inv);
  const run = fitRunToData(inv, data);
  const trainer = createTrainer(run, backend, data);
  const summary = trainWithFiles(trainer, run, inv, backend);
  if (inv.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(formatSummary(summary));
  return 0;
}

export function openBackend(name: string | undefined, threads: number | undefined): { backend: Backend; note?: string } {
  let chosen;
  try {
    chosen = createBackend(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (threads !== undefined) chosen.backend.setThreads(threads);
  return chosen;
}

export function loadData(inv: Pick<TrainInvocation, 'data' | 'dataDir' | 'validation' | 'limitTrain' | 'limitTest' | 'run'>): DataSplits {
  return loadDataset(inv.data, {
    dataDir: inv.dataDir, validation: inv.validation || undefined, rng: runStreams(inv.run.seed).data,
    limitTrain: inv.limitTrain, limitTest: inv.limitTest,
  });
}

/** Regression tasks train on squared error unless a loss was chosen. */
function fitRunToData(inv: TrainInvocation, data: DataSplits): RunConfig {
  if (inv.lossGiven || data.train.labels) return inv.run;
  return { ...inv.run, spec: { ...inv.run.spec, loss: 'mse' } };
}

/** Runs the trainer, writing OUT/metrics.jsonl as events arrive and, atomically, OUT/checkpoint.ngrad after
 * each epoch and OUT/summary.json at the end. */
function trainWithFiles(trainer: Trainer, run: RunConfig, inv: TrainInvocation, backend: Backend): RunSummary {
  mkdirSync(inv.out, { recursive: true });
  const metricsPath = join(inv.out, 'metrics.jsonl');
  rmSync(metricsPath, { force: true });
  const progress = progressReporter(run.rule, inv.quiet);
  const epochSeconds: number[] = [];
  let trainLoss = NaN, test = { loss: NaN, error: null as number | null }, validationError: number | null = null;
  const onEvent = (e: TrainEvent) => {
    appendFileSync(metricsPath, `${JSON.stringify(e)}\n`);
    progress.onEvent(e);
    if (e.type === 'epoch') {
      epochSeconds.push(e.seconds);
      trainLoss = e.trainLoss;
      saveCheckpoint(join(inv.out, 'checkpoint.ngrad'), { format: 'ngrad-checkpoint', run, data: inv.data, state: trainer.state });
    } else if (e.type === 'eval' && e.split === 'test') test = e;
    else if (e.type === 'eval') validationError = e.error;
  };
  const started = performance.now();
  try {
    trainer.run(onEvent);
  } finally {
    progress.stop();
  }
  const summary: RunSummary = {
    rule: run.rule, data: inv.dataDir ?? inv.data, arch: run.spec.sizes.join('-'), act: run.spec.hidden,
    epochs: trainer.state.epoch, batch: run.train.batchSize, lr: run.train.lr, optimizer: run.optimizer.name,
    backend: backend.name, threads: backend.getThreads(), seed: run.seed,
    test_error: test.error, test_loss: test.loss, validation_error: validationError, train_loss: trainLoss,
    epoch_seconds_median: median(epochSeconds), seconds_total: (performance.now() - started) / 1000, out: inv.out,
  };
  writeFileAtomic(join(inv.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b), mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function formatSummary(s: RunSummary): string {
  const err = s.test_error === null ? 'n/a (regression)' : `${(100 * s.test_error).toFixed(2)} %`;
  return [
    `${s.rule} on ${s.data}, ${s.arch} ${s.act}, ${s.epochs} epochs (${s.backend}, seed ${s.seed})`,
    `  test error ${err}, test loss ${s.test_loss.toFixed(4)}, train loss ${s.train_loss.toFixed(4)}`,
    `  ${s.epoch_seconds_median.toFixed(2)} s per epoch (median); results in ${s.out}/`,
    '',
  ].join('\n');
}
