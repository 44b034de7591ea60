import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { createNetwork, createWorkspace, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import { Rng } from '../src/random.js';
import { rbm, type RbmState } from '../src/rules/rbm.js';
import { exactLogLikelihood, logPartition, type RbmParams } from '../src/metrics/rbm-likelihood.js';
import { createTrainer } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import type { DataSplits } from '../src/data/dataset.js';
import type { RuleOptions } from '../src/rules/rule.js';
import { availableBackends } from './helpers.js';

const be = availableBackends()[0];
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** A 4-visible × 3-hidden RBM (one sigmoid layer of a 4-3-2 net) with strong weights, so that CD mixes slowly. */
function tinyRbm(seed: number, sizes = [4, 3, 2], scale = 1.5): { net: Network; a: Float32Array } {
  const spec: NetworkSpec = { sizes, hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } };
  const net = createNetwork(spec, Rng.fromSeed(seed));
  const rng = Rng.fromSeed(seed + 100);
  rng.fillNormal(net.layers[0].W.data, 0, scale);
  rng.fillNormal(net.layers[0].b, 0, 0.5);
  const a = new Float32Array(sizes[0]);
  rng.fillNormal(a, 0, 0.5);
  return { net, a };
}

const bits = (code: number, n: number) => Array.from({ length: n }, (_, i) => (code >> i) & 1);

/** p(h_j = 1 | v) for a binary RBM, in float64. */
function hiddenGivenVisible(p: RbmParams, v: readonly number[]): number[] {
  return Array.from({ length: p.W.rows }, (_, j) => sigmoid(p.b[j] + v.reduce((s, vi, i) => s + p.W.data[j * p.W.cols + i] * vi, 0)));
}

/** The Gibbs chain's one-step transition T(v → v') = Σ_h p(h|v) p(v'|h), all 2^nv × 2^nv entries (binary units). */
function gibbsTransition(p: RbmParams): number[][] {
  const nv = p.W.cols, nh = p.W.rows, V = 2 ** nv, H = 2 ** nh;
  const T = Array.from({ length: V }, () => new Array<number>(V).fill(0));
  for (let vc = 0; vc < V; vc++) {
    const ph = hiddenGivenVisible(p, bits(vc, nv));
    for (let hc = 0; hc < H; hc++) {
      const h = bits(hc, nh);
      const pH = h.reduce((s, hj, j) => s * (hj ? ph[j] : 1 - ph[j]), 1);
      const pv = Array.from({ length: nv }, (_, i) => sigmoid(p.a[i] + h.reduce((s, hj, j) => s + p.W.data[j * nv + i] * hj, 0)));
      for (let wc = 0; wc < V; wc++) T[vc][wc] += pH * bits(wc, nv).reduce((s, vi, i) => s * (vi ? pv[i] : 1 - pv[i]), 1);
    }
  }
  return T;
}

/** ⟨v p(h|v)ᵀ⟩ under a distribution q over the visible configurations, in W's layout [hidden, visible]. */
function statistics(p: RbmParams, q: readonly number[]): number[] {
  const nv = p.W.cols, nh = p.W.rows, out = new Array<number>(nh * nv).fill(0);
  q.forEach((weight, vc) => {
    if (!weight) return;
    const v = bits(vc, nv), ph = hiddenGivenVisible(p, v);
    for (let j = 0; j < nh; j++) for (let i = 0; i < nv; i++) out[j * nv + i] += weight * ph[j] * v[i];
  });
  return out;
}

/** The model's distribution over visible configurations, by enumeration. */
function modelDistribution(p: RbmParams): number[] {
  const nv = p.W.cols;
  return Array.from({ length: 2 ** nv }, (_, vc) => Math.exp(exactLogLikelihood(p, vrow(bits(vc, nv)))));
}

const vrow = (v: readonly number[]): Matrix => ({ rows: 1, cols: v.length, data: Float32Array.from(v) });

/** Data: a distribution over 4 of the 16 visible configurations. */
const DATA_CODES = [0b0011, 0b1100, 0b0101, 0b1111];
const DATA_WEIGHTS = [0.4, 0.3, 0.2, 0.1];
function dataDistribution(): number[] {
  const q = new Array<number>(16).fill(0);
  DATA_CODES.forEach((c, i) => { q[c] = DATA_WEIGHTS[i]; });
  return q;
}

/** The exact expected CD-k update (ascent) with sampled reconstructions: ⟨v⁰ p(h|v⁰)ᵀ⟩ − ⟨vᵏ p(h|vᵏ)ᵀ⟩, vᵏ ~ Tᵏ. */
function expectedCdUpdate(p: RbmParams, k: number): number[] {
  const T = gibbsTransition(p), q0 = dataDistribution();
  let q = q0;
  for (let s = 0; s < k; s++) q = q.map((_, w) => q.reduce((sum, qv, v) => sum + qv * T[v][w], 0));
  const pos = statistics(p, q0), neg = statistics(p, q);
  return pos.map((x, i) => x - neg[i]);
}

/** The exact log-likelihood gradient ⟨v p(h|v)ᵀ⟩_data − ⟨v p(h|v)ᵀ⟩_model. */
function exactGradient(p: RbmParams): number[] {
  const pos = statistics(p, dataDistribution()), neg = statistics(p, modelDistribution(p));
  return pos.map((x, i) => x - neg[i]);
}

const distance = (a: readonly number[], b: readonly number[]) => Math.hypot(...a.map((x, i) => x - b[i]));

/** One rule step on a batch of `rows` examples drawn in the data's proportions; returns −grad W (the ascent). */
function ruleUpdate(net: Network, a: Float32Array, options: RuleOptions, rows: number, seed: number): number[] {
  const rule = rbm({ sampleVisible: true, likelihood: 'off', ...options });
  const state = rule.init(net, Rng.fromSeed(1), { trainExamples: rows }) as RbmState;
  state.visibleBias.set(a);
  const x = matrix(rows, 4), y = matrix(rows, 2);
  let r = 0;
  DATA_CODES.forEach((code, c) => {
    const count = c === DATA_CODES.length - 1 ? rows - r : Math.round(DATA_WEIGHTS[c] * rows);
    for (let n = 0; n < count; n++, r++) x.data.set(bits(code, 4), r * 4);
  });
  const result = rule.step({ backend: be, net, ws: createWorkspace(net.spec, rows), rng: Rng.fromSeed(seed), grads: zerosLike(net.layers) }, state, { x, y });
  return Array.from(result.grads[0].W.data, (g) => -g);
}

test('rbm: the rule\'s CD-k update is the exact CD-k expectation (sampled), and CD-k\'s bias to the log-likelihood gradient shrinks as k grows', () => {
  const { net, a } = tinyRbm(3);
  const params: RbmParams = { W: net.layers[0].W, b: net.layers[0].b, a, visible: 'binary' };
  const exact = exactGradient(params);
  const bias = [1, 3, 10, 40].map((k) => distance(expectedCdUpdate(params, k), exact));
  for (let i = 1; i < bias.length; i++) assert.ok(bias[i] < bias[i - 1], `CD-k bias falls with k: ${bias.map((b) => b.toFixed(4)).join(' > ')}`);
  assert.ok(bias[0] > 0.05, `CD-1 has a clear bias on this RBM (${bias[0].toFixed(4)}), so the comparison has teeth`);
  assert.ok(bias[3] < 0.1 * bias[0], `CD-40 is nearly unbiased: ${bias[3].toFixed(4)} vs CD-1 ${bias[0].toFixed(4)}`);
  // The rule's samples: its update over a large batch is within sampling error of CD-k's expectation, and far
  // from the other k's (so a rule that ran the wrong number of steps fails).
  const rows = 40000;
  for (const k of [1, 10]) {
    const sampled = ruleUpdate(net, a, { k }, rows, 11);
    const own = distance(sampled, expectedCdUpdate(params, k));
    const other = distance(sampled, expectedCdUpdate(params, k === 1 ? 10 : 1));
    assert.ok(own < 0.02, `CD-${k}: rule vs exact expectation ${own.toFixed(4)}`);
    assert.ok(other > 3 * own, `CD-${k}: the rule is nearer its own k's expectation (${own.toFixed(4)}) than the other's (${other.toFixed(4)})`);
  }
});

test('rbm: the exact log-likelihood metric equals brute-force enumeration of the joint, binary and Gaussian units', () => {
  const { net, a } = tinyRbm(5);
  const binary: RbmParams = { W: net.layers[0].W, b: net.layers[0].b, a, visible: 'binary' };
  // log Σ_{v,h} e^{−E}, E = −aᵀv − bᵀh − hᵀWv, over all 2^4·2^3 states.
  const energy = (v: number[], h: number[]) => -v.reduce((s, x, i) => s + a[i] * x, 0) - h.reduce((s, x, j) => s + binary.b[j] * x + x * v.reduce((t, vi, i) => t + binary.W.data[j * 4 + i] * vi, 0), 0);
  let z = 0;
  for (let vc = 0; vc < 16; vc++) for (let hc = 0; hc < 8; hc++) z += Math.exp(-energy(bits(vc, 4), bits(hc, 3)));
  assert.ok(Math.abs(logPartition(binary) - Math.log(z)) < 1e-9, 'log Z over the hidden side');
  const v = [1, 0, 1, 1];
  let pv = 0;
  for (let hc = 0; hc < 8; hc++) pv += Math.exp(-energy(v, bits(hc, 3)));
  assert.ok(Math.abs(exactLogLikelihood(binary, vrow(v)) - Math.log(pv / z)) < 1e-6, 'log p(v)');
  // Enumerating the visible side instead (more hidden than visible units) gives the same log Z.
  const wide = tinyRbm(6, [3, 5, 2]);
  const wideParams: RbmParams = { W: wide.net.layers[0].W, b: wide.net.layers[0].b, a: wide.a, visible: 'binary' };
  let zw = 0;
  for (let vc = 0; vc < 8; vc++) for (let hc = 0; hc < 32; hc++) {
    const vv = bits(vc, 3), hh = bits(hc, 5);
    zw += Math.exp(vv.reduce((s, x, i) => s + wide.a[i] * x, 0) + hh.reduce((s, x, j) => s + x * (wideParams.b[j] + vv.reduce((t, vi, i) => t + wideParams.W.data[j * 3 + i] * vi, 0)), 0));
  }
  assert.ok(Math.abs(logPartition(wideParams) - Math.log(zw)) < 1e-9, 'log Z over the visible side');
  // Gaussian visible units: one visible, three hidden units; integrate e^{−E} over v numerically.
  const g = tinyRbm(7, [1, 3, 2], 0.8);
  const gauss: RbmParams = { W: g.net.layers[0].W, b: g.net.layers[0].b, a: g.a, visible: 'gaussian' };
  const eG = (x: number, h: number[]) => 0.5 * (x - g.a[0]) ** 2 - h.reduce((s, hj, j) => s + hj * (gauss.b[j] + gauss.W.data[j] * x), 0);
  let zg = 0, px = 0;
  const dx = 1e-3;
  for (let x = -15; x <= 15; x += dx) for (let hc = 0; hc < 8; hc++) zg += Math.exp(-eG(x, bits(hc, 3))) * dx;
  for (let hc = 0; hc < 8; hc++) px += Math.exp(-eG(0.7, bits(hc, 3)));
  assert.ok(Math.abs(logPartition(gauss) - Math.log(zg)) < 1e-6, `Gaussian log Z ${logPartition(gauss)} vs ${Math.log(zg)}`);
  assert.ok(Math.abs(exactLogLikelihood(gauss, vrow([0.7])) - Math.log(px / zg)) < 1e-5, 'Gaussian log density');
});

test('rbm: CD-1 on a perturbed state is backprop of the autoencoder\'s reconstruction error plus a second-order term (Hinton\'s identity)', () => {
  // Mean-field CD-1 with linear (Gaussian) visible units: h = σ(Wv + b), r = Wᵀh + a, h' = σ(Wr + b).
  // With Δv = r − v and Δh = h' − h: vhᵀ − (v + Δv)(h + Δh)ᵀ = −vΔhᵀ − Δv hᵀ − ΔvΔhᵀ, and −(hΔvᵀ + Δh vᵀ) is
  // −∂E/∂W of E = ½‖r − v‖² to first order in Δv. So the rule's update minus ΔhΔvᵀ is ∂E/∂W up to O(‖Δv‖²).
  const nv = 5, nh = 4, rng = Rng.fromSeed(9);
  const spec: NetworkSpec = { sizes: [nv, nh, 2], hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } };
  const net = createNetwork(spec, rng);
  rng.fillNormal(net.layers[0].W.data, 0, 0.6);
  const a = new Float32Array(nv), { W, b } = net.layers[0];
  rng.fillNormal(a, 0, 0.3);
  const reconstruct = (v: number[], w: ArrayLike<number>): { h: number[]; r: number[] } => {
    const h = Array.from({ length: nh }, (_, j) => sigmoid(b[j] + v.reduce((s, vi, i) => s + w[j * nv + i] * vi, 0)));
    const r = Array.from({ length: nv }, (_, i) => a[i] + h.reduce((s, hj, j) => s + w[j * nv + i] * hj, 0));
    return { h, r };
  };
  // A fixed point of the (contracting) reconstruction map, and data near it: Δv shrinks with t.
  let star = Array.from({ length: nv }, () => rng.normal());
  for (let i = 0; i < 500; i++) star = reconstruct(star, W.data).r;
  const direction = Array.from({ length: nv }, () => rng.normal());
  const relative = [0.3, 0.03].map((t) => {
    const v = star.map((x, i) => x + t * direction[i]);
    const rule = rbm({ visible: 'gaussian', meanField: true, likelihood: 'off' });
    const state = rule.init(net, rng.split(), { trainExamples: 1 });
    state.visibleBias.set(a);
    const step = rule.step({ backend: be, net, ws: createWorkspace(spec, 1), rng: rng.split(), grads: zerosLike(net.layers) }, state, { x: vrow(v), y: matrix(1, 2) });
    const { h, r } = reconstruct(v, W.data), h2 = reconstruct(r, W.data).h;
    const dv = r.map((x, i) => x - v[i]), dh = h2.map((x, j) => x - h[j]);
    // The identity, entry by entry (the rule's gradient-sign update is −(vhᵀ − r h'ᵀ)).
    for (let j = 0; j < nh; j++) for (let i = 0; i < nv; i++) {
      const cd = -(v[i] * h[j] - r[i] * h2[j]);
      assert.ok(Math.abs(step.grads[0].W.data[j * nv + i] - cd) < 1e-5, 'the rule computes CD-1');
      assert.ok(Math.abs(cd - (v[i] * dh[j] + dv[i] * h[j] + dv[i] * dh[j])) < 1e-9, 'the algebraic identity');
    }
    // ∂E/∂W by central differences of E(W) = ½‖r(v; W) − v‖² (W in both the encoder and the decoder).
    const fd = Array.from(W.data, (_, k) => {
      const e = (delta: number) => { const w = Float64Array.from(W.data); w[k] += delta; return 0.5 * reconstruct(v, w).r.reduce((s, x, i) => s + (x - v[i]) ** 2, 0); };
      return (e(1e-6) - e(-1e-6)) / 2e-6;
    });
    const backpropPart = Array.from(step.grads[0].W.data, (g, k) => g - dv[k % nv] * dh[Math.floor(k / nv)]);
    return distance(backpropPart, fd) / Math.hypot(...fd);
  });
  assert.ok(relative[1] < 0.2 * relative[0], `the residual is second order: relative error ${relative[0].toExponential(2)} at t = 0.3, ${relative[1].toExponential(2)} at t = 0.03`);
  assert.ok(relative[1] < 0.05, `near the fixed point CD-1 minus ΔhΔvᵀ is the autoencoder's gradient (relative error ${relative[1].toExponential(2)})`);
});

/** Noisy copies of three 9-pixel prototypes: structure an RBM of 6 hidden units can learn. */
function prototypes(n: number, seed: number): DataSplits {
  const rng = Rng.fromSeed(seed), protos = [[1, 1, 1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1, 0, 0, 0], [1, 0, 0, 1, 0, 0, 1, 1, 1]];
  const x = matrix(n, 9), y = matrix(n, 2);
  for (let r = 0; r < n; r++) {
    const p = protos[rng.int(3)];
    for (let i = 0; i < 9; i++) x.data[r * 9 + i] = rng.uniform() < 0.05 ? 1 - p[i] : p[i];
  }
  const ds = { name: 'prototypes', x, y };
  return { train: ds, test: ds };
}

// Persistent fantasy chains (20 of them) and momentum 0.9 feed back on each other: the chains lag, the weights
// overshoot, and log p(v) falls after epoch 5 (measured: −3.9 at epoch 5, −9.0 at 30 at lr 0.1); at momentum 0.5
// and lr 0.05 it learns (−3.35 at epoch 30). A known trait of PCD, which wants small steps (Tieleman 2008).
const CHAIN_SETTINGS = { data: { lr: 0.1, momentum: 0.9 }, persistent: { lr: 0.05, momentum: 0.5 }, 'per-example': { lr: 0.1, momentum: 0.9 } };
for (const chains of ['data', 'persistent', 'per-example'] as const) {
  test(`rbm: training raises the exact log-likelihood (chains ${chains})`, () => {
    const spec: NetworkSpec = { sizes: [9, 6, 2], hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } };
    const run = {
      rule: 'rbm' as const, ruleOptions: { chains }, seed: 2, spec,
      optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' as const, momentum: CHAIN_SETTINGS[chains].momentum, initialMomentum: { momentum: 0.5, epochs: 5 }, weightDecay: 2e-4 },
      train: { ...DEFAULT_TRAIN, epochs: 30, batchSize: 20, lr: CHAIN_SETTINGS[chains].lr },
    };
    const trainer = createTrainer(run, be, prototypes(400, 4));
    const ll: number[] = [];
    const readout = trainer.state.net.layers[1].W.data.slice();
    trainer.run((e) => { if (e.type === 'epoch') ll.push(e.metrics?.logLikelihood as number); });
    assert.equal(ll.length, 30);
    // Uniform over 2^9 patterns is −6.24 nats; the data's entropy, log 3 + 9·H(0.05), is 2.89 nats.
    assert.ok(ll[29] > ll[0] + 1.5 && ll[29] > -4.6, `log p(v): epoch 1 ${ll[0].toFixed(3)} → epoch 30 ${ll[29].toFixed(3)}`);
    const state = trainer.state.ruleState as RbmState;
    assert.ok(state.visibleBias.some((x) => x !== 0), 'the visible biases learn (group visible)');
    assert.deepEqual(trainer.state.net.layers[1].W.data, readout, 'the readout layer is left alone');
  });
}

test('rbm: trains only its layer; it finds its layer from the stage, and refuses what cannot be an RBM', () => {
  const spec: NetworkSpec = { sizes: [9, 6, 4, 2], hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } };
  const net = createNetwork(spec, Rng.fromSeed(1));
  const rule = rbm();
  const state = rule.init(net, Rng.fromSeed(2), { trainExamples: 10, trains: [1] });
  assert.equal(state.layer, 1);
  const { train } = prototypes(10, 1);
  const result = rule.step({ backend: be, net, ws: createWorkspace(spec, 10), rng: Rng.fromSeed(3), grads: zerosLike(net.layers) }, state, { x: train.x, y: train.y });
  assert.ok(result.grads[1].W.data.some((g) => g !== 0), 'layer 2 learns');
  for (const l of [0, 2]) assert.ok(result.grads[l].W.data.every((g) => g === 0) && result.grads[l].b.every((g) => g === 0), `layer ${l + 1} is left alone`);
  assert.equal(result.groupGrads?.visible[0].length, 6, 'the visible biases of layer 2 are the 6 units of layer 1');
  assert.throws(() => rule.init(net, Rng.fromSeed(2), { trainExamples: 10, trains: [0, 1] }), /one layer at a time.*--stage rbm:EPOCHS:LAYER/);
  assert.throws(() => rbm().init(createNetwork({ ...spec, hidden: 'tanh' }, Rng.fromSeed(1)), Rng.fromSeed(2)), /binary logistic units.*--act sigmoid/);
  assert.throws(() => rbm({ chains: 'fantasy' }), /chains must be one of data, persistent, per-example/);
  assert.throws(() => rbm({ k: 0 }), /k must be an integer ≥ 1/);
});
