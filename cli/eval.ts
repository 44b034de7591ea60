import { parseArgs } from 'node:util';
import { evaluate } from '../src/metrics/classification.js';
import { paramList } from '../src/nn/network.js';
import { TrainingDivergedError } from '../src/train/events.js';
import type { DataSource } from './run-files.js';
import { parseWholeNumber } from './train-options.js';
import { checkFingerprint, loadData, openBackend, readSavedRun } from './train.js';
import { UsageError } from './usage-error.js';

export const EVAL_USAGE = `usage: ngrad eval --checkpoint FILE [--data NAME | --data-dir DIR] [--backend NAME] [--threads N] [--json]
  Evaluates a saved network on the test set it was trained with (or on the one named).`;


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
  const saved = readSavedRun(values.checkpoint);
  const net = saved.state.net;
  const bad = paramList(net.layers).find((p) => !p.value.every(Number.isFinite));
  if (bad) throw new TrainingDivergedError(saved.state.epoch, null, NaN, `${values.checkpoint} holds non-finite values in ${bad.name}: the run diverged; retrain it with a lower --lr`);
  const { backend } = openBackend(values.backend, threads);
  // The run's own test set unless another is named (older checkpoints saved only the label).
  const named = values.data !== undefined || values['data-dir'] !== undefined;
  const source: DataSource = named
    ? { data: values.data ?? 'data-dir', dataDir: values['data-dir'] }
    : saved.source ?? { data: saved.data };
  const data = loadData({ ...source, validation: 0, run: saved.run });
  if (!named) checkFingerprint(source, data, 'ngrad eval');
  const sizes = net.spec.sizes;
  if (data.test.x.cols !== sizes[0] || data.test.y.cols !== sizes[sizes.length - 1]) {
    throw new UsageError(
      `the network ${sizes.join('-')} of ${values.checkpoint} does not fit the test set of ${source.dataDir ?? source.data} ` +
        `(${data.test.x.cols} inputs, ${data.test.y.cols} outputs): evaluate it on data of the shape it was trained on`,
    );
  }
  const result = evaluate(backend, net, data.test);
  if (!Number.isFinite(result.loss)) throw new TrainingDivergedError(saved.state.epoch, null, result.loss, `the test loss of ${values.checkpoint} is ${result.loss}: the network's outputs overflow; retrain it with a lower --lr`);
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
