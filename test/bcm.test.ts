import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { createNetwork, createWorkspace, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import type { ActivationKind } from '../src/nn/activations.js';
import { Rng } from '../src/random.js';
import { bcm, type BcmState } from '../src/rules/bcm.js';
import type { RuleOptions } from '../src/rules/rule.js';
import { availableBackends } from './helpers.js';

const be = availableBackends()[0];
const PATTERNS = 4, INPUTS = 8, UNITS = 3;

/** A layer of UNITS units on INPUTS inputs with small positive weights (every unit starts responding to every
 * pattern, unselectively), and PATTERNS non-negative, linearly independent input patterns: the environment of
 * BCM 1982's simple cases, every pattern once per batch. */
function setup(act: ActivationKind, seed = 1): { net: Network; spec: NetworkSpec; x: Matrix } {
  const spec: NetworkSpec = { sizes: [INPUTS, UNITS, 2], hidden: act, output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } };
  const rng = Rng.fromSeed(seed);
  const net = createNetwork(spec, rng);
  rng.fillUniform(net.layers[0].W.data, 0, 0.3);
  net.layers[0].b.fill(0);
  const x = matrix(PATTERNS, INPUTS);
  rng.fillUniform(x.data, 0, 1);
  return { net, spec, x };
}

/** Plain SGD on layer 1 for `steps` steps (the test is the loop); the responses [pattern][unit] after each step. */
function train(options: RuleOptions, steps: number, lr: number, act: ActivationKind = 'relu', input?: (s: number, x: Matrix) => Matrix) {
  const { net, spec, x } = setup(act);
  const rule = bcm(options);
  let state: BcmState = rule.init(net, Rng.fromSeed(2));
  const ws = createWorkspace(spec, PATTERNS), grads = zerosLike(net.layers);
  const history: { theta: number[]; y2: number; selectivity: number | undefined; responses: number[][] }[] = [];
  for (let s = 0; s < steps; s++) {
    const batch = { x: input ? input(s, x) : x, y: matrix(PATTERNS, 2) };
    const r = rule.step({ backend: be, net, ws, rng: Rng.fromSeed(3), grads }, state, batch);
    state = r.state;
    const y = ws.h[0];
    history.push({
      theta: [...state.theta], y2: r.metrics?.y2 ?? NaN, selectivity: r.metrics?.selectivity,
      responses: Array.from({ length: PATTERNS }, (_, p) => Array.from({ length: UNITS }, (_, j) => y.data[p * UNITS + j])),
    });
    if (!Number.isFinite(r.loss)) break;
    be.axpby(-lr, grads[0].W.data, 1, net.layers[0].W.data);
  }
  return { history, net, state };
}

test('bcm: θ tracks ⟨y²⟩: after the input statistics change, θ − ⟨y²⟩ shrinks by (1 − 1/τ) each step', () => {
  const tau = 20, switchAt = 30;
  // Frozen weights (lr 0), so that ⟨y²⟩ is the environment's: patterns x, then 2x (linear units: ⟨y²⟩ × 4).
  const doubled = (() => { const { x } = setup('linear'); return { rows: x.rows, cols: x.cols, data: x.data.map((v) => 2 * v) }; })();
  const { history } = train({ tau }, switchAt + 200, 0, 'linear', (s, x) => (s < switchAt ? x : doubled));
  const before = history[switchAt - 1], after = history[history.length - 1];
  before.theta.forEach((t, j) => assert.ok(Math.abs(t - before.responses.reduce((a, r) => a + r[j] ** 2, 0) / PATTERNS) < 1e-6 * t, 'θ starts at ⟨y²⟩'));
  for (let j = 0; j < UNITS; j++) {
    const old = before.theta[j], target = after.responses.reduce((a, r) => a + r[j] ** 2, 0) / PATTERNS;
    assert.ok(Math.abs(target / old - 4) < 1e-4, 'doubling the input quadruples ⟨y²⟩');
    for (const n of [1, tau, 3 * tau, 200]) {
      const predicted = target + (old - target) * (1 - 1 / tau) ** n;
      const theta = history[switchAt - 1 + n].theta[j];
      assert.ok(Math.abs(theta - predicted) < 1e-6 * target, `unit ${j}, ${n} steps after the switch: θ ${theta} vs ${predicted}`);
    }
    // After τ steps a fraction (1 − 1/τ)^τ ≈ 1/e of the gap is left; after 200 = 10τ, 4e−5 of it.
    assert.ok(Math.abs(after.theta[j] - target) < 1e-4 * target, 'θ has converged to the new ⟨y²⟩');
  }
});

test('bcm: the sliding threshold keeps activity bounded; a fixed low θ runs away, a fixed high θ dies', () => {
  const sliding = train({ tau: 10 }, 6000, 0.01);
  const peak = Math.max(...sliding.history.flatMap((h) => h.responses.flat()));
  assert.ok(peak < 4.1, `with the sliding threshold the largest response stays ${peak.toFixed(3)} (fixed point: K = ${PATTERNS})`);
  const low = train({ fixedTheta: 0.1 }, 6000, 0.01);
  const last = low.history[low.history.length - 1].responses.flat();
  assert.ok(low.history.length < 500 && last.some((v) => !Number.isFinite(v) || v > 1e6), `fixed θ = 0.1: activity runs away (${last.map((v) => v.toPrecision(3)).join(' ')} after ${low.history.length} steps)`);
  const high = train({ fixedTheta: 2 }, 6000, 0.01);
  const end = Math.max(...high.history[high.history.length - 1].responses.flat());
  const start = Math.max(...high.history[0].responses.flat());
  assert.ok(start > 0.5 && end < 0.01 * start, `fixed θ = 2: activity dies, largest response ${start.toFixed(2)} → ${end.toExponential(1)}`);
});

test('bcm: selectivity emerges: each unit ends responding ≈ K to one pattern and ≈ 0 to the others, θ = ⟨y²⟩ = K', () => {
  for (const act of ['relu', 'linear'] as const) {
    const { history } = train({ tau: 10 }, 10000, 0.01, act);
    const first = history[0], last = history[history.length - 1];
    assert.ok((first.selectivity ?? 1) < 0.3, `${act}: the units start unselective (index ${first.selectivity})`);
    for (let j = 0; j < UNITS; j++) {
      const r = last.responses.map((p) => p[j]).sort((a, b) => b - a);
      // BCM's stable fixed point for K independent patterns, each 1/K of the time: c = θ for one, 0 for the rest;
      // θ = ⟨c²⟩ = θ²/K gives θ = K.
      assert.ok(Math.abs(r[0] - PATTERNS) < 0.01 * PATTERNS, `${act} unit ${j}: preferred response ${r[0]}`);
      assert.ok(r.slice(1).every((v) => Math.abs(v) < 0.01), `${act} unit ${j}: other responses ${r.slice(1).join(', ')}`);
      assert.ok(Math.abs(last.theta[j] - PATTERNS) < 0.01 * PATTERNS, `${act} unit ${j}: θ ${last.theta[j]}`);
    }
    assert.ok(Math.abs((last.selectivity ?? 0) - (1 - 1 / PATTERNS)) < 0.01, `${act}: selectivity ${last.selectivity} → 1 − 1/K`);
  }
});

test('bcm: y0 scales the fixed point: θ = ⟨y²⟩/y₀ puts the selective response at K·y₀', () => {
  const { history } = train({ tau: 10, y0: 0.5 }, 8000, 0.04);
  const last = history[history.length - 1];
  for (let j = 0; j < UNITS; j++) {
    const r = last.responses.map((p) => p[j]).sort((a, b) => b - a);
    assert.ok(Math.abs(r[0] - PATTERNS * 0.5) < 0.02 * PATTERNS * 0.5 && r.slice(1).every((v) => Math.abs(v) < 0.01), `unit ${j}: ${r.join(', ')}`);
  }
});

test('bcm: with τ = 1 the update is the gradient of Intrator & Cooper’s risk −⅓⟨y³⟩ + ¼⟨y²⟩², the rule’s loss (linear units)', () => {
  const { net, spec, x } = setup('linear');
  const rng = Rng.fromSeed(5);
  rng.fillNormal(net.layers[0].W.data, 0, 0.3);
  const ws = createWorkspace(spec, PATTERNS);
  const lossAt = () => { const rule = bcm({ tau: 1 }); return rule.step({ backend: be, net, ws, rng, grads: zerosLike(net.layers) }, rule.init(net, rng), { x, y: matrix(PATTERNS, 2) }).loss; };
  const rule = bcm({ tau: 1 });
  const grads = zerosLike(net.layers);
  rule.step({ backend: be, net, ws, rng, grads }, rule.init(net, rng), { x, y: matrix(PATTERNS, 2) });
  const W = net.layers[0].W.data, eps = 1e-2;
  for (const i of [0, 5, 11, 17, 23]) {
    const w = W[i];
    W[i] = w + eps; const up = lossAt();
    W[i] = w - eps; const down = lossAt();
    W[i] = w;
    const numeric = (up - down) / (2 * eps);
    assert.ok(Math.abs(grads[0].W.data[i] - numeric) < 2e-3 + 1e-2 * Math.abs(numeric), `weight ${i}: rule ${grads[0].W.data[i]} vs ∂R/∂w ${numeric}`);
  }
  assert.ok(grads[1].W.data.every((v) => v === 0) && grads[0].b.every((v) => v === 0), 'only layer 1’s weights change; biases are left alone');
});

test('bcm: refuses what it is not stated for, with the fix', () => {
  const tanhNet = createNetwork({ sizes: [4, 3, 2], hidden: 'tanh', output: 'tanh', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } }, Rng.fromSeed(1));
  const reluNet = createNetwork({ sizes: [4, 3, 2], hidden: 'relu', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } }, Rng.fromSeed(1));
  const cases: [() => unknown, RegExp][] = [
    [() => bcm().init(tanhNet, Rng.fromSeed(1)), /layer 1 has tanh units: use --act relu, sigmoid or linear/],
    [() => bcm({ layer: 2 }).init(tanhNet, Rng.fromSeed(1)), /layer 2 has .* use --out-act/],
    [() => bcm({ layer: 3 }).init(reluNet, Rng.fromSeed(1)), /layer 3 is beyond the network's 2 layers/],
    [() => bcm().init(reluNet, Rng.fromSeed(1), { trainExamples: 4, trains: [0, 1] }), /trains one layer.*--stage bcm:EPOCHS:LAYER/],
    [() => bcm({ tau: 0.5 }), /tau must be ≥ 1 step/],
    [() => bcm({ fixedTheta: -1 }), /fixedTheta must be a number ≥ 0/],
    [() => bcm({ thetaTau: 3 }), /no option 'thetaTau' \(it has: layer, tau, y0, fixedTheta\)/],
  ];
  for (const [run, pattern] of cases) assert.throws(run, pattern);
  assert.deepEqual(bcm().layersTrained?.(bcm({ layer: 2 }).init(reluNet, Rng.fromSeed(1))), [1], 'option layer is 1-based');
});
