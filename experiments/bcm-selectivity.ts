// BCM: selectivity and the sliding threshold (issue 13). A layer of rectified units learns by the bcm rule from an
// environment of K input patterns, through the training loop:
//  1. selectivity emerges with the patterns shown in random order (BCM 1982's simple case): each unit ends responding
//     ≈ K·y₀ to one pattern and ≈ 0 to the others (index → 1 − 1/K); and it needs θ faster than the weights (τ = 100 fails);
//  2. θ tracks ⟨y²⟩, step by step (every step shows each pattern once): when the inputs' contrast is raised by 1.5
//     (⟨y²⟩ × 2.25 at once), θ closes the gap with time constant τ while the weights shrink the responses back to
//     the fixed point: the sliding threshold's homeostasis;
//  3. without the sliding threshold (θ fixed below or above the units' initial activity) activity runs away or dies.
// Run: npm run build && node dist/experiments/bcm-selectivity.js [--seed 1] [--out docs/figures]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../node/backends.js';
import { chartFigure, type ChartPoint } from '../node/figures.js';
import { writeFileAtomic } from '../node/files.js';
import { classificationSet } from '../src/data/one-hot.js';
import type { DataSplits } from '../src/data/dataset.js';
import { createWorkspace, forward, type NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { Rng } from '../src/random.js';
import type { BcmState } from '../src/rules/bcm.js';
import type { RuleOptions } from '../src/rules/rule.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { TrainingDivergedError } from '../src/train/events.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN, type Trainer } from '../src/train/trainer.js';
import { mean, num, sd } from './stats.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    out: { type: 'string', default: 'docs/figures' },
    lr: { type: 'string', default: '0.02' },
    tau: { type: 'string', default: '10' },
  },
});
const seed = Number(values.seed), lr = Number(values.lr), tau = Number(values.tau);
const K = 5, INPUTS = 20, UNITS = 10, COPIES = 200, BATCH = 10, EPOCHS = 150, SWITCH_STEPS = 500, CONTRAST = 1.5;
const { backend } = createBackend();

// K non-negative patterns of unit length (linearly independent with probability 1), and the environment: each
// pattern COPIES times, shuffled by the loop every epoch, BATCH per step.
const rng = Rng.fromSeed(seed);
const patterns = matrix(K, INPUTS, rng.fillUniform(new Float32Array(K * INPUTS), 0, 1));
for (let p = 0; p < K; p++) {
  const row = patterns.data.subarray(p * INPUTS, (p + 1) * INPUTS);
  const norm = Math.hypot(...row);
  row.forEach((v, i) => { row[i] = v / norm; });
}
function environment(scale: number, copies = COPIES): DataSplits {
  const x = matrix(K * copies, INPUTS), labels = new Int32Array(K * copies);
  for (let i = 0; i < K * copies; i++) {
    labels[i] = i % K;
    for (let d = 0; d < INPUTS; d++) x.data[i * INPUTS + d] = scale * patterns.data[(i % K) * INPUTS + d];
  }
  const train = classificationSet('patterns', x, labels, K);
  return { train, test: train };
}

const spec: NetworkSpec = { sizes: [INPUTS, UNITS, K], hidden: 'relu', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };
const config = (ruleOptions: RuleOptions, batchSize = BATCH): RunConfig => ({
  rule: 'bcm', ruleOptions, spec, seed, optimizer: { ...DEFAULT_OPTIMIZER, name: 'sgd' },
  train: { ...DEFAULT_TRAIN, epochs: EPOCHS + SWITCH_STEPS, batchSize, lr, stepEventEvery: 0, evalEvery: 0 },
});

/** A trainer whose layer 1 starts with small positive weights, U[0, 0.2] (every unit responds to every pattern,
 * unselectively), the same for every run. */
function startTrainer(ruleOptions: RuleOptions): Trainer {
  const trainer = createTrainer(config(ruleOptions), backend, environment(1));
  Rng.fromSeed(seed + 1000).fillUniform(trainer.state.net.layers[0].W.data, 0, 0.2);
  trainer.state.net.layers[0].b.fill(0);
  return trainer;
}

interface Snapshot {
  epoch: number;
  /** The epoch's means over its steps of the rule's metrics theta and y2 (each batch's ⟨y²⟩); NaN before training. */
  thetaMean: number;
  batchY2: number;
  /** At the epoch's end: mean θ, and ⟨y²⟩ over the ensemble (each pattern 1/K), means over the units. */
  theta: number;
  y2: number;
  selectivity: number;
  preferred: number;
  others: number;
  largest: number;
  winners: number[];
}

/** The units' responses to the K patterns (at the environment's contrast) and what they say. */
function snapshot(trainer: Trainer, epoch: number, scale: number, metrics: Readonly<Record<string, number>> = {}): Snapshot {
  const ws = createWorkspace(spec, K);
  const x: Matrix = { rows: K, cols: INPUTS, data: patterns.data.map((v) => scale * v) };
  forward(backend, trainer.state.net, x, ws);
  const y = ws.h[0], theta = (trainer.state.ruleState as BcmState).theta;
  let t = 0, y2 = 0, sel = 0, responding = 0, preferred = 0, others = 0, largest = 0;
  const winners = new Array<number>(K).fill(0);
  for (let j = 0; j < UNITS; j++) {
    const r = Array.from({ length: K }, (_, p) => y.data[p * UNITS + j]);
    const max = Math.max(...r), best = r.indexOf(max), sum = r.reduce((a, v) => a + v, 0);
    t += theta[j];
    y2 += r.reduce((a, v) => a + v * v, 0) / K;
    if (max > 0) { sel += 1 - sum / K / max; responding++; winners[best]++; }
    preferred += max;
    others += (sum - max) / (K - 1);
    largest = Math.max(largest, max);
  }
  return { epoch, thetaMean: metrics.theta ?? NaN, batchY2: metrics.y2 ?? NaN, theta: t / UNITS, y2: y2 / UNITS, selectivity: responding ? sel / responding : NaN, preferred: preferred / UNITS, others: others / UNITS, largest, winners };
}

// --- 1: selectivity, patterns in random order -------------------------------------------------------------------
const lines: string[] = [];
const say = (line = '') => { lines.push(line); process.stdout.write(`${line}\n`); };
/** One epoch, and the snapshot with the epoch's metrics. */
function epoch(t: Trainer, e: number, scale: number): Snapshot {
  let metrics: Readonly<Record<string, number>> = {};
  t.trainEpoch((event) => { if (event.type === 'epoch' && event.metrics) metrics = event.metrics; });
  return snapshot(t, e, scale, metrics);
}
const dash = (x: number) => (Number.isFinite(x) ? num(x) : '—');
const runs: Record<string, { trainer: Trainer; history: Snapshot[] }> = {};
for (const t of [tau, 100]) {
  const trainer = startTrainer({ tau: t });
  const history: Snapshot[] = [snapshot(trainer, 0, 1)];
  for (let e = 1; e <= EPOCHS; e++) history.push(epoch(trainer, e, 1));
  runs[t] = { trainer, history };
}
const { history } = runs[tau];
say(`${K} patterns in R^${INPUTS} (non-negative, unit length), ${UNITS} rectified units (a ${spec.sizes.join('-')} net; the readout is not trained), ` +
  `bcm y₀ = 1; SGD lr ${lr}, batch ${BATCH} drawn in random order from ${COPIES} copies of each pattern (${(K * COPIES) / BATCH} steps per epoch), ` +
  `seed ${seed}. Layer 1 starts at W ~ U[0, 0.2], b = 0. Responses are to the ${K} patterns; θ and batch ⟨y²⟩ are the epoch's means over its ` +
  `steps of the rule's metrics \`theta\` and \`y2\`; ensemble ⟨y²⟩ (each pattern 1/K), the responses and the selectivity (BCM 1982's ` +
  `1 − mean/max response over the ensemble) are at the epoch's end; all are means over the units. The deterministic fixed point: ${K}·y₀ = ${K} ` +
  `for the preferred pattern, 0 for the rest, θ = ⟨y²⟩ = ${K}, selectivity 1 − 1/K = ${num(1 - 1 / K, 2)}.`);
say();
say(`| epoch | θ | batch ⟨y²⟩ | ensemble ⟨y²⟩ | selectivity | preferred response | other responses | units per preferred pattern | τ = 100: selectivity, preferred response |`);
say('|---:|---:|---:|---:|---:|---:|---:|---|---|');
for (const s of history.filter((h) => [0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150].includes(h.epoch))) {
  const slow = runs[100].history[s.epoch];
  say(`| ${s.epoch} | ${dash(s.thetaMean)} | ${dash(s.batchY2)} | ${num(s.y2)} | ${num(s.selectivity)} | ${num(s.preferred)} | ${num(s.others)} | ${s.winners.join(' ')} | ` +
    `${num(slow.selectivity)}, ${num(slow.preferred)} |`);
}
const last20 = history.slice(-20).map((h) => h.preferred);
say();
say(`τ = ${tau}: preferred response over epochs ${EPOCHS - 19}–${EPOCHS}: ${num(mean(last20), 2)} ± ${num(sd(last20), 2)} (mean ± sd over epochs).`);

// --- 2: θ tracks ⟨y²⟩ after a change of the inputs, step by step ---------------------------------------------------
// Every step shows each pattern once (batch K of a set of K), so the batch's ⟨y²⟩ is the ensemble's and an epoch is a step.
const steps: Snapshot[] = [];
const tracker = createTrainer(config({ tau }, K), backend, environment(CONTRAST, 1), runs[tau].trainer.state);
const before = snapshot(tracker, 0, CONTRAST); // the state at the end of part 1, seen at the new contrast
for (let n = 1; n <= SWITCH_STEPS; n++) steps.push(epoch(tracker, n, CONTRAST));
const gap0 = before.y2 - before.theta;
say();
say(`Then the inputs are multiplied by ${CONTRAST} and training goes on with every pattern once per step (batch ${K}), same lr and τ = ${tau}. ` +
  `Step 0: the part-1 state at the new contrast (θ still the old one). θ is after the step (it includes the step's batch); ` +
  `gap = ensemble ⟨y²⟩ − θ (means over units); frozen-weights gap = the step-0 gap × (1 − 1/τ)ⁿ, what θ's running average alone would leave.`);
say();
say('| steps n | θ | ⟨y²⟩ (this step) | gap | frozen-weights gap | preferred response | selectivity |');
say('|---:|---:|---:|---:|---:|---:|---:|');
say(`| 0 | ${num(before.theta)} | ${num(before.y2)} | ${num(gap0)} | ${num(gap0)} | ${num(before.preferred)} | ${num(before.selectivity)} |`);
for (const s of steps.filter((h) => [1, 2, 5, 10, 20, 30, 50, 100, 200, 500].includes(h.epoch))) {
  say(`| ${s.epoch} | ${num(s.thetaMean)} | ${num(s.batchY2)} | ${num(s.batchY2 - s.thetaMean)} | ${num(gap0 * (1 - 1 / tau) ** s.epoch)} | ${num(s.preferred)} | ${num(s.selectivity)} |`);
}

// --- 3: a fixed threshold --------------------------------------------------------------------------------------
const start = history[0];
const fixedRuns: [string, number][] = [['fixed θ = ½ · initial ⟨y²⟩', start.y2 / 2], ['fixed θ = 2 · initial largest response', 2 * start.largest]];
say();
say(`Without the sliding threshold (same start, same data, θ fixed; initial mean ⟨y²⟩ ${num(start.y2)}, largest response ${num(start.largest)}):`);
say();
say('| θ | epoch 1: largest response | epoch 5 | epoch 20 | epoch 40 | outcome |');
say('|---|---:|---:|---:|---:|---|');
const fixedPoints: ChartPoint[] = [];
for (const [label, theta] of fixedRuns) {
  const t = startTrainer({ fixedTheta: theta });
  const largest: Record<number, string> = {};
  let outcome = 'bounded';
  for (let e = 1; e <= 40; e++) {
    try {
      t.trainEpoch();
    } catch (err) {
      if (!(err instanceof TrainingDivergedError)) throw err;
      outcome = `runs away: the loss is ${err.loss} at epoch ${err.epoch}, batch ${err.batch}`;
      break;
    }
    const s = snapshot(t, e, 1);
    largest[e] = s.largest.toPrecision(3);
    fixedPoints.push({ x: e, y: s.largest, series: label });
    if (!Number.isFinite(s.largest) || s.largest > 1e30) { outcome = `runs away (largest response ${s.largest.toPrecision(3)} at epoch ${e})`; break; }
    if (e === 40 && s.largest < 0.01 * start.largest) outcome = `dies (largest response ${s.largest.toPrecision(3)} at epoch ${e})`;
  }
  say(`| ${label} = ${num(theta)} | ${largest[1] ?? '—'} | ${largest[5] ?? '—'} | ${largest[20] ?? '—'} | ${largest[40] ?? '—'} | ${outcome} |`);
}
history.slice(1).forEach((s) => fixedPoints.push({ x: s.epoch, y: s.largest, series: `sliding θ (τ = ${tau})` }));
runs[100].history.slice(1).forEach((s) => fixedPoints.push({ x: s.epoch, y: s.largest, series: 'sliding θ (τ = 100)' }));

const trace: ChartPoint[] = [
  { x: 0, y: before.theta, series: 'θ' }, { x: 0, y: before.y2, series: '⟨y²⟩' },
  ...steps.filter((s) => s.epoch <= 200).flatMap((s) => [{ x: s.epoch, y: s.thetaMean, series: 'θ' }, { x: s.epoch, y: s.batchY2, series: '⟨y²⟩' }]),
];
const selectivity: ChartPoint[] = [tau, 100].flatMap((t) => runs[t].history.map((s) => ({ x: s.epoch, y: s.selectivity, series: `τ = ${t}` })));
const svg = await chartFigure([[
  { title: 'selectivity over the ensemble (random order)', points: selectivity, x: { title: 'epoch' }, y: { title: '1 − mean/max response', domain: [0, 1] }, seriesTitle: 'θ time constant', rule: 1 - 1 / K },
  { title: `θ tracks ⟨y²⟩ after the inputs ×${CONTRAST}`, points: trace, x: { title: 'steps after the change' }, y: { title: 'mean over units' }, seriesTitle: 'quantity', rule: K },
  { title: 'largest response, sliding vs fixed θ', points: fixedPoints, x: { title: 'epoch', log: true }, y: { title: 'largest response', log: true }, seriesTitle: 'threshold' },
]], `BCM: ${UNITS} rectified units, ${K} patterns`);
writeFileAtomic(join(values.out, 'bcm-selectivity.md'), `${lines.join('\n')}\n`);
writeFileAtomic(join(values.out, 'bcm-selectivity.svg'), svg);
process.stdout.write(`wrote ${join(values.out, 'bcm-selectivity.md')} and bcm-selectivity.svg\n`);
