import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Dataset } from './dataset.js';
import { DataError } from './errors.js';

/** Rows of a [n, classes] matrix with a 1 in column labels[i] and 0 elsewhere. */
export function oneHot(labels: Int32Array, classes: number): Matrix {
  if (!Number.isInteger(classes) || classes < 1) throw new Error(`oneHot: classes must be a positive integer, got ${classes}`);
  const y = matrix(labels.length, classes);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (c < 0 || c >= classes) throw new DataError(`oneHot: label ${c} at index ${i} is outside 0..${classes - 1}`);
    y.data[i * classes + c] = 1;
  }
  return y;
}

/**
 * A classification Dataset: inputs x, labels, and one-hot targets built from the labels; `shape`, for
 * images, is one example's [channels, height, width].
 */
export function classificationSet(name: string, x: Matrix, labels: Int32Array, classes: number, shape?: readonly number[]): Dataset {
  if (x.rows !== labels.length) {
    throw new DataError(`${name}: ${x.rows} input rows but ${labels.length} labels`);
  }
  const ds: Dataset = { name, x, y: oneHot(labels, classes), labels };
  if (shape) ds.shape = shape;
  return ds;
}
