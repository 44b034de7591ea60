import { createBackend } from '../node/backends.js';
import { loadDataset } from '../node/datasets.js';
import type { Backend } from '../src/tensor/backend.js';
import type { DataSplits } from '../src/data/dataset.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { runStreams, type Trainer } from '../src/train/trainer.js';
import { trainWithFiles, type DataSource, type RunSummary } from './run-files.js';
import { parseTrainArgs, runFolder, type TrainInvocation } from './train-options.js';
import { UsageError } from './usage-error.js';

export function trainCommand(argv: string[]): number {
  const inv = parseTrainArgs(argv);
  const { backend, note } = openBackend(inv.backend, inv.threads);
  if (note && !inv.quiet) process.stderr.write(`${note}\n`);
  const data = loadData(inv);
  const run = fitRunToData(inv.run, inv.lossGiven, data);
  const trainer = trainerFor(run, backend, data);
  const { summary } = trainWithFiles(trainer, run, { data: dataLabel(inv), source: dataSource(inv), out: runFolder(inv, run.rule), quiet: inv.quiet }, backend);
  if (summary.diverged) {
    process.stderr.write(`ngrad train: ${summary.diverged}\n`);
    return 1;
  }
  if (inv.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(formatSummary(summary));
  return 0;
}

/** A trainer, or a UsageError when the configuration does not fit (unknown rule option, wrong --arch). */
export function trainerFor(run: RunConfig, backend: Backend, data: DataSplits): Trainer {
  try {
    return createTrainer(run, backend, data);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function openBackend(name: string | undefined, threads: number | undefined): { backend: Backend; note?: string } {
  let chosen;
  try {
    chosen = createBackend(name);
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^ngrad: /, ''));
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

export function dataSource(inv: Pick<TrainInvocation, 'data' | 'dataDir' | 'limitTest'>): DataSource {
  return { data: inv.data, dataDir: inv.dataDir, limitTest: inv.limitTest };
}

export function dataLabel(inv: Pick<TrainInvocation, 'data' | 'dataDir'>): string {
  return inv.dataDir ?? inv.data;
}

/** Regression tasks train on squared error unless a loss was chosen. */
export function fitRunToData(run: RunConfig, lossGiven: boolean, data: DataSplits): RunConfig {
  if (lossGiven || data.train.labels) return run;
  return { ...run, spec: { ...run.spec, loss: 'mse' } };
}

function formatSummary(s: RunSummary): string {
  const err = s.test_error === null ? 'n/a (regression)' : `${(100 * s.test_error).toFixed(2)} %`;
  const lines = [
    `${s.rule} on ${s.data}, ${s.arch} ${s.act}, ${s.epochs} epochs (${s.backend}, seed ${s.seed})`,
    `  test error ${err}, test loss ${s.test_loss.toFixed(4)}, train loss ${s.train_loss.toFixed(4)}`,
    `  ${s.epoch_seconds_median.toFixed(2)} s per epoch (median); results in ${s.out}/`,
  ];
  for (const a of s.angles) {
    const fb = a.feedback === null ? '' : `, ∠(B, Wᵀ) ${a.feedback.toFixed(1)}°`;
    lines.push(`  layer ${a.layer}: ∠(update, gradient) ${a.update.toFixed(1)}°${fb}`);
  }
  return `${lines.join('\n')}\n`;
}
