import type { Rng } from '../random.js';

/*
 * Spike trains in discrete time, drawn from a firing rate r(t). Time is cut into `steps` bins of width dt
 * (any unit: seconds in the experiments, rates then in spikes per second); bin k is [k·dt, (k+1)·dt) and its
 * rate is r at the bin's midpoint, t_k = (k + ½)·dt, which is also the time of a spike in that bin. A train
 * keeps the bins of its spikes, so that every lag between two spikes is a whole number of steps and windows
 * are counted exactly, without comparing floating-point times.
 */

/** A firing rate: spikes per unit time at time t (≥ 0 and finite). */
export type RateFunction = (t: number) => number;

/** A rate and its time derivative, for the experiments and tests that compare an estimate with r'(t). */
export interface RateProfile {
  rate: RateFunction;
  derivative: RateFunction;
}

/** A spike train on a grid of `steps` bins of width dt. */
export interface SpikeTrain {
  dt: number;
  steps: number;
  /** The bin of each spike, ascending; a bin is repeated when it holds several spikes (Poisson counts). */
  spikes: Int32Array;
}

/** The time grid of a train: its bin width and its length. */
export interface TimeGrid {
  /** Bin width, > 0. */
  dt: number;
  /** Length of the train: a whole number of bins, > 0. */
  duration: number;
}

/** Number of bins of a grid, after checking it; one-line errors that name the fix. */
export function gridSteps(grid: TimeGrid): number {
  const { dt, duration } = grid;
  if (typeof dt !== 'number' || !(dt > 0) || !Number.isFinite(dt)) throw new Error(`dt must be a positive, finite time step, got ${String(dt)}`);
  if (typeof duration !== 'number' || !(duration > 0) || !Number.isFinite(duration)) {
    throw new Error(`duration must be a positive, finite length of time, got ${String(duration)}`);
  }
  const steps = Math.round(duration / dt);
  // NOTE: 1e-9 relative slack, so that 0.3 / 0.001 = 299.99999999999994 counts as the 300 bins it means.
  if (steps < 1 || Math.abs(steps * dt - duration) > 1e-9 * duration) {
    throw new Error(`duration ${duration} is not a whole number of steps of dt = ${dt}: make it a multiple of dt`);
  }
  return steps;
}

/** Midpoint of bin k: the time at which its rate is evaluated and its spikes are placed. */
export const binTime = (k: number, dt: number): number => (k + 0.5) * dt;

/** Spike times of a train (bin midpoints), ascending. */
export function spikeTimes(train: SpikeTrain): Float64Array {
  return Float64Array.from(train.spikes, (k) => binTime(k, train.dt));
}

/** The rate of every bin, r(t_k), checked finite and ≥ 0; `rate` may also be the bins' rates already. */
export function binRates(rate: RateFunction | ArrayLike<number>, grid: TimeGrid): Float64Array {
  const steps = gridSteps(grid);
  const out = new Float64Array(steps);
  if (typeof rate === 'function') {
    for (let k = 0; k < steps; k++) out[k] = rate(binTime(k, grid.dt));
  } else {
    if (rate.length !== steps) throw new Error(`the rates array has ${rate.length} values but the grid has ${steps} bins: give one rate per bin`);
    for (let k = 0; k < steps; k++) out[k] = rate[k];
  }
  for (let k = 0; k < steps; k++) {
    const r = out[k];
    if (typeof r !== 'number' || !Number.isFinite(r) || r < 0) {
      throw new Error(`a firing rate must be a finite number ≥ 0, got r(${binTime(k, grid.dt)}) = ${String(r)}: fix the rate function (clip it at 0)`);
    }
  }
  return out;
}

/**
 * An inhomogeneous Bernoulli train: bin k holds one spike with probability r(t_k)·dt, independently of every
 * other bin. The discrete-time approximation of a Poisson process, exact as dt → 0; it needs r·dt ≤ 1.
 */
export function bernoulliSpikeTrain(rate: RateFunction | ArrayLike<number>, grid: TimeGrid, rng: Rng): SpikeTrain {
  const rates = binRates(rate, grid), { dt } = grid;
  const spikes: number[] = [];
  for (let k = 0; k < rates.length; k++) {
    const p = rates[k] * dt;
    if (p > 1) {
      throw new Error(`r(t)·dt = ${p} > 1 at t = ${binTime(k, dt)}: a Bernoulli train holds at most one spike per step; use dt < ${1 / rates[k]} or poissonSpikeTrain`);
    }
    if (rng.uniform() < p) spikes.push(k);
  }
  return { dt, steps: rates.length, spikes: Int32Array.from(spikes) };
}

/**
 * An inhomogeneous Poisson train on the grid: the count in bin k is Poisson with mean r(t_k)·dt, independently
 * of every other bin (the counts of a Poisson process whose rate is constant within each bin).
 */
export function poissonSpikeTrain(rate: RateFunction | ArrayLike<number>, grid: TimeGrid, rng: Rng): SpikeTrain {
  const rates = binRates(rate, grid), { dt } = grid;
  const spikes: number[] = [];
  for (let k = 0; k < rates.length; k++) {
    for (let n = poissonCount(rates[k] * dt, rng); n > 0; n--) spikes.push(k);
  }
  return { dt, steps: rates.length, spikes: Int32Array.from(spikes) };
}

/** Poisson(λ) by Knuth's product of uniforms; NOTE: a large λ is split into pieces of at most 30 (a sum of
 * independent Poisson counts is Poisson), so that e^(−λ) never underflows and the loop stays short. */
export function poissonCount(lambda: number, rng: Rng): number {
  let n = 0;
  for (let left = lambda; left > 0; left -= 30) {
    const limit = Math.exp(-Math.min(left, 30));
    let product = rng.uniform();
    while (product > limit) {
      n++;
      product *= rng.uniform();
    }
  }
  return n;
}

/** Spike counts per bin. */
export function binCounts(train: SpikeTrain): Uint32Array {
  const counts = new Uint32Array(train.steps);
  for (const k of train.spikes) counts[k]++;
  return counts;
}

/** Checks that a train is well formed (bins ascending and inside the grid); one line naming the fault. */
export function checkSpikeTrain(train: SpikeTrain, what = 'spike train'): void {
  if (!Number.isInteger(train.steps) || train.steps < 1) throw new Error(`${what}: steps must be a whole number of bins ≥ 1, got ${train.steps}`);
  gridSteps({ dt: train.dt, duration: train.steps * train.dt });
  const s = train.spikes;
  for (let i = 0; i < s.length; i++) {
    if (s[i] < 0 || s[i] >= train.steps || (i > 0 && s[i] < s[i - 1])) {
      throw new Error(`${what}: spike ${i} is in bin ${s[i]}, outside 0 … ${train.steps - 1} or out of order: keep the bins ascending and inside the grid`);
    }
  }
}

/** A constant rate r. */
export function constantRate(r: number): RateProfile {
  return { rate: () => r, derivative: () => 0 };
}

/** A linear ramp r(t) = start + slope·t (check it stays ≥ 0 over the train: binRates refuses a negative rate). */
export function rampRate(start: number, slope: number): RateProfile {
  return { rate: (t) => start + slope * t, derivative: () => slope };
}

/** r(t) = mean + amplitude·sin(2π·frequency·t + phase). */
export function sineRate(mean: number, amplitude: number, frequency: number, phase = 0): RateProfile {
  const w = 2 * Math.PI * frequency;
  return { rate: (t) => mean + amplitude * Math.sin(w * t + phase), derivative: (t) => amplitude * w * Math.cos(w * t + phase) };
}
