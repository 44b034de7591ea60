// Werfel, Xie & Seung 2005: how learning time grows with network size for backprop (gradient descent),
// node perturbation and (parallel) weight perturbation, each at its own tuned learning rate. A student
// learns a teacher of the same architecture online; we count updates until the normalised error reaches
// a fixed target, as the number of output units grows (inputs fixed) and as the number of inputs grows
// (outputs fixed), and fit log-log slopes. Expected: np/bp ∝ outputs, wp/bp ∝ weights.
// Run: npm run build && node dist/experiments/perturbation-scaling.js [--seeds 2] [--out docs/figures]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../node/backends.js';
import { chartFigure, type ChartPoint } from '../node/figures.js';
import { writeFileAtomic } from '../node/files.js';
import type { NetworkSpec } from '../src/nn/network.js';
import { backprop } from '../src/rules/backprop.js';
import { nodePerturbation } from '../src/rules/node-perturbation.js';
import type { LearningRule } from '../src/rules/rule.js';
import { weightPerturbation } from '../src/rules/weight-perturbation.js';
import { geomean, logLogSlope, num } from './stats.js';
import { tuneLr, type TeacherTask, type Tuned } from './perturbation-teacher.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '2' },
    out: { type: 'string', default: 'docs/figures' },
    target: { type: 'string', default: '0.01' },
    'max-updates': { type: 'string', default: '300000' },
    backend: { type: 'string', default: 'js' },
    sweeps: { type: 'string', default: '0,1,2' },
  },
});
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i + 1);
const target = Number(values.target);
const maxUpdates = Number(values['max-updates']);
// NOTE: the js backend by default: with one example per step the matrices are tiny and the native
// addon's per-call overhead dominates.
const { backend } = createBackend(values.backend);

type Method = 'bp' | 'np' | 'wp';
const METHODS: readonly Method[] = ['bp', 'np', 'wp'];
/** Forward passes per update: bp's clean pass (plus one backward pass, not counted); the perturbation
 * rules' clean pass and one noisy pass (samples 1, forward difference). */
const PASSES: Record<Method, number> = { bp: 1, np: 2, wp: 2 };
const SIGMA = 1e-3;
const makeRule: Record<Method, () => LearningRule> = {
  bp: () => backprop() as LearningRule,
  np: () => nodePerturbation({ sigma: SIGMA }) as LearningRule,
  wp: () => weightPerturbation({ mode: 'parallel', sigma: SIGMA }) as LearningRule,
};

const countParams = (sizes: readonly number[]) => sizes.slice(1).reduce((n, w, l) => n + w * (sizes[l] + 1), 0);
/** Where the lr search starts: ~1/(fan-in) for bp, divided by the noise dimension for the others
 * (outputs + hidden units for np, parameters for wp). Only a starting point; the search walks from it. */
function guessLr(method: Method, sizes: readonly number[]): number {
  const bp = 0.5 / (sizes[0] + 1);
  if (method === 'bp') return bp;
  return method === 'np' ? bp / (sizes.slice(1).reduce((a, b) => a + b, 0) + 2) : bp / (countParams(sizes) + 2);
}

interface Sweep { name: string; variable: string; sizes: number[][]; x: (sizes: number[]) => number; spec: (sizes: number[]) => NetworkSpec; task: Omit<TeacherTask, 'spec'> }
const linearSpec = (sizes: number[]): NetworkSpec => ({ sizes, hidden: 'linear', output: 'linear', leakySlope: 0, loss: 'mse', init: { kind: 'uniform', omega: 1 } });
const linearTask = { zeroInit: true, batch: 1, target, maxUpdates };
const sweeps: Sweep[] = [
  { name: 'linear, outputs grow (8 inputs)', variable: 'outputs', sizes: [1, 2, 4, 8, 16].map((m) => [8, m]), x: (s) => s[1], spec: linearSpec, task: linearTask },
  { name: 'linear, inputs grow (4 outputs)', variable: 'inputs', sizes: [4, 8, 16, 32, 64].map((n) => [n, 4]), x: (s) => s[0], spec: linearSpec, task: linearTask },
  {
    name: 'tanh 8-8-M, outputs grow', variable: 'outputs', sizes: [1, 2, 4, 8].map((m) => [8, 8, m]), x: (s) => s[2],
    spec: (sizes) => ({ sizes, hidden: 'tanh', output: 'linear', leakySlope: 0, loss: 'mse', init: { kind: 'glorot' } }),
    task: { zeroInit: false, batch: 1, target: 0.1, maxUpdates },
  },
];

interface Result { sweep: Sweep; sizes: number[]; method: Method; tuned: Tuned; seconds: number }
const results: Result[] = [];
const chosen = values.sweeps.split(',').map(Number);
for (const sweep of sweeps.filter((_, i) => chosen.includes(i))) {
  for (const sizes of sweep.sizes) {
    for (const method of METHODS) {
      const started = performance.now();
      const tuned = tuneLr(backend, { ...sweep.task, spec: sweep.spec(sizes) }, makeRule[method], guessLr(method, sizes), seeds);
      const seconds = (performance.now() - started) / 1000;
      results.push({ sweep, sizes, method, tuned, seconds });
      process.stderr.write(`${sweep.name} ${sizes.join('-')} ${method}: lr ${tuned.lr.toExponential(2)} updates ${tuned.updates.join(',')} (${tuned.tried.length} lrs, ${seconds.toFixed(1)} s)\n`);
    }
  }
}

/** Geometric mean of updates over seeds; null when a seed did not reach the target. */
const updatesOf = (r: Result): number | null => (r.tuned.updates.every((u) => u !== null) ? geomean(r.tuned.updates as number[]) : null);
const find = (sweep: Sweep, sizes: number[], method: Method) => results.find((r) => r.sweep === sweep && r.sizes === sizes && r.method === method);

const lines: string[] = [
  `Online student–teacher learning (one fresh x ~ N(0, I) per update; teacher weights U[−1, 1]); plain SGD; ` +
    `perturbation σ = ${SIGMA}, one noise sample per update (forward difference); seeds ${seeds.join(', ')}; cap ${maxUpdates} updates.`,
  `Target: normalised error (loss / loss of the zero predictor) ≤ ${target} for the linear nets (error exact, from ‖W − T‖), ` +
    `≤ ${sweeps[2].task.target} for the tanh net (on 1000 test inputs). lr tuned per method and size on a factor-√2 grid ` +
    `(fewest updates, geometric mean over seeds). Forward passes = updates × ${PASSES.np} for np and wp, × 1 for bp (its backward pass not counted).`,
  '',
];
for (const sweep of sweeps.filter((_, i) => chosen.includes(i))) {
  lines.push(`**${sweep.name}**`, '',
    `| ${sweep.variable} | weights+biases | bp: lr | bp: updates | np: lr | np: updates | wp: lr | wp: updates | np/bp | wp/bp |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const sizes of sweep.sizes) {
    const cell = (m: Method) => {
      const r = find(sweep, sizes, m);
      const u = r ? updatesOf(r) : null;
      return `${r ? num(r.tuned.lr, 4) : '—'}${r?.tuned.atEdge ? ' (edge)' : ''} | ${u === null ? 'not reached' : num(u, 0)}`;
    };
    const ratio = (m: Method) => {
      const a = find(sweep, sizes, m), b = find(sweep, sizes, 'bp');
      const ua = a ? updatesOf(a) : null, ub = b ? updatesOf(b) : null;
      return ua !== null && ub !== null ? num(ua / ub, 1) : '—';
    };
    lines.push(`| ${sweep.x(sizes)} | ${countParams(sizes)} | ${cell('bp')} | ${cell('np')} | ${cell('wp')} | ${ratio('np')} | ${ratio('wp')} |`);
  }
  const slope = (m: Method, relative: boolean) => {
    const pts = sweep.sizes.flatMap((sizes) => {
      const r = find(sweep, sizes, m), b = find(sweep, sizes, 'bp');
      const u = r ? updatesOf(r) : null, ub = b ? updatesOf(b) : null;
      return u !== null && ub !== null ? [{ x: sweep.x(sizes), y: relative ? u / ub : u }] : [];
    });
    return pts.length >= 2 ? logLogSlope(pts.map((p) => p.x), pts.map((p) => p.y)).slope.toFixed(2) : '—';
  };
  lines.push('', `Fitted log-log slopes in ${sweep.variable}: updates ∝ ${sweep.variable}^s with s = ` +
    METHODS.map((m) => `${m} ${slope(m, false)}`).join(', ') + `; relative to bp: np/bp ${slope('np', true)}, wp/bp ${slope('wp', true)}.`, '');
}
const seconds = results.reduce((s, r) => s + r.seconds, 0);
lines.push(`Total training time ${seconds.toFixed(0)} s.`);
process.stdout.write(`${lines.join('\n')}\n`);

const points = (sweep: Sweep, passes: boolean): ChartPoint[] => sweep.sizes.flatMap((sizes) => METHODS.flatMap((m) => {
  const r = find(sweep, sizes, m);
  const u = r ? updatesOf(r) : null;
  return u === null ? [] : [{ x: sweep.x(sizes), y: passes ? u * PASSES[m] : u, series: m }];
}));
const svg = await chartFigure([sweeps.filter((_, i) => chosen.includes(i)).map((sweep) => ({
  title: sweep.name, points: points(sweep, false), x: { title: sweep.variable, log: true }, y: { title: 'updates to target (tuned lr)', log: true }, seriesTitle: 'rule',
}))], 'Werfel, Xie & Seung 2005: learning time against network size');
writeFileAtomic(join(values.out, 'perturbation-scaling.md'), `${lines.join('\n')}\n`);
writeFileAtomic(join(values.out, 'perturbation-scaling.svg'), svg);
process.stdout.write(`wrote ${join(values.out, 'perturbation-scaling.md')} and perturbation-scaling.svg\n`);
