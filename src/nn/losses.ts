import type { Matrix } from '../tensor/matrix.js';
import { assertSameShape } from '../tensor/matrix.js';

/** softmax_xent: the network's output is logits; mse: the output is compared to the target directly. */
export type LossKind = 'softmax_xent' | 'mse';
export const LOSS_KINDS: readonly LossKind[] = ['softmax_xent', 'mse'];

/**
 * Mean loss over the rows of a batch. If `grad` is given it receives dL/d(output), already divided by the
 * batch size, so that parameter gradients are gradients of the mean loss.
 */
export function lossAndGrad(kind: LossKind, output: Matrix, target: Matrix, grad: Matrix | null): number {
  assertSameShape(output, target, `${kind} loss`);
  if (grad) assertSameShape(output, grad, `${kind} loss gradient`);
  return kind === 'softmax_xent' ? softmaxCrossEntropy(output, target, grad) : meanSquaredError(output, target, grad);
}

/**
 * The loss of each row on its own, out[i] = ℓ_i (lossAndGrad's value is their mean, up to rounding): for
 * rules that score every example separately, such as node perturbation. Returns out.
 */
export function rowLosses(kind: LossKind, output: Matrix, target: Matrix, out: Float64Array): Float64Array {
  assertSameShape(output, target, `${kind} row losses`);
  if (out.length < output.rows) throw new Error(`${kind} row losses: ${output.rows} rows do not fit in ${out.length} values`);
  const cols = output.cols;
  const row = (m: Matrix, i: number): Matrix => ({ rows: 1, cols, data: m.data.subarray(i * cols, (i + 1) * cols) });
  // One-row views through the same code as lossAndGrad, so the two cannot disagree on what a loss is.
  for (let i = 0; i < output.rows; i++) out[i] = lossAndGrad(kind, row(output, i), row(target, i), null);
  return out;
}

/** L = −Σ_j t_j log softmax(z)_j per row; dL/dz = softmax(z) − t. */
function softmaxCrossEntropy(logits: Matrix, target: Matrix, grad: Matrix | null): number {
  const { rows, cols } = logits;
  const z = logits.data, t = target.data;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    // NOTE: subtract the row maximum so exp never overflows; log-sum-exp stays exact.
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (z[row + j] > max) max = z[row + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(z[row + j] - max);
    const logSum = Math.log(sum) + max;
    let targetMass = 0;
    for (let j = 0; j < cols; j++) {
      total -= t[row + j] * (z[row + j] - logSum);
      targetMass += t[row + j];
    }
    if (grad) {
      for (let j = 0; j < cols; j++) {
        grad.data[row + j] = (targetMass * Math.exp(z[row + j] - logSum) - t[row + j]) / rows;
      }
    }
  }
  return rows === 0 ? 0 : total / rows;
}

/** L = ½ Σ_j (o_j − t_j)² per row; dL/do = o − t. */
function meanSquaredError(output: Matrix, target: Matrix, grad: Matrix | null): number {
  const o = output.data, t = target.data, rows = output.rows;
  let total = 0;
  for (let i = 0; i < rows * output.cols; i++) {
    const d = o[i] - t[i];
    total += d * d;
    if (grad) grad.data[i] = d / rows;
  }
  return rows === 0 ? 0 : (0.5 * total) / rows;
}

/** Row-wise softmax into out (out may alias logits). */
export function softmax(logits: Matrix, out: Matrix): void {
  assertSameShape(logits, out, 'softmax');
  const { rows, cols } = logits;
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (logits.data[row + j] > max) max = logits.data[row + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += out.data[row + j] = Math.exp(logits.data[row + j] - max);
    for (let j = 0; j < cols; j++) out.data[row + j] /= sum;
  }
}

/** Index of the largest value in each row. */
export function argmaxRows(m: Matrix, out: Int32Array = new Int32Array(m.rows)): Int32Array {
  for (let i = 0; i < m.rows; i++) {
    let best = 0;
    const row = i * m.cols;
    for (let j = 1; j < m.cols; j++) if (m.data[row + j] > m.data[row + best]) best = j;
    out[i] = best;
  }
  return out;
}
