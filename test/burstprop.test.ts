import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { createNetwork, createWorkspace, forward, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import type { DenseParams } from '../src/nn/dense.js';
import { Rng } from '../src/random.js';
import { createRule, specForRule } from '../src/rules/registry.js';
import { burstprop, type BurstpropState } from '../src/rules/burstprop.js';
import type { Batch, RuleOptions, StepResult } from '../src/rules/rule.js';
import { createTrainer } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { evaluate } from '../src/metrics/classification.js';
import { xor } from '../src/data/synthetic.js';
import { availableBackends } from './helpers.js';

const be = availableBackends()[0];

const logistic = (sizes: number[]): NetworkSpec => ({ sizes, hidden: 'sigmoid', output: 'sigmoid', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } });

function makeBatch(rng: Rng, sizes: number[], rows: number): Batch {
  const outputs = sizes[sizes.length - 1];
  const x = matrix(rows, sizes[0]), y = matrix(rows, outputs);
  rng.fillNormal(x.data, 0, 1);
  for (let r = 0; r < rows; r++) y.data[r * outputs + rng.int(outputs)] = 1;
  return { x, y };
}

function run(net: Network, options: RuleOptions, batch: Batch, state?: BurstpropState): StepResult<BurstpropState> & { state: BurstpropState } {
  const rule = burstprop(options);
  const s = state ?? rule.init(net, Rng.fromSeed(2));
  return rule.step({ backend: be, net, ws: createWorkspace(net.spec, batch.x.rows), rng: Rng.fromSeed(1), grads: zerosLike(net.layers) }, s, batch);
}

function backprop(net: Network, batch: Batch): StepResult<unknown> {
  return createRule('bp').step({ backend: be, net, ws: createWorkspace(net.spec, batch.x.rows), rng: Rng.fromSeed(1), grads: zerosLike(net.layers) }, {}, batch);
}

const flat = (g: DenseParams) => [...g.W.data, ...g.b];
function angle(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return (Math.acos(Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)))) * 180) / Math.PI;
}
/** ∠(burstprop's update of each layer, backprop's gradient), degrees. */
const layerAngles = (got: StepResult<unknown>, want: StepResult<unknown>) => got.grads.map((g, l) => angle(flat(g), flat(want.grads[l])));

const sigma = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * The rate model written out from the equations (shared/FAMILIES.md D1; the official layers.py), in float64 and in
 * the official code's shape: a baseline pass and a teaching pass computed separately, then their difference.
 * Returns the proposed updates (gradient sign, batch means), R's, and every burst probability of both passes.
 */
function twoPassReference(net: Network, Y: (Matrix | null)[], R: (Matrix | null)[], pBar: number, hiddenRate: number, batch: Batch) {
  const L = net.layers.length, rows = batch.x.rows, n = net.spec.sizes;
  const e: number[][][] = [];
  let input = Array.from({ length: rows }, (_, r) => [...batch.x.data.subarray(r * n[0], (r + 1) * n[0])]);
  net.layers.forEach((p) => {
    input = input.map((x) => Array.from({ length: p.W.rows }, (_, i) => sigma(p.b[i] + x.reduce((s, v, j) => s + p.W.data[i * p.W.cols + j] * v, 0))));
    e.push(input);
  });
  const probabilities: number[] = [];
  const b: number[][][] = [], bt: number[][][] = [], gR: number[][] = [];
  const y = (r: number, i: number) => batch.y.data[r * n[L] + i];
  b[L - 1] = e[L - 1].map((row) => row.map((v) => pBar * v));
  bt[L - 1] = e[L - 1].map((row, r) => row.map((v, i) => {
    const pt = pBar * ((y(r, i) - v) * (1 - v) + 1);
    probabilities.push(pBar, pt);
    return pt * v;
  }));
  for (let l = L - 2; l >= 0; l--) {
    const F = Y[l + 1] as Matrix, width = n[l + 1];
    const down = (rate: number[]) => Array.from({ length: width }, (_, j) => rate.reduce((s, v, i) => s + v * F.data[i * width + j], 0));
    b[l] = [];
    bt[l] = [];
    const g = new Array<number>(width * width).fill(0);
    for (let r = 0; r < rows; r++) {
      const a = down(b[l + 1][r]), at = down(bt[l + 1][r]), er = e[l][r];
      const pre = a.map((v, i) => sigma(v) * er[i]);
      const inhibition = (i: number) => (R[l] ? pre.reduce((s, v, j) => s + (R[l] as Matrix).data[i * width + j] * v, 0) : 0);
      const u = a.map((v, i) => v * (1 - er[i]) - inhibition(i));
      const ut = at.map((v, i) => v * (1 - er[i]) - inhibition(i));
      const p = u.map(sigma), pt = ut.map(sigma);
      probabilities.push(...p, ...pt);
      b[l].push(p.map((v, i) => v * er[i]));
      bt[l].push(pt.map((v, i) => v * er[i]));
      for (let i = 0; i < width; i++) for (let j = 0; j < width; j++) g[i * width + j] -= (u[i] * pre[j]) / rows;
    }
    gR[l] = g;
  }
  const grads = net.layers.map((p, l) => {
    const rate = l === L - 1 ? 1 : hiddenRate;
    const W = new Array<number>(p.W.data.length).fill(0), bias = new Array<number>(p.b.length).fill(0);
    for (let r = 0; r < rows; r++) {
      const pre = l === 0 ? [...batch.x.data.subarray(r * n[0], (r + 1) * n[0])] : e[l - 1][r];
      for (let i = 0; i < p.W.rows; i++) {
        const d = (-rate * (bt[l][r][i] - b[l][r][i])) / rows;
        bias[i] += d;
        for (let j = 0; j < p.W.cols; j++) W[i * p.W.cols + j] += d * pre[j];
      }
    }
    return [...W, ...bias];
  });
  return { grads, gR, probabilities };
}

function maxRelativeError(got: ArrayLike<number>, want: readonly number[]): number {
  const scale = Math.max(...want.map(Math.abs));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return err / scale;
}

test('burstprop: the updates are the two-pass rate model of the paper (baseline and teaching passes), and every burst probability lies in (0, 1)', () => {
  const rng = Rng.fromSeed(11);
  const cases: { sizes: number[]; options: RuleOptions }[] = [
    { sizes: [5, 7, 3], options: {} },
    { sizes: [4, 6, 5, 3], options: {} },
    { sizes: [4, 6, 5, 3], options: { recurrent: false, pBaseline: 0.5, hiddenRate: 3 } },
    { sizes: [4, 6, 5, 3], options: { recurrentInit: 0.5, scale: 3 } }, // strong apical drives: probabilities near 0 and 1
    { sizes: [3, 5, 4, 4, 2], options: { feedback: 'tied', recurrent: false } },
  ];
  for (const { sizes, options } of cases) {
    const net = createNetwork(logistic(sizes), rng.split());
    const batch = makeBatch(rng, sizes, 6);
    const rule = burstprop(options);
    const state = rule.init(net, rng.split());
    const result = run(net, options, batch, state);
    const Y = options.feedback === 'tied' ? net.layers.map((p) => p.W) : state.Y;
    const ref = twoPassReference(net, Y, state.R, (options.pBaseline as number) ?? 0.2, (options.hiddenRate as number) ?? 10, batch);
    result.grads.forEach((g, l) => {
      const err = maxRelativeError(flat(g), ref.grads[l]);
      assert.ok(err < 1e-4, `${sizes.join('-')} ${JSON.stringify(options)} layer ${l + 1}: relative error ${err}`);
    });
    const gR = result.groupGrads?.recurrent;
    if (options.recurrent === false) assert.equal(gR, undefined, 'no recurrent group without recurrent input');
    else gR?.forEach((g, l) => assert.ok(maxRelativeError(g, ref.gR[l]) < 1e-4, `R${l + 1}: ΔR = η_R uᵀ b^pre`));
    assert.ok(ref.probabilities.every((p) => p > 0 && p < 1), 'p and p̃ in (0, 1)');
    const means = Object.entries(result.metrics ?? {});
    const hidden = sizes.slice(1, -1).map((_, l) => l + 1);
    assert.deepEqual(means.map(([k]) => k).sort(), hidden.flatMap((l) => [`burstProb${l}`, `burstSpread${l}`]).sort(), 'per hidden layer: mean burst probability and its spread');
    for (const [k, v] of means) assert.ok(k.startsWith('burstProb') ? v > 0 && v < 1 : v >= 0 && v < 0.5, `${k} = ${v}`);
  }
  // Extreme probabilities: in that case p is within 1e-3 of 0 or 1 somewhere, and still strictly inside.
  const net = createNetwork(logistic([4, 6, 5, 3]), Rng.fromSeed(3));
  const state = burstprop({ recurrentInit: 0.5, scale: 3 }).init(net, Rng.fromSeed(4));
  const ref = twoPassReference(net, state.Y, state.R, 0.2, 10, makeBatch(Rng.fromSeed(5), [4, 6, 5, 3], 6));
  assert.ok(ref.probabilities.some((p) => p < 0.05 || p > 0.95), 'the strong case reaches saturated probabilities');
});

test('burstprop: the output layer\'s update is the delta rule of ½‖y − e‖² for logistic outputs, times p̄ (by hand, and = p̄ × backprop)', () => {
  const rng = Rng.fromSeed(21);
  for (const sizes of [[5, 3], [5, 7, 4]]) {
    const net = createNetwork(logistic(sizes), rng.split());
    const batch = makeBatch(rng, sizes, 7);
    const pBar = 0.3;
    const got = run(net, { pBaseline: pBar }, batch).grads[sizes.length - 2];
    // By hand: e = σ(W x + b) at the output; ∂/∂W_ij of the mean ½‖y − e‖² is (e_i − y_i) e_i (1 − e_i) x_j.
    const ws = createWorkspace(net.spec, 7);
    forward(be, net, batch.x, ws);
    const L = sizes.length - 1, e = ws.h[L - 1].data, pre = L === 1 ? batch.x : ws.h[L - 2];
    const out = sizes[L], inn = sizes[L - 1];
    const hand = new Array<number>(out * inn + out).fill(0);
    for (let r = 0; r < 7; r++) {
      for (let i = 0; i < out; i++) {
        const v = e[r * out + i], d = (pBar * (v - batch.y.data[r * out + i]) * v * (1 - v)) / 7;
        for (let j = 0; j < inn; j++) hand[i * inn + j] += d * pre.data[r * inn + j];
        hand[out * inn + i] += d;
      }
    }
    assert.ok(maxRelativeError(flat(got), hand) < 1e-5, `${sizes.join('-')}: by hand`);
    const bp = backprop(net, batch).grads[L - 1];
    assert.ok(maxRelativeError(flat(got), flat(bp).map((v) => pBar * v)) < 1e-5, `${sizes.join('-')}: p̄ × backprop's gradient`);
  }
});

test('burstprop: with no teaching signal (y = e_L) every forward update is exactly zero, in every feedback mode', () => {
  const rng = Rng.fromSeed(31);
  const sizes = [4, 6, 5, 3];
  const net = createNetwork(logistic(sizes), rng.split());
  const batch = makeBatch(rng, sizes, 5);
  const ws = createWorkspace(net.spec, 5);
  const y = matrix(5, 3);
  y.data.set(forward(be, net, batch.x, ws).data);
  for (const options of [{}, { feedback: 'learned' }, { feedback: 'tied' }, { recurrent: false }] as RuleOptions[]) {
    const result = run(net, options, { x: batch.x, y });
    result.grads.forEach((g, l) => assert.ok(flat(g).every((v) => v === 0), `${JSON.stringify(options)} layer ${l + 1} is exactly zero`));
    result.signals?.forEach((s, l) => assert.ok(s.data.every((v) => v === 0), `signal of hidden layer ${l + 1} is zero`));
    result.groupGrads?.feedback?.forEach((g) => assert.ok(g.every((v) => v === 0), 'Y learns nothing either'));
    // Recurrent inhibition is homeostatic, not error-driven: it still learns to cancel the apical drive.
    if (options.recurrent !== false) assert.ok(result.groupGrads?.recurrent?.some((g) => g.some((v) => v !== 0)));
  }
  // Sanity check that the zero is earned: a target one part in 10⁴ away gives a non-zero update of every layer.
  y.data[0] += 1e-4;
  run(net, {}, { x: batch.x, y }).grads.forEach((g, l) => assert.ok(g.W.data.some((v) => v !== 0), `layer ${l + 1}`));
});

test('burstprop: with Y = Wᵀ (tied) and a small teaching signal the updates follow backprop; the angle grows when the limit is left, and with random Y', () => {
  const rng = Rng.fromSeed(41);
  for (const sizes of [[6, 8, 4], [6, 8, 7, 4]]) {
    for (let trial = 0; trial < 3; trial++) {
      const net = createNetwork(logistic(sizes), rng.split());
      const batch = makeBatch(rng, sizes, 8);
      const bp = backprop(net, batch);
      const tied = (pBaseline: number) => run(net, { feedback: 'tied', recurrent: false, pBaseline }, batch);
      const small = tied(1e-4), base = tied(0.2), large = tied(0.5);
      const [a, b, c] = [small, base, large].map((r) => layerAngles(r, bp));
      const name = `${sizes.join('-')} trial ${trial}`;
      assert.ok(Math.max(...b) < 5, `${name}: p̄ = 0.2 (the default): ${b.map((v) => v.toFixed(3)).join(', ')}°`);
      // The top hidden layer's apical drive is O(p̄): its angle vanishes with p̄, to first order.
      const top = sizes.length - 3;
      assert.ok(a[top] < 0.01 && a[top] < b[top] && b[top] < c[top], `${name}: top hidden layer ${a[top].toFixed(5)}° < ${b[top].toFixed(4)}° < ${c[top].toFixed(4)}° (p̄ = 1e-4, 0.2, 0.5)`);
      // The output layer is the delta rule whatever p̄.
      assert.ok(a[sizes.length - 2] < 0.01 && c[sizes.length - 2] < 0.01);
      // The signals each hidden layer receives are backprop's ∂L/∂h_l up to a positive factor per layer.
      small.signals?.forEach((s, l) => assert.ok(angle(s.data, (bp.signals as Matrix[])[l].data) < 2, `${name}: signal ${l + 1}`));
      // Random feedback: the hidden layers' updates are far from backprop's at the start (feedback alignment's regime).
      const random = layerAngles(run(net, { recurrent: false, pBaseline: 1e-4 }, batch), bp).slice(0, -1);
      assert.ok(random.every((h) => h > 20), `${name}: random Y: ${random.map((h) => h.toFixed(1)).join(', ')}°`);
    }
  }
  // Below the top hidden layer the limit needs small weights too: the upper layer's burst rates b ≈ p e are not small
  // (p ≈ ½), so the lower layer's apical drive u is O(‖W‖) however small p̄ is, and σ'(u) then weighs its units
  // unequally. Scaling the weights moves the lower layer's angle accordingly.
  const net = createNetwork(logistic([6, 8, 7, 4]), Rng.fromSeed(43));
  const batch = makeBatch(Rng.fromSeed(44), [6, 8, 7, 4], 8);
  const lower = (gain: number) => {
    const scaled: Network = { spec: net.spec, layers: net.layers.map((p) => ({ W: { ...p.W, data: p.W.data.map((v) => v * gain) }, b: p.b })) };
    return layerAngles(run(scaled, { feedback: 'tied', recurrent: false, pBaseline: 1e-4 }, batch), backprop(scaled, batch))[0];
  };
  const weak = lower(0.25), normal = lower(1), strong = lower(4);
  // Measured: 0.0043° (W/4), 0.110° (W), 3.68° (4W).
  assert.ok(weak < normal && normal < strong && strong > 2 && weak < 0.02, `lower layer: ${weak.toFixed(4)}° (W/4), ${normal.toFixed(3)}° (W), ${strong.toFixed(2)}° (4W)`);
});

test('burstprop: recurrent inhibition learns to cancel the apical drive (a descent on ½‖u‖²), pulling burst probabilities towards ½', () => {
  const sizes = [5, 8, 6, 3];
  const net = createNetwork(logistic(sizes), Rng.fromSeed(51));
  const batch = makeBatch(Rng.fromSeed(52), sizes, 16);
  const rule = burstprop({ scale: 2 });
  const state = rule.init(net, Rng.fromSeed(53));
  const group = (rule.groups?.(state) ?? []).find((g) => g.name === 'recurrent');
  assert.ok(group && group.params.length === 2 && Math.abs((group.lr as number) - 3.2e-3) < 1e-12, 'group recurrent: R1, R2 at the official rate');
  const distance = (r: StepResult<BurstpropState>) => Object.entries(r.metrics ?? {}).reduce((s, [k, p]) => s + (k.startsWith('burstProb') ? Math.abs(p - 0.5) : 0), 0);
  const first = run(net, { scale: 2 }, batch, state);
  // Steps of R alone on a fixed batch (forward weights fixed): plain gradient steps of the group.
  let last = first;
  for (let k = 0; k < 300; k++) {
    last.groupGrads?.recurrent?.forEach((g, i) => be.axpby(-0.5, g, 1, group.params[i].value));
    last = run(net, { scale: 2 }, batch, state);
  }
  assert.ok(distance(last) < 0.5 * distance(first), `Σ|mean p − ½|: ${distance(first).toFixed(4)} → ${distance(last).toFixed(4)}`);
  // On one small batch R can cancel nearly all of the drive, unit by unit (measured: spread 0.140 → 0.007 in layer 1).
  const spread = (r: StepResult<BurstpropState>) => Object.entries(r.metrics ?? {}).reduce((s, [k, v]) => s + (k.startsWith('burstSpread') ? v : 0), 0);
  assert.ok(spread(last) < 0.2 * spread(first), `Σ RMS(p − ½): ${spread(first).toFixed(4)} → ${spread(last).toFixed(4)}`);
});

test('burstprop: learned feedback gets exactly the update of W (Kolen–Pollack with weight decay: Y comes to align with W)', () => {
  const sizes = [4, 6, 5, 3];
  const net = createNetwork(logistic(sizes), Rng.fromSeed(61));
  const batch = makeBatch(Rng.fromSeed(62), sizes, 6);
  const result = run(net, { feedback: 'learned' }, batch);
  const gY = result.groupGrads?.feedback as Float32Array[];
  assert.equal(gY.length, 2);
  gY.forEach((g, i) => assert.deepEqual(g, result.grads[i + 1].W.data, `Y${i + 2} learns as W${i + 2}`));
  // Trained on XOR with weight decay on both (the official code decays Y too), ∠(Y, W) falls from ≈ 90°: the initial
  // parts of Y and W decay away and their common, identical updates remain.
  const config = {
    rule: 'burstprop' as const, ruleOptions: { feedback: 'learned' } as RuleOptions, seed: 3, spec: logistic([2, 8, 6, 2]),
    optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' as const, weightDecay: 1e-4 }, train: { ...DEFAULT_TRAIN, epochs: 400, batchSize: 4, lr: 10 },
  };
  const trainer = createTrainer(config, be, xor());
  const rule = burstprop({ feedback: 'learned' });
  const feedbackAngles = () => {
    const Y = rule.feedbackMatrices?.(trainer.state.ruleState as BurstpropState) as (Matrix | null)[];
    return [1, 2].map((l) => angle((Y[l] as Matrix).data, trainer.state.net.layers[l].W.data));
  };
  const before = feedbackAngles();
  trainer.run();
  const after = feedbackAngles();
  // Measured: 88.8° → 0.46° (Y2), 71.6° → 0.25° (Y3).
  assert.ok(before.every((a) => a > 60) && after.every((a) => a < 5), `∠(Y, W): ${before.map((a) => a.toFixed(1))}° → ${after.map((a) => a.toFixed(2))}°`);
});

test('burstprop learns XOR (the paper\'s first demonstration): 2-4-2 logistic net, seed 3, all four cases right', () => {
  const config = {
    rule: 'burstprop' as const, ruleOptions: {}, seed: 3, spec: logistic([2, 4, 2]),
    optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' as const }, train: { ...DEFAULT_TRAIN, epochs: 300, batchSize: 4, lr: 10 },
  };
  const data = xor();
  const trainer = createTrainer(config, be, data);
  const before = evaluate(be, trainer.state.net, data.train);
  trainer.run();
  const after = evaluate(be, trainer.state.net, data.train);
  assert.equal(after.error, 0, 'accuracy 100 %');
  assert.ok(after.loss < 0.01 * before.loss, `loss ${before.loss.toFixed(4)} → ${after.loss.toFixed(6)}`);
});

test('burstprop refuses what it cannot train, in one line, and registers logistic units on squared error', () => {
  const rng = Rng.fromSeed(71);
  const refuse = (spec: NetworkSpec, re: RegExp) => assert.throws(() => burstprop().init(createNetwork(spec, rng.split()), rng.split()), (e: unknown) => {
    assert.ok(e instanceof Error && !e.message.includes('\n') && re.test(e.message), String(e));
    return true;
  });
  const good = logistic([4, 5, 3]);
  refuse({ ...good, hidden: 'tanh' }, /hidden units are tanh: use --act sigmoid --out-act sigmoid --loss mse/);
  refuse({ ...good, output: 'linear' }, /output units are linear/);
  refuse({ ...good, loss: 'softmax_xent' }, /loss is softmax_xent/);
  assert.throws(() => burstprop({ pBaseline: 0.7 }), /pBaseline must be in \(0, 0.5\]/);
  assert.throws(() => burstprop({ feedback: 'mirror' }), /feedback must be one of random, learned, tied/);
  assert.throws(() => burstprop({ feedback: 'tied', scale: 1 }), /dist and scale are for random or learned/);
  assert.throws(() => burstprop({ recurrent: false, recurrentInit: 0.1 }), /recurrentInit is for recurrent=true/);
  assert.throws(() => burstprop({ hiddenRat: 1 }), /has no option 'hiddenRat'/);
  const spec = specForRule('burstprop', { ...good, hidden: 'tanh', output: 'linear', loss: 'softmax_xent' });
  assert.deepEqual([spec.hidden, spec.output, spec.loss], ['sigmoid', 'sigmoid', 'mse']);
  assert.equal(burstprop({ feedback: 'tied' }).locality.weightTransport, true);
  assert.equal(burstprop({ feedback: 'learned' }).locality.weightTransport, false);
});
