// The free energy F(v) (one wake sample per example) and an importance-sampled −log p(v) of a wake-sleep run's
// Helmholtz machine on its validation or test images, in nats per example. The images are binarised once,
// v ~ Bernoulli(pixel), from a fixed seed, so every run is scored on the same binary images.
// Run: npm run build && node dist/experiments/wake-sleep-likelihood.js --run runs/DIR [--split test] [--samples 500]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../node/backends.js';
import { loadData, readSavedRun } from '../cli/train.js';
import { Rng } from '../src/random.js';
import { machineLikelihood, type GenerativeModel } from '../src/rules/helmholtz-machine.js';

const { values } = parseArgs({
  options: {
    run: { type: 'string' },
    split: { type: 'string', default: 'validation' },
    samples: { type: 'string', default: '100' },
    limit: { type: 'string' },
    seed: { type: 'string', default: '12345' },
  },
});
if (!values.run) throw new Error('give --run DIR, the folder of a wake-sleep run');
const saved = readSavedRun(join(values.run, 'checkpoint.ngrad'));
const model = saved.state.ruleState as GenerativeModel;
if (!model?.G || !model.g) throw new Error(`${values.run} is not a wake-sleep run's checkpoint (its rule state has no generative model)`);
const source = saved.source ?? { data: saved.data };
const data = loadData({ ...source, validation: source.validation ?? 0, run: saved.run });
const split = values.split === 'test' ? data.test : data.validation;
if (!split) throw new Error(`${values.run} has no validation split (train it with --validation N)`);
const rows = values.limit ? Math.min(Number(values.limit), split.x.rows) : split.x.rows;
const x = { rows, cols: split.x.cols, data: split.x.data.subarray(0, rows * split.x.cols) };
const samples = Number(values.samples);
const { backend } = createBackend();
const started = performance.now();
const result = machineLikelihood(backend, saved.state.net, model, x, { binarize: true, samples, rng: Rng.fromSeed(Number(values.seed)) });
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ run: values.run, split: values.split, rows, samples, bound: result.bound, nll: result.nll, epochs: saved.state.epoch, seconds })}\n`);
