import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { createNetwork, createWorkspace, forward, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import { activationChange, type ActivationKind } from '../src/nn/activations.js';
import type { DenseParams } from '../src/nn/dense.js';
import { Rng } from '../src/random.js';
import { createRule } from '../src/rules/registry.js';
import { recirculation, type RecirculationState } from '../src/rules/recirculation.js';
import type { RuleOptions } from '../src/rules/rule.js';
import { createTrainer } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { xor } from '../src/data/synthetic.js';
import { availableBackends } from './helpers.js';

const be = availableBackends()[0];

const netSpec = (hidden: ActivationKind): NetworkSpec => ({ sizes: [6, 8, 7, 4], hidden, output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } });

function example(rng: Rng, spec: NetworkSpec): { x: Matrix; y: Matrix } {
  const x = matrix(1, spec.sizes[0]), y = matrix(1, spec.sizes[3]);
  rng.fillNormal(x.data, 0, 1);
  y.data[rng.int(spec.sizes[3])] = 1;
  return { x, y };
}

const flat = (grads: DenseParams[]) => grads.flatMap((g) => [...g.W.data, ...g.b]);
function angleDegrees(a: number[], b: number[]): number {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  return (Math.acos(Math.max(-1, Math.min(1, dot / (Math.hypot(...a) * Math.hypot(...b))))) * 180) / Math.PI;
}

/** Sets the reconstruction biases so that every hidden layer's top-down drive equals its forward input at this
 * example: x̃_{l−1} = h_l·W_l + c_{l−1} = x_{l−1}, a perfect autoencoder on the data (tied weights). */
function perfectReconstruction(net: Network, state: RecirculationState, x: Matrix): void {
  const ws = createWorkspace(net.spec, 1);
  forward(be, net, x, ws);
  for (let l = 1; l < net.layers.length; l++) {
    const W = net.layers[l].W, upper = ws.h[l].data, c = state.c[l];
    for (let i = 0; i < W.cols; i++) {
      let drive = 0;
      for (let j = 0; j < W.rows; j++) drive += upper[j] * W.data[j * W.cols + i];
      c[i] = ws.z[l - 1].data[i] - drive;
    }
  }
}

function updates(net: Network, rule: ReturnType<typeof recirculation>, state: RecirculationState, batch: { x: Matrix; y: Matrix }): number[] {
  const result = rule.step({ backend: be, net, ws: createWorkspace(net.spec, batch.x.rows), rng: Rng.fromSeed(1), grads: zerosLike(net.layers) }, state, batch);
  return flat(result.grads);
}

function backpropGradient(net: Network, batch: { x: Matrix; y: Matrix }): number[] {
  const bp = createRule('bp');
  return flat(bp.step({ backend: be, net, ws: createWorkspace(net.spec, batch.x.rows), rng: Rng.fromSeed(1), grads: zerosLike(net.layers) }, {}, batch).grads);
}

for (const hidden of ['tanh', 'sigmoid'] as const) {
  test(`recirc (${hidden}): with tied weights and a perfect autoencoder at every layer its update is backprop's gradient to first order in the perturbation`, () => {
    const spec = netSpec(hidden), rng = Rng.fromSeed(4);
    for (let trial = 0; trial < 3; trial++) {
      const net = createNetwork(spec, rng.split());
      const batch = example(rng, spec);
      const reference = backpropGradient(net, batch);
      const angles = [1, 0.1, 0.01, 0.001].map((eta) => {
        const rule = recirculation({ perturbation: eta });
        const state = rule.init(net, Rng.fromSeed(2));
        perfectReconstruction(net, state, batch.x);
        return angleDegrees(updates(net, rule, state, batch), reference);
      });
      for (let i = 1; i < angles.length; i++) assert.ok(angles[i] < angles[i - 1], `angle falls with η: ${angles.map((a) => a.toFixed(4)).join(' > ')}°`);
      assert.ok(angles[0] > 10 * angles[2], `first order: ten times smaller η, about ten times smaller angle (${angles[0].toFixed(4)}° → ${angles[2].toFixed(4)}°)`);
      assert.ok(angles[3] < 0.05, `at η = 0.001 the update is backprop's (${angles[3].toFixed(4)}°)`);
      // Without the perfect autoencoder (c = 0: x̃ ≠ x) the angle stays away from zero however small η is.
      const rule = recirculation({ perturbation: 0.001 });
      const imperfect = angleDegrees(updates(net, rule, rule.init(net, Rng.fromSeed(2)), batch), reference);
      assert.ok(imperfect > 20 * angles[3], `an imperfect autoencoder bends the update: ${imperfect.toFixed(3)}° vs ${angles[3].toFixed(4)}°`);
      // With a perfect autoencoder the literal change from the forward activity is the same change.
      const literal = recirculation({ perturbation: 0.01, baseline: 'forward' });
      const literalState = literal.init(net, Rng.fromSeed(2));
      perfectReconstruction(net, literalState, batch.x);
      assert.ok(angleDegrees(updates(net, literal, literalState, batch), reference) < 2 * angles[2] + 0.01, 'baseline forward = topdown when reconstructions are exact');
    }
  });
}

test('recirc: with linear hidden units the change of activity is backprop\'s δ exactly, at any perturbation and any reconstruction', () => {
  const spec = netSpec('linear'), rng = Rng.fromSeed(6);
  const net = createNetwork(spec, rng.split());
  const batch = { x: matrix(5, 6), y: matrix(5, 4) };
  rng.fillNormal(batch.x.data, 0, 1);
  for (let r = 0; r < 5; r++) batch.y.data[r * 4 + (r % 4)] = 1;
  const rule = recirculation({ perturbation: 0.5 });
  const state = rule.init(net, Rng.fromSeed(2));
  state.c.forEach((c) => rng.fillNormal(c, 0, 1));
  const got = updates(net, rule, state, batch), want = backpropGradient(net, batch);
  const err = Math.max(...got.map((g, i) => Math.abs(g - want[i]))) / Math.max(...want.map(Math.abs));
  assert.ok(err < 1e-4, `relative error ${err}`);
});

test('recirc: learned top-down weights started at Wᵀ give the tied update; the autoencoders learn; sparsity removes directed connections independently', () => {
  const spec = netSpec('tanh'), rng = Rng.fromSeed(8);
  const net = createNetwork(spec, rng.split());
  const batch = { x: matrix(10, 6), y: matrix(10, 4) };
  rng.fillNormal(batch.x.data, 0, 1);
  for (let r = 0; r < 10; r++) batch.y.data[r * 4 + rng.int(4)] = 1;
  const tied = recirculation(), learned = recirculation({ feedback: 'learned', init: 'transpose' });
  assert.deepEqual(updates(net, learned, learned.init(net, Rng.fromSeed(2)), batch), updates(net, tied, tied.init(net, Rng.fromSeed(2)), batch));
  assert.equal(tied.locality.weightTransport, true);
  assert.equal(learned.locality.weightTransport, false);

  // The reconstruction losses fall as the group trains (forward weights and the autoencoders together).
  const run = {
    rule: 'recirc' as const, ruleOptions: { feedback: 'learned' } as RuleOptions, seed: 3, spec: { ...spec, sizes: [2, 8, 6, 2] },
    optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' as const }, train: { ...DEFAULT_TRAIN, epochs: 200, batchSize: 4, lr: 0.05 },
  };
  const trainer = createTrainer(run, be, xor());
  const rec: number[] = [];
  trainer.run((e) => { if (e.type === 'epoch') rec.push(e.metrics?.reconstruction1 as number); });
  assert.ok(rec[rec.length - 1] < 0.5 * rec[0], `reconstruction error of layer 1: ${rec[0].toFixed(4)} → ${rec[rec.length - 1].toFixed(4)}`);

  // Sparsity: each direction loses about the fraction, independently; removed forward weights start and stay 0.
  const sparse = recirculation({ feedback: 'learned', sparsity: 0.5 });
  const state = sparse.init(net, Rng.fromSeed(5));
  sparse.prepareParams?.(net.layers, state);
  const fwd = state.forwardMasks?.[2] as Uint8Array, back = state.topDownMasks?.[2] as Uint8Array;
  const kept = (m: Uint8Array) => m.reduce((s, v) => s + v, 0) / m.length;
  assert.ok(Math.abs(kept(fwd) - 0.5) < 0.2 && Math.abs(kept(back) - 0.5) < 0.2, 'about half of each direction is kept');
  assert.notDeepEqual(fwd, back, 'the two directions are removed independently');
  const step = sparse.step({ backend: be, net, ws: createWorkspace(spec, 10), rng: Rng.fromSeed(1), grads: zerosLike(net.layers) }, state, batch);
  fwd.forEach((m, i) => {
    if (!m) assert.ok(net.layers[2].W.data[i] === 0 && step.grads[2].W.data[i] === 0, 'a removed forward connection stays 0');
  });
  const G = state.G[2] as Matrix, gG = step.groupGrads?.reconstruction[1] as Float32Array;
  back.forEach((m, i) => { if (!m) assert.ok(G.data[i] === 0 && gG[i] === 0, 'a removed top-down connection stays 0'); });
});

test('recirc drive=forward: the top-down change adds to the forward input, so tied weights give backprop to first order with any reconstruction; learned ones do not', () => {
  const spec = netSpec('sigmoid'), rng = Rng.fromSeed(12);
  const net = createNetwork(spec, rng.split());
  const batch = { x: matrix(8, 6), y: matrix(8, 4) };
  rng.fillNormal(batch.x.data, 0, 1);
  for (let r = 0; r < 8; r++) batch.y.data[r * 4 + rng.int(4)] = 1;
  const reference = backpropGradient(net, batch);
  const angle = (options: RuleOptions) => {
    const rule = recirculation({ drive: 'forward', ...options });
    return angleDegrees(updates(net, rule, rule.init(net, Rng.fromSeed(2)), batch), reference);
  };
  const big = angle({ perturbation: 1 }), small = angle({ perturbation: 1e-4 });
  assert.ok(small < 0.01 && small < big / 50, `tied: ${big.toFixed(3)}° at η = 1, ${small.toFixed(5)}° at η = 1e-4`);
  assert.ok(angle({ feedback: 'learned', perturbation: 1e-4 }) > 30, 'random top-down weights are not the transposes');
  assert.throws(() => recirculation({ drive: 'forward', baseline: 'forward' }), /baseline is for drive=reconstruction/);
});

test('activationChange: f(z + d) − f(z) to float32 precision of the change, where float32 subtraction keeps few digits', () => {
  const z = Float32Array.from([0.3, -2, 5, 0.01, 40]), d = Float32Array.from([1e-6, -3e-7, 2e-5, 0.5, 1e-3]);
  for (const kind of ['tanh', 'sigmoid'] as const) {
    const out = new Float32Array(5);
    activationChange(kind, z, d, out, 0.01);
    const f = kind === 'tanh' ? Math.tanh : (x: number) => 1 / (1 + Math.exp(-x));
    z.forEach((a, i) => {
      // Reference by the derivative series in float64: f(a + e) − f(a) = Σ f⁽ⁿ⁾(a) eⁿ/n!, here by a fine central difference.
      const e = d[i], exact = e * ((f(a + e / 2 + 1e-9) - f(a + e / 2 - 1e-9)) / 2e-9);
      const tol = Math.abs(exact) * (Math.abs(e) < 1e-3 ? 1e-4 : 0.05) + 1e-30;
      assert.ok(Math.abs(out[i] - exact) <= tol, `${kind}(${a} + ${e}): ${out[i]} vs ${exact}`);
    });
  }
});
