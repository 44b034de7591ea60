import { binRates, checkSpikeTrain, gridSteps, type RateFunction, type SpikeTrain, type TimeGrid } from './spike-trains.js';
import { windowMoments, windowSupport, windowTable, windowValue, type StdpWindow, type WindowMoments } from './windows.js';

/*
 * STDP as a derivative filter.
 *
 * The claim. Hinton ("How to do backpropagation in a brain", NIPS 2007 Deep Learning Workshop): update each synapse
 * in proportion to pre-synaptic activity × rate of change of post-synaptic activity, and "spike-time-dependent
 * plasticity is just a derivative filter". Lillicrap, Santoro, Marris, Akerman & Hinton 2020 (Nat. Rev. Neurosci.,
 * appendix "Spiking neurons"): "The derivative filter compares the firing rate just before a pre-synaptic spike with
 * the firing rate just after a pre-synaptic spike. This looks exactly like spike-time dependent plasticity."
 *
 * Any pair-based rule with window W(Δt), Δt = t_post − t_pre, changes the weight by ΔW = Σ_pre Σ_post W(Δt). For
 * independent trains on a grid of bins of width dt with bin means r(t_k)·dt (Bernoulli or Poisson), exactly
 *   E[ΔW] = Σ_k r_pre(t_k)·dt · Σ_{j≠0} W(j·dt)·r_post(t_k + j·dt)·dt,                                   (1)
 * and a Taylor expansion of r_post about t_k turns the inner sum into M₀·r + M₁·r' + ½M₂·r'' + ⅙M₃·r''' + …, with the
 * window's discrete moments M_n = dt·Σ_{j≠0} W(j·dt)·(j·dt)ⁿ (windowMoments). So
 *   E[ΔW] ≈ M₀·Σ r_pre·r_post·dt + M₁·Σ r_pre·r'_post·dt + ½M₂·Σ r_pre·r''_post·dt + …:
 * a window is a derivative filter — its expected change is a constant M₁ times ∫ pre rate × d(post rate)/dt — exactly
 * when its area M₀ is 0, and then an estimate of r'_post at the pre spikes is ΔW / (M₁·N_pre) (derivativeEstimate).
 *
 * The exponential window (Bi & Poo 1998; Song, Miller & Abbott 2000), in continuous time:
 *   M₀ = A₊τ₊ − A₋τ₋,   M₁ = A₊τ₊² + A₋τ₋²,   M₂ = 2(A₊τ₊³ − A₋τ₋³).
 * The condition is equal AREAS, A₊τ₊ = A₋τ₋, not equal first moments A₊τ₊² = A₋τ₋²: the two halves' first moments
 * always add (the depression half has negative lags and negative weights), so M₁ > 0 is the filter's gain and never
 * cancels. With equal areas and τ₊ = τ₋ (so A₊ = A₋: an odd window) every even moment vanishes and the leading bias
 * is (M₃/6M₁)·r''' = τ²·r'''. With equal areas but τ₊ ≠ τ₋, M₂ = 2A₊τ₊(τ₊² − τ₋²) ≠ 0 leaks r''. Song et al.'s
 * A₋τ₋ slightly above A₊τ₊ makes M₀ < 0: a net depression ∝ r_pre·r_post on top of the derivative term. In discrete
 * time (W(0) = 0: spikes in the same bin are neither before nor after) the sums are geometric series in
 * q = e^(−dt/τ), and balancedWindow picks the A₋ that makes the discrete M₀ exactly 0.
 *
 * The box window is the talk's derivative filter itself: W = +1 for post spikes in the window of width w = m·dt
 * just after the pre spike (lags 1 … m bins), −1 for those just before (lags −m … −1). For a pre spike in bin k,
 *   E[n_after − n_before] = dt·Σ_{j=1..m} (r_post(t_k + j·dt) − r_post(t_k − j·dt)),
 * and for r_post linear over [t_k − w, t_k + w], r(t + s) − r(t − s) = 2r'·s, so this is r'(t_k)·2dt²·Σ_{j=1..m} j =
 * r'(t_k)·m(m+1)·dt² = r'(t_k)·w·(w + dt), EXACTLY (w² in continuous time, dt → 0). Hence
 *   D_k = (n_after − n_before) / (w·(w + dt)),   E[D_k] = r'_post(t_k)   (linear rate),
 * and r' + r'''·w(w + dt)/12 + O(w⁴) for a smooth one (Σ j³ = (m(m+1)/2)²); summed over the pre spikes,
 * E[Σ_k D_k] = Σ_k r_pre(t_k)·r'_post(t_k)·dt → ∫ r_pre·r'_post dt. The box's M₁ is exactly w·(w + dt).
 *
 * Noise (Poisson trains, M₀ = 0, rates varying slowly on the window's scale): Var ΔW ≈ N_pre·r̄_post·Q, with
 * Q = dt·Σ_j W(j·dt)² the window's energy (2w for the box), so the estimate's sd is ≈ √(r̄_post·Q / N_pre) / M₁
 * (predictedSd): it falls as 1/√N_pre, i.e. as 1/√(duration × pre rate); for the box, √(2r̄_post / (N_pre·w)) / (w + dt),
 * so wider windows trade noise (∝ w^(−3/2)) for bias (∝ w²).
 *
 * Edges: a pre spike closer than the window's support to either end of the train has one half of its window cut
 * off, which breaks M₀ = 0 (for a ramp that is a bias as large as the signal); derivativeEstimate counts only the
 * pre spikes whose whole window lies inside the train.
 */

/** Which pairs a rule counts. 'all': every pre–post pair. 'nearest': symmetric nearest-spike pairing (Morrison,
 * Diesmann & Gerstner 2008, Biol. Cybern. 98:459): each post spike is potentiated by the latest earlier pre spike
 * only, and each pre spike depressed by the latest earlier post spike only. */
export type PairInteraction = 'all' | 'nearest';

export interface StdpOptions {
  /** Default 'all'. */
  interaction?: PairInteraction;
  /** Only pre spikes in bins [from, to) count (pairs are still formed with every post spike). Default the whole train. */
  preBins?: readonly [number, number];
}

function checkPair(pre: SpikeTrain, post: SpikeTrain): void {
  checkSpikeTrain(pre, 'pre-synaptic train');
  checkSpikeTrain(post, 'post-synaptic train');
  if (pre.dt !== post.dt || pre.steps !== post.steps) {
    throw new Error(`the pre- and post-synaptic trains must share one grid, got dt ${pre.dt} × ${pre.steps} bins and dt ${post.dt} × ${post.steps} bins`);
  }
}

/** The total weight change of a pair of spike trains under a window: Σ over the counted pairs of W(t_post − t_pre). */
export function stdpChange(pre: SpikeTrain, post: SpikeTrain, window: StdpWindow, options: StdpOptions = {}): number {
  checkPair(pre, post);
  const support = Math.min(windowSupport(window, pre.dt), pre.steps - 1);
  const table = windowTable(window, pre.dt, support);
  const [from, to] = options.preBins ?? [0, pre.steps];
  const counted = (k: number) => k >= from && k < to;
  const interaction = options.interaction ?? 'all';
  const a = pre.spikes, b = post.spikes;
  let total = 0;
  if (interaction === 'all') {
    let lo = 0;
    for (const k of a) {
      if (!counted(k)) continue;
      while (lo < b.length && b[lo] < k - support) lo++;
      for (let i = lo; i < b.length && b[i] <= k + support; i++) total += table[b[i] - k + support];
    }
    return total;
  }
  if (interaction !== 'nearest') throw new Error(`unknown pair interaction '${String(interaction)}' (choose all or nearest)`);
  // Potentiation: each post spike with the latest pre spike in an earlier bin.
  let i = -1;
  for (const l of b) {
    while (i + 1 < a.length && a[i + 1] < l) i++;
    if (i >= 0 && counted(a[i]) && l - a[i] <= support) total += table[l - a[i] + support];
  }
  // Depression: each pre spike with the latest post spike in an earlier bin.
  let j = -1;
  for (const k of a) {
    while (j + 1 < b.length && b[j + 1] < k) j++;
    if (j >= 0 && counted(k) && k - b[j] <= support) total += table[b[j] - k + support];
  }
  return total;
}

/** What derivativeEstimate measured. */
export interface DerivativeEstimate {
  /** ΔW over the counted pre spikes. */
  change: number;
  /** N_pre: the pre spikes whose whole window lies inside the train (bins [K, steps − K)). */
  preSpikes: number;
  /** The window's discrete moments; the estimate divides by m1. */
  moments: WindowMoments;
  /** ΔW / (M₁·N_pre): the mean of r'_post at the pre spikes (exactly, in expectation, for a balanced window and a
   * rate linear over each window; plus (M₀/M₁)·r̄_post when M₀ ≠ 0). NaN without pre spikes. */
  estimate: number;
}

/** The derivative filter read out by a window: every pre spike whose window fits in the train, ΔW, and ΔW/(M₁·N_pre). */
export function derivativeEstimate(pre: SpikeTrain, post: SpikeTrain, window: StdpWindow): DerivativeEstimate {
  checkPair(pre, post);
  const support = windowSupport(window, pre.dt);
  if (!Number.isFinite(support)) throw new Error('a derivative estimate needs a window of finite support: give the exponential window a cutoff (e.g. 5·τ)');
  if (2 * support >= pre.steps) {
    throw new Error(`the window reaches ${support} bins each way but the trains have only ${pre.steps}: use a train longer than twice the window`);
  }
  const preBins = [support, pre.steps - support] as const;
  const change = stdpChange(pre, post, window, { preBins });
  let preSpikes = 0;
  for (const k of pre.spikes) if (k >= preBins[0] && k < preBins[1]) preSpikes++;
  const moments = windowMoments(window, pre.dt);
  return { change, preSpikes, moments, estimate: preSpikes ? change / (moments.m1 * preSpikes) : NaN };
}

/** The talk's derivative filter: each pre spike weighted by (post spikes in the `width` just after − in the `width`
 * just before), normalised by w·(w + dt) per pre spike, so that the estimate is the mean r'_post at the pre spikes. */
export function derivativeFilter(pre: SpikeTrain, post: SpikeTrain, width: number): DerivativeEstimate {
  return derivativeEstimate(pre, post, { kind: 'box', width });
}

/** The estimate's predicted sd, √(r̄_post·Q / N_pre) / M₁ (Poisson trains, balanced window, slowly varying rates). */
export function predictedSd(moments: WindowMoments, meanPostRate: number, preSpikes: number): number {
  return Math.sqrt((meanPostRate * moments.energy) / preSpikes) / moments.m1;
}

/** The exact expected ΔW (eq. 1) of independent Bernoulli or Poisson trains with these rates, 'all' pairs, the pre
 * spikes counted in `preBins` (default: those whose window fits in the train when the support is finite, else all). */
export function expectedChange(
  preRate: RateFunction | ArrayLike<number>, postRate: RateFunction | ArrayLike<number>, window: StdpWindow, grid: TimeGrid,
  preBins?: readonly [number, number],
): number {
  const steps = gridSteps(grid), dt = grid.dt;
  const rPre = binRates(preRate, grid), rPost = binRates(postRate, grid);
  const full = windowSupport(window, dt);
  const support = Math.min(full, steps - 1);
  const table = windowTable(window, dt, support);
  const [from, to] = preBins ?? (Number.isFinite(full) ? [support, steps - support] : [0, steps]);
  let total = 0;
  for (let k = Math.max(0, from); k < Math.min(steps, to); k++) {
    let inner = 0;
    for (let j = Math.max(-support, -k); j <= Math.min(support, steps - 1 - k); j++) inner += table[j + support] * rPost[k + j];
    total += rPre[k] * dt * inner * dt;
  }
  return total;
}

/** How a window filters a sinusoidal post rate r(t) = r₀ + A·sin(ωt + φ): E[estimate at a pre spike at t] =
 * gain·r'(t) + leak·(r(t) − r₀) + (M₀/M₁)·r₀, with gain = dt·Σ W_j·sin(ωj·dt) / (ω·M₁) (1 at ω → 0; 1 − ω²·w(w + dt)/12 + …
 * for the box, 1 − ω²τ² + … for the odd exponential window) and leak = dt·Σ W_j·cos(ωj·dt) / M₁ (0 for an odd
 * window; ≈ (M₀ − ω²M₂/2) / M₁ otherwise). */
export function sineResponse(window: StdpWindow, dt: number, frequency: number): { gain: number; leak: number } {
  const support = windowSupport(window, dt);
  if (!Number.isFinite(support)) throw new Error('sineResponse needs a window of finite support: give the exponential window a cutoff');
  const omega = 2 * Math.PI * frequency, moments = windowMoments(window, dt);
  let s = 0, c = 0;
  for (let j = -support; j <= support; j++) {
    const w = windowValue(window, j, dt);
    s += w * Math.sin(omega * j * dt) * dt;
    c += w * Math.cos(omega * j * dt) * dt;
  }
  return { gain: s / (omega * moments.m1), leak: c / moments.m1 };
}
