import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../node/files.js';
import { evaluate } from '../src/metrics/classification.js';
import type { RunConfig } from '../src/train/run.js';
import type { TrainState } from '../src/train/trainer.js';
import { loadData, openBackend } from './train.js';
import { UsageError } from './usage-error.js';

export const EVAL_USAGE = `usage: ngrad eval --checkpoint FILE [--data NAME | --data-dir DIR] [--backend NAME] [--json]
  Evaluates a saved network on the test set of its data set (or of the one named).`;

interface SavedRun { format: 'ngrad-checkpoint'; run: RunConfig; data: string; state: TrainState }

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
  const saved = loadCheckpoint(values.checkpoint) as SavedRun;
  if (saved?.format !== 'ngrad-checkpoint' || !saved.state?.net) {
    throw new UsageError(`${values.checkpoint} is not an ngrad training checkpoint`);
  }
  const { backend } = openBackend(values.backend, values.threads ? Number(values.threads) : undefined);
  const dataName = values.data ?? saved.data;
  const data = loadData({ data: dataName, dataDir: values['data-dir'], validation: 0, run: saved.run });
  const result = evaluate(backend, saved.state.net, data.test);
  const report = {
    checkpoint: values.checkpoint, rule: saved.run.rule, data: values['data-dir'] ?? dataName,
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
