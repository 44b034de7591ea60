/*
 * STDP windows and their moments: the numbers that decide whether a pair rule is a derivative filter (stdp.ts
 * explains why: M₀ = 0 makes it one, M₁ is its gain, M₂ and M₃ its bias).
 */

/** The pair window of Bi & Poo 1998 / Song, Miller & Abbott 2000, lag Δt = t_post − t_pre:
 * W(Δt) = A₊·e^(−Δt/τ₊) for Δt > 0 (pre before post: potentiation), −A₋·e^(Δt/τ₋) for Δt < 0 (post before pre:
 * depression), W(0) = 0. */
export interface ExponentialWindow {
  kind: 'exponential';
  /** A₊ ≥ 0: potentiation at Δt → 0⁺. */
  aPlus: number;
  /** τ₊ > 0, in the trains' time unit. */
  tauPlus: number;
  /** A₋ ≥ 0: depression at Δt → 0⁻ (the window's value there is −A₋). */
  aMinus: number;
  /** τ₋ > 0. */
  tauMinus: number;
  /** Pairs with |Δt| > cutoff are ignored; default Infinity (all pairs). A finite cutoff makes the support finite,
   * which derivativeEstimate needs. */
  cutoff?: number;
}

/** The derivative filter as a window: +1 for Δt ∈ (0, width], −1 for Δt ∈ [−width, 0). */
export interface BoxWindow {
  kind: 'box';
  /** w: a whole number ≥ 1 of steps dt. */
  width: number;
}

export type StdpWindow = ExponentialWindow | BoxWindow;

/** Song, Miller & Abbott 2000's window shape (τ₊ = τ₋ = 20 ms), with A₋ = ratio·A₊ (theirs: ratio 1.05). */
export function songWindow(ratio = 1.05, tau = 0.02, aPlus = 1, cutoff?: number): ExponentialWindow {
  return { kind: 'exponential', aPlus, tauPlus: tau, aMinus: ratio * aPlus, tauMinus: tau, cutoff };
}

/** The window's support in bins: the largest |lag| it weighs (Infinity for an exponential window without cutoff). */
export function windowSupport(window: StdpWindow, dt: number): number {
  checkWindow(window);
  if (window.kind === 'box') {
    const m = Math.round(window.width / dt);
    if (m < 1 || Math.abs(m * dt - window.width) > 1e-9 * window.width) {
      throw new Error(`the box window's width ${window.width} is not a whole number ≥ 1 of steps dt = ${dt}: make it a multiple of dt`);
    }
    return m;
  }
  const cutoff = window.cutoff ?? Infinity;
  return Number.isFinite(cutoff) ? Math.floor(cutoff / dt + 1e-9) : Infinity;
}

/** Refuses a window with nonsense parameters, with the fix. */
export function checkWindow(window: StdpWindow): void {
  if (window.kind === 'box') {
    if (!(window.width > 0) || !Number.isFinite(window.width)) throw new Error(`the box window's width must be a positive, finite time, got ${String(window.width)}`);
    return;
  }
  if (window.kind !== 'exponential') throw new Error(`unknown STDP window kind '${String((window as { kind: unknown }).kind)}' (choose exponential or box)`);
  for (const [name, v] of [['aPlus', window.aPlus], ['aMinus', window.aMinus]] as const) {
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new Error(`STDP window ${name} must be a finite number ≥ 0 (the sign is the window's), got ${String(v)}`);
  }
  for (const [name, v] of [['tauPlus', window.tauPlus], ['tauMinus', window.tauMinus]] as const) {
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new Error(`STDP window ${name} must be a positive, finite time constant, got ${String(v)}`);
  }
  const cutoff = window.cutoff ?? Infinity;
  if (typeof cutoff !== 'number' || !(cutoff > 0)) throw new Error(`STDP window cutoff must be a positive time (or Infinity), got ${String(cutoff)}`);
}

/** W at a lag of `lag` bins (Δt = lag·dt), 0 outside the support. */
export function windowValue(window: StdpWindow, lag: number, dt: number): number {
  if (lag === 0 || Math.abs(lag) > windowSupport(window, dt)) return 0;
  if (window.kind === 'box') return lag > 0 ? 1 : -1;
  return lag > 0 ? window.aPlus * Math.exp((-lag * dt) / window.tauPlus) : -window.aMinus * Math.exp((lag * dt) / window.tauMinus);
}

/** W at lags −K … K bins, index lag + K. */
export function windowTable(window: StdpWindow, dt: number, support: number): Float64Array {
  const table = new Float64Array(2 * support + 1);
  for (let lag = -support; lag <= support; lag++) table[lag + support] = windowValue(window, lag, dt);
  return table;
}

/** The window's discrete moments M_n = dt·Σ_{j≠0} W(j·dt)·(j·dt)ⁿ for n = 0 … 3, and its energy Q = dt·Σ_j W(j·dt)². */
export interface WindowMoments {
  m0: number;
  m1: number;
  m2: number;
  m3: number;
  energy: number;
}

/** The discrete moments of a window on a grid of step dt (exact sums; closed forms for an exponential window
 * without cutoff). */
export function windowMoments(window: StdpWindow, dt: number): WindowMoments {
  const support = windowSupport(window, dt);
  if (window.kind === 'exponential' && !Number.isFinite(support)) {
    // Σ_{j≥1} qʲ·jⁿ for n = 0 … 3, in closed form.
    const sums = (q: number) => {
      const r = 1 - q;
      return [q / r, q / r ** 2, (q * (1 + q)) / r ** 3, (q * (1 + 4 * q + q * q)) / r ** 4];
    };
    const p = sums(Math.exp(-dt / window.tauPlus)), n = sums(Math.exp(-dt / window.tauMinus));
    const a = window.aPlus, b = window.aMinus;
    const m = (k: number) => dt ** (k + 1) * (a * p[k] - (k % 2 === 0 ? 1 : -1) * b * n[k]);
    const energy = dt * (a * a * sums(Math.exp((-2 * dt) / window.tauPlus))[0] + b * b * sums(Math.exp((-2 * dt) / window.tauMinus))[0]);
    return { m0: m(0), m1: m(1), m2: m(2), m3: m(3), energy };
  }
  const out = { m0: 0, m1: 0, m2: 0, m3: 0, energy: 0 };
  for (let j = -support; j <= support; j++) {
    const w = windowValue(window, j, dt), s = j * dt;
    out.m0 += w * dt;
    out.m1 += w * s * dt;
    out.m2 += w * s * s * dt;
    out.m3 += w * s * s * s * dt;
    out.energy += w * w * dt;
  }
  return out;
}

/** The continuous-time moments (dt → 0) of an exponential window without cutoff; the box's are 0, w², 0, w⁴/2. */
export function continuousMoments(window: StdpWindow): Omit<WindowMoments, 'energy'> {
  checkWindow(window);
  if (window.kind === 'box') return { m0: 0, m1: window.width ** 2, m2: 0, m3: window.width ** 4 / 2 };
  const { aPlus: a, tauPlus: tp, aMinus: b, tauMinus: tm } = window;
  return { m0: a * tp - b * tm, m1: a * tp ** 2 + b * tm ** 2, m2: 2 * (a * tp ** 3 - b * tm ** 3), m3: 6 * (a * tp ** 4 + b * tm ** 4) };
}

/** An exponential window whose discrete area M₀ is exactly 0 on step dt: A₋ = A₊·Σ_j e^(−j·dt/τ₊) / Σ_j e^(−j·dt/τ₋)
 * over the lags within the cutoff (→ A₊τ₊/τ₋ as dt → 0). */
export function balancedWindow(aPlus: number, tauPlus: number, tauMinus: number, dt: number, cutoff = Infinity): ExponentialWindow {
  const probe: ExponentialWindow = { kind: 'exponential', aPlus, tauPlus, aMinus: 1, tauMinus, cutoff };
  const support = windowSupport(probe, dt);
  const sum = (tau: number) => {
    const q = Math.exp(-dt / tau);
    return Number.isFinite(support) ? (q * (1 - q ** support)) / (1 - q) : q / (1 - q);
  };
  return { ...probe, aMinus: (aPlus * sum(tauPlus)) / sum(tauMinus) };
}
