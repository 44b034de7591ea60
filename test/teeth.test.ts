import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloneMatrix, type Matrix } from '../src/tensor/matrix.js';
import { cloneLayers, createNetwork, createWorkspace, paramList, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import type { DenseParams } from '../src/nn/dense.js';
import type { ActivationKind } from '../src/nn/activations.js';
import type { LossKind } from '../src/nn/losses.js';
import { Rng } from '../src/random.js';
import { backprop } from '../src/rules/backprop.js';
import { feedbackAlignment } from '../src/rules/feedback-alignment.js';
import { directFeedbackAlignment } from '../src/rules/direct-feedback-alignment.js';
import { signSymmetry, type SignMagnitude } from '../src/rules/sign-symmetry.js';
import { nodePerturbation } from '../src/rules/node-perturbation.js';
import { weightPerturbation } from '../src/rules/weight-perturbation.js';
import { RULE_IDS, specForRule, type RuleId } from '../src/rules/registry.js';
import type { Batch, LearningRule, RuleOptions, StepResult } from '../src/rules/rule.js';
import { BackpropReference, compareWithBackprop } from '../src/metrics/alignment.js';
import { angleDegrees } from '../src/metrics/angles.js';
import { twoSpirals } from '../src/data/synthetic.js';
import { oneHot } from '../src/data/one-hot.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN, type TrainState } from '../src/train/trainer.js';
import type { TrainEvent } from '../src/train/events.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { availableBackends, randomMatrix } from './helpers.js';

/*
 * Tests with teeth: each checks a rule or metric against its defining property in a way that a plausible
 * bug (named in a `// catches:` comment) would fail, where the older tests check only a direction or a
 * one-hidden-layer special case.
 */

const be = availableBackends()[0];

const spec = (sizes: number[], hidden: ActivationKind, output: ActivationKind, loss: LossKind): NetworkSpec => ({
  sizes, hidden, output, leakySlope: 0.01, loss, init: { kind: 'glorot' },
});

const flat = (layers: readonly DenseParams[]): number[] => paramList(layers).flatMap((p) => Array.from(p.value));

const norm = (v: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
};

/** max |a − b| / max |b|: a difference relative to the reference's scale. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

/** One step of a rule by hand, with a fresh workspace and update buffers. */
function stepRule<S>(rule: LearningRule<S>, net: Network, state: S, batch: Batch, rng: Rng = Rng.fromSeed(1)): StepResult<S> {
  return rule.step({ backend: be, net, ws: createWorkspace(net.spec, batch.x.rows), rng, grads: zerosLike(net.layers) }, state, batch);
}

const backpropGrads = (net: Network, batch: Batch): DenseParams[] => stepRule(backprop(), net, {}, batch).grads;

// ---- 1. perturbation estimates pinned in scale -------------------------------------------------------

/*
 * Variance theory, used to choose the number of estimates. With central differences and σ = 1e-3,
 * ΔL = ∇L·ξ + O(σ³), so one weight-perturbation sample is ĝ = (g·n)n with n ~ N(0, I_P): E ĝ = g and
 * Cov ĝ = ‖g‖²I + ggᵀ. Hence E‖ĝ − g‖² = (P + 1)‖g‖² per sample (P = 51 parameters in 4-6-3), and the
 * component along u = g/‖g‖, (g·n)(u·n)/‖g‖ = ‖g‖(u·n)², has variance 2‖g‖². Averaging N = 40 000
 * samples (K steps of S samples, K·S = N): the norm ratio ‖ĝ‖/‖g‖ is 1 + u·(ĝ − g)/‖g‖ + O(P/N), with
 * standard deviation √(2/N) = 0.7 % and a bias P/(2N) = 0.06 %, so the 5 % tolerance is 7 standard
 * deviations; the angle is ≈ √(P/N) rad ≈ 2.0° (a χ² with ~P degrees of freedom: relative spread
 * √(2/P) = 20 %), so 4° is twice its expected value. Node perturbation has fewer noise dimensions (9 units:
 * measured variance ≈ (U + 1)‖g‖² per sample at batch 1, less at batch 8), so the same N is safer still.
 * The test measures the standard error of the along-g component itself and asserts it is below 1.25 %, so
 * that the 5 % band is at least 4 standard errors wide whatever the seed (the theory gives 0.71 %).
 */
const PERTURBATION_SAMPLES = 40_000;

function perturbationProblem(rows: number): { net: Network; batch: Batch } {
  const rng = Rng.fromSeed(5);
  const net = createNetwork(spec([4, 6, 3], 'tanh', 'linear', 'mse'), rng);
  return { net, batch: { x: randomMatrix(rows, 4, rng), y: randomMatrix(rows, 3, rng) } };
}

for (const [id, make] of [['wp', weightPerturbation], ['np', nodePerturbation]] as const) {
  for (const rows of [1, 8]) {
    for (const samples of [1, 4]) {
      // catches: ÷batch twice (×1/8 at batch 8) or never (np: ×8), no ÷samples (×4 at samples 4), σ for σ² (×1000), an unhalved central difference.
      test(`${id} at batch ${rows}, samples ${samples}: the mean of ${PERTURBATION_SAMPLES} perturbations has backprop's norm (±5 %) and direction (< 4°)`, (t) => {
        const { net, batch } = perturbationProblem(rows);
        const g = flat(backpropGrads(net, batch));
        const gNorm = norm(g);
        const rule = make({ sigma: 1e-3, samples, central: true });
        // One continuing stream, as in training: K independent steps of S samples each.
        const ctx = { backend: be, net, ws: createWorkspace(net.spec, rows), rng: Rng.fromSeed(9 + rows + samples), grads: zerosLike(net.layers) };
        let state = rule.init(net, Rng.fromSeed(0));
        const K = PERTURBATION_SAMPLES / samples;
        const sum = new Float64Array(g.length);
        let along = 0, along2 = 0; // Σ u·ĝ_k/‖g‖ and its square, for the standard error
        for (let k = 0; k < K; k++) {
          const result = rule.step(ctx, state, batch);
          state = result.state;
          const estimate = flat(result.grads);
          let p = 0;
          for (let i = 0; i < g.length; i++) {
            sum[i] += estimate[i];
            p += estimate[i] * g[i];
          }
          p /= gNorm * gNorm;
          along += p;
          along2 += p * p;
        }
        const mean = Array.from(sum, (s) => s / K);
        const ratio = norm(mean) / gNorm;
        const angle = angleDegrees(mean, g);
        const alongMean = along / K;
        const standardError = Math.sqrt((along2 / K - alongMean * alongMean) / K);
        t.diagnostic(`${id} batch ${rows} samples ${samples}: ‖ĝ‖/‖g‖ = ${ratio.toFixed(4)}, ∠ = ${angle.toFixed(2)}°, standard error ${(100 * standardError).toFixed(2)} %`);
        assert.ok(standardError < 0.0125, `the test's own power: standard error ${standardError} leaves the 5 % band too narrow`);
        assert.ok(Math.abs(ratio - 1) < 0.05, `‖ĝ‖/‖g‖ = ${ratio}`);
        assert.ok(angle < 4, `∠(ĝ, g) = ${angle}°`);
      });
    }
  }
}

// ---- 2. direct feedback alignment with several hidden layers -----------------------------------------

/** Forward pass in float64 with tanh units everywhere: pre-activations z[l] and activities h[l], [batch, width]. */
function forward64(net: Network, x: Matrix): { z: Float64Array[]; h: Float64Array[] } {
  const z: Float64Array[] = [], h: Float64Array[] = [];
  let input: ArrayLike<number> = x.data;
  for (const { W, b } of net.layers) {
    const zl = new Float64Array(x.rows * W.rows);
    for (let n = 0; n < x.rows; n++) {
      for (let o = 0; o < W.rows; o++) {
        let s = b[o];
        for (let i = 0; i < W.cols; i++) s += W.data[o * W.cols + i] * input[n * W.cols + i];
        zl[n * W.rows + o] = s;
      }
    }
    z.push(zl);
    input = zl.map(Math.tanh);
    h.push(input as Float64Array);
  }
  return { z, h };
}

/** a·M for a [rows, k] and M [k, cols] (row-major): an error sent down through a matrix in W's layout. */
function times(a: ArrayLike<number>, rows: number, M: Matrix): Float64Array {
  const out = new Float64Array(rows * M.cols);
  for (let n = 0; n < rows; n++) {
    for (let j = 0; j < M.cols; j++) {
      let s = 0;
      for (let k = 0; k < M.rows; k++) s += a[n * M.rows + k] * M.data[k * M.cols + j];
      out[n * M.cols + j] = s;
    }
  }
  return out;
}

/** δz = δh ⊙ tanh'(z) = δh ⊙ (1 − h²). */
const throughTanh = (dh: ArrayLike<number>, h: ArrayLike<number>): Float64Array => Float64Array.from(dh, (d, i) => d * (1 - h[i] * h[i]));

/** dW = δzᵀ·input [out, in] flattened, then db = Σ_n δz: the layout of flat() for one layer. */
function layerGrad(dz: ArrayLike<number>, input: ArrayLike<number>, rows: number, out: number, inp: number): number[] {
  const g = new Array<number>(out * inp + out).fill(0);
  for (let n = 0; n < rows; n++) {
    for (let o = 0; o < out; o++) {
      for (let i = 0; i < inp; i++) g[o * inp + i] += dz[n * out + o] * input[n * inp + i];
      g[out * inp + o] += dz[n * out + o];
    }
  }
  return g;
}

test('dfa with one hidden layer is feedback alignment with B_1 := D_0, bit for bit', () => {
  // The limiting case in which a chained (layer-by-layer) implementation is also right.
  // catches: the hidden layers' error e taken at the output's activity instead of its pre-activation.
  const rng = Rng.fromSeed(60);
  const net = createNetwork(spec([5, 7, 4], 'tanh', 'tanh', 'mse'), rng);
  const batch = { x: randomMatrix(6, 5, rng), y: randomMatrix(6, 4, rng) };
  const dfa = directFeedbackAlignment();
  const dState = dfa.init(net, rng);
  const fa = feedbackAlignment();
  const fState = fa.init(net, rng);
  fState.B = [null, cloneMatrix(dState.D[0])];
  assert.deepEqual(stepRule(dfa, net, dState, batch).grads, stepRule(fa, net, fState, batch).grads);
});

test('dfa with three hidden layers: each hidden layer receives e·D_l directly, not a signal chained through the layers above', () => {
  // Equal hidden widths so that a wrong D_l index or a chained signal still has the right shape and would
  // run silently; tanh output units so that the error at the output's activity and at its pre-activation
  // differ by f'(z_L).
  // catches: a chained δh_l = δz_{l+1}·W_{l+1} below the top hidden layer, D_l off by one, e before f'(z_L).
  const rng = Rng.fromSeed(61);
  const rows = 7;
  const net = createNetwork(spec([4, 6, 6, 6, 3], 'tanh', 'tanh', 'mse'), rng);
  const batch = { x: randomMatrix(rows, 4, rng), y: randomMatrix(rows, 3, rng) };
  const rule = directFeedbackAlignment();
  const state = rule.init(net, rng);
  const result = stepRule(rule, net, state, batch);
  const L = net.layers.length, outputs = 3;

  const { h } = forward64(net, batch.x);
  const inputOf = (l: number): ArrayLike<number> => (l === 0 ? batch.x.data : h[l - 1]);
  // e = ∂L/∂z_L of the mean mse loss: (o − t)/batch ⊙ f'(z_L).
  const e = throughTanh(Float64Array.from(h[L - 1], (o, i) => (o - batch.y.data[i]) / rows), h[L - 1]);
  const signals = result.signals ?? [];
  assert.equal(signals.length, L - 1, 'a signal for every hidden layer');
  const direct: number[][] = [], chained: number[][] = [];
  let chainedDh = times(e, rows, state.D[L - 2]); // the top hidden layer: the same either way
  for (let l = L - 2; l >= 0; l--) {
    const dh = times(e, rows, state.D[l]); // Nøkland 2016, eq. 3: δh_l = e·D_l
    assert.ok(relDiff(signals[l].data, dh) < 1e-5, `layer ${l + 1}: delivered signal is e·D_${l}, off by ${relDiff(signals[l].data, dh)}`);
    direct[l] = layerGrad(throughTanh(dh, h[l]), inputOf(l), rows, 6, net.layers[l].W.cols);
    const dz = throughTanh(chainedDh, h[l]);
    chained[l] = layerGrad(dz, inputOf(l), rows, 6, net.layers[l].W.cols);
    if (l > 0) chainedDh = times(dz, rows, net.layers[l].W); // the chain backprop would build
  }
  const eGrad = layerGrad(e, h[L - 2], rows, outputs, 6);
  assert.ok(relDiff(flat([result.grads[L - 1]]), eGrad) < 1e-5, 'the output layer learns from e as in backprop');
  for (let l = 0; l < L - 1; l++) {
    const got = flat([result.grads[l]]);
    assert.ok(relDiff(got, direct[l]) < 1e-5, `layer ${l + 1}: update from e·D_l, off by ${relDiff(got, direct[l])}`);
    // The test separates the two: below the top hidden layer a chained update is far from the direct one.
    if (l < L - 2) assert.ok(relDiff(chained[l], direct[l]) > 0.2, `layer ${l + 1}: chained and direct coincide (${relDiff(chained[l], direct[l])})`);
  }
});

// ---- 3. sign symmetry's magnitudes --------------------------------------------------------------------

/** A two-hidden-layer problem with a few weights set to exactly 0 (sign 0 has no sign to share). */
function signProblem(seed: number): { net: Network; batch: Batch } {
  const rng = Rng.fromSeed(seed);
  const net = createNetwork(spec([5, 6, 4, 3], 'tanh', 'linear', 'softmax_xent'), rng);
  net.layers[1].W.data[3] = 0;
  net.layers[2].W.data[5] = 0;
  const labels = Int32Array.from({ length: 6 }, (_, i) => i % 3);
  return { net, batch: { x: randomMatrix(6, 5, rng), y: oneHot(labels, 3), labels } };
}

const meanAbs = (W: Float32Array): number => W.reduce((s, w) => s + Math.abs(w), 0) / W.length;

/** |F_l| / mean|W_l| where W ≠ 0: the magnitude pattern M of sign symmetry's feedback, per layer. */
function magnitudes(net: Network, F: readonly (Matrix | null)[]): number[][] {
  return net.layers.slice(1).map((p, k) => {
    const f = (F[k + 1] as Matrix).data, m = meanAbs(p.W.data);
    return Array.from(p.W.data).flatMap((w, i) => (w === 0 ? [] : [Math.abs(f[i]) / m]));
  });
}

/** Moves the weights so that mean|W| and some signs change (as training would), zeros kept at 0. */
function moveWeights(net: Network, rng: Rng): void {
  for (const p of net.layers) {
    for (let i = 0; i < p.W.data.length; i++) if (p.W.data[i] !== 0) p.W.data[i] = 1.7 * p.W.data[i] + 0.3 * rng.normal();
  }
}

for (const magnitude of ['mean', 'unit', 'fixed', 'batch'] as const satisfies readonly SignMagnitude[]) {
  // catches: flipped signs, an F built but not used (errors sent through W), a mode with another mode's magnitudes.
  test(`sign symmetry, magnitude ${magnitude}: sign(F) = sign(W) where W ≠ 0, the step uses F, and the magnitudes are the mode's`, () => {
    const { net, batch } = signProblem(70);
    const rule = signSymmetry({ magnitude });
    const state = rule.init(net, Rng.fromSeed(71));
    const rng = Rng.fromSeed(72); // one continuing stream across steps, as in training
    const first = stepRule(rule, net, state, batch, rng);
    const checkSigns = () => net.layers.forEach((p, l) => {
      if (l === 0) return assert.equal(state.F[0], null);
      const F = state.F[l] as Matrix;
      p.W.data.forEach((w, i) => { if (w !== 0) assert.equal(Math.sign(F.data[i]), Math.sign(w), `layer ${l + 1}, weight ${i}`); });
    });
    checkSigns();
    // The update is feedback alignment's through exactly this F.
    const fa = feedbackAlignment();
    const faState = fa.init(net, Rng.fromSeed(0));
    faState.B = state.F.map((F) => (F ? cloneMatrix(F) : null));
    assert.deepEqual(first.grads, stepRule(fa, net, faState, batch).grads, 'errors travel through F');
    assert.notDeepEqual(first.grads, backpropGrads(net, batch), 'and F is not W');

    const before = magnitudes(net, state.F);
    moveWeights(net, Rng.fromSeed(73));
    stepRule(rule, net, state, batch, rng);
    checkSigns();
    const after = magnitudes(net, state.F);
    for (const [k, pattern] of after.entries()) {
      const layer = `layer ${k + 2}`;
      if (magnitude === 'mean') {
        // catches: mean|W| taken once at init (stale scale), or over the wrong layer.
        pattern.forEach((m, i) => assert.ok(Math.abs(m - 1) < 1e-6, `${layer} [${i}]: |F|/mean|W| = ${m}`));
      } else if (magnitude === 'unit') {
        // catches: unit falling back to mean|W| scaling.
        const F = (state.F[k + 1] as Matrix).data;
        net.layers[k + 1].W.data.forEach((w, i) => { if (w !== 0) assert.equal(Math.abs(F[i]), 1, `${layer} [${i}]`); });
      } else {
        const spread = Math.max(...pattern) / Math.min(...pattern);
        assert.ok(spread > 3, `${layer}: random magnitudes, not a constant (max/min ${spread})`);
        const changed = pattern.filter((m, i) => Math.abs(m - before[k][i]) > 1e-4 * m).length;
        if (magnitude === 'fixed') {
          // catches: fixed magnitudes redrawn every step, or tied to the current |W| instead of drawn once.
          assert.equal(changed, 0, `${layer}: ${changed} of ${pattern.length} magnitudes changed between steps`);
        } else {
          // catches: batch magnitudes drawn once (that is 'fixed'), or from a stream restarted every step.
          assert.ok(changed > 0.9 * pattern.length, `${layer}: only ${changed} of ${pattern.length} magnitudes were redrawn`);
        }
      }
    }
  });
}

test("sign symmetry 'batch' redraws its magnitudes even when W has not changed", () => {
  // catches: magnitudes cached by W (redrawn only when W changes), which 'fixed' would otherwise mask.
  const { net, batch } = signProblem(74);
  const rule = signSymmetry({ magnitude: 'batch' });
  const state = rule.init(net, Rng.fromSeed(75));
  const rng = Rng.fromSeed(76);
  stepRule(rule, net, state, batch, rng);
  const first = magnitudes(net, state.F);
  stepRule(rule, net, state, batch, rng);
  assert.notDeepEqual(magnitudes(net, state.F), first);
});

// ---- 4. compareWithBackprop's angles -------------------------------------------------------------------

function alignmentProblem(seed: number): { net: Network; batch: Batch } {
  const rng = Rng.fromSeed(seed);
  const net = createNetwork(spec([5, 7, 6, 4], 'tanh', 'linear', 'softmax_xent'), rng);
  const labels = Int32Array.from({ length: 9 }, (_, i) => i % 4);
  return { net, batch: { x: randomMatrix(9, 5, rng), y: oneHot(labels, 4), labels } };
}

test('compareWithBackprop: 0° for backprop itself and for fa with B := W, where feedbackAngle is 0 and the norm ratio 1', () => {
  // catches: an offset or wrong angle formula, a reference at other parameters, a feedback angle against the wrong matrix.
  const { net, batch } = alignmentProblem(80);
  const reference = new BackpropReference(net, batch.x.rows).compute(be, batch);
  const bp = compareWithBackprop(net, stepRule(backprop(), net, {}, batch), reference, undefined);
  assert.equal(bp.length, 3);
  for (const a of bp) {
    assert.ok(a.updateAngle < 1e-6, `bp layer ${a.layer}: update angle ${a.updateAngle}`);
    if (a.layer < 3) assert.ok((a.signalAngle as number) < 1e-6, `bp layer ${a.layer}: signal angle ${a.signalAngle}`);
    assert.equal(a.feedbackAngle, null);
  }
  const fa = feedbackAlignment();
  const state = fa.init(net, Rng.fromSeed(81));
  state.B = net.layers.map((p, l) => (l === 0 ? null : cloneMatrix(p.W)));
  const aligned = compareWithBackprop(net, stepRule(fa, net, state, batch), reference, fa.feedbackMatrices?.(state));
  for (const a of aligned) {
    assert.ok(a.updateAngle < 1e-6, `fa (B = W) layer ${a.layer}: update angle ${a.updateAngle}`);
    if (a.layer === 1) {
      assert.equal(a.feedbackAngle, null, 'layer 1 has no feedback matrix');
    } else {
      assert.ok((a.feedbackAngle as number) < 1e-6, `fa (B = W) layer ${a.layer}: feedback angle ${a.feedbackAngle}`);
      assert.ok(Math.abs((a.feedbackNormRatio as number) - 1) < 1e-6, `norm ratio ${a.feedbackNormRatio}`);
    }
  }
});

test('compareWithBackprop: fa with random B gives clearly non-zero angles, the ones computed by hand', () => {
  // catches: a constant update angle (0 whatever the update), an angle of W alone without b, layers mismatched.
  const { net, batch } = alignmentProblem(82);
  const reference = new BackpropReference(net, batch.x.rows).compute(be, batch);
  const truth = backpropGrads(net, batch);
  const fa = feedbackAlignment();
  const state = fa.init(net, Rng.fromSeed(83));
  const result = stepRule(fa, net, state, batch);
  const angles = compareWithBackprop(net, result, reference, fa.feedbackMatrices?.(state));
  angles.forEach((a, l) => {
    const byHand = angleDegrees(flat([result.grads[l]]), flat([truth[l]]));
    assert.ok(Math.abs(a.updateAngle - byHand) < 1e-9, `layer ${a.layer}: ${a.updateAngle}° vs ${byHand}° by hand`);
    if (l < 2) {
      assert.ok(a.updateAngle > 5, `hidden layer ${a.layer}: update angle ${a.updateAngle}° under random feedback`);
      assert.ok((a.signalAngle as number) > 5, `hidden layer ${a.layer}: signal angle ${a.signalAngle}°`);
    } else {
      assert.ok(a.updateAngle < 1e-6, 'the output layer learns from the true error even under fa');
    }
    if (l > 0) {
      const F = (state.B[l] as Matrix).data;
      assert.ok(Math.abs((a.feedbackAngle as number) - angleDegrees(F, net.layers[l].W.data)) < 1e-9);
      assert.ok((a.feedbackAngle as number) > 45, `layer ${a.layer}: random B at ${a.feedbackAngle}° from W`);
    }
  });
});

// ---- 5. alignment passes leave the trajectory alone ---------------------------------------------------

/** Every registered rule with its defaults, plus the modes that draw random numbers of their own. */
const TRAJECTORY_CASES: readonly [RuleId, RuleOptions][] = [
  ...RULE_IDS.map((id): [RuleId, RuleOptions] => [id, {}]),
  ['sign', { magnitude: 'batch' }],
  ['wp', { mode: 'serial' }],
  ['wm', { noiseDist: 'gaussian' }],
];

/** 4 epochs of 5 batches (20 updates, the last of each epoch short) of two spirals: losses, state, alignment events. */
function trajectory(rule: RuleId, ruleOptions: RuleOptions, alignEvery: number): { losses: number[]; state: TrainState; alignments: number } {
  const data = twoSpirals(Rng.fromSeed(90), { n: 38, nTest: 10 }); // batches of 8, 8, 8, 8 and 6
  const run: RunConfig = {
    rule, ruleOptions, seed: 91,
    spec: specForRule(rule, spec([2, 8, rule === 'tp' ? 8 : 6, 2], 'tanh', 'linear', 'softmax_xent')), // tp inverts square layers only
    optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
    train: { ...DEFAULT_TRAIN, epochs: 4, batchSize: 8, lr: 0.05, stepEventEvery: 1, evalEvery: 1, alignEvery },
  };
  const losses: number[] = [];
  let alignments = 0;
  const trainer = createTrainer(run, be, data);
  trainer.run((e: TrainEvent) => {
    if (e.type === 'step') losses.push(e.loss);
    else if (e.type === 'epoch') losses.push(e.trainLoss);
    else if (e.type === 'eval') losses.push(e.loss, e.error ?? NaN);
    else if (e.type === 'alignment') alignments++;
  });
  return { losses, state: trainer.state, alignments };
}

for (const [rule, ruleOptions] of TRAJECTORY_CASES) {
  const name = rule + (Object.keys(ruleOptions).length ? ` ${JSON.stringify(ruleOptions)}` : '');
  // catches: an alignment pass that draws from the rule's stream or skips/alters the update; counts: alignEvery ignored.
  test(`alignEvery 1 and 7 leave the trajectory of ${name} bit-identical to alignEvery 0`, () => {
    const plain = trajectory(rule, ruleOptions, 0);
    assert.equal(plain.alignments, 0);
    assert.equal(plain.losses.length, 20 + 4 * 3);
    for (const [every, events] of [[1, 20], [7, 2]] as const) {
      const aligned = trajectory(rule, ruleOptions, every);
      assert.equal(aligned.alignments, events, `alignEvery ${every}: alignment events`);
      assert.deepEqual(aligned.losses, plain.losses, `alignEvery ${every}: losses`);
      assert.deepEqual(aligned.state, plain.state, `alignEvery ${every}: parameters, rule, optimizer and random states`);
    }
  });
}

// ---- 6. the feedback angle reported is that of the B the step used ------------------------------------

for (const [rule, ruleOptions] of [['wm', { mirrorLr: 0.05 }], ['kp', { decay: 0.5 }]] as const) {
  // catches: an alignment event computed after the loop has stepped B (or W): the angle of the next step's B.
  test(`${rule}: each alignment event's feedbackAngle is ∠(B, W) of the B and W held before that step's update`, () => {
    const data = twoSpirals(Rng.fromSeed(92), { n: 40, nTest: 10 });
    const run: RunConfig = {
      rule, ruleOptions, seed: 93,
      spec: spec([2, 8, 6, 2], 'tanh', 'linear', 'softmax_xent'),
      optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
      train: { ...DEFAULT_TRAIN, epochs: 2, batchSize: 8, lr: 0.05, stepEventEvery: 0, evalEvery: 0, alignEvery: 1 },
    };
    const trainer = createTrainer(run, be, data);
    const B = () => (trainer.state.ruleState as { B: (Matrix | null)[] }).B;
    const held: { B: (Matrix | null)[]; W: Matrix[] }[] = [];
    // Copies of B and W just before each update: the training loop calls trainBatch once per batch.
    const trainBatch = trainer.trainBatch.bind(trainer);
    trainer.trainBatch = (batch, lr) => {
      held.push({ B: B().map((b) => (b ? cloneMatrix(b) : null)), W: cloneLayers(trainer.state.net.layers).map((p) => p.W) });
      return trainBatch(batch, lr);
    };
    const events: Extract<TrainEvent, { type: 'alignment' }>[] = [];
    trainer.run((e) => { if (e.type === 'alignment') events.push(e); });
    assert.equal(events.length, 10);
    assert.equal(held.length, 10);
    let distinguished = 0;
    events.forEach((e, k) => {
      for (const l of [1, 2]) {
        const reported = e.layers[l].feedbackAngle as number;
        const before = angleDegrees((held[k].B[l] as Matrix).data, held[k].W[l].data);
        assert.equal(reported, before, `step ${k + 1}, layer ${l + 1}: reported ${reported}°, before the update ${before}°`);
        const nextB = (held[k + 1]?.B ?? B())[l] as Matrix; // B as the loop stepped it
        const afterB = angleDegrees(nextB.data, held[k].W[l].data);
        if (Math.abs(afterB - before) > 1e-3) distinguished++;
      }
    });
    // B moves enough per step that the angle of the stepped B differs: the test tells the two apart.
    assert.ok(distinguished >= 18, `only ${distinguished} of 20 angles move when B is stepped`);
  });
}
