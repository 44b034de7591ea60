// The settling trace (src/metrics/settling-trace.ts) against relax in one go: the same states and energies at
// every step, energy that a small step only lowers, a residual that falls to 0, and a second phase that starts
// at the free fixed point's E + βC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { Rng } from '../src/random.js';
import type { DenseParams } from '../src/nn/dense.js';
import {
  computeInputDrive, energies, relax, settlingScratch, settlingState,
  type RelaxOptions, type SettlingActivation, type SettlingNet, type SettlingState,
} from '../src/nn/settling.js';
import { settlingTrace, tracedUnits } from '../src/metrics/settling-trace.js';
import { randomMatrix } from './helpers.js';

const be = createJsBackend();

function smallNet(rho: SettlingActivation, sizes = [5, 6, 4, 3], seed = 1, rows = 3): { net: SettlingNet; x: Matrix; y: Matrix } {
  const rng = Rng.fromSeed(seed);
  const layers: DenseParams[] = sizes.slice(1).map((n, l) => ({ W: randomMatrix(n, sizes[l], rng, 0.6), b: rng.fillNormal(new Float32Array(n), 0, 0.3) }));
  const x = matrix(rows, sizes[0], rng.fillUniform(new Float32Array(rows * sizes[0]), 0, 1));
  const y = matrix(rows, sizes[sizes.length - 1], rng.fillUniform(new Float32Array(rows * sizes[sizes.length - 1]), 0, 1));
  return { net: { sizes, rho, layers }, x, y };
}

const mean = (e: Float64Array) => e.reduce((a, b) => a + b, 0) / e.length;

/** relax in one go: `free` from zeros, then `second` (if given) from there; the state and each phase's residual. */
function inOneGo(net: SettlingNet, x: Matrix, free: RelaxOptions, second?: RelaxOptions) {
  const s = settlingState(net.sizes, x.rows), scratch = settlingScratch(net.sizes, x.rows);
  computeInputDrive(be, net, x, scratch);
  const freeResult = relax(be, net, s, free, scratch);
  const freeState = s.map((m) => Float32Array.from(m.data));
  const secondResult = second ? relax(be, net, s, second, scratch) : null;
  return { s, freeState, freeResult, secondResult };
}

for (const rho of ['sigmoid', 'hard_sigmoid'] as const) {
  test(`settling trace (${rho}): step by step equals relax in one go — states, energies and residuals, both phases`, () => {
    const { net, x, y } = smallNet(rho);
    const units = tracedUnits(net.sizes, 6, 3); // every unit of this net
    assert.equal(units.length, 6 + 4 + 3);
    const free: RelaxOptions = { epsilon: 0.5, steps: 25 }, second: RelaxOptions = { epsilon: 0.5, steps: 7, beta: 0.5, y };
    const row = 2, trace = settlingTrace(be, net, x, { free, second, units, row });
    assert.equal(trace.free.energy.length, 26);
    assert.equal(trace.free.residual.length, 25);
    assert.equal(trace.second?.energy.length, 8);
    for (const t of [0, 1, 4, 25]) {
      const { s } = inOneGo(net, x, { ...free, steps: t });
      assert.equal(trace.free.energy[t], mean(energies(net, x, s)), `free phase, step ${t}: E`);
      units.forEach(({ layer, unit }, i) => assert.equal(trace.free.states[i][t], s[layer - 1].data[row * s[layer - 1].cols + unit], `step ${t}, unit ${layer}.${unit}`));
    }
    for (const t of [1, 3, 7]) {
      const { s, secondResult } = inOneGo(net, x, free, { ...second, steps: t });
      assert.equal(trace.second!.energy[t], mean(energies(net, x, s, 0.5, y)), `second phase, step ${t}: F`);
      assert.equal(trace.second!.residual[t - 1], secondResult!.residual, `second phase, step ${t}: residual`);
      units.forEach(({ layer, unit }, i) => assert.equal(trace.second!.states[i][t], s[layer - 1].data[row * s[layer - 1].cols + unit]));
    }
    assert.equal(trace.free.residual[24], inOneGo(net, x, free).freeResult.residual, 'the last step\'s residual');
    // The second phase continues the first: its first states are the free phase's last.
    trace.free.states.forEach((states, i) => assert.equal(trace.second!.states[i][0], states[25]));
  });

  test(`settling trace (${rho}): with a small step E (free) and F (nudged) never rise, and the residual falls towards 0`, () => {
    const { net, x, y } = smallNet(rho);
    const trace = settlingTrace(be, net, x, {
      free: { epsilon: 0.1, steps: 400 }, second: { epsilon: 0.1, steps: 200, beta: 0.5, y }, units: tracedUnits(net.sizes),
    });
    for (const [name, phase] of [['free', trace.free], ['nudged', trace.second!]] as const) {
      for (let t = 1; t < phase.energy.length; t++) {
        assert.ok(phase.energy[t] <= phase.energy[t - 1] + 1e-7, `${name}, step ${t}: ${phase.energy[t - 1]} → ${phase.energy[t]}`);
      }
      const first = phase.residual[0], last = phase.residual[phase.residual.length - 1];
      assert.ok(Number.isFinite(first) && first > 0, `${name}: the first step moves (${first})`);
      assert.ok(last < 1e-4 && last < 1e-3 * first, `${name}: residual ${first} → ${last}`);
    }
    assert.ok(trace.free.energy[400] < trace.free.energy[0] - 0.1, `E falls: ${trace.free.energy[0]} → ${trace.free.energy[400]}`);
  });
}

test('settling trace: the nudged phase starts at the free fixed point\'s E + βC, βC above the free phase\'s last E', () => {
  const { net, x, y } = smallNet('sigmoid');
  const free: RelaxOptions = { epsilon: 0.2, steps: 3000, tolerance: 1e-6 }, beta = 0.3;
  const trace = settlingTrace(be, net, x, { free, second: { epsilon: 0.2, steps: 10, beta, y }, units: [{ layer: 3, unit: 0 }] });
  const { s, freeResult } = inOneGo(net, x, free);
  assert.ok(freeResult.residual < 1e-6, 'a fixed point');
  assert.equal(trace.free.steps, freeResult.steps, 'the tolerance stops the trace where it stops relax');
  assert.equal(trace.free.energy.length, freeResult.steps + 1);
  assert.ok(trace.free.residual[trace.free.steps - 1] < 1e-6 && trace.free.residual[trace.free.steps - 2] >= 1e-6);
  const F0 = mean(energies(net, x, s, beta, y)), E0 = mean(energies(net, x, s));
  assert.equal(trace.second!.energy[0], F0);
  assert.equal(trace.free.energy[trace.free.steps], E0);
  const top = s[s.length - 1].data;
  const C = top.reduce((c, v, i) => c + 0.5 * (v - y.data[i]) ** 2, 0) / x.rows; // batch mean of ½‖s_L − y‖²
  assert.ok(C > 0.01);
  assert.ok(Math.abs(trace.second!.energy[0] - trace.free.energy[trace.free.steps] - beta * C) < 1e-6, 'F − E = βC at the same state');
  assert.ok(trace.second!.energy[10] < trace.second!.energy[0], 'the nudge lowers F');
});

test('settling trace: starts from a given state without changing it; refuses units and rows the net does not have', () => {
  const { net, x } = smallNet('hard_sigmoid');
  const start: SettlingState = settlingState(net.sizes, x.rows);
  start.forEach((m) => m.data.fill(0.5));
  const before = start.map((m) => Float32Array.from(m.data));
  const trace = settlingTrace(be, net, x, { free: { epsilon: 0.5, steps: 3 }, start, units: [{ layer: 1, unit: 5 }], row: 1 });
  assert.equal(trace.free.states[0][0], 0.5, 'the trace starts where it was told');
  assert.equal(trace.second, null);
  start.forEach((m, l) => assert.deepEqual(m.data, before[l]));
  const s = settlingState(net.sizes, x.rows), scratch = settlingScratch(net.sizes, x.rows);
  s.forEach((m) => m.data.fill(0.5));
  computeInputDrive(be, net, x, scratch);
  relax(be, net, s, { epsilon: 0.5, steps: 3 }, scratch);
  assert.equal(trace.free.states[0][3], s[0].data[1 * 6 + 5]);
  assert.throws(() => settlingTrace(be, net, x, { free: { epsilon: 0.5, steps: 1 }, units: [{ layer: 1, unit: 6 }] }), /no unit 6 in layer 1 of a 5-6-4-3/);
  assert.throws(() => settlingTrace(be, net, x, { free: { epsilon: 0.5, steps: 1 }, units: [{ layer: 0, unit: 0 }] }), RangeError);
  assert.throws(() => settlingTrace(be, net, x, { free: { epsilon: 0.5, steps: 1 }, units: [], row: 3 }), /rows 0–2, not 3/);
  assert.deepEqual(tracedUnits([784, 16, 10], 2), [{ layer: 1, unit: 0 }, { layer: 1, unit: 1 }, ...Array.from({ length: 10 }, (_, unit) => ({ layer: 2, unit }))]);
});
