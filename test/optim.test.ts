import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { makeOptimizer, DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { adam, momentum, weightDecay } from '../src/optim/transforms.js';
import { chain } from '../src/optim/transform.js';
import type { Param } from '../src/nn/network.js';
import { learningRate, parseSchedule } from '../src/train/schedule.js';

const backend = createJsBackend();
const params = (): Param[] => [
  { name: 'W1', value: new Float32Array([1, -2]), isBias: false },
  { name: 'b1', value: new Float32Array([0.5]), isBias: true },
];
const near = (a: ArrayLike<number>, b: number[], what: string) =>
  b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-6, `${what}[${i}]: ${a[i]} vs ${v}`));

test('momentum accumulates v ← μv + g and returns v', () => {
  const t = momentum(0.5), p = params();
  let s = t.init(p);
  const g1 = [new Float32Array([1, 1]), new Float32Array([2])];
  s = t.update(g1, s, p, { backend, step: 1 });
  near(g1[0], [1, 1], 'step 1');
  const g2 = [new Float32Array([1, 0]), new Float32Array([0])];
  s = t.update(g2, s, p, { backend, step: 2 });
  near(g2[0], [1.5, 0.5], 'step 2');
  near(g2[1], [1], 'bias step 2');
});

test('nesterov returns g + μ·v', () => {
  const t = momentum(0.5, true), p = params();
  let s = t.init(p);
  s = t.update([new Float32Array([1, 1]), new Float32Array([0])], s, p, { backend, step: 1 });
  const g = [new Float32Array([1, 0]), new Float32Array([0])];
  t.update(g, s, p, { backend, step: 2 });
  // v = 0.5·1 + 1 = 1.5 → 1 + 0.75; v = 0.5·1 + 0 = 0.5 → 0 + 0.25
  near(g[0], [1.75, 0.25], 'nesterov');
});

test('weight decay adds λw to weights only', () => {
  const t = weightDecay(0.1), p = params();
  const g = [new Float32Array([0, 0]), new Float32Array([0])];
  t.update(g, t.init(p), p, { backend, step: 1 });
  near(g[0], [0.1, -0.2], 'weights');
  near(g[1], [0], 'bias untouched');
});

test('adam first step is g/|g| (bias-corrected), per coordinate', () => {
  const t = adam(0.9, 0.999, 0), p = params();
  const g = [new Float32Array([3, -0.01]), new Float32Array([5])];
  t.update(g, t.init(p), p, { backend, step: 1 });
  near(g[0], [1, -1], 'adam step 1');
  near(g[1], [1], 'adam bias');
});

test('chain applies transforms in order and keeps their states apart', () => {
  const p = params();
  const opt = chain(weightDecay(1), momentum(0.5));
  let s = opt.init(p);
  const g = [new Float32Array([0, 0]), new Float32Array([0])];
  s = opt.update(g, s, p, { backend, step: 1 });
  near(g[0], [1, -2], 'decay then momentum');
  assert.equal((s as unknown[]).length, 2);
  assert.equal(makeOptimizer({ ...DEFAULT_OPTIMIZER, name: 'adam', weightDecay: 1e-4 }).name, 'decay(0.0001)+adam(0.9,0.999,1e-8)');
});

test('learning-rate schedules', () => {
  assert.equal(learningRate(0.1, parseSchedule('constant', 10), 7), 0.1);
  assert.ok(Math.abs(learningRate(0.1, parseSchedule('step:3:0.5', 10), 6.5) - 0.025) < 1e-12);
  const cos = parseSchedule('cosine:0.1', 10);
  assert.equal(learningRate(1, cos, 0), 1);
  assert.ok(Math.abs(learningRate(1, cos, 5) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(1, cos, 10) - 0.1) < 1e-12);
  assert.throws(() => parseSchedule('step:x', 10), /bad schedule 'step:x'/);
});

test('momentum with an initial momentum: μ₀ while fewer than E epochs of the stage are done, then μ', () => {
  const t = makeOptimizer({ ...DEFAULT_OPTIMIZER, name: 'momentum', momentum: 0.9, initialMomentum: { momentum: 0.5, epochs: 2 } }), p = params();
  let s = t.init(p);
  const g = () => [new Float32Array([1, 0]), new Float32Array([0])];
  const g1 = g(), g2 = g(), g3 = g();
  s = t.update(g1, s, p, { backend, step: 1, epoch: 0 });
  s = t.update(g2, s, p, { backend, step: 2, epoch: 1 });
  near(g2[0], [1.5, 0], 'epoch 2 still at 0.5: v = 0.5·1 + 1');
  t.update(g3, s, p, { backend, step: 3, epoch: 2 });
  near(g3[0], [0.9 * 1.5 + 1, 0], 'epoch 3 at 0.9');
});
