import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { ACTIVATION_KINDS, type ActivationKind } from '../src/tensor/backend.js';
import { activationValue, parseActivation } from '../src/nn/activations.js';
import { lossAndGrad, LOSS_KINDS } from '../src/nn/losses.js';
import { createNetwork, createWorkspace, forward, zerosLike, type NetworkSpec, type Workspace } from '../src/nn/network.js';
import { matrix } from '../src/tensor/matrix.js';
import { Rng } from '../src/random.js';
import { backprop } from '../src/rules/backprop.js';
import { oneHot } from '../src/data/one-hot.js';
import { availableBackends, randomMatrix } from './helpers.js';

// Central differences around float32 values: errors O(eps²) plus float32 rounding of the loss (≈ 1e-7·L)
// divided by eps, so a relative tolerance with a small absolute floor for near-zero entries.
const close = (fd: number, g: number, what: string) =>
  assert.ok(Math.abs(fd - g) <= 2e-4 + 1e-2 * Math.max(Math.abs(fd), Math.abs(g)), `${what}: finite difference ${fd} vs analytic ${g}`);

/** Where each activation is not differentiable; finite differences must stay clear of these. */
const KINKS: Record<ActivationKind, readonly number[]> = {
  linear: [], tanh: [], sigmoid: [], relu: [0], leaky_relu: [0], hard_sigmoid: [0, 1],
};

test('every activation: backward equals the finite-difference derivative', () => {
  const be = createJsBackend();
  // Both sides of every kink (0 and 1) and both saturated sides of the hard sigmoid, each ≥ 0.05 from a kink.
  const z = new Float32Array([-2.3, -0.7, -0.05, 0.05, 0.4, 0.95, 1.05, 1.9]);
  for (const kind of ACTIVATION_KINDS) {
    const h = new Float32Array(z.length), dz = new Float32Array(z.length);
    be.activate(kind, z, h, 0.1);
    be.activateBackward(kind, z, h, new Float32Array(z.length).fill(1), dz, 0.1);
    z.forEach((zi, i) => {
      const eps = 1e-4;
      const fd = (activationValue(kind, zi + eps, 0.1) - activationValue(kind, zi - eps, 0.1)) / (2 * eps);
      close(fd, dz[i], `${kind}'(${zi})`);
      assert.ok(Math.abs(h[i] - activationValue(kind, zi, 0.1)) < 1e-6, `${kind}(${zi}) value`);
    });
  }
});

test('hard sigmoid: clip(z, 0, 1) with derivative 1 inside (0, 1) and 0 at and beyond the kinks; its aliases parse', () => {
  const be = createJsBackend();
  const z = new Float32Array([-1, 0, 1e-7, 0.5, 1 - 1e-7, 1, 2]);
  const h = new Float32Array(z.length), dz = new Float32Array(z.length);
  be.activate('hard_sigmoid', z, h, 0);
  assert.deepEqual([...h], [0, 0, z[2], 0.5, z[4], 1, 1]);
  z.forEach((zi, i) => assert.equal(activationValue('hard_sigmoid', zi, 0), h[i]));
  // NOTE: at the kinks the one-sided derivatives are 1 and 0; the kernels take 0, as relu'(0) = 0.
  be.activateBackward('hard_sigmoid', z, h, new Float32Array(z.length).fill(1), dz, 0);
  assert.deepEqual([...dz], [0, 0, 1, 1, 1, 0, 0]);
  for (const name of ['hard_sigmoid', 'hard-sigmoid', 'hardsigmoid', 'Hard_Sigmoid']) assert.equal(parseActivation(name), 'hard_sigmoid');
  assert.throws(() => parseActivation('hard'), /choose linear, tanh, sigmoid, relu, leaky_relu, hard_sigmoid/);
});

test('every loss: gradient equals the finite-difference gradient', () => {
  const rng = Rng.fromSeed(3);
  const out = randomMatrix(4, 5, rng);
  const target = oneHot(new Int32Array([0, 3, 4, 1]), 5);
  for (const kind of LOSS_KINDS) {
    const grad = matrix(4, 5);
    lossAndGrad(kind, out, target, grad);
    for (let i = 0; i < out.data.length; i++) {
      const keep = out.data[i], eps = 1e-2;
      out.data[i] = keep + eps;
      const up = lossAndGrad(kind, out, target, null);
      out.data[i] = keep - eps;
      const down = lossAndGrad(kind, out, target, null);
      out.data[i] = keep;
      close((up - down) / (2 * eps), grad.data[i], `${kind} d/do[${i}]`);
    }
  }
});

test('softmax cross-entropy of uniform logits is log(classes)', () => {
  const loss = lossAndGrad('softmax_xent', matrix(2, 10), oneHot(new Int32Array([1, 7]), 10), null);
  assert.ok(Math.abs(loss - Math.log(10)) < 1e-6);
});

for (const be of availableBackends()) {
  test(`backprop through dense layers equals finite differences (${be.name}, every activation and loss)`, () => {
    const rng = Rng.fromSeed(11);
    for (const hidden of ACTIVATION_KINDS) {
      for (const loss of LOSS_KINDS) {
        const spec: NetworkSpec = { sizes: [3, 6, 5, 4], hidden, output: loss === 'mse' ? 'tanh' : 'linear', leakySlope: 0.1, loss, init: { kind: 'uniform', omega: 0.8 } };
        const net = createNetwork(spec, rng);
        const x = randomMatrix(7, 3, rng);
        const y = loss === 'mse' ? randomMatrix(7, 4, rng, 0.5) : oneHot(new Int32Array([0, 1, 2, 3, 0, 1, 2]), 4);
        const ws = createWorkspace(spec, 7);
        const grads = zerosLike(net.layers);
        const rule = backprop();
        rule.step({ backend: be, net, ws, rng, grads }, {}, { x, y });
        const what = `${hidden}/${loss}`;
        const at = () => {
          const ws = createWorkspace(spec, 7);
          return { loss: lossAndGrad(loss, forward(be, net, x, ws), y, null), pieces: pieces(ws, KINKS[hidden]) };
        };
        const start = at().pieces;
        const lossAt = () => {
          const { loss: value, pieces: now } = at();
          assert.equal(now, start, `${what}: a ±eps step moved a unit across a kink`);
          return value;
        };
        if (hidden === 'hard_sigmoid') {
          // The check means something only if a fair share of hidden units passes error, i.e. sits in (0, 1).
          const inside = [...start].filter((c) => c === '1').length;
          assert.ok(inside >= start.length / 4, `${what}: only ${inside} of ${start.length} hidden units inside (0, 1)`);
        }
        net.layers.forEach((layer, l) => {
          for (const [name, values, g] of [['W', layer.W.data, grads[l].W.data], ['b', layer.b, grads[l].b]] as const) {
            for (let i = 0; i < values.length; i++) {
              const keep = values[i], eps = 1e-3; // small enough not to cross a kink here (lossAt checks)
              values[i] = keep + eps;
              const up = lossAt();
              values[i] = keep - eps;
              const down = lossAt();
              values[i] = keep;
              close((up - down) / (2 * eps), g[i], `${what} ${name}${l + 1}[${i}]`);
            }
          }
        });
      }
    }
  });
}

/**
 * Which piece each hidden pre-activation is on (its count of kinks below it), as one string. A central
 * difference equals the derivative of an activation with kinks (relu, leaky_relu, hard_sigmoid) only if
 * neither ±eps step moves a unit onto another piece, so the check compares this before and after each step.
 */
function pieces(ws: Workspace, kinks: readonly number[]): string {
  let s = '';
  for (const z of ws.z.slice(0, -1)) for (const zi of z.data) s += kinks.filter((k) => zi > k).length;
  return s;
}
