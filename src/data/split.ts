import { matrix, topRows, gatherRows } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { DataSplits, Dataset } from './dataset.js';
import { DataError } from './errors.js';

/** The rows of ds at `indices`, in that order, copied into a new Dataset called `name`. */
export function selectRows(ds: Dataset, indices: Int32Array, name: string): Dataset {
  const x = matrix(indices.length, ds.x.cols);
  const y = matrix(indices.length, ds.y.cols);
  gatherRows(ds.x, indices, x);
  gatherRows(ds.y, indices, y);
  const out: Dataset = { name, x, y, ...describedBy(ds) };
  if (ds.labels) {
    const labels = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) labels[i] = ds.labels[indices[i]];
    out.labels = labels;
  }
  return out;
}

/** What a subset keeps of ds besides its rows: the image shape and class names, where ds has them. */
function describedBy(ds: Dataset): Pick<Dataset, 'shape' | 'classNames'> {
  const out: Pick<Dataset, 'shape' | 'classNames'> = {};
  if (ds.shape) out.shape = ds.shape;
  if (ds.classNames) out.classNames = ds.classNames;
  return out;
}

/**
 * Turns a size into a row count: a number in (0, 1) is a fraction of n (rounded, at least 1), an integer
 * ≥ 1 is a count. So 1 means one row, not all of them.
 */
export function resolveSize(size: number, n: number, what: string): number {
  if (size > 0 && size < 1) return Math.max(1, Math.round(size * n));
  if (Number.isInteger(size) && size >= 1) return size;
  throw new DataError(`${what} must be a fraction in (0, 1) or a whole number of rows ≥ 1, got ${size}`);
}

/** 'mnist/train' → 'mnist/validation'; any other name gets '/validation' appended. */
function validationName(trainName: string): string {
  return `${trainName.replace(/\/train$/, '')}/validation`;
}

/**
 * Holds out a random validation set from a training set. `size` is a row count (integer ≥ 1) or a
 * fraction in (0, 1). Which rows go where depends only on the rng's state; both parts keep the original
 * row order, so the training part of a seeded run is stable. Throws if the split would leave no
 * training rows.
 */
export function validationSplit(train: Dataset, size: number, rng: Rng): { train: Dataset; validation: Dataset } {
  const n = train.x.rows;
  const k = resolveSize(size, n, 'validation size');
  if (k >= n) throw new DataError(`validation size ${k} leaves no training rows: ${train.name} has only ${n}; hold out fewer (--validation below ${n})`);
  const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const held = order.slice(0, k).sort();
  const kept = order.slice(k).sort();
  return { train: selectRows(train, kept, train.name), validation: selectRows(train, held, validationName(train.name)) };
}

/**
 * At most n rows of ds: the first n (shared storage, no copy), or n chosen at random when an rng is given
 * (kept in original order). Returns ds itself when it has n rows or fewer.
 */
export function subset(ds: Dataset, n: number, rng?: Rng): Dataset {
  if (!Number.isInteger(n) || n < 0) throw new DataError(`subset size must be a non-negative integer, got ${n}`);
  if (n >= ds.x.rows) return ds;
  if (rng) {
    const order = rng.shuffle(Int32Array.from({ length: ds.x.rows }, (_, i) => i));
    return selectRows(ds, order.slice(0, n).sort(), ds.name);
  }
  const out: Dataset = { name: ds.name, x: topRows(ds.x, n), y: topRows(ds.y, n), ...describedBy(ds) };
  if (ds.labels) out.labels = ds.labels.subarray(0, n);
  return out;
}

const shapeText = (shape: readonly number[] | undefined) => (!shape ? 'no image shape' : shape.length ? `images of ${shape.join('x')}` : 'an empty image shape');

/**
 * Checks that splits can be trained and tested on together: no part is empty, an image shape matches
 * the width of the examples, and validation and test have the training set's width, image shape, output
 * count and kind (classification or regression), so a mismatch is refused at load time rather than after
 * a whole epoch. Throws a one-line DataError naming the part.
 */
export function checkSplits(splits: DataSplits): void {
  const { train } = splits;
  const parts = [train, ...(splits.validation ? [splits.validation] : []), splits.test];
  for (const ds of parts) {
    const role = ds === train ? 'training' : ds === splits.test ? 'test' : 'validation';
    if (ds.x.rows === 0) throw new DataError(`${ds.name} is empty; a ${role} set needs at least one example`);
    if (ds.y.rows !== ds.x.rows) throw new DataError(`${ds.name}: ${ds.x.rows} inputs but ${ds.y.rows} targets`);
    if (ds.labels && ds.labels.length !== ds.x.rows) throw new DataError(`${ds.name}: ${ds.x.rows} inputs but ${ds.labels.length} labels`);
    if (ds.shape) {
      const size = ds.shape.reduce((a, b) => a * b, 1);
      if (ds.shape.length === 0 || !ds.shape.every((d) => Number.isInteger(d) && d >= 1) || size !== ds.x.cols) {
        throw new DataError(`${ds.name}: its image shape [${ds.shape.join(', ')}] does not hold its ${ds.x.cols} inputs per example (it needs positive sizes whose product is ${ds.x.cols})`);
      }
    }
    if (ds === train) continue;
    if (ds.x.cols !== train.x.cols) {
      throw new DataError(`${ds.name} has ${ds.x.cols} inputs per example but ${train.name} has ${train.x.cols}; use parts of the same data set`);
    }
    if (shapeText(ds.shape) !== shapeText(train.shape)) {
      throw new DataError(`${ds.name} has ${shapeText(ds.shape)} but ${train.name} has ${shapeText(train.shape)}; use parts of the same data set`);
    }
    if (ds.y.cols !== train.y.cols) {
      const what = train.labels ? 'classes' : 'outputs';
      throw new DataError(`${ds.name} has ${ds.y.cols} ${what} but ${train.name} has ${train.y.cols}; use parts of the same data set`);
    }
    if (!ds.labels !== !train.labels) {
      throw new DataError(`${ds.name} and ${train.name} are not both classification sets (one has labels, the other not); use parts of the same data set`);
    }
  }
}
