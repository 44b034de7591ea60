import type { Matrix } from '../tensor/matrix.js';

/** One example's hidden activities h_l and the targets ĥ_l a target-propagation rule set for them in one step
 * (StepResult.targets), copied out of the step's buffers: activity[l] and target[l] for l = 0 … L−2. */
export interface ExampleTargets {
  /** The example's index in the training set the step's batch came from; null when the batch does not say. */
  example: number | null;
  activity: Float32Array[];
  target: Float32Array[];
}

/** Row `row` of a step's activities and of its targets, copied (indices: the batch's example indices). */
export function exampleTargets(activities: readonly Matrix[], targets: readonly Matrix[], row: number, indices?: Int32Array): ExampleTargets {
  const rows = targets[0]?.rows ?? 0;
  if (!(Number.isInteger(row) && row >= 0 && row < rows)) throw new RangeError(`the step's batch has rows 0–${rows - 1}, not ${row}`);
  const pick = (m: Matrix) => m.data.slice(row * m.cols, (row + 1) * m.cols);
  return { example: indices?.[row] ?? null, activity: targets.map((_, l) => pick(activities[l])), target: targets.map(pick) };
}
