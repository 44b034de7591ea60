import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchTrajectory, errorAt, errorSurface, makeMeals, onlineTrajectory, pathLength, surfaceMinimum, type Weights,
} from '../lab/src/cafeteria/delta-rule-math.js';

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol;

test('cafeteria: the error surface is the mean squared residual, and its minimum is the true prices', () => {
  const meals = makeMeals([50, 100], 0, 1);
  const s = errorSurface(meals);
  const w: Weights = [30, 70];
  let direct = 0;
  for (let i = 0; i < meals.n; i++) direct += (meals.t[i] - w[0] * meals.x[2 * i] - w[1] * meals.x[2 * i + 1]) ** 2;
  assert.ok(close(errorAt(s, w), direct / (2 * meals.n), 1e-9));
  const m = surfaceMinimum(s);
  assert.ok(m && close(m[0], 50, 1e-6) && close(m[1], 100, 1e-6), `minimum ${m}`);
  assert.ok(close(errorAt(s, [50, 100]), 0, 1e-9));
});

test('cafeteria: batch and online delta rule both find uncorrelated prices; online zig-zags', () => {
  const meals = makeMeals([50, 100], 0, 1);
  const batch = batchTrajectory(meals, 0.002, 200, [0, 0]).at(-1) as Weights;
  const online = onlineTrajectory(meals, 0.002, 200, [0, 0]).at(-1) as Weights;
  assert.ok(close(batch[0], 50, 0.5) && close(batch[1], 100, 0.5), `batch ${batch}`);
  assert.ok(close(online[0], 50, 5) && close(online[1], 100, 5), `online ${online}`);
  // The batch rule is steepest descent: the error falls at every pass (small ε).
  const s = errorSurface(meals);
  const path = batchTrajectory(meals, 0.002, 20, [0, 0]);
  for (let i = 1; i < path.length; i++) assert.ok(errorAt(s, path[i]) < errorAt(s, path[i - 1]));
  assert.ok(pathLength(onlineTrajectory(meals, 0.002, 20, [0, 0])) > pathLength(path), 'online travels further to get there');
});

test('cafeteria: with fully correlated portions the sum is learned but the split is not identifiable', () => {
  const meals = makeMeals([50, 100], 1, 1);
  assert.equal(surfaceMinimum(errorSurface(meals)), null);
  const [c, k] = batchTrajectory(meals, 0.002, 300, [0, 0]).at(-1) as Weights;
  assert.ok(close(c + k, 150, 0.5), `sum ${c + k}`);
  assert.ok(close(c, k, 1e-6), `from (0, 0) the split stays even: ${c}, ${k}`);
});
