// The settling network (src/nn/settling.ts) against the statements of Scellier & Bengio 2017 and the
// Almeida–Pineda algorithm: relaxation lowers the energy and reaches a fixed point; Almeida–Pineda's gradient
// is the finite-difference derivative of the cost at the fixed point; equilibrium propagation's estimate
// tends to it as β → 0, with an O(β) bias, and the symmetric ±β estimate (Laborieux et al. 2021) with O(β²).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { Rng } from '../src/random.js';
import type { DenseParams } from '../src/nn/dense.js';
import {
  almeidaPineda, computeInputDrive, energies, energyParamGradients, relax, settlingScratch, settlingState,
  type SettlingActivation, type SettlingNet, type SettlingState,
} from '../src/nn/settling.js';
import { equilibriumPropagation } from '../src/rules/equilibrium-propagation.js';
import { createWorkspace, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import { randomMatrix } from './helpers.js';

const be = createJsBackend();

function smallNet(rho: SettlingActivation, sizes = [5, 6, 4, 3], seed = 1): { net: SettlingNet; x: Matrix; y: Matrix } {
  const rng = Rng.fromSeed(seed), rows = 3;
  const layers: DenseParams[] = sizes.slice(1).map((n, l) => ({ W: randomMatrix(n, sizes[l], rng, 0.6), b: rng.fillNormal(new Float32Array(n), 0, 0.3) }));
  const x = matrix(rows, sizes[0], rng.fillUniform(new Float32Array(rows * sizes[0]), 0, 1));
  const y = matrix(rows, sizes[sizes.length - 1], rng.fillUniform(new Float32Array(rows * sizes[sizes.length - 1]), 0, 1));
  return { net: { sizes, rho, layers }, x, y };
}

const total = (e: Float64Array) => e.reduce((a, b) => a + b, 0);

function settle(net: SettlingNet, x: Matrix, options: { beta?: number; y?: Matrix; from?: SettlingState } = {}) {
  const scratch = settlingScratch(net.sizes, x.rows), s = settlingState(net.sizes, x.rows);
  if (options.from) options.from.forEach((m, l) => s[l].data.set(m.data));
  computeInputDrive(be, net, x, scratch);
  const result = relax(be, net, s, { epsilon: 0.2, steps: 20000, tolerance: 1e-6, beta: options.beta, y: options.y }, scratch);
  return { s, scratch, result };
}

function emptyGrads(net: SettlingNet): DenseParams[] {
  return net.layers.map((p) => ({ W: matrix(p.W.rows, p.W.cols), b: new Float32Array(p.b.length) }));
}

function flat(grads: DenseParams[]): Float64Array {
  return Float64Array.from(grads.flatMap((g) => [...g.W.data, ...g.b]));
}

function relativeError(a: Float64Array, b: Float64Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  return Math.sqrt(num / den);
}

for (const rho of ['sigmoid', 'hard_sigmoid'] as const) {
  test(`settling (${rho}): every small step lowers E, and the state reaches a fixed point within its tolerance`, () => {
    const { net, x, y } = smallNet(rho);
    for (const beta of [0, 0.5]) {
      const scratch = settlingScratch(net.sizes, x.rows), s = settlingState(net.sizes, x.rows);
      computeInputDrive(be, net, x, scratch);
      const start = total(energies(net, x, s, beta, y));
      let before = start;
      for (let t = 0; t < 60; t++) {
        relax(be, net, s, { epsilon: 0.1, steps: 1, beta, y }, scratch);
        const after = total(energies(net, x, s, beta, y));
        assert.ok(after <= before + 1e-6, `β ${beta}, step ${t}: E + βC rose from ${before} to ${after}`);
        before = after;
      }
      assert.ok(before < start - 0.1, `β ${beta}: E + βC only fell from ${start} to ${before}`);
      // The backend-kernel path (hard sigmoid, no tolerance) and the step-by-step one agree to float32 rounding.
      const fast = settlingState(net.sizes, x.rows), exact = settlingState(net.sizes, x.rows);
      relax(be, net, fast, { epsilon: 0.5, steps: 30, beta, y }, scratch);
      relax(be, net, exact, { epsilon: 0.5, steps: 30, beta, y, tolerance: 1e-30 }, scratch);
      fast.forEach((m, l) => m.data.forEach((v, i) => assert.ok(Math.abs(v - exact[l].data[i]) < 1e-5, `β ${beta}: the two paths part at layer ${l + 1}`)));
      const settled = settle(net, x, { beta, y });
      assert.ok(settled.result.residual < 1e-6 && settled.result.steps < 20000, `β ${beta}: residual ${settled.result.residual} after ${settled.result.steps} steps`);
      // The fixed point is a stationary point of the energy as energies() writes it (float64, independently of
      // relax's drives): central differences along every unit inside the box (at a bound the gradient may push out).
      for (const layer of settled.s) {
        for (let i = 0; i < layer.data.length; i++) {
          const v = layer.data[i];
          if (rho === 'hard_sigmoid' && (v <= 1e-3 || v >= 1 - 1e-3)) continue;
          const h = 1e-3;
          layer.data[i] = v + h;
          const up = total(energies(net, x, settled.s, beta, y));
          layer.data[i] = v - h;
          const down = total(energies(net, x, settled.s, beta, y));
          layer.data[i] = v;
          assert.ok(Math.abs(up - down) / (2 * h) < 2e-3, `β ${beta}: ∂(E + βC)/∂s = ${(up - down) / (2 * h)} at a fixed point`);
        }
      }
    }
  });
}

/** dC/dθ at the free fixed point by central differences (float64 sums of float32 relaxations). */
function finiteDifferences(net: SettlingNet, x: Matrix, y: Matrix, h: number): Float64Array {
  const cost = () => {
    const { s } = settle(net, x);
    const top = s[s.length - 1].data;
    let c = 0;
    for (let i = 0; i < top.length; i++) c += 0.5 * (top[i] - y.data[i]) ** 2;
    return c;
  };
  const out: number[] = [];
  for (const p of net.layers) {
    for (const values of [p.W.data, p.b]) {
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        values[i] = v + h;
        const up = cost();
        values[i] = v - h;
        const down = cost();
        values[i] = v;
        out.push((up - down) / (2 * h));
      }
    }
  }
  return Float64Array.from(out);
}

test('Almeida–Pineda: the gradient at the free fixed point equals finite differences of the cost (sigmoid)', () => {
  const { net, x, y } = smallNet('sigmoid');
  const { s, scratch } = settle(net, x);
  const grads = emptyGrads(net);
  const adjoint = almeidaPineda(be, net, x, s, y, { epsilon: 0.2, steps: 20000, tolerance: 1e-7 }, scratch, grads);
  assert.ok(adjoint.residual < 1e-6, `adjoint relaxation residual ${adjoint.residual}`);
  const ap = flat(grads), fd = finiteDifferences(net, x, y, 1e-2);
  const err = relativeError(ap, fd);
  assert.ok(err < 2e-2, `relative error of AP against finite differences: ${err}`);
  // Every layer's gradient is there: the first layer's (reached only through the adjoint's passes down and up)
  // alone is compared too.
  const firstLayer = net.layers[0].W.data.length + net.layers[0].b.length;
  assert.ok(relativeError(ap.subarray(0, firstLayer), fd.subarray(0, firstLayer)) < 5e-2);
  assert.ok(Math.hypot(...fd.subarray(0, firstLayer)) > 1e-4, 'the first layer\'s gradient is not negligible');
});

test('equilibrium propagation tends to Almeida–Pineda as β → 0: bias O(β) one-sided, O(β²) symmetric', () => {
  const { net, x, y } = smallNet('sigmoid');
  const free = settle(net, x);
  const grads = emptyGrads(net);
  almeidaPineda(be, net, x, free.s, y, { epsilon: 0.2, steps: 20000, tolerance: 1e-7 }, free.scratch, grads);
  const ap = flat(grads);
  const dEdTheta = (s: SettlingState) => {
    const g = emptyGrads(net);
    energyParamGradients(be, net, x, s, settlingScratch(net.sizes, x.rows), g);
    return flat(g);
  };
  const atFree = dEdTheta(free.s);
  const oneSided: number[] = [], symmetric: number[] = [];
  for (const beta of [0.4, 0.2, 0.1]) {
    const plus = dEdTheta(settle(net, x, { beta, y, from: free.s }).s), minus = dEdTheta(settle(net, x, { beta: -beta, y, from: free.s }).s);
    // EP (S&B 2017, Theorem 1): (1/β)(∂E/∂θ(s^β) − ∂E/∂θ(s^0)) → dC/dθ; Laborieux et al.: (1/2β)(∂E/∂θ(s^β) − ∂E/∂θ(s^−β)).
    oneSided.push(relativeError(plus.map((v, i) => (v - atFree[i]) / beta), ap));
    symmetric.push(relativeError(plus.map((v, i) => (v - minus[i]) / (2 * beta)), ap));
  }
  for (let k = 1; k < 3; k++) {
    assert.ok(oneSided[k] < 0.65 * oneSided[k - 1], `one-sided errors ${oneSided.join(', ')} should halve with β`);
    assert.ok(symmetric[k] < 0.35 * symmetric[k - 1], `symmetric errors ${symmetric.join(', ')} should quarter with β`);
  }
  assert.ok(symmetric[2] < oneSided[2] / 3 && symmetric[2] < 2e-2, `at β = 0.1: one-sided ${oneSided[2]}, symmetric ${symmetric[2]}`);
});

// The ep rule (src/rules/equilibrium-propagation.ts) through the rule interface.

function settlingNetwork(rho: SettlingActivation, settle = { epsilon: 0.2, steps: 20000, tolerance: 1e-7 }): { net: Network; x: Matrix; y: Matrix } {
  const { net, x, y } = smallNet(rho);
  const spec: NetworkSpec = {
    sizes: [...net.sizes], hidden: rho, output: rho, leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' }, model: 'settling', settle,
  };
  return { net: { spec, layers: net.layers.map((p) => ({ W: p.W, b: p.b })) }, x, y };
}

test('ep: with a small β its update is the Almeida–Pineda gradient of the batch-mean cost (sign, scale and layers)', () => {
  const { net, x, y } = settlingNetwork('sigmoid');
  const rule = equilibriumPropagation({ beta: 0.02, nudgedSteps: 20000, randomSign: false, symmetric: true, persistent: false });
  const rng = Rng.fromSeed(5);
  const state = rule.init(net, rng, { trainExamples: 0 });
  const result = rule.step({ backend: be, net, ws: createWorkspace(net.spec, x.rows), rng: rng.split(), grads: zerosLike(net.layers) }, state, { x, y });
  const free = settle({ sizes: net.spec.sizes, rho: 'sigmoid', layers: net.layers }, x);
  const grads = emptyGrads({ sizes: net.spec.sizes, rho: 'sigmoid', layers: net.layers });
  almeidaPineda(be, { sizes: net.spec.sizes, rho: 'sigmoid', layers: net.layers }, x, free.s, y, { epsilon: 0.2, steps: 20000, tolerance: 1e-7 }, free.scratch, grads);
  const ap = flat(grads).map((v) => v / x.rows); // the rule proposes the batch mean's gradient
  const err = relativeError(flat(result.grads), ap);
  assert.ok(err < 2e-2, `ep (β 0.02, symmetric) against AP: relative error ${err}`);
  assert.ok(result.metrics!.free_residual < 1e-6, `free phase residual ${result.metrics!.free_residual}`);
});

test('ep: persistent particles keep each example\'s free state; layerScale scales each layer\'s update; bad options are refused', () => {
  const { net, x, y } = settlingNetwork('hard_sigmoid', { epsilon: 0.5, steps: 20, tolerance: 0 });
  const rng = Rng.fromSeed(8);
  const step = (options: Record<string, number | boolean | string>, indices?: Int32Array) => {
    const rule = equilibriumPropagation(options);
    const state = rule.init(net, rng.split(), { trainExamples: 10 });
    const result = rule.step({ backend: be, net, ws: createWorkspace(net.spec, x.rows), rng: rng.split(), grads: zerosLike(net.layers) }, state, { x, y, indices });
    return { state, result };
  };
  const { state } = step({}, new Int32Array([7, 2, 4]));
  const width = net.spec.sizes.slice(1).reduce((n, w) => n + w, 0), particles = state.particles!;
  const row = (i: number) => particles.subarray(i * width, (i + 1) * width);
  for (const i of [7, 2, 4]) assert.ok(row(i).some((v) => v !== 0), `example ${i}'s free state is kept`);
  for (const i of [0, 1, 3, 5, 6, 8, 9]) assert.ok(row(i).every((v) => v === 0), `example ${i} was not in the batch`);
  const full = step({ randomSign: false }).result.grads, scaled = step({ randomSign: false, layerScale: '1,0.5,0' }).result.grads;
  assert.deepEqual(scaled[0].W.data, full[0].W.data);
  assert.ok(scaled[1].W.data.every((v, i) => Math.abs(v - 0.5 * full[1].W.data[i]) <= 1e-7 * Math.abs(full[1].W.data[i]) + 1e-12));
  assert.ok(scaled[2].W.data.every((v) => v === 0) && full[2].W.data.some((v) => v !== 0));
  assert.throws(() => equilibriumPropagation({ beta: 0 }), /beta' must be positive/);
  assert.throws(() => equilibriumPropagation({ nudgedSteps: 2.5 }), /nudgedSteps' must be a whole number/);
  assert.throws(() => equilibriumPropagation({ layerScale: '1,0.5' }).init(net, rng, { trainExamples: 1 }), /needs 3 factors/);
  assert.throws(() => equilibriumPropagation().init({ ...net, spec: { ...net.spec, model: undefined } }, rng, { trainExamples: 1 }), /add --model settling/);
  assert.throws(() => equilibriumPropagation().init({ ...net, spec: { ...net.spec, hidden: 'tanh' } }, rng, { trainExamples: 1 }), /add --act hard_sigmoid/);
});
