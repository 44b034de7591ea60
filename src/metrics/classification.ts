import type { Backend } from '../tensor/backend.js';
import { topRows, type Matrix } from '../tensor/matrix.js';
import type { Dataset } from '../data/dataset.js';
import { argmaxRows, lossAndGrad } from '../nn/losses.js';
import { modelFor } from '../nn/model.js';
import type { Network } from '../nn/network.js';

export interface Evaluation {
  /** Mean loss over the set. */
  loss: number;
  /** Fraction of examples whose arg-max output is not their label; null for regression sets. */
  error: number | null;
}

/** Loss and classification error of a network on a whole data set, in chunks of `chunk` rows. */
export function evaluate(be: Backend, net: Network, ds: Dataset, chunk = 1000): Evaluation {
  const n = ds.x.rows;
  if (n === 0) throw new Error('evaluate: the data set is empty (nothing to score): give it at least one example');
  const rows = Math.min(chunk, n);
  const predictor = modelFor(net).createPredictor(net, rows);
  const predicted = new Int32Array(rows);
  let lossSum = 0, wrong = 0;
  for (let start = 0; start < n; start += rows) {
    const count = Math.min(rows, n - start);
    const x = slice(ds.x, start, count), y = slice(ds.y, start, count);
    const out = predictor.predict(be, net, x);
    lossSum += lossAndGrad(net.spec.loss, out, y, null) * count;
    if (ds.labels) {
      argmaxRows(out, predicted);
      for (let i = 0; i < count; i++) if (predicted[i] !== ds.labels[start + i]) wrong++;
    }
  }
  return { loss: lossSum / n, error: ds.labels ? wrong / n : null };
}

function slice(m: Matrix, start: number, count: number): Matrix {
  return topRows({ rows: m.rows - start, cols: m.cols, data: m.data.subarray(start * m.cols) }, count);
}
