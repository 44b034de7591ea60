import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lossAndGrad } from '../src/nn/losses.js';
import { architectureSpec, createNetwork, createWorkspace, forward, networkLayers, zerosLike, type NetworkSpec } from '../src/nn/network.js';
import { architectureText, parseArchitecture } from '../src/nn/layer-spec.js';
import { patchGeometry, patchLayouts } from '../src/nn/im2col.js';
import { Rng } from '../src/random.js';
import { backprop } from '../src/rules/backprop.js';
import { RULE_IDS, createRule } from '../src/rules/registry.js';
import type { FeedbackAlignmentState } from '../src/rules/feedback-alignment.js';
import { oneHot } from '../src/data/one-hot.js';
import { cloneMatrix, matrix } from '../src/tensor/matrix.js';
import { availableBackends, maxAbsDiff, randomMatrix } from './helpers.js';

const close = (fd: number, g: number, what: string) =>
  assert.ok(Math.abs(fd - g) <= 3e-4 + 2e-2 * Math.max(Math.abs(fd), Math.abs(g)), `${what}: finite difference ${fd} vs analytic ${g}`);

/** Odd shapes on purpose: strides that do not divide, padding, overlapping and cut-off pooling windows. */
const ARCHS = [
  '2x7x6-c3k3s2p1-maxpool2-5-4',
  '1x5x5-lc2k3s1p1-avgpool2s1-4',
  '3x6x5-c4k2-avgpool3s1-lc2k2s1-4',
  '1x9x7-c2k3s2-maxpool3s2-4',
];

const specOf = (arch: string, hidden: NetworkSpec['hidden'] = 'tanh'): NetworkSpec => ({
  ...architectureSpec(arch), hidden, output: 'linear', leakySlope: 0.1, loss: 'softmax_xent', init: { kind: 'uniform', omega: 0.8 },
});

test('architectures: LeNet-5 and Bartunov et al.\'s locally connected net parse to the published shapes', () => {
  const lenet = parseArchitecture('1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10');
  assert.deepEqual(lenet.shapes, [[6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5], [120], [84], [10]]);
  assert.deepEqual(lenet.sizes, [784, 4704, 1176, 1600, 400, 120, 84, 10]);
  const lc = parseArchitecture('1x28x28-lc32k3s2p1-lc64k3s2p1-1024-10');
  assert.deepEqual(lc.shapes, [[32, 14, 14], [64, 7, 7], [1024], [10]]);
  assert.deepEqual(architectureSpec('784-1000-10'), { sizes: [784, 1000, 10] }, 'dense architectures keep the plain spec');
  const layers = networkLayers(specOf('1x28x28-lc32k3s2p1-lc64k3s2p1-1024-10'));
  assert.deepEqual(layers.map((l) => [l.kind, l.weightShape.rows, l.weightShape.cols, l.biasSize]),
    [['local2d', 196 * 32, 9, 32 * 196], ['local2d', 49 * 64, 288, 64 * 49], ['dense', 1024, 3136, 1024], ['dense', 10, 1024, 10]]);
  for (const [bad, why] of [
    ['1x28x28-c6k5-pool2', /the last layer must be dense/],
    ['784-c6k5-10', /needs an image input \[channels, height, width\]/],
    ['1x4x4-c2k5-10', /with k=5 does not fit an input of 4×4/],
    ['1x28x28-c6q5-10', /'c6q5' is not a layer/],
    ['1x0x28-10', /'1x0x28' is not an input size/],
  ] as const) assert.throws(() => parseArchitecture(bad), why);
});

for (const be of availableBackends()) {
  test(`im2col and col2im are adjoint in every layout: <im2col(x), y> = <x, col2im(y)> (${be.name})`, () => {
    const rng = Rng.fromSeed(2);
    for (const [shape, k, s, p] of [[[2, 7, 6], 3, 2, 1], [[3, 5, 5], 2, 1, 0], [[1, 9, 7], 4, 3, 2], [[2, 6, 5], 3, 1, 2]] as const) {
      const g = patchGeometry(shape, k, s, p), B = 3;
      const x = randomMatrix(B, shape[0] * shape[1] * shape[2], rng);
      const n = B * g.oh * g.ow * shape[0] * k * k;
      for (const [name, layout] of Object.entries(patchLayouts(g, B))) {
        const cols = new Float32Array(n), y = rng.fillNormal(new Float32Array(n), 0, 1), back = matrix(B, x.cols);
        be.im2col(g, x, layout, cols);
        be.col2im(g, y, layout, back);
        const lhs = cols.reduce((acc, v, i) => acc + v * y[i], 0), rhs = x.data.reduce((acc, v, i) => acc + v * back.data[i], 0);
        assert.ok(Math.abs(lhs - rhs) < 1e-4 * Math.max(1, Math.abs(lhs)), `${name} ${shape} k${k}s${s}p${p}: ${lhs} vs ${rhs}`);
      }
    }
  });
}

for (const be of availableBackends()) {
  test(`backprop through conv, locally connected and pooling layers equals finite differences (${be.name})`, () => {
    const rng = Rng.fromSeed(5);
    for (const arch of ARCHS) {
      const spec = specOf(arch);
      const net = createNetwork(spec, rng);
      const x = randomMatrix(3, spec.sizes[0], rng);
      const y = oneHot(new Int32Array([0, 3, 1]), 4);
      const ws = createWorkspace(spec, 3), grads = zerosLike(net.layers);
      backprop().step({ backend: be, net, ws, rng, grads }, {}, { x, y });
      const lossAt = () => lossAndGrad(spec.loss, forward(be, net, x, createWorkspace(spec, 3)), y, null);
      net.layers.forEach((p, l) => {
        for (const [name, values, g] of [['W', p.W.data, grads[l].W.data], ['b', p.b, grads[l].b]] as const) {
          // Every value of small tensors, a spread of 25 of large ones.
          const step = Math.max(1, Math.floor(values.length / 25));
          for (let i = 0; i < values.length; i += step) {
            const keep = values[i], eps = 1e-2;
            values[i] = keep + eps;
            const up = lossAt();
            values[i] = keep - eps;
            const down = lossAt();
            values[i] = keep;
            close((up - down) / (2 * eps), g[i], `${arch} layer ${l + 1} ${name}[${i}]`);
          }
        }
      });
    }
  });
}

test('every backend agrees with js on conv, locally connected and pooling layers (forward, gradients, input errors)', () => {
  const [js, ...others] = availableBackends();
  for (const arch of ARCHS) {
    const spec = specOf(arch);
    const rng = Rng.fromSeed(8);
    const net = createNetwork(spec, rng);
    const x = randomMatrix(5, spec.sizes[0], rng), y = oneHot(new Int32Array([0, 1, 2, 3, 0]), 4);
    const run = (be: typeof js) => {
      const ws = createWorkspace(spec, 5), grads = zerosLike(net.layers);
      backprop().step({ backend: be, net, ws, rng: Rng.fromSeed(0), grads }, {}, { x, y });
      return { out: cloneMatrix(ws.h[ws.h.length - 1]).data, grads, signals: ws.dh.map((m) => m.data.slice()) };
    };
    const ref = run(js);
    for (const be of others) {
      const got = run(be);
      assert.ok(maxAbsDiff(got.out, ref.out) < 1e-4, `${arch} ${be.name} output`);
      got.grads.forEach((g, l) => {
        assert.ok(maxAbsDiff(g.W.data, ref.grads[l].W.data) < 1e-4, `${arch} ${be.name} dW${l + 1}`);
        assert.ok(maxAbsDiff(g.b, ref.grads[l].b) < 1e-4, `${arch} ${be.name} db${l + 1}`);
      });
      got.signals.forEach((s, l) => assert.ok(maxAbsDiff(s, ref.signals[l]) < 1e-4, `${arch} ${be.name} δh${l + 1}`));
    }
  }
});

test('feedback alignment with kernels B := W is exactly backprop on conv and locally connected nets', () => {
  const be = availableBackends()[0];
  for (const arch of ARCHS) {
    const spec = specOf(arch);
    const rng = Rng.fromSeed(4);
    const net = createNetwork(spec, rng);
    const fa = createRule('fa');
    const state = fa.init(net, rng.split()) as FeedbackAlignmentState;
    state.B = state.B.map((B, l) => (B ? cloneMatrix(net.layers[l].W) : null));
    const x = randomMatrix(4, spec.sizes[0], rng), y = oneHot(new Int32Array([0, 1, 2, 3]), 4);
    const step = (rule: typeof fa, s: unknown) => {
      const grads = zerosLike(net.layers);
      rule.step({ backend: be, net, ws: createWorkspace(spec, 4), rng: Rng.fromSeed(1), grads }, s, { x, y });
      return grads;
    };
    assert.deepEqual(step(fa, state), step(backprop(), {}), arch);
    assert.ok(state.B.some((B, l) => B && net.layers[l].W.data.length > 0), 'the net has feedback kernels');
    const random = fa.init(net, Rng.fromSeed(9));
    assert.notDeepEqual(step(fa, random), step(backprop(), {}), `${arch}: random kernels differ from backprop`);
  }
});

/** Target propagation's inverses are dense so far (issue 10 still owes them on conv and LC layers, Bartunov
 * et al.'s LC columns), and so are the RBM's and the stack of autoencoders' (issue 12), BCM's per-unit threshold (issue 13: a
 * conv layer's units share kernels) and burstprop's (issue 13; the official code's convnet is not ported): these rules must
 * refuse an image net with a clear error, not train it wrongly. */
const DENSE_ONLY = ['tp', 'dtp', 'sdtp', 'aosdtp', 'drl', 'ddtp', 'ldrl', 'ep', 'chl', 'generec', 'ap', 'rbm', 'recirc', 'wakesleep', 'bcm', 'burstprop'];

test('every registered rule steps a convolutional net: finite updates shaped like the parameters (dense-only rules refuse it clearly)', () => {
  const be = availableBackends()[0];
  const spec = specOf('1x6x6-c3k3-maxpool2-lc2k2-4');
  for (const id of RULE_IDS) {
    const rng = Rng.fromSeed(6);
    const net = createNetwork(spec, rng);
    const rule = createRule(id);
    if (DENSE_ONLY.includes(id)) {
      assert.throws(() => rule.init(net, rng.split(), { trainExamples: 4 }), new RegExp(`rule '${id}' needs dense layers, but layer 1 is conv2d`));
      continue;
    }
    const state = rule.init(net, rng.split(), { trainExamples: 4 });
    rule.prepareParams?.(net.layers, state);
    const grads = zerosLike(net.layers);
    const x = randomMatrix(4, spec.sizes[0], rng), y = oneHot(new Int32Array([0, 1, 2, 3]), 4);
    const result = rule.step({ backend: be, net, ws: createWorkspace(spec, 4), rng: rng.split(), grads }, state, { x, y });
    assert.ok(Number.isFinite(result.loss), `${id}: finite loss`);
    result.grads.forEach((g, l) => {
      assert.deepEqual([g.W.rows, g.W.cols, g.b.length], [net.layers[l].W.rows, net.layers[l].W.cols, net.layers[l].b.length], `${id} layer ${l + 1}`);
      assert.ok(g.W.data.every(Number.isFinite) && g.b.every(Number.isFinite), `${id} layer ${l + 1}: finite`);
      if (id !== 'delta' && g.W.data.length) assert.ok(g.W.data.some((v) => v !== 0), `${id} layer ${l + 1}: learns`);
    });
  }
});

/** Layers of every image kind on odd shapes: strides that do not divide, padding, overlapping pools with ties. */
const GOLDEN_ARCHS = [
  ...ARCHS,
  '2x7x7-maxpool3s2-avgpool2s1-4',
  '1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10',
  '1x28x28-lc32k3s2p1-lc64k3s2p1-1024-10',
];

/** FNV-1a over the float32 bits of the arrays, as 8 hex digits. */
function fingerprint(arrays: readonly Float32Array[]): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < bits.length; i++) {
      for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((bits[i] >>> s) & 0xff), 0x01000193);
    }
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Each image layer's forward z, parameter gradients and input error on the js backend, as a fingerprint
 * per architecture: inputs rounded to halves, so that max pooling meets ties. */
function jsLayerFingerprints(): Record<string, string> {
  const js = availableBackends()[0];
  const out: Record<string, string> = {};
  for (const arch of GOLDEN_ARCHS) {
    const spec = specOf(arch);
    const rng = Rng.fromSeed(11);
    const arrays: Float32Array[] = [];
    for (const layer of networkLayers(spec)) {
      if (layer.kind === 'dense') continue;
      const p = layer.initParams(spec.init, rng);
      const batch = 3;
      const x = randomMatrix(batch, layer.inSize, rng), dz = randomMatrix(batch, layer.outSize, rng);
      x.data.forEach((v, i) => { x.data[i] = Math.round(2 * v) / 2; });
      const z = matrix(batch, layer.outSize), dx = matrix(batch, layer.inSize);
      const grad = { W: matrix(p.W.rows, p.W.cols), b: new Float32Array(p.b.length) };
      layer.forward(js, p, x, z);
      layer.paramGrads(js, dz, x, grad);
      layer.inputError(js, dz, p.W, dx, x);
      arrays.push(z.data, grad.W.data, grad.b, dx.data);
    }
    out[arch] = fingerprint(arrays);
  }
  return out;
}

/** Recorded from the TypeScript loops the layers ran before the image kernels became Backend methods
 * (commit 2de9053): the js backend must keep these numbers bit for bit. */
const GOLDEN_JS_FINGERPRINTS: Record<string, string> = {
  '2x7x6-c3k3s2p1-maxpool2-5-4': '9d9e53fe',
  '1x5x5-lc2k3s1p1-avgpool2s1-4': '7889602d',
  '3x6x5-c4k2-avgpool3s1-lc2k2s1-4': 'd7d3070a',
  '1x9x7-c2k3s2-maxpool3s2-4': '7f92dd2e',
  '2x7x7-maxpool3s2-avgpool2s1-4': '7dca0b10',
  '1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10': '8df6c1dd',
  '1x28x28-lc32k3s2p1-lc64k3s2p1-1024-10': 'aa48d26a',
};

test('the js backend\'s conv, locally connected and pooling layers give the numbers of the first TypeScript loops, bit for bit', () => {
  assert.deepEqual(jsLayerFingerprints(), GOLDEN_JS_FINGERPRINTS);
});

test('architectureText writes back what parseArchitecture read (run summaries name the layers)', () => {
  for (const arch of ['784-1000-10', '1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10', '1x28x28-lc32k3s2p1-lc64k3s2p1-1024-10', '3x6x5-c4k2-avgpool3s1-lc2k2-4', '2x7x6-c3k3s2p1-pool2-5-4']) {
    const a = parseArchitecture(arch);
    assert.equal(architectureText(a.inputShape, a.layers), arch);
  }
});
