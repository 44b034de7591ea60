import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix } from '../src/tensor/matrix.js';
import { Rng } from '../src/random.js';
import { checkQuantize, quantizeErrors, sampleBinary } from '../src/nn/stochastic.js';
import { backward, createNetwork, createWorkspace, forward, zerosLike, type NetworkSpec } from '../src/nn/network.js';
import { lossAndGrad } from '../src/nn/losses.js';
import { checkRuleFitsSpec } from '../src/rules/registry.js';
import { loadDataset } from '../node/datasets.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN, runStreams } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { availableBackends, fastBackend, randomMatrix } from './helpers.js';

const be = availableBackends()[0];

test('k-bit error quantisation is unbiased, takes only its 2^(k−1)−1 magnitude levels, and keeps zeros and the row maximum', () => {
  const values = [0.8, -0.3, 0.05, 0, -1.2, 0.6];
  for (const bits of [2, 3]) {
    const levels = 2 ** (bits - 1) - 1, s = 1.2, draws = 40000;
    const rng = Rng.fromSeed(bits);
    const sum = new Float64Array(values.length), sumSq = new Float64Array(values.length);
    const d = matrix(1, values.length);
    for (let n = 0; n < draws; n++) {
      d.data.set(values);
      quantizeErrors(d, bits, rng);
      for (let j = 0; j < values.length; j++) {
        const q = d.data[j];
        // every value is sign · s · level / levels for a whole level in 0 … levels
        const level = (Math.abs(q) / s) * levels;
        assert.ok(Math.abs(level - Math.round(level)) < 1e-5 && Math.round(level) <= levels, `value ${q} is not a ${bits}-bit level`);
        assert.ok(q === 0 || Math.sign(q) === Math.sign(values[j]), 'the sign is kept');
        sum[j] += q;
        sumSq[j] += q * q;
      }
    }
    for (let j = 0; j < values.length; j++) {
      const mean = sum[j] / draws, sd = Math.sqrt(Math.max(0, sumSq[j] / draws - mean * mean));
      assert.ok(Math.abs(mean - values[j]) <= 4 * sd / Math.sqrt(draws) + 1e-6, `${bits} bits: mean ${mean} for ${values[j]}`);
    }
    assert.equal(sum[3], 0, 'a zero stays zero');
    assert.ok(Math.abs(sum[4] / draws + 1.2) < 1e-6, 'the largest magnitude is sent exactly');
  }
  // a biased quantiser (rounding to the nearest level) would fail the mean test above: check the test can tell
  const nearest = values.map((v) => Math.sign(v) * 1.2 * Math.round(Math.abs(v) / 1.2));
  assert.ok(Math.abs(nearest[1] - values[1]) > 0.1);
});

test('1-bit samples have the right expectation', () => {
  const p = [0, 0.1, 0.5, 0.93, 1], draws = 40000, rng = Rng.fromSeed(3), sum = new Float64Array(p.length);
  const buf = new Float32Array(p.length);
  for (let n = 0; n < draws; n++) {
    buf.set(p);
    sampleBinary(buf, rng);
    buf.forEach((v, i) => {
      assert.ok(v === 0 || v === 1);
      sum[i] += v;
    });
  }
  p.forEach((pi, i) => assert.ok(Math.abs(sum[i] / draws - pi) <= 4 * Math.sqrt(pi * (1 - pi) / draws) + 1e-9, `mean ${sum[i] / draws} for p ${pi}`));
});

const spec: NetworkSpec = { sizes: [6, 8, 5, 3], hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };

test('1-bit forward: hidden units send 0 or 1 during a training step, their expected values without the step stream', () => {
  const q: NetworkSpec = { ...spec, quantize: { forwardBits: 1, backwardBits: 0 } };
  const net = createNetwork(q, Rng.fromSeed(1)), plain = { ...net, spec };
  const x = randomMatrix(20, 6, Rng.fromSeed(2));
  const ws = createWorkspace(q, 20), ref = createWorkspace(spec, 20);
  const expected = forward(be, plain, x, ref).data.slice();
  assert.deepEqual(forward(be, net, x, ws).data, expected, 'evaluation runs on the probabilities');
  ws.rng = Rng.fromSeed(3);
  forward(be, net, x, ws);
  for (const h of ws.h.slice(0, -1)) assert.ok(h.data.every((v) => v === 0 || v === 1), 'hidden activities are spikes');
  assert.deepEqual(ws.z[0].data, ref.z[0].data, 'the first layer sees the same input');
  // the first hidden layer's samples average to σ(z) over many steps
  const sum = new Float64Array(ws.h[0].data.length), draws = 4000;
  for (let n = 0; n < draws; n++) {
    forward(be, net, x, ws);
    ws.h[0].data.forEach((v, i) => (sum[i] += v));
  }
  ref.h[0].data.forEach((p, i) => assert.ok(Math.abs(sum[i] / draws - p) < 4 * Math.sqrt(p * (1 - p) / draws) + 1e-3));
});

test('k-bit backward errors leave backprop\'s gradient unbiased: the mean of many quantised updates is the exact one', () => {
  const q: NetworkSpec = { ...spec, quantize: { forwardBits: 0, backwardBits: 2 } };
  const net = createNetwork(q, Rng.fromSeed(4));
  const x = randomMatrix(10, 6, Rng.fromSeed(5)), y = matrix(10, 3);
  for (let r = 0; r < 10; r++) y.data[r * 3 + (r % 3)] = 1;
  const ws = createWorkspace(q, 10), grads = zerosLike(net.layers);
  const exact = zerosLike(net.layers);
  const run = (out: typeof grads) => {
    const o = forward(be, net, x, ws);
    lossAndGrad(q.loss, o, y, ws.dh[2]);
    backward(be, net, x, ws, (l) => net.layers[l].W, out);
  };
  run(exact); // no stream: full precision
  ws.rng = Rng.fromSeed(6);
  const draws = 4000, mean = exact[0].W.data.map(() => 0);
  let differs = 0;
  for (let n = 0; n < draws; n++) {
    run(grads);
    grads[0].W.data.forEach((v, i) => {
      mean[i] += v / draws;
      if (Math.abs(v - exact[0].W.data[i]) > 1e-6) differs++;
    });
  }
  assert.ok(differs > 0, 'the quantised updates differ from the exact one');
  let num = 0, den = 0;
  mean.forEach((m, i) => {
    num += (m - exact[0].W.data[i]) ** 2;
    den += exact[0].W.data[i] ** 2;
  });
  assert.ok(Math.sqrt(num / den) < 0.05, `relative error of the mean update ${Math.sqrt(num / den)}`);
});

test('quantisation settings and the rules that cannot use them are refused with a one-line reason', () => {
  assert.throws(() => checkQuantize({ forwardBits: 1, backwardBits: 0 }, 'tanh'), /use sigmoid hidden units \(--act sigmoid\)/);
  assert.throws(() => checkQuantize({ forwardBits: 0, backwardBits: 1 }, 'tanh'), /backward bits must be 0/);
  assert.throws(() => checkRuleFitsSpec('np', { ...spec, quantize: { forwardBits: 0, backwardBits: 2 } }), /sends no error signals.*bp, fa, dfa, sign, wm, kp/);
  assert.throws(() => checkRuleFitsSpec('ep', { ...spec, quantize: { forwardBits: 1, backwardBits: 0 } }), /settling network/);
  assert.doesNotThrow(() => checkRuleFitsSpec('dfa', { ...spec, quantize: { forwardBits: 1, backwardBits: 2 } }));
  assert.throws(() => createNetwork({ ...spec, hidden: 'relu', quantize: { forwardBits: 1, backwardBits: 0 } }, Rng.fromSeed(1)), /--act sigmoid/);
});

test('1-bit forward and 2-bit backward: backprop and FA learn MNIST about as well as at full precision, and the same seed gives the same numbers', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 3000, limitTest: 1000 });
  const run = (rule: 'bp' | 'fa', quantized: boolean): number => {
    const config: RunConfig = {
      rule, ruleOptions: {}, seed: 1,
      spec: {
        sizes: [784, 200, 10], hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' },
        ...(quantized ? { quantize: { forwardBits: 1, backwardBits: 2 } } : {}),
      },
      optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
      train: { ...DEFAULT_TRAIN, epochs: 3, batchSize: 50, lr: 0.1, schedule: { kind: 'cosine', epochs: 3, minFactor: 0 } },
    };
    const trainer = createTrainer(config, fastBackend(), data);
    trainer.run();
    return trainer.evaluate(data.test).error as number;
  };
  for (const rule of ['bp', 'fa'] as const) {
    const full = run(rule, false), quantized = run(rule, true);
    // full precision reaches about 15 % here (3 epochs on 3,000 images); the noisy signals may cost a few points
    assert.ok(quantized < full + 0.04 && quantized < 0.2, `${rule}: ${quantized} quantised against ${full} at full precision`);
  }
  const once = run('bp', true);
  assert.equal(run('bp', true), once, 'same seed, same backend: same error');
});
