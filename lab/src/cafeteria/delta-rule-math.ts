import { cafeteria, Rng } from '../../../src/index.js';

/*
 * The lecture's linear neuron (Hinton, via the cafeteria example): meals of chips and ketchup, a bill,
 * and a neuron that learns the two prices with the delta rule. Fish is left out so that the weight space
 * is a plane and the error surface is a picture. Kept here, not in src/rules, because it is about one
 * neuron's weight trajectory, which the training loop does not expose. Pure math: Node tests import it.
 */

export type Weights = [number, number];

export interface Meals {
  /** Portions of [chips, ketchup] per meal, [n, 2] row-major. */
  x: Float64Array;
  /** The bill per meal: the target t. */
  t: Float64Array;
  n: number;
}

/** Meals from the library's cafeteria task (same generator as `--data cafeteria`), fish priced at 0 and dropped. */
export function makeMeals(prices: Weights, correlation: number, seed: number, n = 40): Meals {
  const { train } = cafeteria(Rng.fromSeed(seed), { prices: [0, prices[0], prices[1]], correlation, n, nTest: 1 });
  const x = new Float64Array(2 * n), t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = train.x.data[3 * i + 1];
    x[2 * i + 1] = train.x.data[3 * i + 2];
    t[i] = train.y.data[i];
  }
  return { x, t, n };
}

/** E(w) = ½·mean_n (t_n − w·x_n)² = ½(wᵀAw − 2bᵀw + c), with A = mean xxᵀ, b = mean t·x, c = mean t². */
export interface ErrorSurface {
  a11: number; a12: number; a22: number; b1: number; b2: number; c: number;
}

export function errorSurface(m: Meals): ErrorSurface {
  const s = { a11: 0, a12: 0, a22: 0, b1: 0, b2: 0, c: 0 };
  for (let i = 0; i < m.n; i++) {
    const x1 = m.x[2 * i], x2 = m.x[2 * i + 1], t = m.t[i];
    s.a11 += x1 * x1; s.a12 += x1 * x2; s.a22 += x2 * x2; s.b1 += t * x1; s.b2 += t * x2; s.c += t * t;
  }
  for (const k of Object.keys(s) as (keyof ErrorSurface)[]) s[k] /= m.n;
  return s;
}

export function errorAt(s: ErrorSurface, [w1, w2]: Weights): number {
  return 0.5 * (s.a11 * w1 * w1 + 2 * s.a12 * w1 * w2 + s.a22 * w2 * w2 - 2 * (s.b1 * w1 + s.b2 * w2) + s.c);
}

/** The bottom of the surface, A⁻¹b, or null when A is (nearly) singular: a valley, not a bowl. */
export function surfaceMinimum(s: ErrorSurface): Weights | null {
  const det = s.a11 * s.a22 - s.a12 * s.a12;
  if (Math.abs(det) < 1e-9 * (s.a11 * s.a22 || 1)) return null;
  return [(s.a22 * s.b1 - s.a12 * s.b2) / det, (s.a11 * s.b2 - s.a12 * s.b1) / det];
}

/** Batch delta rule, the lecture's form: Δw_i = ε·Σ_n x_i^n (t^n − y^n), summed over all cases, one step per
 * pass (so one pass moves about as far as a pass of online learning); returns w after each pass. */
export function batchTrajectory(m: Meals, eps: number, passes: number, start: Weights): Weights[] {
  const path: Weights[] = [[...start]];
  const w: Weights = [...start];
  for (let p = 0; p < passes; p++) {
    let g1 = 0, g2 = 0;
    for (let i = 0; i < m.n; i++) {
      const r = m.t[i] - (w[0] * m.x[2 * i] + w[1] * m.x[2 * i + 1]);
      g1 += r * m.x[2 * i];
      g2 += r * m.x[2 * i + 1];
    }
    w[0] += eps * g1;
    w[1] += eps * g2;
    path.push([...w]);
  }
  return path;
}

/** Online delta rule: Δw_i = ε·x_i^n (t^n − y^n) after every meal, in order; returns w after each meal.
 * Each step moves w straight towards the constraint line of one case, so the path zig-zags. */
export function onlineTrajectory(m: Meals, eps: number, passes: number, start: Weights): Weights[] {
  const path: Weights[] = [[...start]];
  const w: Weights = [...start];
  for (let p = 0; p < passes; p++) {
    for (let i = 0; i < m.n; i++) {
      const x1 = m.x[2 * i], x2 = m.x[2 * i + 1];
      const r = m.t[i] - (w[0] * x1 + w[1] * x2);
      w[0] += eps * r * x1;
      w[1] += eps * r * x2;
      path.push([...w]);
    }
  }
  return path;
}

/** Length of a path in weight space: online learning's zig-zag makes its path longer than batch's. */
export function pathLength(path: readonly Weights[]): number {
  let sum = 0;
  for (let i = 1; i < path.length; i++) sum += Math.hypot(path[i][0] - path[i - 1][0], path[i][1] - path[i - 1][1]);
  return sum;
}
