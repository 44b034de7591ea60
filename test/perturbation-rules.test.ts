import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../src/tensor/backend.js';
import { createNetwork, createWorkspace, paramList, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import type { DenseParams } from '../src/nn/dense.js';
import type { ActivationKind } from '../src/nn/activations.js';
import { lossAndGrad, rowLosses, type LossKind } from '../src/nn/losses.js';
import { forward } from '../src/nn/network.js';
import { Rng } from '../src/random.js';
import { backprop } from '../src/rules/backprop.js';
import { deltaRule } from '../src/rules/delta-rule.js';
import { weightPerturbation } from '../src/rules/weight-perturbation.js';
import { nodePerturbation } from '../src/rules/node-perturbation.js';
import type { PerturbationState } from '../src/rules/perturbation.js';
import { createRule } from '../src/rules/registry.js';
import type { Batch, LearningRule, RuleOptions } from '../src/rules/rule.js';
import { cafeteria, xor } from '../src/data/synthetic.js';
import { oneHot } from '../src/data/one-hot.js';
import { createTrainer } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { cosine } from '../src/metrics/angles.js';
import { availableBackends, maxAbsDiff, randomMatrix } from './helpers.js';

const be = availableBackends()[0];

const spec = (sizes: number[], hidden: ActivationKind, loss: LossKind): NetworkSpec => ({
  sizes, hidden, output: 'linear', leakySlope: 0.01, loss, init: { kind: 'glorot' },
});

const flat = (layers: readonly DenseParams[]): number[] => paramList(layers).flatMap((p) => Array.from(p.value));

function step<S>(rule: LearningRule<S>, net: Network, batch: Batch, seed: number, state = rule.init(net, Rng.fromSeed(0)), backend = be) {
  const ctx = { backend, net, ws: createWorkspace(net.spec, batch.x.rows), rng: Rng.fromSeed(seed), grads: zerosLike(net.layers) };
  return rule.step(ctx, state, batch);
}

/** params −= lr·update, exactly as the training loop applies it. */
function apply(net: Network, update: readonly DenseParams[], lr: number, backend = be): void {
  const u = paramList(update);
  paramList(net.layers).forEach((p, i) => backend.axpby(-lr, u[i].value, 1, p.value));
}

const lossOf = (net: Network, batch: Batch) =>
  lossAndGrad(net.spec.loss, forward(be, net, batch.x, createWorkspace(net.spec, batch.x.rows)), batch.y, null);

// ---- delta rule -------------------------------------------------------------------------------------

test("batch delta rule recovers the cafeteria's prices (150, 50, 100) to within 0.01", () => {
  const data = cafeteria(Rng.fromSeed(1));
  const trainer = createTrainer({
    rule: 'delta', ruleOptions: {}, seed: 1, spec: { ...spec([3, 1], 'linear', 'mse') },
    optimizer: { ...DEFAULT_OPTIMIZER }, train: { ...DEFAULT_TRAIN, epochs: 1500, batchSize: 200, lr: 0.05, stepEventEvery: 0 },
  }, be, data);
  trainer.run();
  const { W, b } = trainer.state.net.layers[0];
  data.prices.forEach((price, i) => assert.ok(Math.abs(W.data[i] - price) < 0.01, `price ${i}: ${W.data[i]} vs ${price}`));
  assert.ok(Math.abs(b[0]) < 0.01, `bias ${b[0]}`);
});

test('batch delta rule on a single layer is exactly the gradient, for mse and softmax cross-entropy', () => {
  for (const loss of ['mse', 'softmax_xent'] as const) {
    const rng = Rng.fromSeed(11);
    const net = createNetwork(spec([5, 3], 'tanh', loss), rng);
    const labels = Int32Array.from({ length: 7 }, (_, i) => i % 3);
    const batch = { x: randomMatrix(7, 5, rng), y: loss === 'mse' ? randomMatrix(7, 3, rng) : oneHot(labels, 3), labels };
    assert.deepEqual(step(deltaRule(), net, batch, 1).grads, step(backprop(), net, batch, 1).grads, loss);
  }
});

test('delta rule trains only the output layer of a deeper network: hidden updates are exactly zero', () => {
  const rng = Rng.fromSeed(12);
  const net = createNetwork(spec([4, 6, 3], 'relu', 'mse'), rng);
  const batch = { x: randomMatrix(5, 4, rng), y: randomMatrix(5, 3, rng) };
  const delta = step(deltaRule(), net, batch, 1).grads, bp = step(backprop(), net, batch, 1).grads;
  assert.ok(flat([delta[0]]).every((v) => v === 0));
  assert.deepEqual(delta[1], bp[1]);
});

test('online delta rule: with lr = caseLr one step lands where Widrow–Hoff case by case does', () => {
  const rng = Rng.fromSeed(13);
  const net = createNetwork(spec([3, 2], 'linear', 'mse'), rng);
  const batch = { x: randomMatrix(10, 3, rng), y: randomMatrix(10, 2, rng) };
  const eps = 0.05;
  // The reference, in float64: w ← w − ε (y_n − t_n) x_n for each case in order.
  const W = Array.from(net.layers[0].W.data), b = Array.from(net.layers[0].b);
  for (let n = 0; n < 10; n++) {
    const x = Array.from(batch.x.data.subarray(3 * n, 3 * n + 3));
    for (let o = 0; o < 2; o++) {
      const e = b[o] + x.reduce((s, xi, i) => s + W[3 * o + i] * xi, 0) - batch.y.data[2 * n + o];
      x.forEach((xi, i) => (W[3 * o + i] -= eps * e * xi));
      b[o] -= eps * e;
    }
  }
  const result = step(deltaRule({ mode: 'online', caseLr: eps }), net, batch, 1);
  apply(net, result.grads, eps);
  assert.ok(maxAbsDiff(net.layers[0].W.data, W) < 1e-5, `W off by ${maxAbsDiff(net.layers[0].W.data, W)}`);
  assert.ok(maxAbsDiff(net.layers[0].b, b) < 1e-5);
});

test('online delta rule on a batch of one is the batch rule; options are checked', () => {
  const rng = Rng.fromSeed(14);
  const net = createNetwork(spec([3, 2], 'linear', 'mse'), rng);
  const batch = { x: randomMatrix(1, 3, rng), y: randomMatrix(1, 2, rng) };
  const online = flat(step(deltaRule({ mode: 'online', caseLr: 0.1 }), net, batch, 1).grads);
  assert.ok(maxAbsDiff(online, flat(step(deltaRule(), net, batch, 1).grads)) < 1e-6);
  assert.throws(() => deltaRule({ mode: 'online' }), /needs caseLr/);
  assert.throws(() => deltaRule({ caseLr: 0.1 }), /mode=online only/);
  assert.throws(() => deltaRule({ rate: 1 }), /has no option 'rate'/);
  assert.throws(() => createRule('wp', { mode: 'serial', samples: 3 }), /parallel only/);
  assert.throws(() => createRule('np', { sigma: 0 }), /sigma must be a number > 0/);
  assert.throws(() => createRule('np', { samples: 1.5 }), /samples must be an integer/);
});

// ---- perturbation estimates against the true gradient ------------------------------------------------

/** A small network and batch where every rule has work to do: two hidden layers, non-linear units. */
function problem(hidden: ActivationKind, loss: LossKind, seed: number): { net: Network; batch: Batch } {
  const rng = Rng.fromSeed(seed);
  const net = createNetwork(spec([4, 6, 5, 3], hidden, loss), rng);
  const labels = Int32Array.from({ length: 8 }, () => rng.int(3));
  const y = loss === 'mse' ? randomMatrix(8, 3, rng) : oneHot(labels, 3);
  return { net, batch: { x: randomMatrix(8, 4, rng), y, labels } };
}

const angleOf = (cos: number) => (Math.acos(cos) * 180) / Math.PI;

function estimateCosine(id: 'wp' | 'np', options: RuleOptions, p: { net: Network; batch: Batch }, seed: number): number {
  const truth = flat(step(backprop(), p.net, p.batch, 0).grads);
  return cosine(flat(step(createRule(id, options), p.net, p.batch, seed).grads), truth);
}

for (const id of ['wp', 'np'] as const) {
  test(`${id}: averaged over 4000 perturbations the estimate points along the true gradient (cos > 0.9)`, (t) => {
    for (const [hidden, loss] of [['tanh', 'mse'], ['relu', 'softmax_xent']] as const) {
      for (const central of [false, true]) {
        const cos = estimateCosine(id, { samples: 4000, central }, problem(hidden, loss, 21), 1);
        t.diagnostic(`${id} ${hidden}/${loss} central=${central}: cos ${cos.toFixed(4)}`);
        assert.ok(cos > 0.9, `${hidden}/${loss} central=${central}: cos ${cos}`);
      }
    }
  });

  test(`${id}: the estimate's angle to the true gradient falls as samples grow`, (t) => {
    const p = problem('tanh', 'mse', 22);
    const means = [1, 10, 100, 1000].map((samples) => {
      let sum = 0;
      for (let seed = 1; seed <= 5; seed++) sum += angleOf(estimateCosine(id, { samples }, p, seed));
      return sum / 5;
    });
    t.diagnostic(`${id}: mean angle over 5 seeds at 1, 10, 100, 1000 samples: ${means.map((a) => a.toFixed(1)).join(', ')}°`);
    means.slice(1).forEach((a, i) => assert.ok(a < means[i], `angle ${means[i]} → ${a}`));
    assert.ok(means[0] > 45 && means[3] < 25, `1 sample ${means[0]}°, 1000 samples ${means[3]}°`);
  });
}

test('node perturbation needs far fewer samples than weight perturbation (noise in units, not weights)', (t) => {
  const p = problem('tanh', 'mse', 23);
  let wp = 0, np = 0;
  for (let seed = 1; seed <= 5; seed++) {
    wp += angleOf(estimateCosine('wp', { samples: 30 }, p, seed));
    np += angleOf(estimateCosine('np', { samples: 30 }, p, seed));
  }
  t.diagnostic(`30 samples, mean of 5 seeds: wp ${(wp / 5).toFixed(1)}°, np ${(np / 5).toFixed(1)}°`);
  assert.ok(np < wp, `np ${np / 5}° vs wp ${wp / 5}°`);
});

test('central differences cancel the curvature term: on a quadratic loss the estimate does not depend on σ', (t) => {
  // A single linear layer under mse: L is quadratic in the weights and, per example, in the output noise,
  // so [L(+ξ) − L(−ξ)]/2 = ∇L·ξ exactly and, with ξ = σ·n for the same standard normals n, the estimate
  // (∇L·n)·n does not change with σ. The one-sided difference adds ½ξᵀHξ, noise that grows with σ.
  const rng = Rng.fromSeed(24);
  const net = createNetwork(spec([5, 3], 'linear', 'mse'), rng);
  const p = { net, batch: { x: randomMatrix(8, 5, rng), y: randomMatrix(8, 3, rng) } };
  for (const id of ['wp', 'np'] as const) {
    const estimate = (sigma: number, central: boolean) => flat(step(createRule(id, { sigma, samples: 20, central }), net, p.batch, 3).grads);
    const small = estimate(1e-3, true), large = estimate(1, true);
    assert.ok(maxAbsDiff(small, large) < 1e-3 * Math.max(...large.map(Math.abs)), `${id}: σ = 1e-3 and σ = 1 differ by ${maxAbsDiff(small, large)}`);
    const oneSided = [1e-3, 1].map((sigma) => angleOf(estimateCosine(id, { sigma, samples: 20 }, p, 3)));
    t.diagnostic(`${id}, 20 samples: central ${angleOf(estimateCosine(id, { sigma: 1, samples: 20, central: true }, p, 3)).toFixed(1)}° at any σ; one-sided ${oneSided.map((a) => a.toFixed(1)).join('° at σ = 1e-3, ')}° at σ = 1`);
    assert.ok(oneSided[1] > oneSided[0] + 5, `${id}: one-sided ${oneSided[0]}° → ${oneSided[1]}°`);
  }
});

// ---- serial weight perturbation -----------------------------------------------------------------------

for (const backend of availableBackends()) {
  test(`serial weight perturbation never accepts a change that raises the error (${backend.name})`, () => {
    const net = createNetwork(spec([2, 8, 6, 2], 'tanh', 'softmax_xent'), Rng.fromSeed(31));
    const { train } = xor();
    const batch = { x: train.x, y: train.y };
    const rule = weightPerturbation({ mode: 'serial', sigma: 0.05 });
    let state = rule.init(net, Rng.fromSeed(0));
    const rng = Rng.fromSeed(32);
    const ws = createWorkspace(net.spec, 4);
    const lossNow = () => lossAndGrad(net.spec.loss, forward(backend, net, batch.x, ws), batch.y, null);
    const first = lossNow();
    let accepted = 0;
    for (let s = 0; s < 3000; s++) {
      const before = lossNow();
      const result = rule.step({ backend, net, ws, rng, grads: zerosLike(net.layers) }, state, batch);
      state = result.state;
      assert.equal(result.loss, before);
      const changed = flat(result.grads).filter((v) => v !== 0);
      assert.ok(changed.length <= 1 && changed.every((v) => Math.abs(v) === Math.fround(0.05)), 'one weight, by ±sigma');
      apply(net, result.grads, 1, backend); // --optimizer sgd --lr 1: the literal algorithm
      const after = lossNow();
      if (changed.length) accepted++;
      assert.ok(changed.length ? after < before : after === before, `step ${s}: ${before} → ${after}`);
    }
    const last = lossNow();
    assert.ok(accepted > 100 && last < 0.2 * first, `${accepted} accepted, loss ${first} → ${last}`);
    assert.equal(state.forwardPasses, 6000);
  });
}

// ---- budgets and the rules' contract on their own terms -------------------------------------------------

/** A backend that counts forward passes: every pass, clean or noisy, activates each layer once. */
function countingBackend(inner: Backend): { backend: Backend; activations: () => number } {
  let count = 0;
  const backend: Backend = { ...inner, activate: (...args) => { count++; inner.activate(...args); } };
  return { backend, activations: () => count };
}

test('forward passes are counted: 1 + samples per step, 1 + 2·samples with central, 2 in serial mode', () => {
  const { net, batch } = problem('tanh', 'softmax_xent', 41);
  const cases: [string, LearningRule<PerturbationState>, number][] = [
    ['wp', weightPerturbation({ samples: 3 }), 4],
    ['wp central', weightPerturbation({ samples: 3, central: true }), 7],
    ['wp serial', weightPerturbation({ mode: 'serial' }), 2],
    ['np', nodePerturbation({ samples: 3 }), 4],
    ['np central', nodePerturbation({ samples: 3, central: true }), 7],
  ];
  for (const [name, rule, perStep] of cases) {
    const { backend, activations } = countingBackend(be);
    let state = rule.init(net, Rng.fromSeed(0));
    for (let s = 0; s < 5; s++) state = step(rule, net, batch, s, state, backend).state;
    assert.equal(state.forwardPasses, 5 * perStep, name);
    assert.equal(activations(), 5 * perStep * net.layers.length, `${name}: passes actually made`);
  }
});

test("node perturbation's estimate is (Δℓ/σ²)·ν, from the example's own loss difference", () => {
  // One linear output unit, no hidden layer, one example: under mse ℓ(z+ν) − ℓ(z) = (z − t)ν + ν²/2, so
  // the bias update is [(z − t)ν + ν²/2]·ν/σ². Checks the scale, the sign and the per-example loss.
  const rng = Rng.fromSeed(42);
  const net = createNetwork(spec([2, 1], 'linear', 'mse'), rng);
  const batch = { x: randomMatrix(1, 2, rng), y: randomMatrix(1, 1, rng) };
  const sigma = 0.01;
  const out = new Float64Array(1);
  const z = forward(be, net, batch.x, createWorkspace(net.spec, 1));
  rowLosses('mse', z, batch.y, out);
  assert.ok(Math.abs(out[0] - lossOf(net, batch)) < 1e-12);
  const nu = Math.fround(Rng.fromSeed(7).normal() * sigma); // the rule's first draw with this seed
  const e = z.data[0] - batch.y.data[0];
  const expected = ((e * nu + (nu * nu) / 2) / (sigma * sigma)) * nu;
  const got = step(nodePerturbation({ sigma }), net, batch, 7).grads[0].b[0];
  assert.ok(Math.abs(got - expected) < 1e-3 * Math.abs(expected), `${got} vs ${expected}`);
});
