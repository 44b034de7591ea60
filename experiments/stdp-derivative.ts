// STDP as a derivative filter (issue 13, experiment 3): Hinton's talk and Lillicrap et al. 2020's appendix claim
// that STDP is what a synapse computing "pre-synaptic activity × rate of change of post-synaptic activity" looks like
// on spike trains. Independent inhomogeneous Poisson trains, pre rate ρ·(1 + cos ωt), post rate r₀ + A·sin ωt, so that
// the truth — the mean of r'_post at the pre spikes, i.e. ∫ r_pre·r'_post / ∫ r_pre — is ≈ A·ω/2 > 0.
//  1. The estimate against the true derivative across frequencies, for the talk's box filter and for a balanced
//     exponential STDP window: measured gain (mean estimate / truth) against the window's predicted transfer
//     function (sineResponse), and Song et al.'s unbalanced window, whose area leaks the post rate itself.
//  2. Bias and sd against the number of spikes: durations × pre rates × post rates, measured against predicted.
// Run: npm run build && node dist/experiments/stdp-derivative.js [--seed 1] [--effort 8: trials scale with it; 1 takes ~6 s] [--out docs/figures]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chartFigure, type ChartPoint } from '../node/figures.js';
import { writeFileAtomic } from '../node/files.js';
import { Rng } from '../src/random.js';
import { binTime, poissonSpikeTrain, type SpikeTrain } from '../src/spikes/spike-trains.js';
import { derivativeEstimate, predictedSd, sineResponse } from '../src/spikes/stdp.js';
import { balancedWindow, songWindow, windowMoments, windowSupport, type StdpWindow } from '../src/spikes/windows.js';
import { mean, num, sd } from './stats.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    effort: { type: 'string', default: '8' },
    out: { type: 'string', default: 'docs/figures' },
  },
});
const effort = Number(values.effort);
const rng = Rng.fromSeed(Number(values.seed));
const DT = 0.001; // 1 ms bins; times in seconds, rates in Hz

const WINDOWS: Record<string, StdpWindow> = {
  'box 20 ms': { kind: 'box', width: 0.02 },
  'box 50 ms': { kind: 'box', width: 0.05 },
  'STDP τ 20 ms (balanced)': balancedWindow(1, 0.02, 0.02, DT, 0.1),
  'STDP τ 20 ms, A₋ = 1.05 A₊ (Song et al.)': songWindow(1.05, 0.02, 1, 0.1),
};

interface Setting { f: number; pre: number; post: number; amplitude: number; duration: number }

/** Each window's estimates and truths over `trials` independent pairs of trains. */
function simulate(s: Setting, trials: number, windows: readonly string[]) {
  const w = 2 * Math.PI * s.f;
  const preRate = (t: number) => s.pre * (1 + Math.cos(w * t));
  const postRate = (t: number) => s.post + s.amplitude * Math.sin(w * t);
  const slope = (t: number) => s.amplitude * w * Math.cos(w * t);
  const grid = { dt: DT, duration: s.duration };
  const out = Object.fromEntries(windows.map((name) => [name, { est: [] as number[], truth: [] as number[], n: [] as number[], moments: windowMoments(WINDOWS[name], DT) }]));
  const postCounts: number[] = [];
  for (let i = 0; i < trials; i++) {
    const pre = poissonSpikeTrain(preRate, grid, rng), post = poissonSpikeTrain(postRate, grid, rng);
    postCounts.push(post.spikes.length);
    for (const name of windows) {
      const r = derivativeEstimate(pre, post, WINDOWS[name]);
      out[name].est.push(r.estimate);
      out[name].truth.push(truthAt(pre, windowSupport(WINDOWS[name], DT), slope));
      out[name].n.push(r.preSpikes);
    }
  }
  return { out, postCounts };
}

/** The mean of r'_post at the pre spikes the estimate counts (those whose window fits in the train). */
function truthAt(pre: SpikeTrain, support: number, slope: (t: number) => number): number {
  let sum = 0, n = 0;
  for (const k of pre.spikes) if (k >= support && k < pre.steps - support) { sum += slope(binTime(k, DT)); n++; }
  return sum / n;
}

const se = (xs: readonly number[]) => sd(xs) / Math.sqrt(xs.length);
/** Trials per frequency: the truth grows as ω, so lower frequencies need more spikes for the same relative SE. */
const trialsAt = (f: number): number => Math.max(10, Math.round((effort * 400) / (f * f)));
const lines: string[] = [];
const say = (line = '') => { lines.push(line); process.stdout.write(`${line}\n`); };

// --- 1. gain against frequency --------------------------------------------------------------------------------
const FREQUENCIES = [1, 2, 4, 8];
const base = { pre: 50, post: 50, amplitude: 40, duration: 20 };
say(`Pre rate ${base.pre}·(1 + cos ωt) Hz, post rate ${base.post} + ${base.amplitude}·sin ωt Hz, independent Poisson trains, dt = 1 ms, ` +
  `${base.duration} s per trial; truth = mean r'_post at the counted pre spikes (≈ Aω/2). Measured gain = mean estimate / mean truth ± SE; ` +
  'predicted = sineResponse\'s gain (the window\'s exact transfer function on the 1 ms grid), plus (M₀/M₁)·r₀ / truth for an unbalanced window. Trials per frequency: ' +
  FREQUENCIES.map((f) => `${f} Hz: ${trialsAt(f)}`).join(', ') + '.');
say();
say(`| window | ${FREQUENCIES.map((f) => `${f} Hz measured | ${f} Hz predicted`).join(' | ')} |`);
say(`|---|${FREQUENCIES.map(() => '---:|---:').join('|')}|`);
const gainPoints: ChartPoint[] = [];
const gains: Record<string, string[]> = Object.fromEntries(Object.keys(WINDOWS).map((n) => [n, []]));
const leakRows: string[] = [];
for (const f of FREQUENCIES) {
  const { out } = simulate({ f, ...base }, trialsAt(f), Object.keys(WINDOWS));
  for (const [name, r] of Object.entries(out)) {
    const g = mean(r.est) / mean(r.truth);
    const gSe = se(r.est.map((e, i) => e - g * r.truth[i])) / mean(r.truth);
    const predicted = sineResponse(WINDOWS[name], DT, f);
    // Unbalanced windows add (M₀/M₁)·(the post rate at the pre spikes), which no gain on r' predicts.
    const leak = (r.moments.m0 / r.moments.m1) * base.post;
    // The predicted gain with the leak of an unbalanced window's area, which is 0 for the balanced ones.
    gains[name].push(`${num(g, 3)} ± ${num(gSe, 3)} | ${num(predicted.gain + leak / mean(r.truth), 3)}`);
    if (name.includes('Song')) leakRows.push(`| ${f} Hz | ${num(mean(r.truth), 1)} | ${num(mean(r.est), 1)} ± ${num(se(r.est), 1)} | ${num(predicted.gain * mean(r.truth) + leak, 1)} |`);
    if (name.includes('Song')) continue;
    gainPoints.push({ x: f, y: g, series: name, style: 'measured' }, { x: f, y: predicted.gain, series: name, style: 'predicted' });
  }
}
for (const [name, cells] of Object.entries(gains)) say(`| ${name} | ${cells.join(' | ')} |`);
say();
say('Song et al.\'s window (A₋τ₋ = 1.05 A₊τ₊) is not balanced: its area M₀ adds (M₀/M₁)·r_post to every estimate.');
say();
say('| frequency | truth (Hz/s) | Song window: mean estimate ± SE | predicted: gain·truth + (M₀/M₁)·r₀ |');
say('|---:|---:|---:|---:|');
for (const row of leakRows) say(row);

// --- 2. bias and sd against the number of spikes -------------------------------------------------------------
say();
const F = 2;
const tableWindows = ['box 20 ms', 'STDP τ 20 ms (balanced)'];
say(`f = ${F} Hz. Bias = mean estimate − mean truth (± SE); predicted bias = (gain − 1)·truth; predicted sd = √(r̄_post·Q/N_pre)/M₁. ` +
  'N_pre: the pre spikes counted by the box (whose window fits in the train), mean per trial.');
say();
say('| T (s) | pre ρ (Hz) | post r₀ ± A (Hz) | trials | N_pre | N_post | truth (Hz/s) | ' +
  tableWindows.map((n) => `${n}: bias ± SE | predicted bias | sd | predicted sd`).join(' | ') + ' |');
say(`|---:|---:|---:|---:|---:|---:|---:|${tableWindows.map(() => '---:|---:|---:|---:').join('|')}|`);
const sdPoints: ChartPoint[] = [];
const settings: [number, number, number, number][] = [
  [5, 10, 30, 20], [20, 10, 30, 20], [80, 10, 30, 20], [5, 40, 30, 20], [20, 40, 30, 20], [80, 40, 30, 20], [20, 40, 60, 40],
];
for (const [duration, pre, post, amplitude] of settings) {
  const trials = Math.max(20, Math.round((effort * 4000) / duration / Math.sqrt(pre / 10)));
  const { out, postCounts } = simulate({ f: F, pre, post, amplitude, duration }, trials, tableWindows);
  const first = out[tableWindows[0]];
  const cells = tableWindows.map((name) => {
    const r = out[name], truth = mean(r.truth);
    const bias = mean(r.est.map((e, i) => e - r.truth[i]));
    const gain = sineResponse(WINDOWS[name], DT, F).gain;
    const predicted = predictedSd(r.moments, post, mean(r.n));
    // The panel shows the rows of one post rate: their relative sd depends on N_pre alone.
    if (post === 30) sdPoints.push({ x: mean(r.n), y: sd(r.est) / truth, series: name, style: 'measured' }, { x: mean(r.n), y: predicted / truth, series: name, style: 'predicted' });
    return `${num(bias, 1)} ± ${num(se(r.est.map((e, i) => e - r.truth[i])), 1)} | ${num((gain - 1) * truth, 1)} | ${num(sd(r.est), 1)} | ${num(predicted, 1)}`;
  });
  say(`| ${duration} | ${pre} | ${post} ± ${amplitude} | ${trials} | ${num(mean(first.n), 0)} | ${num(mean(postCounts), 0)} | ${num(mean(first.truth), 1)} | ${cells.join(' | ')} |`);
}

const svg = await chartFigure([[
  { title: 'gain: mean estimate / true r′ (pre ∝ 1 + cos ωt)', points: gainPoints, x: { title: 'frequency of the rates (Hz)', log: true }, y: { title: 'gain', domain: [0, 1.1] }, seriesTitle: 'window', rule: 1 },
  { title: 'relative sd of one estimate, f = 2 Hz, post 30 ± 20 Hz', points: sdPoints, x: { title: 'pre spikes counted, N_pre', log: true }, y: { title: 'sd / truth', log: true }, seriesTitle: 'window' },
]], 'STDP as a derivative filter: estimate of r′_post at the pre spikes');
writeFileAtomic(join(values.out, 'stdp-derivative.md'), `${lines.join('\n')}\n`);
writeFileAtomic(join(values.out, 'stdp-derivative.svg'), svg);
process.stdout.write(`wrote ${join(values.out, 'stdp-derivative.md')} and stdp-derivative.svg\n`);
