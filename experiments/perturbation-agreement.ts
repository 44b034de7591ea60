// How far a perturbation estimate of the gradient points from the true gradient, as a function of the
// number of perturbations averaged: weight perturbation (parallel) and node perturbation on one fixed
// small net and batch. Both are unbiased, so the angle must fall towards 0° as the samples grow. For
// weight perturbation with Gaussian ξ and a linear ΔL, E|ĝ|² = |g|²(1 + (N+1)/S) for N parameters, so
// cos ∠(ĝ, g) ≈ √(S/(S+N+1)): the theoretical curve.
// Run: npm run build && node dist/experiments/perturbation-agreement.js [--repeats 20] [--out docs/figures]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createBackend } from '../node/backends.js';
import { chartFigure, type ChartPoint } from '../node/figures.js';
import { writeFileAtomic } from '../node/files.js';
import { matrix } from '../src/tensor/matrix.js';
import { BackpropReference } from '../src/metrics/alignment.js';
import { degrees } from '../src/metrics/angles.js';
import type { DenseParams } from '../src/nn/dense.js';
import { createNetwork, createWorkspace, forward, paramList, zerosLike, type NetworkSpec } from '../src/nn/network.js';
import { nodePerturbation } from '../src/rules/node-perturbation.js';
import type { LearningRule } from '../src/rules/rule.js';
import { weightPerturbation } from '../src/rules/weight-perturbation.js';
import { runStreams } from '../src/train/trainer.js';
import { mean, num, sd } from './stats.js';

const { values } = parseArgs({
  options: {
    repeats: { type: 'string', default: '20' },
    out: { type: 'string', default: 'docs/figures' },
    sigma: { type: 'string', default: '0.001' },
    samples: { type: 'string', default: '1,3,10,30,100,300,1000,3000,10000,30000' },
  },
});
const repeats = Number(values.repeats);
const sigma = Number(values.sigma);
const sampleCounts = values.samples.split(',').map(Number);
const BATCH = 32;
const { backend } = createBackend();

// A fixed small tanh net and one batch, with targets from a random teacher of the same shape.
const spec: NetworkSpec = { sizes: [8, 16, 4], hidden: 'tanh', output: 'linear', leakySlope: 0, loss: 'mse', init: { kind: 'glorot' } };
const streams = runStreams(1);
const net = createNetwork(spec, streams.init);
const teacher = createNetwork({ ...spec, init: { kind: 'uniform', omega: 1 } }, streams.data);
const x = matrix(BATCH, spec.sizes[0], streams.data.fillNormal(new Float32Array(BATCH * spec.sizes[0]), 0, 1));
const y = matrix(BATCH, spec.sizes[2]);
y.data.set(forward(backend, teacher, x, createWorkspace(spec, BATCH)).data);
const batch = { x, y };
const trueGrad = new BackpropReference(net, BATCH).compute(backend, batch).grads;
const N = paramList(net.layers).reduce((n, p) => n + p.value.length, 0);
const units = spec.sizes.slice(1).reduce((a, b) => a + b, 0);

/** Angle between two full parameter vectors (all layers, weights and biases), degrees. */
function angle(a: readonly DenseParams[], b: readonly DenseParams[]): number {
  const pa = paramList(a), pb = paramList(b);
  let ab = 0, aa = 0, bb = 0;
  pa.forEach((p, i) => {
    const u = p.value, v = pb[i].value;
    for (let j = 0; j < u.length; j++) { ab += u[j] * v[j]; aa += u[j] * u[j]; bb += v[j] * v[j]; }
  });
  return degrees(ab / Math.sqrt(aa * bb));
}

const rules: Record<string, (samples: number) => LearningRule> = {
  wp: (samples) => weightPerturbation({ mode: 'parallel', sigma, samples }) as LearningRule,
  np: (samples) => nodePerturbation({ sigma, samples }) as LearningRule,
};
const ws = createWorkspace(spec, BATCH);
const grads = zerosLike(net.layers);
const rng = streams.rule;
const angles: Record<string, number[][]> = {};
for (const [id, make] of Object.entries(rules)) {
  angles[id] = sampleCounts.map((S) => Array.from({ length: repeats }, () => {
    const rule = make(S);
    const r = rule.step({ backend, net, ws, rng, grads }, rule.init(net, rng), batch);
    return angle(r.grads, trueGrad);
  }));
}
const theory = (S: number) => degrees(Math.sqrt(S / (S + N + 1)));

const lines = [
  `Net ${spec.sizes.join('-')} (tanh hidden, linear output, mse, Glorot init, seed 1): N = ${N} parameters, ${units} units; ` +
    `one batch of ${BATCH} inputs x ~ N(0, I), targets from a random teacher. σ = ${sigma}, forward differences.`,
  `∠(estimate, true gradient) over all parameters, degrees, mean ± sd over ${repeats} independent estimates per S. ` +
    `wp theory: acos √(S/(S+N+1)).`,
  '',
  '| samples S | forward passes (1 + S) | wp: measured | wp: theory | np: measured |',
  '|---:|---:|---:|---:|---:|',
  ...sampleCounts.map((S, i) => `| ${S} | ${1 + S} | ${mean(angles.wp[i]).toFixed(1)} ± ${sd(angles.wp[i]).toFixed(1)} | ${num(theory(S), 1)} | ${mean(angles.np[i]).toFixed(1)} ± ${sd(angles.np[i]).toFixed(1)} |`),
];
process.stdout.write(`${lines.join('\n')}\n`);

const points: ChartPoint[] = [
  ...sampleCounts.flatMap((S, i) => Object.keys(rules).map((id) => ({ x: S, y: mean(angles[id][i]), series: id, style: 'measured' }))),
  ...sampleCounts.map((S) => ({ x: S, y: theory(S), series: 'wp theory', style: 'theory' })),
];
const svg = await chartFigure([[{
  title: `${spec.sizes.join('-')} tanh net, batch ${BATCH}`, points, x: { title: 'perturbation samples averaged', log: true },
  y: { title: '∠(estimate, true gradient) (°)', domain: [0, 90] }, seriesTitle: 'rule',
}]], 'Perturbation estimates approach the gradient as samples are averaged');
writeFileAtomic(join(values.out, 'perturbation-agreement.md'), `${lines.join('\n')}\n`);
writeFileAtomic(join(values.out, 'perturbation-agreement.svg'), svg);
process.stdout.write(`wrote ${join(values.out, 'perturbation-agreement.md')} and perturbation-agreement.svg\n`);
