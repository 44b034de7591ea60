import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../node/files.js';
import { evaluate } from '../src/metrics/classification.js';
import type { RunConfig } from '../src/train/run.js';
import type { TrainState } from '../src/train/trainer.js';
import type { DataSource } from './run-files.js';
import { parseWholeNumber } from './train-options.js';
import { loadData, openBackend } from './train.js';
import { UsageError } from './usage-error.js';

export const EVAL_USAGE = `usage: ngrad eval --checkpoint FILE [--data NAME | --data-dir DIR] [--backend NAME] [--threads N] [--json]
  Evaluates a saved network on the test set it was trained with (or on the one named).`;

interface SavedRun { format: 'ngrad-checkpoint'; run: RunConfig; data: string; source?: DataSource; state: TrainState }

export function evalCommand(argv: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        checkpoint: { type: 'string' }, data: { type: 'string' }, 'data-dir': { type: 'string' },
        backend: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  if (!values.checkpoint) throw new UsageError('eval needs --checkpoint FILE (a run writes OUT/checkpoint.ngrad)');
  const threads = values.threads === undefined ? undefined : parseWholeNumber('--threads', values.threads, 1);
  let saved: SavedRun;
  try {
    saved = loadCheckpoint(values.checkpoint) as SavedRun;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (saved?.format !== 'ngrad-checkpoint' || !saved.state?.net) {
    throw new UsageError(`${values.checkpoint} is not an ngrad training checkpoint (a run writes OUT/checkpoint.ngrad)`);
  }
  const { backend } = openBackend(values.backend, threads);
  // The run's own test set unless another is named (older checkpoints saved only the label).
  const named = values.data !== undefined || values['data-dir'] !== undefined;
  const source: DataSource = named
    ? { data: values.data ?? 'data-dir', dataDir: values['data-dir'] }
    : saved.source ?? { data: saved.data };
  const data = loadData({ ...source, validation: 0, run: saved.run });
  const result = evaluate(backend, saved.state.net, data.test);
  const report = {
    checkpoint: values.checkpoint, rule: saved.run.rule, data: source.dataDir ?? source.data,
    arch: saved.state.net.spec.sizes.join('-'), epochs: saved.state.epoch, backend: backend.name,
    test_error: result.error, test_loss: result.loss,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const err = result.error === null ? 'n/a' : `${(100 * result.error).toFixed(2)} %`;
    process.stdout.write(`${report.rule} ${report.arch} after ${report.epochs} epochs on ${report.data}: test error ${err}, test loss ${result.loss.toFixed(4)}\n`);
  }
  return 0;
}
