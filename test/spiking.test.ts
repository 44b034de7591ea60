import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix } from '../src/tensor/matrix.js';
import { Rng } from '../src/random.js';
import { backward, createNetwork, createWorkspace, forward, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import { lossAndGrad } from '../src/nn/losses.js';
import { modelFor } from '../src/nn/model.js';
import { DEFAULT_SPIKING, lifInterval, lifRate, softLifRate, type SpikingSpec } from '../src/nn/spiking.js';
import { checkRuleFitsSpec } from '../src/rules/registry.js';
import { loadDataset } from '../node/datasets.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN, runStreams } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { availableBackends, fastBackend, randomMatrix } from './helpers.js';

const be = availableBackends()[0];

function spikingSpec(sizes: number[], spiking: Partial<SpikingSpec>): NetworkSpec {
  return {
    sizes, hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' },
    model: 'spiking', spiking: { ...DEFAULT_SPIKING, ...spiking },
  };
}

/** A 1-1-1 net whose hidden neuron receives the input value as its current (W = 1, b = 0). */
function oneNeuron(spiking: Partial<SpikingSpec>): Network {
  const net = createNetwork(spikingSpec([1, 1, 1], spiking), Rng.fromSeed(1));
  net.layers[0].W.data[0] = 1;
  net.layers[0].b[0] = 0;
  return net;
}

test('a LIF neuron under constant current fires at its analytic rate: every ⌈ln(1 − θ/I)/ln α⌉ steps, never at or below θ', () => {
  const s = { tau: 10, threshold: 0.25 }, T = 1000;
  const currents = [0.1, 0.25, 0.26, 0.3, 0.5, 1, 2.5, 10];
  const net = oneNeuron({ ...s, steps: T, input: 'current' });
  const x = matrix(currents.length, 1);
  x.data.set(currents);
  const ws = createWorkspace(net.spec, currents.length);
  forward(be, net, x, ws);
  currents.forEach((I, i) => {
    const count = ws.h[0].data[i] * T, n = lifInterval(I, s);
    assert.equal(Math.round(count), Number.isFinite(n) ? Math.floor(T / n) : 0, `current ${I}: ${count} spikes, interval ${n}`);
    assert.ok(Math.abs(ws.h[0].data[i] - lifRate(I, s)) <= 1 / T + 1e-6, 'the simulated rate is the analytic one');
    assert.ok(Math.abs(ws.z[0].data[i] - I) < 1e-4 * I, 'the mean current is the input');
  });
  // the closed form itself, at I = 0.5, θ = 0.25, τ = 10: v_n = I(1 − αⁿ) reaches θ first at n = ⌈10 ln 2⌉ = 7
  assert.equal(lifInterval(0.5, s), 7);
});

test('the soft LIF rate follows the exact rate and its slope is its derivative', () => {
  const s = { tau: 10, threshold: 0.25 };
  for (const I of [0.3, 0.5, 1, 2]) {
    const { rate, slope } = softLifRate(I, s), h = 1e-5;
    const fd = (softLifRate(I + h, s).rate - softLifRate(I - h, s).rate) / (2 * h);
    assert.ok(Math.abs(slope - fd) < 1e-4 * Math.max(1, Math.abs(fd)), `slope ${slope} vs finite difference ${fd} at ${I}`);
    const exact = lifRate(I, s);
    // the exact rate rounds the interval up to whole steps: 1/⌈n⌉ ≤ 1/n, within one step's worth
    assert.ok(rate >= exact - 1e-9 && 1 / rate > 1 / exact - 1 - 1e-6, `soft rate ${rate} vs exact ${exact} at ${I}`);
  }
  assert.ok(softLifRate(0, s).rate < 0.01 && softLifRate(0, s).slope > 0, 'below threshold: a small rate, a non-zero slope');
  assert.deepEqual(softLifRate(100, s), { rate: 1, slope: 0 }, 'saturated at one spike a step');
});

test('Bernoulli neurons fire at σ(current) and rate-coded input spikes average to the pixel value', () => {
  const T = 4000, currents = [-2, 0, 1.5];
  const net = oneNeuron({ neuron: 'bernoulli', steps: T, input: 'current' });
  const x = matrix(currents.length, 1);
  x.data.set(currents);
  const ws = createWorkspace(net.spec, currents.length);
  ws.rng = Rng.fromSeed(2);
  forward(be, net, x, ws);
  currents.forEach((I, i) => {
    const p = 1 / (1 + Math.exp(-I));
    assert.ok(Math.abs(ws.h[0].data[i] - p) < 4 * Math.sqrt(p * (1 - p) / T), `rate ${ws.h[0].data[i]} for σ(${I}) = ${p}`);
  });
  const pixels = [0, 0.2, 0.9, 1], spiking = oneNeuron({ steps: T, input: 'spikes' }), px = matrix(pixels.length, 1);
  px.data.set(pixels);
  const pw = createWorkspace(spiking.spec, pixels.length);
  pw.rng = Rng.fromSeed(3);
  forward(be, spiking, px, pw);
  pixels.forEach((p, i) => {
    const rate = pw.spikes!.inputRate.data[i];
    assert.ok(Math.abs(rate - p) <= 4 * Math.sqrt(p * (1 - p) / T) + 1e-6, `input rate ${rate} for pixel ${p}`);
  });
  assert.throws(() => forward(be, spiking, { rows: 1, cols: 1, data: Float32Array.of(1.5) }, pw), /rates in \[0, 1\].*'current' input/);
});

test('a spiking net predicts the same from the same input (its evaluation stream), differently on training streams', () => {
  const net = createNetwork(spikingSpec([12, 20, 4], { neuron: 'bernoulli', steps: 10 }), Rng.fromSeed(4));
  const x = randomMatrix(6, 12, Rng.fromSeed(5)).data.map((v) => Math.min(1, Math.abs(v) / 2));
  const input = { rows: 6, cols: 12, data: x };
  const predictor = modelFor(net).createPredictor(net, 6);
  const first = predictor.predict(be, net, input).data.slice();
  assert.deepEqual(predictor.predict(be, net, input).data, first, 'evaluation is deterministic');
  const ws = createWorkspace(net.spec, 6);
  ws.rng = Rng.fromSeed(6);
  assert.notDeepEqual(forward(be, net, input, ws).data, first, 'a training step draws its own spikes');
});

test('on a spiking net, feedback alignment with B := W gives backprop-through-rates exactly, and errors use the rate derivative', () => {
  const net = createNetwork(spikingSpec([10, 16, 12, 3], { steps: 20, input: 'current' }), Rng.fromSeed(7));
  const x = { ...randomMatrix(8, 10, Rng.fromSeed(8)) }, y = matrix(8, 3);
  for (let r = 0; r < 8; r++) y.data[r * 3 + (r % 3)] = 1;
  const ws = createWorkspace(net.spec, 8), bp = zerosLike(net.layers), fa = zerosLike(net.layers);
  const out = forward(be, net, x, ws);
  lossAndGrad('softmax_xent', out, y, ws.dh[2]);
  backward(be, net, x, ws, (l) => net.layers[l].W, bp);
  const copies = net.layers.map((p) => ({ ...p.W, data: p.W.data.slice() }));
  lossAndGrad('softmax_xent', out, y, ws.dh[2]);
  backward(be, net, x, ws, (l) => copies[l], fa);
  bp.forEach((g, l) => assert.deepEqual(fa[l].W.data, g.W.data, `layer ${l + 1}`));
  // the error at a hidden layer's current is the error at its rate times soft LIF's slope at the mean current
  const dh = ws.dh[1].data, dz = ws.dz[1].data, z = ws.z[1].data;
  for (let i = 0; i < z.length; i++) assert.ok(Math.abs(dz[i] - dh[i] * softLifRate(z[i], net.spec.spiking!).slope) < 1e-6);
  assert.ok(ws.h[0].data.some((v) => v > 0) && ws.h[0].data.every((v) => Math.abs(v * 20 - Math.round(v * 20)) < 1e-4), 'rates are spike counts / T');
});

test('spiking settings that cannot run are refused with a one-line reason', () => {
  assert.throws(() => createNetwork({ ...spikingSpec([784, 10], {}), sizes: [784, 6 * 14 * 14, 10], layers: [{ kind: 'conv2d', out: 6, k: 5, stride: 2, pad: 2 }, { kind: 'dense', out: 10 }], inputShape: [1, 28, 28] }, Rng.fromSeed(1)), /dense layers.*784-500-10/);
  assert.throws(() => createNetwork(spikingSpec([4, 3, 2], { steps: 0 }), Rng.fromSeed(1)), /time steps/);
  assert.throws(() => checkRuleFitsSpec('rbm', spikingSpec([4, 3, 2], {})), /spiking network is trained through its rates/);
  assert.throws(() => createNetwork({ ...spikingSpec([4, 3, 2], {}), quantize: { forwardBits: 1, backwardBits: 0 } }, Rng.fromSeed(1)), /already sends spikes/);
});

test('a spiking net of LIF neurons learns MNIST with feedback alignment and with backprop through its rates', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 3000, limitTest: 1000 });
  const run = (rule: 'bp' | 'fa') => {
    const config: RunConfig = {
      rule, ruleOptions: {}, seed: 1, spec: spikingSpec([784, 200, 10], { steps: 20 }),
      optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
      train: { ...DEFAULT_TRAIN, epochs: 2, batchSize: 50, lr: 0.1, schedule: { kind: 'cosine', epochs: 2, minFactor: 0 } },
    };
    const trainer = createTrainer(config, fastBackend(), data);
    let spikes = NaN;
    trainer.run((e) => {
      if (e.type === 'epoch') spikes = e.metrics?.spikesPerNeuron ?? NaN;
    });
    return { error: trainer.evaluate(data.test).error as number, spikes };
  };
  for (const rule of ['bp', 'fa'] as const) {
    const { error, spikes } = run(rule);
    assert.ok(error < 0.2, `${rule} test error ${error}`);
    assert.ok(spikes > 0.2 && spikes < 20, `${rule}: ${spikes} spikes per neuron per input in 20 steps`);
  }
});
