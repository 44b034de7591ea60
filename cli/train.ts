import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createBackend } from '../node/backends.js';
import { loadCheckpoint } from '../node/files.js';
import { loadDataset } from '../node/datasets.js';
import type { Backend } from '../src/tensor/backend.js';
import type { DataSplits } from '../src/data/dataset.js';
import { isDataError } from '../src/data/errors.js';
import { datasetFingerprint } from '../src/data/fingerprint.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { runStreams, type Trainer, type TrainState } from '../src/train/trainer.js';
import { trainWithFiles, type DataSource, type RunSummary, type SavedRun } from './run-files.js';
import { prepareRunFolder, RUN_FILES } from './run-folder.js';
import { parseTrainArgs, parseWholeNumber, runFolder, type TrainInvocation } from './train-options.js';
import { UsageError } from './usage-error.js';

export function trainCommand(argv: string[]): number {
  if (argv.includes('--resume') || argv.some((a) => a.startsWith('--resume='))) return resumeCommand(argv);
  const inv = parseTrainArgs(argv);
  const out = runFolder(inv, inv.run.rule);
  prepareRunFolder(out, inv.force ? 'force' : 'new');
  const { backend, note } = openBackend(inv.backend, inv.threads);
  if (note && !inv.quiet) process.stderr.write(`${note}\n`);
  const data = loadData(inv);
  const run = fitRunToData(inv.run, inv.lossGiven, data);
  const trainer = trainerFor(run, backend, data);
  const saved = { run, data: dataLabel(inv), source: dataSource(inv, data), backend: backend.name };
  return finish(trainWithFiles(trainer, saved, { out, quiet: inv.quiet }, backend).summary, inv.json);
}

const RESUME_FLAGS = ['--resume', '--backend', '--threads', '--quiet', '--json'];

/** `ngrad train --resume DIR`: the run saved in DIR/checkpoint.ngrad continues where it stopped. */
function resumeCommand(argv: string[]): number {
  const flags = argv.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]);
  const stray = flags.find((f) => !RESUME_FLAGS.includes(f));
  if (stray) throw new UsageError(`--resume continues the run as it was saved; it takes only ${RESUME_FLAGS.slice(1).join(', ')}, not ${stray}`);
  const value = (flag: string) => {
    const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (i < 0) return undefined;
    const text = argv[i].includes('=') ? argv[i].slice(flag.length + 1) : argv[i + 1];
    if (text === undefined || text.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return text;
  };
  const dir = value('--resume') as string;
  const path = join(dir, RUN_FILES.checkpoint);
  if (!existsSync(path)) throw new UsageError(`--resume ${dir}: no ${RUN_FILES.checkpoint} there (a run writes one after its first epoch)`);
  const saved = readSavedRun(path);
  prepareRunFolder(dir, 'resume', '--resume');
  const quiet = argv.includes('--quiet'), json = argv.includes('--json');
  const threadsText = value('--threads');
  const { backend, note } = openBackend(value('--backend') ?? saved.backend, threadsText === undefined ? undefined : parseWholeNumber('--threads', threadsText, 1));
  if (note && !quiet) process.stderr.write(`${note}\n`);
  if (saved.backend && backend.name !== saved.backend && !quiet) {
    process.stderr.write(`ngrad train: note: the run was trained on the ${saved.backend} backend and continues on ${backend.name}: numbers will differ from an uninterrupted run\n`);
  }
  const source = saved.source ?? { data: saved.data };
  const data = loadData({ ...source, validation: source.validation ?? 0, run: saved.run });
  checkFingerprint(source, data, 'ngrad train --resume');
  const trainer = trainerFor(saved.run, backend, data, saved.state);
  if (trainer.finished) throw new UsageError(`--resume ${dir}: the run is already complete (${saved.state.epoch} epochs)`);
  const { format: _format, state: _state, pending = [], ...rest } = saved;
  const summary = trainWithFiles(trainer, rest, { out: dir, quiet, resumed: { pending } }, backend).summary;
  return finish(summary, json);
}

/** Reads and checks a run's checkpoint, or a UsageError naming the file. */
export function readSavedRun(path: string): SavedRun {
  let saved: SavedRun;
  try {
    saved = loadCheckpoint(path) as SavedRun;
  } catch (err) {
    if (isDataError(err)) throw err; // a corrupt or unreadable file: one line naming it, exit 2
    throw new UsageError((err as Error).message);
  }
  if (saved?.format !== 'ngrad-checkpoint' || !saved.state?.net || !saved.run) {
    throw new UsageError(`${path} is not an ngrad training checkpoint (a run writes OUT/checkpoint.ngrad)`);
  }
  // Checkpoints written before stages and groups: a single stage, no groups.
  saved.state.stage ??= 0;
  saved.state.stageStart ??= 0;
  saved.state.groupStates ??= {};
  return saved;
}

/** Says so when the data found now is not the data the run was trained on. */
export function checkFingerprint(source: DataSource, data: DataSplits, who: string): void {
  if (!source.testFingerprint) return;
  const now = datasetFingerprint(data.test);
  if (now !== source.testFingerprint) {
    process.stderr.write(
      `${who}: warning: the test set of ${source.dataDir ?? source.data} differs from the one the run was trained on ` +
        `(fingerprint ${now}, saved ${source.testFingerprint})\n`,
    );
  }
}

function finish(summary: RunSummary, json: boolean): number {
  if (summary.diverged) {
    process.stderr.write(`ngrad train: ${summary.diverged}\n`);
    return 1;
  }
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(formatSummary(summary));
  return 0;
}

/** A trainer, or a UsageError when the configuration does not fit (unknown rule option, wrong --arch). */
export function trainerFor(run: RunConfig, backend: Backend, data: DataSplits, resume?: TrainState): Trainer {
  try {
    return createTrainer(run, backend, data, resume);
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

export function loadData(inv: Pick<TrainInvocation, 'data' | 'dataDir' | 'validation' | 'limitTrain' | 'limitTest'> & { run: Pick<RunConfig, 'seed'> }): DataSplits {
  return loadDataset(inv.data, {
    dataDir: inv.dataDir, validation: inv.validation || undefined, rng: runStreams(inv.run.seed).data,
    limitTrain: inv.limitTrain, limitTest: inv.limitTest,
  });
}

/** Where the data came from, with the data folder as an absolute path and the test set's fingerprint. */
export function dataSource(inv: Pick<TrainInvocation, 'data' | 'dataDir' | 'limitTrain' | 'limitTest' | 'validation'>, data: DataSplits): DataSource {
  return {
    data: inv.data, dataDir: inv.dataDir === undefined ? undefined : resolve(inv.dataDir),
    limitTrain: inv.limitTrain, limitTest: inv.limitTest, validation: inv.validation, testFingerprint: datasetFingerprint(data.test),
  };
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
    // NOTE: no angle when the update or the gradient was zero at every measurement of the last epoch: a layer
    // without parameters (pooling), or a settling net that fits its batches exactly (hard-sigmoid outputs at 0 and 1).
    const update = Number.isFinite(a.update) ? `${a.update.toFixed(1)}°` : '— (the update or the gradient was zero at every measurement)';
    lines.push(`  layer ${a.layer}: ∠(update, gradient) ${update}${fb}`);
  }
  return `${lines.join('\n')}\n`;
}
