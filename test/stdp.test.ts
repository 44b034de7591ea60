import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/random.js';
import {
  bernoulliSpikeTrain, binCounts, binTime, constantRate, poissonSpikeTrain, rampRate, sineRate,
  type RateFunction, type SpikeTrain, type TimeGrid,
} from '../src/spikes/spike-trains.js';
import { derivativeEstimate, derivativeFilter, expectedChange, predictedSd, sineResponse, stdpChange } from '../src/spikes/stdp.js';
import {
  balancedWindow, continuousMoments, songWindow, windowMoments, windowSupport, windowValue, type ExponentialWindow, type StdpWindow,
} from '../src/spikes/windows.js';

const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const sd = (xs: readonly number[]) => Math.sqrt(xs.reduce((s, v) => s + (v - mean(xs)) ** 2, 0) / (xs.length - 1));
const se = (xs: readonly number[]) => sd(xs) / Math.sqrt(xs.length);

type Generator = typeof bernoulliSpikeTrain;

/** Estimates of `trials` independent pairs of trains. */
function trials(n: number, seed: number, preRate: RateFunction, postRate: RateFunction, grid: TimeGrid, window: StdpWindow, make: Generator = bernoulliSpikeTrain) {
  const rng = Rng.fromSeed(seed);
  return Array.from({ length: n }, () => {
    const pre = make(preRate, grid, rng), post = make(postRate, grid, rng);
    return { pre, post, ...derivativeEstimate(pre, post, window) };
  });
}

// --- spike trains ---------------------------------------------------------------------------------------------

test('spike trains: a Bernoulli train fires at its rate (count within 4 sd of r·T)', () => {
  const train = bernoulliSpikeTrain(constantRate(50).rate, { dt: 0.001, duration: 100 }, Rng.fromSeed(1));
  const expected = 5000, sdCount = Math.sqrt(5000 * (1 - 0.05));
  assert.equal(train.steps, 100000);
  assert.ok(Math.abs(train.spikes.length - expected) < 4 * sdCount, `${train.spikes.length} spikes, expected ${expected} ± ${sdCount.toFixed(0)}`);
  assert.ok(binCounts(train).every((c) => c <= 1), 'at most one spike per bin');
});

test('spike trains: Poisson counts have mean = variance = r·dt, also above one spike per bin and past the split at 30', () => {
  for (const lambda of [3, 50]) {
    const bins = lambda === 3 ? 10000 : 2000;
    const counts = [...binCounts(poissonSpikeTrain(() => lambda / 0.001, { dt: 0.001, duration: bins * 0.001 }, Rng.fromSeed(2)))];
    const m = mean(counts), v = sd(counts) ** 2;
    // SE of the mean √(λ/N); of the variance √((λ + 2λ²)/N).
    assert.ok(Math.abs(m - lambda) < 4 * Math.sqrt(lambda / bins), `λ ${lambda}: mean count ${m}`);
    assert.ok(Math.abs(v - lambda) < 4 * Math.sqrt((lambda + 2 * lambda ** 2) / bins), `λ ${lambda}: variance ${v}`);
  }
});

test('spike trains: an inhomogeneous train follows r(t) (a ramp: each half holds ∫ r dt of its half)', () => {
  const ramp = rampRate(10, 40), grid = { dt: 0.001, duration: 50 };
  const halves = [0, 0];
  const rng = Rng.fromSeed(3);
  for (let i = 0; i < 4; i++) for (const k of poissonSpikeTrain(ramp.rate, grid, rng).spikes) halves[k < 25000 ? 0 : 1]++;
  // ∫₀²⁵ (10 + 40t) dt = 12750; ∫₂₅⁵⁰ = 37750; four trains each.
  for (const [h, expected] of [[halves[0], 4 * 12750], [halves[1], 4 * 37750]]) {
    assert.ok(Math.abs(h - expected) < 4 * Math.sqrt(expected), `${h} spikes, expected ${expected}`);
  }
  assert.deepEqual(poissonSpikeTrain(ramp.rate, grid, Rng.fromSeed(9)), poissonSpikeTrain(ramp.rate, grid, Rng.fromSeed(9)), 'same seed, same train');
});

// --- the window -----------------------------------------------------------------------------------------------

const train = (bins: number[], steps = 100, dt = 0.001): SpikeTrain => ({ dt, steps, spikes: Int32Array.from(bins) });
const song: ExponentialWindow = { kind: 'exponential', aPlus: 1, tauPlus: 0.02, aMinus: 0.5, tauMinus: 0.04 };

test('window: pre before post potentiates, post before pre depresses, same bin does nothing', () => {
  const pre = train([10]);
  const potentiation = stdpChange(pre, train([15]), song);
  const depression = stdpChange(pre, train([5]), song);
  assert.ok(Math.abs(potentiation - Math.exp(-0.005 / 0.02)) < 1e-12, `pre → post 5 ms: ${potentiation}`);
  assert.ok(Math.abs(depression + 0.5 * Math.exp(-0.005 / 0.04)) < 1e-12, `post → pre 5 ms: ${depression}`);
  assert.equal(stdpChange(pre, train([10]), song), 0);
  assert.equal(stdpChange(pre, train([13]), { kind: 'box', width: 0.003 }), 1);
  assert.equal(stdpChange(pre, train([14]), { kind: 'box', width: 0.003 }), 0, 'outside the box');
  assert.equal(stdpChange(pre, train([7]), { kind: 'box', width: 0.003 }), -1);
});

test('window: all-pairs change equals a double loop over every pair, with multi-spike bins, a cutoff and a pre range', () => {
  const grid = { dt: 0.001, duration: 2 }, rng = Rng.fromSeed(4);
  const pre = poissonSpikeTrain(() => 400, grid, rng), post = poissonSpikeTrain(() => 600, grid, rng);
  assert.ok(binCounts(pre).some((c) => c > 1), 'some bins hold two spikes');
  for (const [window, preBins] of [[song, undefined], [{ ...song, cutoff: 0.05 }, undefined], [{ kind: 'box', width: 0.02 }, [300, 1700]]] as const) {
    let naive = 0;
    for (const k of pre.spikes) {
      if (preBins && (k < preBins[0] || k >= preBins[1])) continue;
      for (const l of post.spikes) naive += windowValue(window, l - k, grid.dt);
    }
    const fast = stdpChange(pre, post, window, { preBins });
    assert.ok(Math.abs(fast - naive) < 1e-9 * Math.abs(naive), `${window.kind}: ${fast} vs ${naive}`);
  }
});

test('window: nearest-spike pairing takes each post spike with the latest earlier pre spike and vice versa', () => {
  const pre = train([2, 5]), post = train([4, 6, 9]), W = (lag: number) => windowValue(song, lag, 0.001);
  // post 4 ← pre 2, post 6 ← pre 5, post 9 ← pre 5; pre 5 after post 4; pre 2 has no earlier post spike.
  const expected = W(2) + W(1) + W(4) + W(-1);
  assert.ok(Math.abs(stdpChange(pre, post, song, { interaction: 'nearest' }) - expected) < 1e-12);
  const all = W(2) + W(4) + W(7) + W(-1) + W(1) + W(4);
  assert.ok(Math.abs(stdpChange(pre, post, song) - all) < 1e-12);
});

// --- the moments and the condition for a derivative filter ------------------------------------------------------

test('moments: the closed forms equal the sums, tend to the continuous ones, and the box has M₁ = w(w + dt) exactly', () => {
  const dt = 0.0005;
  const closed = windowMoments(song, dt), summed = windowMoments({ ...song, cutoff: 3 }, dt);
  for (const key of ['m0', 'm1', 'm2', 'm3', 'energy'] as const) {
    assert.ok(Math.abs(closed[key] - summed[key]) < 1e-9 * Math.abs(closed[key]), `${key}: ${closed[key]} vs ${summed[key]}`);
  }
  const fine = windowMoments(song, 1e-6), continuous = continuousMoments(song);
  for (const key of ['m0', 'm1', 'm2', 'm3'] as const) {
    // The discrete sums differ from the integrals by O(dt) (the left-out lag 0): e.g. dt·Σ qʲ = τ − dt/2 + O(dt²).
    const scale = { m0: 0.04, m1: 0.04 ** 2, m2: 0.04 ** 3, m3: 0.04 ** 4 }[key];
    assert.ok(Math.abs(fine[key] - continuous[key]) < 1e-4 * scale, `${key}: ${fine[key]} vs ${continuous[key]}`);
  }
  const box = windowMoments({ kind: 'box', width: 0.02 }, 0.001);
  assert.ok(Math.abs(box.m1 - 0.02 * 0.021) < 1e-15 && box.m0 === 0 && Math.abs(box.energy - 0.04) < 1e-15, JSON.stringify(box));
});

test('moments: equal areas A₊τ₊ = A₋τ₋ is the condition (balancedWindow), not equal first moments A₊τ₊² = A₋τ₋²', () => {
  const dt = 0.001, cutoff = 0.2;
  const balanced = balancedWindow(1, 0.01, 0.02, dt, cutoff);
  const equalFirstMoments: ExponentialWindow = { kind: 'exponential', aPlus: 1, tauPlus: 0.01, aMinus: 0.25, tauMinus: 0.02, cutoff };
  assert.ok(Math.abs(windowMoments(balanced, dt).m0) < 1e-15, 'the balanced window has no area');
  assert.ok(Math.abs(balancedWindow(1, 0.01, 0.02, 1e-7).aMinus - 0.5) < 1e-5, 'A₋ → A₊τ₊/τ₋ as dt → 0');
  // Flat rates have no derivative: a derivative filter must expect no change at all.
  const grid = { dt, duration: 5 }, flatPre = constantRate(30).rate, flatPost = constantRate(40).rate;
  assert.ok(Math.abs(expectedChange(flatPre, flatPost, balanced, grid)) < 1e-9, 'balanced: no change on flat rates');
  const leaked = expectedChange(flatPre, flatPost, equalFirstMoments, grid);
  const m0 = windowMoments(equalFirstMoments, dt).m0, interior = 5000 - 2 * 200;
  assert.ok(m0 > 0.004, `equal first moments leave an area M₀ = ${m0}`);
  assert.ok(Math.abs(leaked - 30 * dt * interior * 40 * m0) < 1e-9 * leaked, `equal first moments: E[ΔW] = M₀·r_pre·r_post·T = ${leaked} on flat rates`);
});

test('moments: on a linear post ramp the exact expectation is Σ_pre r_pre·dt·(M₀·r_post + M₁·r′), to rounding', () => {
  const dt = 0.001, grid = { dt, duration: 3 }, ramp = rampRate(20, 100), pre = 50;
  for (const window of [{ kind: 'box', width: 0.03 } as const, balancedWindow(1, 0.02, 0.02, dt, 0.1), songWindow(1.05, 0.02, 1, 0.1)]) {
    const K = windowSupport(window, dt), m = windowMoments(window, dt);
    let expected = 0;
    for (let k = K; k < 3000 - K; k++) expected += pre * dt * (m.m0 * ramp.rate(binTime(k, dt)) + m.m1 * 100);
    const exact = expectedChange(() => pre, ramp.rate, window, grid);
    assert.ok(Math.abs(exact - expected) < 1e-9 * Math.abs(expected), `${JSON.stringify(window)}: ${exact} vs ${expected}`);
  }
});

// --- the derivative filter on spike trains ------------------------------------------------------------------------

// A steep ramp (post rate 20 → 420 Hz over 4 s, r′ = ±100 Hz/s), pre 200 Hz, a 50 ms window each side.
const RAMP_GRID = { dt: 0.001, duration: 4 };
const BOX: StdpWindow = { kind: 'box', width: 0.05 };

test('derivative filter: rising post rate → positive, falling → negative, flat → zero, each within 4 SE of r′ over 300 trials', () => {
  for (const [slope, start, seed] of [[100, 20, 10], [-100, 420, 11], [0, 220, 12]]) {
    const estimates = trials(300, seed, () => 200, rampRate(start, slope).rate, RAMP_GRID, BOX).map((t) => t.estimate);
    const m = mean(estimates), s = se(estimates);
    assert.ok(Math.abs(m - slope) < 4 * s, `r′ = ${slope}: mean estimate ${m.toFixed(2)} ± ${s.toFixed(2)} (SE)`);
    if (slope !== 0) assert.ok(Math.sign(m) === Math.sign(slope) && Math.abs(m) > 10 * s, `r′ = ${slope}: sign and size clear of the noise`);
  }
});

test('derivative filter: the box estimate is the count difference over w(w + dt) per pre spike', () => {
  const grid = { dt: 0.001, duration: 1 }, rng = Rng.fromSeed(13);
  const pre = bernoulliSpikeTrain(() => 100, grid, rng), post = bernoulliSpikeTrain(() => 300, grid, rng);
  const m = 20, w = 0.02, counts = binCounts(post);
  let difference = 0, used = 0;
  for (const k of pre.spikes) {
    if (k < m || k >= grid.duration / grid.dt - m) continue;
    used++;
    for (let j = 1; j <= m; j++) difference += counts[k + j] - counts[k - j];
  }
  const est = derivativeFilter(pre, post, w);
  assert.equal(est.preSpikes, used);
  assert.ok(Math.abs(est.estimate - difference / (w * (w + grid.dt)) / used) < 1e-9 * Math.abs(est.estimate || 1));
});

test('derivative filter: unbiased on a sinusoid up to its known gain g(ω) < 1, which the trials resolve', () => {
  // Pre rate 50·(1 + cos ωt), post 50 + 40 sin ωt, ω = 2π·2 Hz, w = 100 ms: g = 1 − ω²w(w + dt)/12 + … ≈ 0.87.
  const f = 2, grid = { dt: 0.001, duration: 10 }, post = sineRate(50, 40, f), pre = (t: number) => 50 * (1 + Math.cos(2 * Math.PI * f * t));
  const window: StdpWindow = { kind: 'box', width: 0.1 };
  const { gain, leak } = sineResponse(window, grid.dt, f);
  assert.ok(Math.abs(gain - 0.87) < 0.01 && Math.abs(leak) < 1e-12, `gain ${gain}, leak ${leak}`);
  const runs = trials(200, 14, pre, post.rate, grid, window);
  // Each trial's target: the mean of r′_post at its own pre spikes, scaled by the gain.
  const meanSlope = (t: SpikeTrain) => {
    const K = 100;
    const used = [...t.spikes].filter((k) => k >= K && k < t.steps - K);
    return mean(used.map((k) => post.derivative(binTime(k, t.dt))));
  };
  const errors = runs.map((r) => r.estimate - gain * meanSlope(r.pre));
  const raw = runs.map((r) => r.estimate - meanSlope(r.pre));
  assert.ok(Math.abs(mean(errors)) < 4 * se(errors), `estimate − g·r′: ${mean(errors).toFixed(2)} ± ${se(errors).toFixed(2)}`);
  assert.ok(mean(raw) < -8 * se(raw), `estimate − r′ (gain 1): ${mean(raw).toFixed(2)} ± ${se(raw).toFixed(2)}, the bias is resolved`);
});

test('derivative filter: sd falls as 1/√(pre rate) and 1/√(duration), and matches √(r̄_post·Q/N_pre)/M₁', () => {
  const post = sineRate(40, 20, 1).rate;
  const sdOf = (preRate: number, duration: number, seed: number) => {
    const runs = trials(250, seed, () => preRate, post, { dt: 0.001, duration }, BOX, poissonSpikeTrain);
    const predicted = predictedSd(runs[0].moments, 40, mean(runs.map((r) => r.preSpikes)));
    return { measured: sd(runs.map((r) => r.estimate)), predicted };
  };
  const base = sdOf(25, 8, 20), rate4 = sdOf(100, 8, 21), long4 = sdOf(25, 32, 22);
  for (const [name, x] of [['pre ×4', rate4], ['duration ×4', long4]] as const) {
    const ratio = base.measured / x.measured;
    assert.ok(ratio > 1.7 && ratio < 2.3, `${name}: sd falls by ${ratio.toFixed(2)} (expected 2)`);
  }
  for (const x of [base, rate4, long4]) assert.ok(Math.abs(x.measured / x.predicted - 1) < 0.15, `sd ${x.measured.toFixed(1)} vs predicted ${x.predicted.toFixed(1)}`);
});

test('STDP window as a derivative filter: balanced exponential window unbiased on a ramp; Song et al.’s area leaks r_pre·r_post', () => {
  const balanced = balancedWindow(1, 0.02, 0.02, 0.001, 0.1);
  const ramp = trials(300, 30, () => 200, rampRate(20, 100).rate, RAMP_GRID, balanced).map((t) => t.estimate);
  assert.ok(Math.abs(mean(ramp) - 100) < 4 * se(ramp) && mean(ramp) > 10 * se(ramp), `balanced, ramp: ${mean(ramp).toFixed(1)} ± ${se(ramp).toFixed(1)}`);
  const flat = trials(300, 31, () => 200, () => 200, RAMP_GRID, balanced).map((t) => t.change);
  assert.ok(Math.abs(mean(flat)) < 4 * se(flat), `balanced, flat: ${mean(flat)} ± ${se(flat)}`);
  const songs = songWindow(1.05, 0.02, 1, 0.1);
  const leaked = trials(300, 32, () => 200, () => 200, RAMP_GRID, songs).map((t) => t.change);
  const expected = expectedChange(() => 200, () => 200, songs, RAMP_GRID);
  assert.ok(expected < 0 && Math.abs(mean(leaked) - expected) < 4 * se(leaked), `Song: ${mean(leaked).toFixed(1)} ± ${se(leaked).toFixed(1)}, expected ${expected.toFixed(1)}`);
  assert.ok(mean(leaked) < -6 * se(leaked), 'a net depression without any derivative');
});

// --- corrupt parameters -------------------------------------------------------------------------------------------

test('corrupt parameters give one-line errors that name the fix', () => {
  const grid = { dt: 0.001, duration: 1 }, rng = Rng.fromSeed(5), ok = train([1, 2]);
  const cases: [() => unknown, RegExp][] = [
    [() => bernoulliSpikeTrain(() => -3, grid, rng), /finite number ≥ 0.*r\(0\.0005\) = -3.*fix the rate function/],
    [() => poissonSpikeTrain(() => NaN, grid, rng), /finite number ≥ 0.*NaN/],
    [() => poissonSpikeTrain([1, 2], grid, rng), /2 values but the grid has 1000 bins/],
    [() => bernoulliSpikeTrain(() => 5, { dt: 0, duration: 1 }, rng), /dt must be a positive, finite time step, got 0/],
    [() => bernoulliSpikeTrain(() => 5, { dt: -0.001, duration: 1 }, rng), /dt must be a positive/],
    [() => bernoulliSpikeTrain(() => 5, { dt: NaN, duration: 1 }, rng), /dt must be a positive/],
    [() => bernoulliSpikeTrain(() => 5, { dt: 0.001, duration: 0.0105 }, rng), /not a whole number of steps.*multiple of dt/],
    [() => bernoulliSpikeTrain(() => 2000, grid, rng), /> 1 at t = .*dt < 0\.0005 or poissonSpikeTrain/],
    [() => stdpChange(ok, ok, { ...song, tauPlus: 0 }), /tauPlus must be a positive, finite time constant, got 0/],
    [() => stdpChange(ok, ok, { ...song, aMinus: -1 }), /aMinus must be a finite number ≥ 0/],
    [() => stdpChange(ok, ok, { kind: 'box', width: 0.0015 }), /not a whole number ≥ 1 of steps.*multiple of dt/],
    [() => stdpChange(ok, train([1], 50), song), /share one grid/],
    [() => stdpChange(ok, train([5, 3]), song), /spike 1 is in bin 3.*ascending/],
    [() => derivativeEstimate(ok, ok, song), /finite support: give the exponential window a cutoff/],
    [() => derivativeFilter(ok, ok, 0.06), /longer than twice the window/],
  ];
  for (const [run, pattern] of cases) {
    assert.throws(run, (err: Error) => {
      assert.match(err.message, pattern);
      assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
      return true;
    });
  }
});
