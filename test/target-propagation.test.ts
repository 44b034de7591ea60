// Target propagation (issue 10): difference target propagation against its equations and its papers'
// statements, its schedules and diagnostics; the engine pieces it needs (metrics, inverse-only steps, Adam's
// own update count).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { architectureSpec, cloneLayers, createNetwork, createWorkspace, forward, zerosLike, type NetworkSpec } from '../src/nn/network.js';
import { softmax } from '../src/nn/losses.js';
import { Rng } from '../src/random.js';
import { differenceTargetPropagation, type DtpState } from '../src/rules/difference-target-propagation.js';
import { InverseTrainer, layerActivity, type InverseParams } from '../src/rules/target-propagation.js';
import { FeedbackTrainer, localDifferenceReconstruction, type LdrlState } from '../src/rules/local-difference-reconstruction.js';
import { DrlTrainer } from '../src/rules/difference-reconstruction.js';
import { DirectFeedbackTrainer, directDtp } from '../src/rules/direct-dtp.js';
import { initInverses } from '../src/rules/target-propagation.js';
import { BackpropReference, compareWithBackprop } from '../src/metrics/alignment.js';
import { GaussNewtonReference } from '../src/metrics/gauss-newton.js';
import { backprop } from '../src/rules/backprop.js';
import { simplifiedDtp, type SimplifiedDtpState } from '../src/rules/simplified-dtp.js';
import { auxiliaryOutputSdtp } from '../src/rules/auxiliary-output-sdtp.js';
import type { LearningRule, RuleOptions } from '../src/rules/rule.js';
import { exactTargetPropagation } from '../src/rules/exact-target-propagation.js';
import { luFactor, luSolve, luSolveRows } from '../src/tensor/lu.js';
import { classificationSet, oneHot } from '../src/data/one-hot.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN, runStreams, type TrainState } from '../src/train/trainer.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { xor } from '../src/data/synthetic.js';
import type { RuleId } from '../src/rules/registry.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { adam } from '../src/optim/transforms.js';
import type { TrainEvent } from '../src/train/events.js';
import { loadDataset } from '../node/datasets.js';
import { availableBackends } from './helpers.js';

const be = availableBackends()[0];
const spec: NetworkSpec = { sizes: [6, 7, 5, 4, 3], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };

function oneStep(options: Record<string, number | string>, seed = 1) {
  const rng = Rng.fromSeed(seed);
  const net = createNetwork(spec, rng);
  const rule = differenceTargetPropagation(options);
  const state = rule.init(net, rng.split(), { trainExamples: 8 });
  const x = matrix(8, 6);
  rng.fillNormal(x.data, 0, 1);
  const y = oneHot(Int32Array.from({ length: 8 }, (_, i) => i % 3), 3);
  const ws = createWorkspace(spec, 8);
  const result = rule.step({ backend: be, net, ws, rng: rng.split(), grads: zerosLike(net.layers) }, state, { x, y });
  return { net, state, x, y, ws, result };
}

const tanhInverse = (g: InverseParams, h: ArrayLike<number>): number[] =>
  Array.from({ length: g.V.rows }, (_, i) => {
    let u = g.c[i];
    for (let j = 0; j < g.V.cols; j++) u += g.V.data[i * g.V.cols + j] * h[j];
    return Math.tanh(u);
  });

test('dtp: the targets are the papers\' equations, computed independently in float64', () => {
  const alpha = 0.3;
  const { net, state, ws, y, result } = oneStep({ alpha });
  const L = net.layers.length, B = 8, sizes = spec.sizes;
  const row = (m: { cols: number; data: Float32Array }, n: number) => Array.from(m.data.subarray(n * m.cols, (n + 1) * m.cols));
  for (let n = 0; n < B; n++) {
    // ĥ_{L−1} = h_{L−1} − α ∂L_n/∂h_{L−1}, with ∂L_n/∂h = (softmax(o) − y)·W_out for softmax cross-entropy.
    const o = row(ws.h[L - 1], n), max = Math.max(...o), e = o.map((v) => Math.exp(v - max)), sum = e.reduce((a, b) => a + b);
    const err = e.map((v, k) => v / sum - y.data[n * 3 + k]);
    const W = net.layers[L - 1].W;
    let hat = row(ws.h[L - 2], n).map((h, j) => h - alpha * err.reduce((s, ek, k) => s + ek * W.data[k * W.cols + j], 0));
    const targets: number[][] = [];
    targets[L - 2] = hat;
    // ĥ_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l) (Bartunov et al. 2018, eq. 2).
    for (let l = L - 2; l >= 1; l--) {
      const g = state.inverses[l] as InverseParams, gHat = tanhInverse(g, hat), gH = tanhInverse(g, row(ws.h[l], n));
      hat = row(ws.h[l - 1], n).map((h, i) => h + gHat[i] - gH[i]);
      targets[l - 1] = hat;
    }
    // The rule's signal is ∂L_l/∂h_l = (2/B)(h_l − ĥ_l): recover its target and compare.
    for (let l = 0; l <= L - 2; l++) {
      const h = row(ws.h[l], n), signal = row(result.signals![l], n);
      for (let j = 0; j < sizes[l + 1]; j++) {
        const got = h[j] - (B / 2) * signal[j];
        assert.ok(Math.abs(got - targets[l][j]) < 1e-5, `example ${n}, layer ${l + 1}, unit ${j}: target ${got} vs ${targets[l][j]}`);
      }
    }
  }
});

test('dtp: with the top target at the activity (α = 0) every target is the activity and no hidden layer moves, however wrong the inverses', () => {
  const still = oneStep({ alpha: 0 });
  const moved = oneStep({ alpha: 0.2 });
  const L = spec.sizes.length - 1;
  for (let l = 0; l < L - 1; l++) {
    assert.ok(still.result.grads[l].W.data.every((v) => v === 0) && still.result.grads[l].b.every((v) => v === 0), `layer ${l + 1} is left alone`);
    assert.ok(moved.result.grads[l].W.data.some((v) => v !== 0), `with α > 0 layer ${l + 1} moves`);
    assert.equal(still.result.metrics?.[`target_loss_${l + 1}`], 0);
  }
  assert.ok(still.result.grads[L - 1].W.data.some((v) => v !== 0), 'the output layer still learns from the task loss');
  // The untrained inverses reconstruct badly: without the difference correction the targets would be far off.
  assert.ok((still.result.metrics?.reconstruction_2 ?? 0) > 0.1, `reconstruction error ${still.result.metrics?.reconstruction_2}`);
});

test('dtp: noise-preserving and denoising inverse losses target the noisy and the clean input', () => {
  const preserving = oneStep({ sigma: 0.3, inverseLoss: 'preserving' }), denoising = oneStep({ sigma: 0.3, inverseLoss: 'denoising' });
  const clean = oneStep({ sigma: 0, inverseLoss: 'preserving' }), cleanDenoising = oneStep({ sigma: 0, inverseLoss: 'denoising' });
  assert.deepEqual(clean.result.groupGrads, cleanDenoising.result.groupGrads, 'without noise the two losses agree');
  assert.notDeepEqual(preserving.result.groupGrads, denoising.result.groupGrads);
  assert.throws(() => differenceTargetPropagation({ inverseLoss: 'sideways' }), /inverseLoss must be one of preserving, denoising/);
  assert.throws(() => differenceTargetPropagation({ sigma: -1 }), /sigma must be a number ≥ 0/);
  assert.throws(() => differenceTargetPropagation({ gamma: 1 }), /no option 'gamma'/);
  const conv = { ...spec, ...architectureSpec('1x6x6-c2k3-4-3') };
  assert.throws(() => differenceTargetPropagation().init(createNetwork(conv, Rng.fromSeed(1)), Rng.fromSeed(2)), /needs dense layers, but layer 1 is conv2d/);
});

function mnistRun(ruleOptions: Record<string, number | string>, epochs: number): RunConfig {
  return {
    rule: 'dtp', ruleOptions, seed: 1,
    spec: { sizes: [784, 64, 64, 64, 10], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } },
    optimizer: { ...DEFAULT_OPTIMIZER, name: 'adam' },
    train: { ...DEFAULT_TRAIN, epochs, batchSize: 50, lr: 1e-3, schedule: { kind: 'constant' } },
  };
}

test('dtp on MNIST: the inverses learn (reconstruction error falls), the layer-local losses are reported, and the net learns', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 3000, limitTest: 1000 });
  const trainer = createTrainer(mnistRun({}, 4), be, data);
  const epochs: Extract<TrainEvent, { type: 'epoch' }>[] = [];
  trainer.run((e) => { if (e.type === 'epoch') epochs.push(e); });
  const first = epochs[0].metrics!, last = epochs[epochs.length - 1].metrics!;
  assert.deepEqual(Object.keys(first).sort(), ['reconstruction_2', 'reconstruction_3', 'target_loss_1', 'target_loss_2', 'target_loss_3']);
  for (const key of ['reconstruction_2', 'reconstruction_3']) assert.ok(last[key] < 0.7 * first[key], `${key}: ${first[key]} → ${last[key]}`);
  const { error } = trainer.evaluate(data.test);
  assert.ok(error !== null && error < 0.15, `test error ${error}`);
});

test('dtp alternating: a pass trains only the inverses, the next only the forward weights (metrics say which)', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 500, limitTest: 100 });
  const trainer = createTrainer(mnistRun({ schedule: 'alternating' }, 1), be, data);
  const inverses = () => (trainer.state.ruleState as DtpState).inverses.flatMap((g) => (g ? [g.V.data.slice(), g.c.slice()] : []));
  const weights0 = cloneLayers(trainer.state.net.layers), inverses0 = inverses();
  const events: TrainEvent[] = [];
  const e1 = trainer.trainEpoch((e) => events.push(e));
  assert.ok(Number.isFinite(e1.trainLoss));
  assert.deepEqual(trainer.state.net.layers, weights0, 'the inverse pass leaves the forward weights alone');
  assert.notDeepEqual(inverses(), inverses0, 'the inverses learn in the inverse pass');
  const weights1 = cloneLayers(trainer.state.net.layers), inverses1 = inverses();
  trainer.trainEpoch((e) => events.push(e));
  assert.notDeepEqual(trainer.state.net.layers, weights1, 'the forward pass trains the forward weights');
  assert.deepEqual(inverses(), inverses1, 'and leaves the inverses alone');
  const metrics = events.filter((e): e is Extract<TrainEvent, { type: 'epoch' }> => e.type === 'epoch').map((e) => Object.keys(e.metrics ?? {}).sort());
  assert.deepEqual(metrics, [['reconstruction_2', 'reconstruction_3'], ['target_loss_1', 'target_loss_2', 'target_loss_3']]);
  assert.throws(() => differenceTargetPropagation({ schedule: 'alternating' }).init(createNetwork(spec, Rng.fromSeed(1)), Rng.fromSeed(2)), /needs the training set's size/);
});

test('Adam corrects its bias by its own updates, not the loop\'s steps (parameters that sit out steps)', () => {
  const params = [{ name: 'w', value: new Float32Array(3), isBias: false }];
  const g = () => [Float32Array.from([0.5, -1, 2])];
  const opt = adam();
  let own = opt.init(params), fresh = opt.init(params);
  const a: Float32Array[][] = [], b: Float32Array[][] = [];
  for (const [i, step] of [10, 20, 30].entries()) {
    const ua = g(), ub = g();
    own = opt.update(ua, own, params, { backend: be, step });
    fresh = opt.update(ub, fresh, params, { backend: be, step: i + 1 });
    a.push(ua);
    b.push(ub);
  }
  assert.deepEqual(a, b);
  assert.equal(own.t, 3);
  // A state saved before t was kept continues from the loop's step.
  const old = { m: [new Float32Array(3)], v: [new Float32Array(3)] }, viaStep = g(), viaT = g();
  opt.update(viaStep, old, params, { backend: be, step: 1 });
  opt.update(viaT, opt.init(params), params, { backend: be, step: 99 });
  assert.deepEqual(viaStep, viaT);
});

function ruleStep(rule: LearningRule<SimplifiedDtpState>, y?: (p: Matrix) => Matrix, seed = 1) {
  const rng = Rng.fromSeed(seed);
  const net = createNetwork(spec, rng);
  const state = rule.init(net, rng.split());
  const x = matrix(8, 6);
  rng.fillNormal(x.data, 0, 1);
  const ws = createWorkspace(spec, 8);
  forward(be, net, x, ws);
  const p = matrix(8, 3);
  softmax(ws.h[ws.h.length - 1], p);
  const labels = y ? y(p) : oneHot(Int32Array.from({ length: 8 }, (_, i) => i % 3), 3);
  const result = rule.step({ backend: be, net, ws, rng: rng.split(), grads: zerosLike(net.layers) }, state, { x, y: labels });
  return { net, state, ws, y: labels, p, result };
}

for (const [name, rule] of [['sdtp', () => simplifiedDtp()], ['aosdtp', () => auxiliaryOutputSdtp({ aux: 5 })]] as const) {
  test(`${name}: the targets are Bartunov et al.'s equations (label at the top, differences through every inverse), in float64`, () => {
    const { net, state, ws, y, p, result } = ruleStep(rule());
    const L = net.layers.length, B = 8, top = L - 1;
    const row = (m: { cols: number; data: Float32Array }, n: number) => Array.from(m.data.subarray(n * m.cols, (n + 1) * m.cols));
    for (let n = 0; n < B; n++) {
      const hPen = row(ws.h[top - 1], n);
      const z = state.aux ? Array.from({ length: state.aux.rows }, (_, a) => Math.tanh(hPen.reduce((s, h, j) => s + h * state.aux!.data[a * state.aux!.cols + j], 0))) : [];
      const activity = [...row(p, n), ...z], wanted = [...row(y, n), ...z];
      const gTop = state.inverses[top] as InverseParams;
      let hat = hPen.map((h, i) => h + tanhInverse(gTop, wanted)[i] - tanhInverse(gTop, activity)[i]);
      const targets: number[][] = [];
      targets[top - 1] = hat;
      for (let l = top - 1; l >= 1; l--) {
        const g = state.inverses[l] as InverseParams, gHat = tanhInverse(g, hat), gH = tanhInverse(g, row(ws.h[l], n));
        hat = row(ws.h[l - 1], n).map((h, i) => h + gHat[i] - gH[i]);
        targets[l - 1] = hat;
      }
      for (let l = 0; l < top; l++) {
        const h = row(ws.h[l], n), signal = row(result.signals![l], n);
        h.forEach((hj, j) => {
          const got = hj - (B / 2) * signal[j];
          assert.ok(Math.abs(got - targets[l][j]) < 1e-5, `example ${n}, layer ${l + 1}, unit ${j}: target ${got} vs ${targets[l][j]}`);
        });
      }
    }
  });

  test(`${name}: a label equal to the net's own prediction moves no hidden layer; the label itself does`, () => {
    const still = ruleStep(rule(), (p) => p), moved = ruleStep(rule());
    for (let l = 0; l < spec.sizes.length - 2; l++) {
      assert.ok(still.result.grads[l].W.data.every((v) => v === 0), `layer ${l + 1} is left alone`);
      assert.ok(moved.result.grads[l].W.data.some((v) => v !== 0), `a label moves layer ${l + 1}`);
    }
  });
}

test('sdtp and aosdtp learn MNIST without any gradient, and their inverses learn', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 3000, limitTest: 1000 });
  for (const [rule, bound] of [['sdtp', 0.25], ['aosdtp', 0.25]] as const) {
    const trainer = createTrainer({ ...mnistRun({}, 4), rule }, be, data);
    const epochs: Extract<TrainEvent, { type: 'epoch' }>[] = [];
    trainer.run((e) => { if (e.type === 'epoch') epochs.push(e); });
    const first = epochs[0].metrics!, last = epochs[epochs.length - 1].metrics!;
    for (const key of ['reconstruction_2', 'reconstruction_3']) assert.ok(last[key] < 0.7 * first[key], `${rule} ${key}: ${first[key]} → ${last[key]}`);
    const { error } = trainer.evaluate(data.test);
    assert.ok(error !== null && error < bound, `${rule} test error ${error}`);
  }
  assert.throws(() => auxiliaryOutputSdtp({ aux: 0 }), /aux must be a whole number ≥ 1/);
});

test('on a fixed forward net (a stage that trains no layer) every inverse of dtp, sdtp, aosdtp, drl and ddtp lowers its reconstruction error, epoch after epoch', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 1000, limitTest: 100 });
  for (const rule of ['dtp', 'sdtp', 'aosdtp', 'drl', 'ddtp'] as const) {
    const run = mnistRun({}, 3);
    const trainer = createTrainer({ ...run, rule, stages: [{ rule, ruleOptions: {}, epochs: 3, trains: [] }] }, be, data);
    const weights = cloneLayers(trainer.state.net.layers);
    const epochs: Record<string, number>[] = [];
    trainer.run((e) => { if (e.type === 'epoch') epochs.push(e.metrics!); });
    assert.deepEqual(trainer.state.net.layers, weights, 'the forward net stays fixed');
    for (const key of Object.keys(epochs[0]).filter((k) => k.startsWith('reconstruction_'))) {
      const series = epochs.map((m) => m[key]);
      assert.ok(series[1] < series[0] && series[2] < series[1], `${rule} ${key}: ${series.join(' → ')}`);
    }
  }
});

test('tp: with exact inverses and a small top step, a layer\'s target displacement approaches the Gauss–Newton step J⁻¹Δ, not backprop\'s JᵀΔ (Meulemans et al. 2020)', () => {
  const sq: NetworkSpec = { ...spec, sizes: [3, 4, 4, 4, 3] };
  const rng = Rng.fromSeed(5);
  const net = createNetwork(sq, rng);
  const x = matrix(4, 3);
  rng.fillNormal(x.data, 0, 1);
  const y = oneHot(new Int32Array([0, 1, 2, 1]), 3);
  const angle = (a: number[], b: number[]) => {
    const dot = a.reduce((s, v, i) => s + v * b[i], 0), na = Math.hypot(...a), nb = Math.hypot(...b);
    return (Math.acos(Math.max(-1, Math.min(1, dot / (na * nb)))) * 180) / Math.PI;
  };
  const mat = (W: { rows: number; cols: number; data: Float32Array }, i: number, j: number) => W.data[i * W.cols + j];
  const results: { alpha: number; gn: number; bp: number }[] = [];
  for (const alpha of [0.03, 0.003, 0.0003]) {
    const ws = createWorkspace(sq, 4);
    const result = exactTargetPropagation({ alpha }).step({ backend: be, net, ws, rng: Rng.fromSeed(1), grads: zerosLike(net.layers) }, {}, { x, y });
    let worstGn = 0, bestBp = 180;
    for (let n = 0; n < 4; n++) {
      const h = (l: number) => Array.from(ws.h[l].data.subarray(n * ws.h[l].cols, (n + 1) * ws.h[l].cols), Number);
      // J = ∂h_2/∂h_0 = diag(1 − h_2²) W_2 · diag(1 − h_1²) W_1 (tanh layers; code indices).
      const D = (l: number) => h(l).map((v) => 1 - v * v);
      const A1 = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => D(1)[i] * mat(net.layers[1].W, i, j)));
      const A2 = [0, 1, 2, 3].map((i) => [0, 1, 2, 3].map((j) => D(2)[i] * mat(net.layers[2].W, i, j)));
      const J = A2.map((row) => [0, 1, 2, 3].map((j) => row.reduce((s, v, k) => s + v * A1[k][j], 0)));
      // Δ = −α ∂L_n/∂h_2 = −α W_3ᵀ (softmax(o) − y).
      const o = h(3), m = Math.max(...o), e = o.map((v) => Math.exp(v - m)), z = e.reduce((a, b) => a + b);
      const err = e.map((v, k) => v / z - y.data[n * 3 + k]);
      const delta = [0, 1, 2, 3].map((j) => -alpha * err.reduce((s, ek, k) => s + ek * mat(net.layers[3].W, k, j), 0));
      const gn = Array.from(luSolve(luFactor(4, J.flat()), delta, new Float64Array(4)));
      const bp = [0, 1, 2, 3].map((j) => J.reduce((s, row, i) => s + row[j] * delta[i], 0));
      const d = Array.from(result.signals![0].data.subarray(n * 4, n * 4 + 4), (v) => -(4 / 2) * v); // ĥ_0 − h_0
      worstGn = Math.max(worstGn, angle(d, gn));
      bestBp = Math.min(bestBp, angle(d, bp));
    }
    results.push({ alpha, gn: worstGn, bp: bestBp });
  }
  const [big, mid, small] = results;
  assert.ok(small.gn < 0.5 && small.gn < mid.gn && mid.gn < big.gn, `angle to Gauss–Newton shrinks with α: ${results.map((r) => `${r.alpha}: ${r.gn.toFixed(4)}°`).join(', ')}`);
  assert.ok(small.bp > 10, `and stays far from backprop: ${small.bp.toFixed(1)}° at the smallest α`);
});

test('tp: square invertible layers only, with a clear error otherwise', () => {
  assert.throws(() => exactTargetPropagation().init(createNetwork(spec, Rng.fromSeed(1)), Rng.fromSeed(2)), /needs square hidden layers above the first, but layer 2 maps 7 → 5/);
  const relu = { ...spec, sizes: [3, 4, 4, 2], hidden: 'relu' as const };
  assert.throws(() => exactTargetPropagation().init(createNetwork(relu, Rng.fromSeed(1)), Rng.fromSeed(2)), /needs an invertible hidden activation .* got relu/);
});

test('ldrl: the feedback loss\'s gradient equals finite differences (same noise), r included', () => {
  const rng = Rng.fromSeed(11);
  const net = createNetwork({ ...spec, sizes: [3, 5, 4, 2] }, rng);
  const x = matrix(6, 5), y = matrix(6, 4);
  rng.fillUniform(x.data, -0.8, 0.8);
  layerActivity(net, 1)(be, x, y);
  const V = matrix(5, 4), c = new Float32Array(5);
  rng.fillNormal(V.data, 0, 0.5);
  rng.fillNormal(c, 0, 0.1);
  const lossAt = (g: InverseParams, grad: InverseParams) => new FeedbackTrainer().lossAndGrads(be, x, y, layerActivity(net, 1), g, 0.3, Rng.fromSeed(4), grad);
  const grad = { V: matrix(5, 4), c: new Float32Array(5) };
  lossAt({ V, c }, grad);
  const scratchGrad = { V: matrix(5, 4), c: new Float32Array(5) };
  const h = 1e-2;
  const check = (values: Float32Array, analytic: Float32Array, what: string) => {
    for (let i = 0; i < values.length; i++) {
      const keep = values[i];
      values[i] = keep + h;
      const up = lossAt({ V, c }, scratchGrad);
      values[i] = keep - h;
      const down = lossAt({ V, c }, scratchGrad);
      values[i] = keep;
      const fd = (up - down) / (2 * h);
      assert.ok(Math.abs(fd - analytic[i]) <= 2e-3 + 2e-2 * Math.abs(fd), `${what}[${i}]: finite difference ${fd} vs ${analytic[i]}`);
    }
  };
  check(V.data, grad.V.data, 'V');
  check(c, grad.c, 'c');
});

test('ldrl: on a fixed forward net the feedback loss drives the Jacobian mismatch ‖J_G − J_fᵀ‖²/‖J_f‖² down (Ernoult et al. 2022)', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 1000, limitTest: 100 });
  const ruleOptions = { iterations: 3 };
  const trainer = createTrainer({ ...mnistRun(ruleOptions, 3), rule: 'ldrl', stages: [{ rule: 'ldrl', ruleOptions, epochs: 3, trains: [] }] }, be, data);
  const epochs: Record<string, number>[] = [];
  trainer.run((e) => { if (e.type === 'epoch') epochs.push(e.metrics!); });
  for (const l of [2, 3, 4]) {
    const series = epochs.map((m) => m[`jacobian_mismatch_${l}`]);
    assert.ok(series[2] < 0.6 * series[0] && series[1] < series[0], `layer ${l}: ${series.map((v) => v.toFixed(3)).join(' → ')}`);
  }
  assert.equal(trainer.state.step, 3 * 3 * 20, 'three feedback iterations (loop steps) a batch');
});

test('ldrl: iterations per layer, one forward update a batch, and β = 0 leaves every forward layer alone', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 200, limitTest: 100 });
  const trainer = createTrainer({ ...mnistRun({ iterations: '1,2,4' }, 1), rule: 'ldrl' }, be, data);
  const groupState = () => JSON.stringify(trainer.state.groupStates);
  let forwardUpdates = 0;
  const layers = () => JSON.stringify(trainer.state.net.layers.map((p) => Array.from(p.W.data.subarray(0, 5))));
  const trainBatch = trainer.trainBatch.bind(trainer);
  trainer.trainBatch = (batch, lr) => {
    const before = layers();
    const loss = trainBatch(batch, lr);
    if (layers() !== before) forwardUpdates++;
    return loss;
  };
  trainer.trainEpoch();
  assert.equal(forwardUpdates, 4, 'one forward update for each of the 4 batches');
  assert.equal(trainer.state.step, 4 * 4, 'as many steps a batch as the most iterations');
  const counts = Object.fromEntries(Object.entries(trainer.state.groupStates).map(([name, s]) => [name, (s as { t?: number }[]).find((t) => t && typeof t.t === 'number')?.t]));
  assert.deepEqual(counts, { inverse_2: 4, inverse_3: 8, inverse_4: 16 }, `Adam updates per inverse: ${groupState().slice(0, 80)}`);
  const still = ruleStepOf(localDifferenceReconstruction({ beta: 0 }));
  still.result.grads.forEach((g, l) => assert.ok(g.W.data.every((v) => v === 0), `β = 0: layer ${l + 1} is left alone`));
  assert.throws(() => localDifferenceReconstruction({ iterations: '2,x' }), /iterations must be a number or a comma list/);
  assert.throws(() => localDifferenceReconstruction({ sigma: '0.1,0.2' }).init(createNetwork(spec, Rng.fromSeed(1)), Rng.fromSeed(2)), /lists 2 values, but the net has 3 inverses/);
});

function ruleStepOf(rule: LearningRule<LdrlState>) {
  const rng = Rng.fromSeed(1);
  const net = createNetwork(spec, rng);
  const state = rule.init(net, rng.split());
  const x = matrix(8, 6);
  rng.fillNormal(x.data, 0, 1);
  const y = oneHot(Int32Array.from({ length: 8 }, (_, i) => i % 3), 3);
  return { result: rule.step({ backend: be, net, ws: createWorkspace(spec, 8), rng: rng.split(), grads: zerosLike(net.layers) }, state, { x, y }) };
}

/** Central finite differences of loss(values) at every entry of `values`, against `analytic`. */
function checkGradient(values: Float32Array, analytic: Float32Array, loss: () => number, what: string, h = 1e-2): void {
  for (let i = 0; i < values.length; i++) {
    const keep = values[i];
    values[i] = keep + h;
    const up = loss();
    values[i] = keep - h;
    const down = loss();
    values[i] = keep;
    const fd = (up - down) / (2 * h);
    assert.ok(Math.abs(fd - analytic[i]) <= 2e-3 + 2e-2 * Math.abs(fd), `${what}[${i}]: finite difference ${fd} vs ${analytic[i]}`);
  }
}

test('drl and ddtp: their difference reconstruction losses\' gradients equal finite differences (same noise)', () => {
  const rng = Rng.fromSeed(12);
  const sq: NetworkSpec = { ...spec, sizes: [3, 5, 4, 4, 2] };
  const net = createNetwork(sq, rng);
  const x = matrix(6, 3);
  rng.fillNormal(x.data, 0, 1);
  const ws = createWorkspace(sq, 6);
  forward(be, net, x, ws);
  const inverses = initInverses(net, rng, 1, 3);
  for (const l of [1, 2, 3]) {
    const g = inverses[l] as InverseParams, grad = { V: matrix(g.V.rows, g.V.cols), c: new Float32Array(g.c.length) }, spare = { V: matrix(g.V.rows, g.V.cols), c: new Float32Array(g.c.length) };
    const loss = (into: InverseParams) => new DrlTrainer().lossAndGrads(be, net, ws.h, l, inverses, 0.3, Rng.fromSeed(5), into);
    loss(grad);
    checkGradient(g.V.data, grad.V.data, () => loss(spare), `drl V${l + 1}`);
    checkGradient(g.c, grad.c, () => loss(spare), `drl c${l + 1}`);
  }
  for (const l of [0, 1, 2]) {
    const Q = matrix(sq.sizes[l + 1], 2), grad = matrix(Q.rows, 2), spare = matrix(Q.rows, 2);
    rng.fillNormal(Q.data, 0, 0.5);
    const loss = (into: Matrix) => new DirectFeedbackTrainer().lossAndGrads(be, net, ws.h, l, Q, 0.3, Rng.fromSeed(6), into);
    loss(grad);
    checkGradient(Q.data, grad.data, () => loss(spare), `ddtp Q${l + 1}`);
  }
});

test('ddtp: on a linear net, Q_l trained on its reconstruction loss approaches the pseudo-inverse of the layer-to-output Jacobian (Gauss–Newton)', () => {
  const lin: NetworkSpec = { sizes: [4, 6, 5, 3], hidden: 'linear', output: 'linear', leakySlope: 0, loss: 'mse', init: { kind: 'glorot' } };
  const rng = Rng.fromSeed(13);
  const net = createNetwork(lin, rng);
  const x = matrix(64, 4);
  rng.fillNormal(x.data, 0, 1);
  const ws = createWorkspace(lin, 64);
  forward(be, net, x, ws);
  // J = ∂h_out/∂h_0 = W_2 W_1 [3, 6]; J⁺ = Jᵀ (J Jᵀ)⁻¹ [6, 3].
  const W1 = net.layers[1].W, W2 = net.layers[2].W;
  const J = Array.from({ length: 3 }, (_, i) => Array.from({ length: 6 }, (_, j) => {
    let s = 0;
    for (let k = 0; k < 5; k++) s += W2.data[i * 5 + k] * W1.data[k * 6 + j];
    return s;
  }));
  const JJt = J.map((a) => J.map((b) => a.reduce((s, v, k) => s + v * b[k], 0)));
  const lu = luFactor(3, JJt.flat());
  const inv = [0, 1, 2].map((c) => Array.from(luSolve(lu, [0, 1, 2].map((r) => (r === c ? 1 : 0)), new Float64Array(3))));
  const pinv = Array.from({ length: 6 }, (_, j) => [0, 1, 2].map((c) => J.reduce((s, row, i) => s + row[j] * inv[i][c], 0)));
  const Q = matrix(6, 3), grad = matrix(6, 3), trainer = new DirectFeedbackTrainer(), noise = Rng.fromSeed(14);
  // Plain SGD on the noisy loss; the slowest direction (J's small singular value) needs the many steps.
  for (let it = 0; it < 2000; it++) {
    trainer.lossAndGrads(be, net, ws.h, 0, Q, 0.1, noise, grad);
    be.axpby(-0.3, grad.data, 1, Q.data);
  }
  let diff = 0, ref = 0;
  for (let j = 0; j < 6; j++) for (let c = 0; c < 3; c++) {
    diff += (Q.data[j * 3 + c] - pinv[j][c]) ** 2;
    ref += pinv[j][c] ** 2;
  }
  assert.ok(Math.sqrt(diff / ref) < 0.05, `‖Q − J⁺‖/‖J⁺‖ = ${Math.sqrt(diff / ref).toFixed(4)}`);
});

test('alignment against Gauss–Newton: ddtp with Q_l = J_l⁺ gives exactly the Gauss–Newton signals, backprop does not, and at the output the two references agree', () => {
  const lin: NetworkSpec = { sizes: [4, 6, 5, 3], hidden: 'linear', output: 'linear', leakySlope: 0, loss: 'mse', init: { kind: 'glorot' } };
  const net = createNetwork(lin, Rng.fromSeed(13));
  const x = matrix(5, 4), y = matrix(5, 3);
  Rng.fromSeed(6).fillNormal(x.data, 0, 1);
  Rng.fromSeed(7).fillNormal(y.data, 0, 1);
  const batch = { x, y };
  const reference = new BackpropReference(net, 5).compute(be, batch);
  const gn = new GaussNewtonReference(net, 5).compute(be, batch)!;
  // A linear net's J_l = ∂h_out/∂h_l is the same for every example: J_1 = W_3, J_0 = W_3 W_2 (code layers 2, 1).
  const W = (l: number) => net.layers[l].W;
  const product = (a: Matrix, b: Matrix): Matrix => {
    const out = matrix(a.rows, b.cols);
    for (let i = 0; i < a.rows; i++) for (let j = 0; j < b.cols; j++) for (let k = 0; k < a.cols; k++) out.data[i * b.cols + j] += a.data[i * a.cols + k] * b.data[k * b.cols + j];
    return out;
  };
  const pinv = (J: Matrix): Matrix => { // Jᵀ (J Jᵀ)⁻¹, J [3, n] of full row rank
    const n = J.cols, JJt = Array.from({ length: 9 }, (_, e) => { let s2 = 0; for (let k = 0; k < n; k++) s2 += J.data[Math.floor(e / 3) * n + k] * J.data[(e % 3) * n + k]; return s2; });
    const lu = luFactor(3, JJt), inv = [0, 1, 2].map((c) => luSolve(lu, [0, 1, 2].map((r) => (r === c ? 1 : 0)), new Float64Array(3)));
    const out = matrix(n, 3);
    for (let j = 0; j < n; j++) for (let c = 0; c < 3; c++) out.data[j * 3 + c] = [0, 1, 2].reduce((s2, i) => s2 + J.data[i * n + j] * inv[c][i], 0);
    return out;
  };
  const rule = directDtp({ alpha: 0.1 });
  const state = rule.init(net, Rng.fromSeed(2));
  state.Q = [pinv(product(W(2), W(1))), pinv(W(2))];
  const ddtp = compareWithBackprop(net, rule.step({ backend: be, net, ws: createWorkspace(lin, 5), rng: Rng.fromSeed(1), grads: zerosLike(net.layers) }, state, batch), reference, undefined, gn);
  const bpRule = backprop();
  const bp = compareWithBackprop(net, bpRule.step({ backend: be, net, ws: createWorkspace(lin, 5), rng: Rng.fromSeed(1), grads: zerosLike(net.layers) }, {}, batch), reference, undefined, gn);
  for (const l of [0, 1]) {
    assert.ok((ddtp[l].gaussNewtonSignalAngle as number) < 0.01, `ddtp layer ${l + 1}: ${ddtp[l].gaussNewtonSignalAngle}° to Gauss–Newton`);
    assert.ok((ddtp[l].gaussNewtonUpdateAngle as number) < 0.01, `ddtp layer ${l + 1} update: ${ddtp[l].gaussNewtonUpdateAngle}°`);
    assert.ok((bp[l].gaussNewtonSignalAngle as number) > 5, `bp layer ${l + 1}: ${bp[l].gaussNewtonSignalAngle}° to Gauss–Newton`);
  }
  assert.ok(bp[2].gaussNewtonUpdateAngle! < 1e-3 && bp[2].updateAngle < 1e-3, 'at the output, Gauss–Newton is the gradient step');
  assert.equal(bp[2].gaussNewtonSignalAngle, null);
});

test('resuming mid-schedule is bit-identical: alternating passes and per-layer feedback iterations continue where they stopped', () => {
  const cases: [RuleId, RuleOptions][] = [
    ['dtp', { schedule: 'alternating' }], ['sdtp', { schedule: 'alternating' }], ['aosdtp', { schedule: 'alternating', aux: 4 }],
    ['drl', { schedule: 'alternating', alpha: 0.3 }], ['ddtp', { schedule: 'alternating', alpha: 0.3 }], ['ldrl', { iterations: '2,3', sigma: '0.1,0.2' }],
  ];
  for (const [rule, ruleOptions] of cases) {
    const base: RunConfig = {
      rule, ruleOptions, seed: 4, spec: { ...spec, sizes: [2, 6, 6, 2] },
      optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' }, train: { ...DEFAULT_TRAIN, epochs: 5, batchSize: 2, lr: 0.05 },
    };
    const straight = createTrainer(base, be, xor());
    straight.run();
    const first = createTrainer({ ...base, train: { ...base.train, epochs: 3 } }, be, xor());
    first.run();
    const { state } = decodeCheckpoint(encodeCheckpoint({ state: first.state })) as { state: TrainState };
    const second = createTrainer(base, be, xor(), state);
    second.run();
    assert.deepEqual(second.state.net.layers, straight.state.net.layers, `${rule}: parameters`);
    assert.deepEqual(second.state.ruleState, straight.state.ruleState, `${rule}: rule state`);
    assert.deepEqual(second.state.groupStates, straight.state.groupStates, `${rule}: group optimizer states`);
  }
});

test('dtp/sdtp inverse losses: the gradient of both forms equals finite differences (same noise)', () => {
  const rng = Rng.fromSeed(15);
  const net = createNetwork({ ...spec, sizes: [3, 5, 4, 2] }, rng);
  const x = matrix(6, 5);
  rng.fillUniform(x.data, -0.8, 0.8);
  const V = matrix(5, 4), c = new Float32Array(5);
  rng.fillNormal(V.data, 0, 0.5);
  rng.fillNormal(c, 0, 0.1);
  for (const mode of ['preserving', 'denoising'] as const) {
    const lossAt = (into: InverseParams) => new InverseTrainer().lossAndGrads(be, x, layerActivity(net, 1), { V, c }, 0.3, mode, Rng.fromSeed(4), into);
    const grad = { V: matrix(5, 4), c: new Float32Array(5) }, spare = { V: matrix(5, 4), c: new Float32Array(5) };
    lossAt(grad);
    checkGradient(V.data, grad.V.data, () => lossAt(spare), `${mode} V`);
    checkGradient(c, grad.c, () => lossAt(spare), `${mode} c`);
  }
});

test('alignment measurements due during feedback-only steps are taken on the next step that updates the forward weights', () => {
  const data = loadDataset('mnist', { rng: runStreams(1).data, limitTrain: 200, limitTest: 100 });
  const run = mnistRun({ iterations: 3 }, 1);
  const trainer = createTrainer({ ...run, rule: 'ldrl', train: { ...run.train, alignEvery: 2 } }, be, data);
  const steps: number[] = [];
  trainer.trainEpoch((e) => { if (e.type === 'alignment') steps.push(e.step); });
  assert.deepEqual(steps, [3, 6, 9, 12], 'one measurement a batch, each on its forward step');
});

test('Trainer.lastTargets: one example\'s activities and the targets dtp set for them in the last step, at the weights that step saw; null without targets', () => {
  const alpha = 0.3, B = 8, sizes = spec.sizes, L = sizes.length - 1;
  const rng = Rng.fromSeed(21), x = matrix(B, sizes[0]);
  rng.fillNormal(x.data, 0, 1);
  const set = classificationSet('random', x, Int32Array.from({ length: B }, (_, i) => i % 3), 3), data = { train: set, test: set };
  const run = (rule: RuleId, ruleOptions: RuleOptions): RunConfig => ({
    rule, ruleOptions, seed: 3, spec, optimizer: { ...DEFAULT_OPTIMIZER, name: 'sgd' },
    train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: B, lr: 0.5 },
  });
  const trainer = createTrainer(run('dtp', { alpha }), be, data);
  const before = cloneLayers(trainer.state.net.layers);
  const inverses = (trainer.state.ruleState as DtpState).inverses.map((g) => g && { V: { ...g.V, data: g.V.data.slice() }, c: g.c.slice() });
  assert.equal(trainer.lastTargets(), null, 'no step yet');
  trainer.trainEpoch();
  assert.notDeepEqual(trainer.state.net.layers, before, 'the step changed the weights after setting its targets');
  const seen = new Set<number>();
  for (let r = 0; r < B; r++) {
    const got = trainer.lastTargets(r)!;
    const n = got.example!;
    seen.add(n);
    // The forward pass and the targets of example n at the weights before the step, in float64.
    const h: number[][] = [];
    let a = Array.from(x.data.subarray(n * sizes[0], (n + 1) * sizes[0]), Number);
    before.forEach((layer, l) => {
      a = Array.from({ length: layer.W.rows }, (_, i) => a.reduce((s, v, j) => s + v * layer.W.data[i * layer.W.cols + j], layer.b[i]));
      if (l < L - 1) a = a.map(Math.tanh);
      h.push(a);
    });
    const o = h[L - 1], m = Math.max(...o), e = o.map((v) => Math.exp(v - m)), z = e.reduce((s, v) => s + v);
    const err = e.map((v, k) => v / z - (k === n % 3 ? 1 : 0)), W = before[L - 1].W;
    const targets: number[][] = [];
    targets[L - 2] = h[L - 2].map((v, j) => v - alpha * err.reduce((s, ek, k) => s + ek * W.data[k * W.cols + j], 0));
    for (let l = L - 2; l >= 1; l--) {
      const g = inverses[l] as InverseParams, gHat = tanhInverse(g, targets[l]), gH = tanhInverse(g, h[l]);
      targets[l - 1] = h[l - 1].map((v, i) => v + gHat[i] - gH[i]);
    }
    assert.equal(got.activity.length, L - 1, 'one entry per hidden layer');
    for (let l = 0; l < L - 1; l++) {
      assert.equal(got.target[l].length, sizes[l + 1]);
      got.activity[l].forEach((v, j) => assert.ok(Math.abs(v - h[l][j]) < 1e-5, `row ${r}, layer ${l + 1}, unit ${j}: h ${v} vs ${h[l][j]}`));
      got.target[l].forEach((v, j) => assert.ok(Math.abs(v - targets[l][j]) < 1e-5, `row ${r}, layer ${l + 1}, unit ${j}: ĥ ${v} vs ${targets[l][j]}`));
      assert.ok(got.target[l].some((v, j) => v !== got.activity[l][j]), `row ${r}, layer ${l + 1}: the target moves the activity`);
    }
  }
  assert.equal(seen.size, B, 'rows name the examples of the batch');
  assert.throws(() => trainer.lastTargets(B), RangeError);
  const bp = createTrainer(run('bp', {}), be, data);
  bp.trainEpoch();
  assert.equal(bp.lastTargets(), null, 'backprop sets no targets');
  const alternating = createTrainer(run('dtp', { schedule: 'alternating' }), be, data);
  alternating.trainEpoch();
  assert.equal(alternating.lastTargets(), null, 'an inverse-only pass sets none');
  alternating.trainEpoch();
  assert.ok(alternating.lastTargets(), 'the forward pass after it does');
});

test('luSolveRows gives each right-hand side the same bits as luSolve', () => {
  const rng = Rng.fromSeed(11), n = 37, m = 9;
  const a = Float64Array.from({ length: n * n }, () => rng.normal());
  const f = luFactor(n, a);
  const b = Float64Array.from({ length: n * m }, () => rng.normal()), x = new Float64Array(n * m);
  luSolveRows(f, m, b, x);
  for (let r = 0; r < m; r++) {
    const one = luSolve(f, Array.from({ length: n }, (_, i) => b[i * m + r]), new Float64Array(n));
    for (let i = 0; i < n; i++) assert.ok(Object.is(x[i * m + r], one[i]), `row ${r}, entry ${i}`);
  }
});
