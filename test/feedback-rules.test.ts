import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloneMatrix, type Matrix } from '../src/tensor/matrix.js';
import { createNetwork, createWorkspace, zerosLike, type NetworkSpec, type Network } from '../src/nn/network.js';
import { Rng } from '../src/random.js';
import { backprop } from '../src/rules/backprop.js';
import { feedbackAlignment } from '../src/rules/feedback-alignment.js';
import { directFeedbackAlignment } from '../src/rules/direct-feedback-alignment.js';
import { signSymmetry } from '../src/rules/sign-symmetry.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { linearTeacher } from '../src/data/synthetic.js';
import { angleDegrees, cosine } from '../src/metrics/angles.js';
import type { Batch, LearningRule } from '../src/rules/rule.js';
import type { TrainEvent } from '../src/train/events.js';
import { oneHot } from '../src/data/one-hot.js';
import { availableBackends, randomMatrix } from './helpers.js';

const spec = (sizes: number[]): NetworkSpec => ({ sizes, hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } });

function stepOnce<S>(rule: LearningRule<S>, net: Network, state: S, batch: Batch, backendIndex = 0) {
  const be = availableBackends()[backendIndex];
  const grads = zerosLike(net.layers);
  const r = rule.step({ backend: be, net, ws: createWorkspace(net.spec, batch.x.rows), rng: Rng.fromSeed(1), grads }, state, batch);
  return r.grads;
}

const batchFor = (inputs: number, classes: number, rows: number, rng: Rng): Batch => {
  const labels = Int32Array.from({ length: rows }, (_, i) => i % classes);
  return { x: randomMatrix(rows, inputs, rng), y: oneHot(labels, classes), labels };
};

test('angle functions on known vectors', () => {
  assert.equal(angleDegrees([1, 0], [0, 2]), 90);
  assert.equal(angleDegrees([1, 1], [2, 2]), 0);
  assert.equal(angleDegrees([1, 0], [-3, 0]), 180);
  assert.ok(Math.abs(angleDegrees([1, 0], [1, 1]) - 45) < 1e-12);
  assert.ok(Number.isNaN(cosine([0, 0], [1, 0])));
});

for (const [bi, be] of availableBackends().entries()) {
  test(`feedback alignment with B := W is exactly backprop (${be.name})`, () => {
    const rng = Rng.fromSeed(2);
    const net = createNetwork(spec([6, 7, 5, 4]), rng);
    const batch = batchFor(6, 4, 9, rng);
    const fa = feedbackAlignment();
    const state = fa.init(net, rng);
    state.B = net.layers.map((p, l) => (l === 0 ? null : cloneMatrix(p.W)));
    assert.deepEqual(stepOnce(fa, net, state, batch, bi), stepOnce(backprop(), net, {}, batch, bi));
    state.B = fa.init(net, rng).B; // random B: a different update
    assert.notDeepEqual(stepOnce(fa, net, state, batch, bi), stepOnce(backprop(), net, {}, batch, bi));
  });

  test(`direct feedback alignment on one hidden layer with D := W_2 is exactly backprop (${be.name})`, () => {
    const rng = Rng.fromSeed(3);
    const net = createNetwork(spec([6, 8, 4]), rng);
    const batch = batchFor(6, 4, 9, rng);
    const dfa = directFeedbackAlignment();
    const state = dfa.init(net, rng);
    assert.deepEqual([state.D[0].rows, state.D[0].cols], [4, 8]);
    state.D = [cloneMatrix(net.layers[1].W)];
    assert.deepEqual(stepOnce(dfa, net, state, batch, bi), stepOnce(backprop(), net, {}, batch, bi));
  });
}

test("sign symmetry's feedback has the signs of W (and mean-|W| magnitude by default)", () => {
  const rng = Rng.fromSeed(4);
  const net = createNetwork(spec([5, 6, 3]), rng);
  for (const magnitude of ['mean', 'unit', 'fixed', 'batch']) {
    const rule = signSymmetry({ magnitude });
    const state = rule.init(net, rng);
    stepOnce(rule, net, state, batchFor(5, 3, 4, rng));
    const F = state.F[1] as Matrix, W = net.layers[1].W;
    F.data.forEach((f, i) => assert.equal(Math.sign(f), Math.sign(W.data[i]), `${magnitude}: sign at ${i}`));
    if (magnitude === 'mean') {
      const meanAbs = W.data.reduce((s, w) => s + Math.abs(w), 0) / W.data.length;
      assert.ok(Math.abs(Math.abs(F.data[0]) - meanAbs) < 1e-6);
    }
  }
});

/** Trains a 30-20-10 tanh net on a linear teacher and returns the first and last ∠(B, Wᵀ) of layer 2. */
function feedbackAngles(rule: 'fa' | 'kp' | 'wm', ruleOptions = {}): { first: number; last: number } {
  const data = linearTeacher(Rng.fromSeed(5), { inputs: 30, outputs: 10, n: 500, nTest: 100 });
  const run: RunConfig = {
    rule, ruleOptions, seed: 6,
    spec: { sizes: [30, 20, 10], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } },
    optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
    train: { ...DEFAULT_TRAIN, epochs: 10, batchSize: 25, lr: 0.01, alignEvery: 1 },
  };
  const angles: number[] = [];
  createTrainer(run, availableBackends()[0], data).run((e: TrainEvent) => {
    if (e.type === 'alignment') angles.push(e.layers[1].feedbackAngle as number);
  });
  assert.equal(angles.length, 200);
  return { first: angles[0], last: angles[angles.length - 1] };
}

test('Kolen–Pollack drives ∠(B, Wᵀ) from ~90° towards 0 in 200 steps', () => {
  const { first, last } = feedbackAngles('kp', { decay: 0.5 });
  assert.ok(first > 75, `initial angle ${first}`);
  assert.ok(last < 20, `final angle ${last}`);
});

test('weight mirror drives ∠(B, Wᵀ) from ~90° towards 0 in 200 steps', () => {
  const { first, last } = feedbackAngles('wm', { mirrorLr: 0.05 });
  assert.ok(first > 60, `initial angle ${first}`);
  assert.ok(last < 25, `final angle ${last}`);
});

test('feedback alignment: B stays fixed while W comes to align with it', () => {
  const { first, last } = feedbackAngles('fa');
  assert.ok(first > 75, `initial angle ${first}`);
  assert.ok(last < first - 20, `W aligns with the fixed B: ${first} → ${last}`);
  // B after a whole training run (every hook of the loop) is still the B it started with.
  const data = linearTeacher(Rng.fromSeed(5), { inputs: 30, outputs: 10, n: 100, nTest: 10 });
  const run: RunConfig = {
    rule: 'fa', ruleOptions: {}, seed: 6,
    spec: { sizes: [30, 20, 10], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } },
    optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' }, train: { ...DEFAULT_TRAIN, epochs: 3, batchSize: 10, lr: 0.01 },
  };
  const trainer = createTrainer(run, availableBackends()[0], data);
  const before = cloneMatrix((trainer.state.ruleState as { B: Matrix[] }).B[1]);
  const weightsBefore = cloneMatrix(trainer.state.net.layers[1].W);
  trainer.run();
  assert.deepEqual((trainer.state.ruleState as { B: Matrix[] }).B[1], before);
  assert.notDeepEqual(trainer.state.net.layers[1].W, weightsBefore, 'while W learned');
});

test('one protocol: under one seed every rule starts from the same forward weights and sees the same data order', () => {
  const data = linearTeacher(Rng.fromSeed(5), { inputs: 30, outputs: 10, n: 100, nTest: 10 });
  const run = (rule: 'bp' | 'fa' | 'dfa' | 'sign' | 'wm' | 'kp'): RunConfig => ({
    rule, ruleOptions: {}, seed: 9,
    spec: { sizes: [30, 20, 10], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } },
    optimizer: { ...DEFAULT_OPTIMIZER }, train: { ...DEFAULT_TRAIN, epochs: 1, lr: 0.01 },
  });
  const start = (rule: 'bp' | 'fa' | 'dfa' | 'sign' | 'wm' | 'kp') => createTrainer(run(rule), availableBackends()[0], data).state;
  const bp = start('bp');
  for (const rule of ['fa', 'dfa', 'sign', 'wm', 'kp'] as const) {
    const s = start(rule);
    assert.deepEqual(s.net.layers, bp.net.layers, `${rule}: initial weights`);
    assert.deepEqual(s.orderRng, bp.orderRng, `${rule}: data order`);
  }
});
