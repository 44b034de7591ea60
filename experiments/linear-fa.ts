// Lillicrap et al. 2016, Fig. 2a–b: a 30-20-10 linear network learns a random linear map T.
// Backprop, feedback alignment, "train the last layer only" and node perturbation (issue 3) from the same
// initial weights, over seeds.
// Run: npm run build && node dist/experiments/linear-fa.js [--seeds 5] [--out runs/linear-fa]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../node/backends.js';
import { writeFileAtomic } from '../node/files.js';
import { runsFigure } from '../node/plot.js';
import { linearTeacher } from '../src/data/synthetic.js';
import type { NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { backprop } from '../src/rules/backprop.js';
import { feedbackAlignment } from '../src/rules/feedback-alignment.js';
import { nodePerturbation } from '../src/rules/node-perturbation.js';
import type { LearningRule } from '../src/rules/rule.js';
import type { TrainEvent } from '../src/train/events.js';
import { seededTrainer } from '../src/train/run.js';
import { DEFAULT_TRAIN, runStreams, type TrainConfig } from '../src/train/trainer.js';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '5' }, out: { type: 'string', default: 'runs/linear-fa' }, lr: { type: 'string', default: '0.005' } } });
const seeds = Number(values.seeds);

// The paper's settings: linear units, W ~ U[−0.01, 0.01], B ~ U[−0.5, 0.5], squared error, plain SGD.
const spec: NetworkSpec = { sizes: [30, 20, 10], hidden: 'linear', output: 'linear', leakySlope: 0, loss: 'mse', init: { kind: 'uniform', omega: 0.01 } };
const config: TrainConfig = { ...DEFAULT_TRAIN, epochs: 20, batchSize: 10, lr: Number(values.lr), alignEvery: 1, stepEventEvery: 0 };

/** Shallow learning: backprop's update for the output layer, nothing for the hidden layer. */
function lastLayerOnly(): LearningRule<Record<string, never>> {
  const bp = backprop();
  return {
    id: 'last',
    locality: { weightTransport: false, note: 'the output layer learns from its own error; hidden layers do not learn' },
    init: () => ({}),
    step(ctx, state, batch) {
      const r = bp.step(ctx, state, batch);
      r.grads.slice(0, -1).forEach((g) => { g.W.data.fill(0); g.b.fill(0); });
      return { ...r, signals: undefined };
    },
  };
}

const rules: Record<string, () => LearningRule> = {
  bp: () => backprop() as LearningRule,
  fa: () => feedbackAlignment({ dist: 'uniform', scale: 0.5 }) as LearningRule,
  last: () => lastLayerOnly() as LearningRule,
  // Same lr as the others (not tuned): one noise sample per update, σ = 1e-3 (the rule's defaults).
  np: () => nodePerturbation() as LearningRule,
};

const { backend } = createBackend();
const table: Record<string, { errors: number[][]; firstAngle: number[]; lastAngle: number[] }> = {};
const figureRuns: { label: string; events: TrainEvent[] }[] = [];
for (let seed = 1; seed <= seeds; seed++) {
  const streams0 = runStreams(seed);
  const data = linearTeacher(streams0.data, { inputs: 30, outputs: 10, n: 1000, nTest: 1000 });
  const baseline = data.test.y.data.reduce((s, v) => s + 0.5 * v * v, 0) / data.test.y.rows; // loss of predicting 0
  for (const [id, make] of Object.entries(rules)) {
    // Same seed: same initial W, same data order for every rule.
    const trainer = seededTrainer(make(), { spec, optimizer: { ...DEFAULT_OPTIMIZER, name: 'sgd' }, train: config, seed }, backend, data);
    const events: TrainEvent[] = [];
    trainer.run((e) => events.push(e));
    const errors = events.flatMap((e) => (e.type === 'eval' ? [e.loss / baseline] : []));
    const angles = events.flatMap((e) => (e.type === 'alignment' ? [e.layers[0].updateAngle] : []));
    const row = (table[id] ??= { errors: [], firstAngle: [], lastAngle: [] });
    row.errors.push(errors);
    row.firstAngle.push(angles[0]);
    row.lastAngle.push(angles.slice(-100).reduce((s, a) => s + a, 0) / 100);
    if (seed === 1) figureRuns.push({ label: id, events });
  }
}

const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const num = (x: number, digits: number) => (x !== 0 && Math.abs(x) < 0.001 ? x.toExponential(1) : x.toFixed(digits));
const fmt = (xs: number[], digits = 3) => `${num(mean(xs), digits)} ± ${num(sd(xs), digits)}`;
const at = (id: string, epoch: number) => table[id].errors.map((e) => e[epoch - 1]);
const lines = [
  `Linear task (Lillicrap et al. 2016): 30-20-10 linear net, y = T·x, ${seeds} seeds, batch ${config.batchSize}, SGD lr ${config.lr}.`,
  'Normalised test error = test loss / loss of predicting 0 (mean ± sd over seeds). Angle: hidden-layer update vs backprop\'s, degrees.',
  '',
  '| rule | error after 1 epoch | after 5 | after 20 | ∠ hidden update, first step | ∠ last 100 steps |',
  '|---|---:|---:|---:|---:|---:|',
  ...Object.keys(rules).map((id) =>
    `| ${id} | ${fmt(at(id, 1))} | ${fmt(at(id, 5))} | ${fmt(at(id, 20))} | ${id === 'last' ? '—' : fmt(table[id].firstAngle, 1)} | ${id === 'last' ? '—' : fmt(table[id].lastAngle, 1)} |`),
];
process.stdout.write(`${lines.join('\n')}\n`);
writeFileAtomic(join(values.out, 'linear-fa.md'), `${lines.join('\n')}\n`);
writeFileAtomic(join(values.out, 'linear-fa.svg'), await runsFigure(figureRuns, 'Linear task, seed 1: backprop, feedback alignment, last layer only, node perturbation'));
process.stdout.write(`wrote ${join(values.out, 'linear-fa.md')} and linear-fa.svg\n`);
