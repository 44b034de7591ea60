import { fromRows, matrix, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { DataSplits, Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { classificationSet } from './one-hot.js';

/*
 * Small tasks generated in memory, for tests, demos and experiments where MNIST would hide the effect.
 * Each generator draws training and test data from separate rng.split() streams, so changing the size
 * of one set does not change the other.
 */

/** Options for xor(). */
export interface XorOptions {
  /** Use inputs ±1 instead of 0/1 (zero inputs give a unit no signal to learn from). Default false. */
  signed?: boolean;
}

/**
 * The four XOR points. Inputs are 0/1 by default (±1 with `signed`); targets are 2-class one-hot with
 * label = a XOR b. There is nothing to generalise to, so test is the training set itself.
 */
export function xor(options: XorOptions = {}): DataSplits {
  const lo = options.signed ? -1 : 0;
  const x = fromRows([[lo, lo], [lo, 1], [1, lo], [1, 1]]);
  const train = classificationSet('xor', x, Int32Array.from([0, 1, 1, 0]), 2);
  return { train, test: train };
}

/** Options for twoSpirals(). */
export interface SpiralOptions {
  /** Training points, split evenly between the two classes. Default 400. */
  n?: number;
  /** Test points. Default n. */
  nTest?: number;
  /** Standard deviation of Gaussian noise added to each coordinate. Default 0.05. */
  noise?: number;
  /** Turns each arm makes around the centre. Default 2. */
  turns?: number;
}

/**
 * Two interleaved spiral arms in the plane (Lang & Witbrock's benchmark), label 0 and 1, points within
 * about [-1, 1]^2. Position along an arm is sqrt-uniform so points are spread roughly evenly by length.
 */
export function twoSpirals(rng: Rng, options: SpiralOptions = {}): DataSplits {
  const n = count(options.n ?? 400, 'spirals n');
  const nTest = count(options.nTest ?? n, 'spirals nTest');
  const noise = options.noise ?? 0.05;
  const turns = options.turns ?? 2;
  const make = (r: Rng, size: number, name: string): Dataset => {
    const x = matrix(size, 2);
    const labels = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const c = i % 2; // alternate, so each class gets half (an odd size gives class 0 one extra)
      const s = Math.sqrt(r.uniform()); // 0 at the centre, 1 at the arm's end
      const angle = s * turns * 2 * Math.PI + c * Math.PI;
      x.data[2 * i] = s * Math.cos(angle) + noise * r.normal();
      x.data[2 * i + 1] = s * Math.sin(angle) + noise * r.normal();
      labels[i] = c;
    }
    return classificationSet(name, x, labels, 2);
  };
  const trainRng = rng.split();
  const testRng = rng.split();
  return { train: make(trainRng, n, 'spirals/train'), test: make(testRng, nTest, 'spirals/test') };
}

/** Options for linearTeacher(). */
export interface LinearTeacherOptions {
  /** Input dimension. Default 30 (Lillicrap et al. 2016). */
  inputs?: number;
  /** Output dimension. Default 10 (Lillicrap et al. 2016). */
  outputs?: number;
  /** Training examples. Default 1000. */
  n?: number;
  /** Test examples. Default 1000. */
  nTest?: number;
  /** The teacher matrix, [outputs, inputs]. Default: entries drawn from U[-1, 1]. */
  T?: Matrix;
}

/**
 * Regression onto a fixed linear map, the task of Lillicrap et al. 2016 (feedback alignment): y = T·x
 * with x ~ N(0, I) and T [outputs, inputs] random unless given. No labels. Returns T so a run can
 * compare what it learned with the truth.
 */
export function linearTeacher(rng: Rng, options: LinearTeacherOptions = {}): DataSplits & { T: Matrix } {
  const inputs = options.T?.cols ?? count(options.inputs ?? 30, 'linear inputs');
  const outputs = options.T?.rows ?? count(options.outputs ?? 10, 'linear outputs');
  if (options.T && ((options.inputs ?? inputs) !== inputs || (options.outputs ?? outputs) !== outputs)) {
    throw new DataError(`linear teacher: T is ${outputs}x${inputs} but inputs=${options.inputs}, outputs=${options.outputs}`);
  }
  const n = count(options.n ?? 1000, 'linear n');
  const nTest = count(options.nTest ?? 1000, 'linear nTest');
  // Three streams so that T stays the same when n changes, and test data stays the same when n changes.
  const tRng = rng.split();
  const trainRng = rng.split();
  const testRng = rng.split();
  const T = options.T ?? matrix(outputs, inputs, tRng.fillUniform(new Float32Array(outputs * inputs), -1, 1));
  const make = (r: Rng, size: number, name: string): Dataset => {
    const x = matrix(size, inputs, r.fillNormal(new Float32Array(size * inputs), 0, 1));
    const y = matrix(size, outputs);
    for (let i = 0; i < size; i++) {
      for (let o = 0; o < outputs; o++) {
        let sum = 0; // in float64, rounded once, so y is T·x to float32 precision
        for (let j = 0; j < inputs; j++) sum += T.data[o * inputs + j] * x.data[i * inputs + j];
        y.data[i * outputs + o] = sum;
      }
    }
    return { name, x, y };
  };
  return { train: make(trainRng, n, 'linear/train'), test: make(testRng, nTest, 'linear/test'), T };
}

/** Options for cafeteria(). */
export interface CafeteriaOptions {
  /** True price of one portion of fish, chips and ketchup. Default [150, 50, 100] (Hinton's lecture). */
  prices?: readonly number[];
  /** Training meals. Default 200. */
  n?: number;
  /** Test meals. Default n. */
  nTest?: number;
  /** Largest number of portions of one item in a meal; each count is uniform on 0..maxPortions. Default 5. */
  maxPortions?: number;
  /**
   * In [0, 1]: the probability that a meal's ketchup portions are copied from its chips portions instead
   * of drawn independently. Since both are drawn from the same distribution this is also the expected
   * Pearson correlation between the two inputs; at 1 they are identical. Default 0.
   */
  correlation?: number;
}

/**
 * The cafeteria task from Hinton's lectures on the linear neuron: a meal is some portions of fish, chips
 * and ketchup (inputs, small non-negative integers) and the bill is Σ portions × true price (target,
 * regression, no labels). With `correlation` near 1 chips and ketchup nearly always come together, so
 * their separate prices are hard to identify: a way to study learning with correlated inputs.
 * Returns the true prices too.
 */
export function cafeteria(rng: Rng, options: CafeteriaOptions = {}): DataSplits & { prices: readonly number[] } {
  const prices = options.prices ?? [150, 50, 100];
  if (prices.length !== 3) throw new DataError(`cafeteria: need 3 prices (fish, chips, ketchup), got ${prices.length}`);
  const n = count(options.n ?? 200, 'cafeteria n');
  const nTest = count(options.nTest ?? n, 'cafeteria nTest');
  const maxPortions = options.maxPortions ?? 5;
  if (!Number.isInteger(maxPortions) || maxPortions < 1) throw new DataError(`cafeteria: maxPortions must be an integer ≥ 1, got ${maxPortions}`);
  const correlation = options.correlation ?? 0;
  if (!(correlation >= 0 && correlation <= 1)) throw new DataError(`cafeteria: correlation must be in [0, 1], got ${correlation}`);
  const make = (r: Rng, size: number, name: string): Dataset => {
    const x = matrix(size, 3);
    const y = matrix(size, 1);
    for (let i = 0; i < size; i++) {
      const fish = r.int(maxPortions + 1);
      const chips = r.int(maxPortions + 1);
      // Draw both numbers every time, so the stream (and so every other meal) does not depend on correlation.
      const copy = r.uniform() < correlation;
      const own = r.int(maxPortions + 1);
      const ketchup = copy ? chips : own;
      x.data.set([fish, chips, ketchup], 3 * i);
      y.data[i] = fish * prices[0] + chips * prices[1] + ketchup * prices[2];
    }
    return { name, x, y };
  };
  const trainRng = rng.split();
  const testRng = rng.split();
  return { train: make(trainRng, n, 'cafeteria/train'), test: make(testRng, nTest, 'cafeteria/test'), prices: [...prices] };
}

function count(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new DataError(`${what} must be a positive integer, got ${v}`);
  return v;
}
