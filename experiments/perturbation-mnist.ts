// What node perturbation and parallel weight perturbation reach on MNIST in a fixed budget of forward
// passes, next to backprop: a 784-100-10 tanh net, one seed, each rule at the best of a small lr grid
// (chosen on 5000 held-out validation examples at the first budget), then trained on to the second.
// Run: npm run build && node dist/experiments/perturbation-mnist.js [--out docs/figures]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../node/backends.js';
import { loadDataset } from '../node/datasets.js';
import { chartFigure, type ChartPoint } from '../node/figures.js';
import { writeFileAtomic } from '../node/files.js';
import type { NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { backprop } from '../src/rules/backprop.js';
import { nodePerturbation } from '../src/rules/node-perturbation.js';
import type { LearningRule } from '../src/rules/rule.js';
import { weightPerturbation } from '../src/rules/weight-perturbation.js';
import { TrainingDivergedError } from '../src/train/events.js';
import { seededTrainer } from '../src/train/run.js';
import { DEFAULT_TRAIN, runStreams, type Trainer } from '../src/train/trainer.js';
import { num } from './stats.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/figures' },
    seed: { type: 'string', default: '1' },
    budgets: { type: 'string', default: '1e6,1e7' },
    arch: { type: 'string', default: '784-100-10' },
  },
});
const seed = Number(values.seed);
const [tuneBudget, finalBudget] = values.budgets.split(',').map(Number);
const BATCH = 100;
const SIGMA = 1e-3;

/** Forward-pass equivalents per training example: backprop's backward pass counted as two forward
 * passes; the perturbation rules make one clean and one noisy pass (samples 1, forward difference). */
const COST = { bp: 3, np: 2, wp: 2 } as const;
type Method = keyof typeof COST;
const METHODS: readonly Method[] = ['bp', 'np', 'wp'];
const GRID: Record<Method, number[]> = { bp: [0.1, 0.3, 1], np: [0.01, 0.03, 0.1], wp: [1e-4, 1e-3, 1e-2] };
const makeRule: Record<Method, () => LearningRule> = {
  bp: () => backprop() as LearningRule,
  np: () => nodePerturbation({ sigma: SIGMA }) as LearningRule,
  wp: () => weightPerturbation({ mode: 'parallel', sigma: SIGMA }) as LearningRule,
};

const { backend } = createBackend();
const data = loadDataset('mnist', { rng: runStreams(seed).data, validation: 5000 });
const spec: NetworkSpec = {
  sizes: values.arch.split('-').map(Number), hidden: 'tanh', output: 'linear', leakySlope: 0, loss: 'softmax_xent', init: { kind: 'glorot' },
};
const passesPerEpoch = (m: Method) => data.train.x.rows * COST[m];

/** One run's record after each epoch: forward passes so far, validation and test error. */
interface Point { passes: number; validation: number; test: number; seconds: number }
interface Run { method: Method; lr: number; trainer: Trainer; points: Point[]; diverged: boolean; seconds: number }

function startRun(method: Method, lr: number): Run {
  const train = { ...DEFAULT_TRAIN, epochs: Infinity, lr, batchSize: BATCH, stepEventEvery: 0 };
  // Same seed: same initial weights and data order for every rule and lr.
  const trainer = seededTrainer(makeRule[method](), { spec, optimizer: { ...DEFAULT_OPTIMIZER, name: 'sgd' }, train, seed }, backend, data);
  return { method, lr, trainer, points: [], diverged: false, seconds: 0 };
}

/** Whole epochs while the next one stays within the budget. */
function trainTo(run: Run, budget: number): void {
  const per = passesPerEpoch(run.method);
  while (!run.diverged && (run.trainer.state.epoch + 1) * per <= budget) {
    const started = performance.now();
    try {
      run.trainer.trainEpoch();
    } catch (e) {
      if (!(e instanceof TrainingDivergedError)) throw e;
      run.diverged = true; // a NaN loss: this lr is too large
      break;
    }
    run.seconds += (performance.now() - started) / 1000;
    const err = (split: 'validation' | 'test') => {
      const ds = split === 'test' ? data.test : data.validation;
      return ds ? run.trainer.evaluate(ds).error ?? NaN : NaN;
    };
    run.points.push({ passes: run.trainer.state.epoch * per, validation: err('validation'), test: err('test'), seconds: run.seconds });
  }
}

const last = (run: Run, budget: number) => [...run.points].reverse().find((p) => p.passes <= budget);
const chosen: Run[] = [];
const tuning: string[] = [];
for (const method of METHODS) {
  const runs = GRID[method].map((lr) => {
    const run = startRun(method, lr);
    trainTo(run, tuneBudget);
    const p = last(run, tuneBudget);
    tuning.push(`${method} lr ${lr}: ${run.diverged ? 'diverged' : `validation error ${num(100 * (p?.validation ?? NaN), 2)} %`}`);
    process.stderr.write(`${tuning[tuning.length - 1]} (${run.seconds.toFixed(0)} s)\n`);
    return run;
  });
  const score = (r: Run) => (r.diverged ? Infinity : last(r, tuneBudget)?.validation ?? Infinity);
  const best = runs.reduce((a, b) => (score(b) < score(a) ? b : a));
  trainTo(best, finalBudget);
  process.stderr.write(`${method} lr ${best.lr} to ${finalBudget}: ${best.seconds.toFixed(0)} s\n`);
  chosen.push(best);
}

const cell = (run: Run, budget: number) => {
  const p = last(run, budget);
  return p ? `${num(100 * p.test, 2)} % (${p.passes.toExponential(2)} passes, ${Math.round(p.passes / passesPerEpoch(run.method))} epochs)` : '—';
};
const lines = [
  `MNIST, ${spec.sizes.join('-')} tanh net, softmax cross-entropy, Glorot init, plain SGD, batch ${BATCH}, seed ${seed}, native backend; ` +
    `55000 training examples (5000 held out for validation). Perturbation: σ = ${SIGMA}, one noise sample per update (forward difference).`,
  `Budget in forward passes over single examples: bp counts ${COST.bp} per example (its backward pass ≈ 2 forward passes), np and wp ${COST.np} ` +
    `(clean + noisy pass). Training stops at the last whole epoch within the budget. lr: the best validation error at ${tuneBudget.toExponential(0)} ` +
    `passes among ${METHODS.map((m) => `${m} {${GRID[m].join(', ')}}`).join(', ')}; that run then continues to ${finalBudget.toExponential(0)}.`,
  '',
  `| rule | lr | test error at ≤ ${tuneBudget.toExponential(0)} passes | test error at ≤ ${finalBudget.toExponential(0)} passes | training time |`,
  '|---|---:|---:|---:|---:|',
  ...chosen.map((r) => `| ${r.method} | ${r.lr} | ${cell(r, tuneBudget)} | ${cell(r, finalBudget)} | ${r.seconds.toFixed(0)} s |`),
  '',
  `Learning-rate search (validation error at ${tuneBudget.toExponential(0)} passes): ${tuning.join('; ')}.`,
];
process.stdout.write(`${lines.join('\n')}\n`);

const points: ChartPoint[] = chosen.flatMap((r) => r.points.map((p) => ({ x: p.passes, y: 100 * p.test, series: `${r.method} (lr ${r.lr})` })));
const svg = await chartFigure([[{
  title: `${spec.sizes.join('-')} tanh, batch ${BATCH}`, points, x: { title: 'forward passes (single examples)', log: true },
  y: { title: 'test error (%)', log: true }, seriesTitle: 'rule',
}]], 'MNIST: test error against a budget of forward passes');
writeFileAtomic(join(values.out, 'perturbation-mnist.md'), `${lines.join('\n')}\n`);
writeFileAtomic(join(values.out, 'perturbation-mnist.svg'), svg);
process.stdout.write(`wrote ${join(values.out, 'perturbation-mnist.md')} and perturbation-mnist.svg\n`);
