import type { Rng } from '../random.js';
import type { DataSplits } from './dataset.js';
import { cafeteria, linearTeacher, twoSpirals, xor } from './synthetic.js';

/** The synthetic tasks known by name to the CLI and the lab. */
export const SYNTHETIC_TASKS = ['xor', 'spirals', 'linear', 'cafeteria'] as const;
export type SyntheticTask = (typeof SYNTHETIC_TASKS)[number];

export function isSyntheticTask(name: string): name is SyntheticTask {
  return (SYNTHETIC_TASKS as readonly string[]).includes(name);
}

/** A synthetic task with its default sizes, drawn from a split of `rng` (the run's data stream), so the
 * CLI and the lab make the same data from the same seed. Only xor, which is fixed, needs no rng. */
export function syntheticTask(name: SyntheticTask, rng?: Rng): DataSplits {
  if (name === 'xor') return xor();
  if (!rng) throw new Error(`the synthetic task '${name}' needs a random stream (pass the run's data stream)`);
  switch (name) {
    case 'spirals':
      return twoSpirals(rng.split());
    case 'linear': {
      const { train, test } = linearTeacher(rng.split());
      return { train, test };
    }
    case 'cafeteria': {
      const { train, test } = cafeteria(rng.split());
      return { train, test };
    }
  }
}
