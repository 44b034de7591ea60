// Hinton's cafeteria (lecture on the linear neuron): learn the prices of fish, chips and ketchup (true
// 150, 50, 100) from the bills of random meals with the delta rule, online (one meal per update) and
// batch (all meals per update); and show that correlated portions (chips and ketchup bought together)
// slow convergence, as the condition number of the input covariance predicts.
// Run: npm run build && node dist/experiments/cafeteria.js [--seeds 5] [--out docs/figures]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../node/backends.js';
import { chartFigure, type ChartPoint } from '../node/figures.js';
import { writeFileAtomic } from '../node/files.js';
import { cafeteria } from '../src/data/synthetic.js';
import type { DataSplits } from '../src/data/dataset.js';
import { createNetwork, type NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER, makeOptimizer } from '../src/optim/optimizer.js';
import { deltaRule } from '../src/rules/delta-rule.js';
import type { LearningRule } from '../src/rules/rule.js';
import { DEFAULT_TRAIN, initialState, runStreams, singleStageTrainer } from '../src/train/trainer.js';
import { mean, num, sd, symmetricEigenvalues } from './stats.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '5' },
    out: { type: 'string', default: 'docs/figures' },
    correlations: { type: 'string', default: '0,0.5,0.9,0.99' },
    meals: { type: 'string', default: '1000' },
    fraction: { type: 'string', default: '0.5' },
    tolerance: { type: 'string', default: '1' },
  },
});
const seeds = Number(values.seeds);
const correlations = values.correlations.split(',').map(Number);
const meals = Number(values.meals);
/** lr = fraction · 2/λ_max: the same fraction of the largest stable batch step for every correlation. */
const fraction = Number(values.fraction);
/** Converged when the RMS error of the three prices falls below this (in price units). */
const tolerance = Number(values.tolerance);
const PRICES = [150, 50, 100];
const GUESS = [50, 50, 50]; // the lecture's initial guesses
const MAX_UPDATES = { batch: 100_000, online: 3_000_000 };

// The lecture's neuron: three inputs, one linear output, squared error. NOTE: ngrad's dense layer always
// has a bias; withoutBias() keeps it at its initial 0, so the model is the lecture's price = w·x.
const spec: NetworkSpec = { sizes: [3, 1], hidden: 'linear', output: 'linear', leakySlope: 0, loss: 'mse', init: { kind: 'uniform', omega: 1 } };

/** The rule's proposal with the bias part zeroed, so that the bias never moves from 0. */
function withoutBias(rule: LearningRule): LearningRule {
  return {
    ...rule,
    step(ctx, state, batch) {
      const r = rule.step(ctx, state, batch);
      r.grads.forEach((g) => g.b.fill(0));
      return r;
    },
  };
}

/** Eigenvalues of the Hessian of the mean loss ½⟨(w·x − t)²⟩, i.e. of ⟨x xᵀ⟩ (uncentred: no bias). */
function hessianEigenvalues(data: DataSplits): number[] {
  const { x } = data.train;
  const H = new Array<number>(9).fill(0);
  for (let n = 0; n < x.rows; n++) {
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) H[3 * i + j] += x.data[3 * n + i] * x.data[3 * n + j] / x.rows;
  }
  return symmetricEigenvalues(H, 3);
}

type Mode = 'online' | 'batch';
/** Prices and RMS error after update k (k = 0: the guesses), recorded at log-spaced k to stay small. */
interface Trajectory { k: number[]; prices: number[][]; rms: number[]; updatesToTolerance: number | null }

const { backend } = createBackend();

/** Trains one model from the lecture's guesses until the RMS price error is below tolerance. */
function train(data: DataSplits, seed: number, mode: Mode, lr: number): Trajectory {
  const streams = runStreams(seed);
  const net = createNetwork(spec, streams.init);
  net.layers[0].W.data.set(GUESS);
  const rule = withoutBias(deltaRule() as LearningRule); // batch mode; with batch size 1 it is the online rule
  const optimizer = makeOptimizer({ ...DEFAULT_OPTIMIZER, name: 'sgd' });
  const config = { ...DEFAULT_TRAIN, epochs: Infinity, lr, batchSize: mode === 'online' ? 1 : data.train.x.rows, stepEventEvery: 1 };
  const trainer = singleStageTrainer(backend, rule, optimizer, data, config, initialState(net, rule, optimizer, streams, { trainExamples: data.train.x.rows }));
  const W = trainer.state.net.layers[0].W.data;
  const rmsError = () => Math.sqrt(mean(PRICES.map((p, i) => (W[i] - p) ** 2)));
  const t: Trajectory = { k: [], prices: [], rms: [], updatesToTolerance: null };
  let k = 0, next = 0, rms = rmsError();
  const record = () => {
    const reached = t.updatesToTolerance;
    if (reached !== null && k > reached) return; // the figure ends at the tolerance
    if (k < next && k !== reached) return;
    t.k.push(k); t.prices.push(Array.from(W)); t.rms.push(rms);
    next = Math.max(k + 1, Math.ceil(k * 1.06)); // ≈ 40 points per decade
  };
  record();
  while (t.updatesToTolerance === null && k < MAX_UPDATES[mode] && Number.isFinite(rms)) {
    trainer.trainEpoch((e) => {
      if (e.type !== 'step') return;
      k++;
      rms = rmsError();
      if (t.updatesToTolerance === null && rms < tolerance) t.updatesToTolerance = k;
      record();
    });
  }
  return t;
}

interface Row { correlation: number; empirical: number[]; lambdaMax: number[]; kappa: number[]; predicted: number[]; online: (number | null)[]; batch: (number | null)[] }
const rows: Row[] = [];
const examples = new Map<string, Trajectory>(); // seed 1, for the figure
for (const correlation of correlations) {
  const row: Row = { correlation, empirical: [], lambdaMax: [], kappa: [], predicted: [], online: [], batch: [] };
  for (let seed = 1; seed <= seeds; seed++) {
    const data = cafeteria(runStreams(seed).data, { prices: PRICES, n: meals, correlation });
    const eig = hessianEigenvalues(data);
    const lr = (fraction * 2) / eig[2];
    row.empirical.push(pearson(data, 1, 2));
    row.lambdaMax.push(eig[2]);
    row.kappa.push(eig[2] / eig[0]);
    // The slowest mode of batch descent decays as (1 − lr·λ_min)^k: its time constant, in updates.
    row.predicted.push(-1 / Math.log(1 - lr * eig[0]));
    for (const mode of ['online', 'batch'] as const) {
      const t = train(data, seed, mode, lr);
      row[mode].push(t.updatesToTolerance);
      if (seed === 1) examples.set(`${mode} ${correlation}`, t);
    }
  }
  rows.push(row);
}

/** Sample Pearson correlation of two inputs over the training meals. */
function pearson(data: DataSplits, a: number, b: number): number {
  const { x } = data.train;
  const col = (j: number) => Array.from({ length: x.rows }, (_, n) => x.data[3 * n + j]);
  const u = col(a), v = col(b), mu = mean(u), mv = mean(v);
  return mean(u.map((ui, n) => (ui - mu) * (v[n] - mv))) / (sd(u) * sd(v));
}

const counts = (xs: (number | null)[], digits = 0) => {
  const done = xs.filter((v): v is number => v !== null);
  const failed = xs.length - done.length;
  return done.length ? `${num(mean(done), digits)} ± ${num(sd(done), digits)}${failed ? ` (${failed} not reached)` : ''}` : 'not reached';
};
const lines = [
  `Cafeteria task: true prices (${PRICES.join(', ')}), ${meals} random meals (0–5 portions of each item), ` +
    `3-1 linear neuron without bias, squared error, plain SGD from the guesses (${GUESS.join(', ')}); ${seeds} seeds.`,
  `lr = ${fraction} · 2/λ_max(⟨xxᵀ⟩) per data set (the same fraction of the largest stable batch step at every correlation). ` +
    `Updates until the RMS price error first falls below ${tolerance} (mean ± sd over seeds); online: one meal per update, batch: all ${meals}.`,
  '',
  '| correlation (option) | sample corr(chips, ketchup) | κ = λ_max/λ_min | lr | batch: 1/(lr·λ_min) predicted | batch: updates | online: updates | online: epochs |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.correlation} | ${num(mean(r.empirical), 3)} | ${num(mean(r.kappa), 0)} | ${num(mean(r.lambdaMax.map((l) => (fraction * 2) / l)), 4)} | ` +
    `${num(mean(r.predicted), 0)} | ${counts(r.batch)} | ${counts(r.online)} | ${counts(r.online.map((v) => (v === null ? null : v / meals)), 2)} |`),
];
process.stdout.write(`${lines.join('\n')}\n`);

// Figure: prices along the way (seed 1, correlation 0 and the strongest), and the RMS error for every correlation.
const strongest = correlations[correlations.length - 1];
const pricePoints = (mode: Mode, correlation: number): ChartPoint[] => {
  const t = examples.get(`${mode} ${correlation}`);
  if (!t) return [];
  return t.prices.flatMap((p, j) => ['fish', 'chips', 'ketchup'].map((item, i) => ({ x: t.k[j] + 1, y: p[i], series: item })));
};
const rmsPoints = (mode: Mode): ChartPoint[] => correlations.flatMap((c) => {
  const t = examples.get(`${mode} ${c}`);
  return t ? t.rms.map((y, j) => ({ x: t.k[j] + 1, y, series: `corr ${c}` })) : [];
});
const priceAxis = { title: 'price estimate', domain: [0, 200] as const };
const svg = await chartFigure([
  [
    { title: `batch, corr 0`, points: pricePoints('batch', 0), x: { title: 'updates + 1', log: true }, y: priceAxis, seriesTitle: 'item' },
    { title: `online, corr 0`, points: pricePoints('online', 0), x: { title: 'updates + 1', log: true }, y: priceAxis, seriesTitle: 'item' },
  ],
  [
    { title: `batch, corr ${strongest}`, points: pricePoints('batch', strongest), x: { title: 'updates + 1', log: true }, y: priceAxis, seriesTitle: 'item' },
    { title: `online, corr ${strongest}`, points: pricePoints('online', strongest), x: { title: 'updates + 1', log: true }, y: priceAxis, seriesTitle: 'item' },
  ],
  [
    { title: 'batch: RMS price error', points: rmsPoints('batch'), x: { title: 'updates + 1', log: true }, y: { title: 'RMS price error', log: true }, seriesTitle: 'correlation', rule: tolerance },
    { title: 'online: RMS price error', points: rmsPoints('online'), x: { title: 'updates + 1', log: true }, y: { title: 'RMS price error', log: true }, seriesTitle: 'correlation', rule: tolerance },
  ],
], `Cafeteria, delta rule, seed 1, lr = ${fraction}·2/λ_max`);
writeFileAtomic(join(values.out, 'cafeteria.md'), `${lines.join('\n')}\n`);
writeFileAtomic(join(values.out, 'cafeteria.svg'), svg);
process.stdout.write(`wrote ${join(values.out, 'cafeteria.md')} and cafeteria.svg\n`);
