// A student network learning a teacher network online (a fresh x ~ N(0, I) every step), trained by one
// rule until its error falls below a target: the setting of Werfel, Xie & Seung 2005. Shared by the
// perturbation experiments.
import type { Backend } from '../src/tensor/backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import type { DataSplits } from '../src/data/dataset.js';
import { lossAndGrad } from '../src/nn/losses.js';
import { createNetwork, createWorkspace, forward, type Network, type NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER, makeOptimizer } from '../src/optim/optimizer.js';
import type { LearningRule } from '../src/rules/rule.js';
import { DEFAULT_TRAIN, initialState, runStreams, singleStageTrainer } from '../src/train/trainer.js';

/** A student–teacher task. */
export interface TeacherTask {
  /** The student's (and teacher's) architecture. */
  spec: NetworkSpec;
  /** Linear networks start the student at W = 0, b = 0 (Werfel et al.); non-linear ones at random. */
  zeroInit: boolean;
  /** Examples per update. Werfel et al. learn from one example at a time. */
  batch: number;
  /** Stop when the normalised error (loss / loss of predicting 0) is at most this. */
  target: number;
  /** Give up after this many updates. */
  maxUpdates: number;
}

export type Outcome = { kind: 'reached'; updates: number } | { kind: 'capped' } | { kind: 'diverged' };

/** The error of a student, normalised by the loss of the zero predictor: exact for linear networks,
 * on a fixed test set otherwise. */
type ErrorOf = (student: Network) => number;

function errorMeasure(be: Backend, task: TeacherTask, teacher: Network, testX: Matrix): ErrorOf {
  const linear = task.spec.sizes.length === 2 && task.spec.output === 'linear';
  if (linear) {
    // For x ~ N(0, I): E ½|(W − T)x + b − b_T|² = ½(‖W − T‖² + ‖b − b_T‖²); the zero predictor's is ½‖T‖² + ½‖b_T‖².
    const T = teacher.layers[0];
    const zero = sumSq(T.W.data) + sumSq(T.b);
    return (s) => (sqDiff(s.layers[0].W.data, T.W.data) + sqDiff(s.layers[0].b, T.b)) / zero;
  }
  const ws = createWorkspace(task.spec, testX.rows);
  const testY = matrix(testX.rows, teacher.spec.sizes[teacher.spec.sizes.length - 1]);
  testY.data.set(forward(be, teacher, testX, ws).data);
  const zero = lossAndGrad('mse', matrix(testY.rows, testY.cols), testY, null);
  return (s) => lossAndGrad('mse', forward(be, s, testX, ws), testY, null) / zero;
}

/** Trains a student with `rule` at learning rate lr; counts updates until the normalised error ≤ target. */
export function runToTarget(be: Backend, task: TeacherTask, rule: LearningRule, lr: number, seed: number): Outcome {
  const streams = runStreams(seed);
  const { spec } = task;
  const inputs = spec.sizes[0], outputs = spec.sizes[spec.sizes.length - 1];
  // The teacher: weights U[−1, 1], biases 0, from the data stream (the same for every rule and lr).
  const dataRng = streams.data;
  const teacher = createNetwork({ ...spec, init: { kind: 'uniform', omega: 1 } }, dataRng);
  const testX = matrix(1000, inputs, dataRng.fillNormal(new Float32Array(1000 * inputs), 0, 1));
  const errorOf = errorMeasure(be, task, teacher, testX);
  const student = createNetwork(spec, streams.init);
  if (task.zeroInit) student.layers.forEach((p) => { p.W.data.fill(0); p.b.fill(0); });
  const x = matrix(task.batch, inputs), y = matrix(task.batch, outputs);
  const placeholder: DataSplits = { train: { name: 'teacher', x, y }, test: { name: 'teacher', x, y } }; // shapes only: batches come from the stream below
  const optimizer = makeOptimizer({ ...DEFAULT_OPTIMIZER, name: 'sgd' });
  const trainer = singleStageTrainer(be, rule, optimizer, placeholder, { ...DEFAULT_TRAIN, epochs: 1, lr, batchSize: task.batch }, initialState(student, rule, optimizer, streams, { trainExamples: task.batch }));
  const teacherWs = createWorkspace(spec, task.batch);
  const linear = spec.sizes.length === 2;
  let next = 1;
  for (let k = 1; k <= task.maxUpdates; k++) {
    streams.order.fillNormal(x.data, 0, 1); // the order stream supplies the inputs: a fresh example every step
    y.data.set(forward(be, teacher, x, teacherWs).data);
    const loss = trainer.trainBatch({ x, y }, lr);
    if (!Number.isFinite(loss) || loss > 1e12) return { kind: 'diverged' };
    // The exact linear error is as cheap as a step: check every update. Test-set errors: every ~2 %.
    if (k >= next) {
      const e = errorOf(trainer.state.net);
      if (!Number.isFinite(e) || e > 1e6) return { kind: 'diverged' };
      if (e <= task.target) return { kind: 'reached', updates: k };
      next = linear ? k + 1 : Math.max(k + 1, Math.ceil(k * 1.02));
    }
  }
  return { kind: 'capped' };
}

export interface Tuned {
  lr: number;
  /** Updates to target per seed at the chosen lr (null: not reached). */
  updates: (number | null)[];
  /** Learning rates tried, with their score. */
  tried: { lr: number; score: number }[];
  /** The chosen lr is the smallest or largest tried: the grid did not bracket the optimum. */
  atEdge: boolean;
}

/**
 * The learning rate that reaches the target in the fewest updates (geometric mean over seeds), searched
 * on a factor-√2 grid: from `guess`, walk up while it helps, else down while it helps. A seed that does
 * not reach the target scores 2·maxUpdates (capped) or ∞ (diverged).
 */
export function tuneLr(
  be: Backend, task: TeacherTask, makeRule: () => LearningRule, guess: number, seeds: readonly number[],
): Tuned {
  const results = new Map<number, (number | null)[]>();
  const tried: { lr: number; score: number }[] = [];
  const score = (lr: number): number => {
    const outcomes = seeds.map((s) => runToTarget(be, task, makeRule(), lr, s));
    results.set(lr, outcomes.map((o) => (o.kind === 'reached' ? o.updates : null)));
    const value = outcomes.some((o) => o.kind === 'diverged') ? Infinity
      : Math.exp(outcomes.reduce((s, o) => s + Math.log(o.kind === 'reached' ? o.updates : 2 * task.maxUpdates), 0) / outcomes.length);
    tried.push({ lr, score: value });
    return value;
  };
  let best = guess, bestScore = score(guess);
  for (const factor of [Math.SQRT2, Math.SQRT1_2]) {
    let moved = false;
    for (let lr = best * factor, s = score(lr); s < bestScore; lr *= factor, s = score(lr)) {
      best = lr; bestScore = s; moved = true;
    }
    if (moved) break; // walking up helped, so walking down from the new best cannot (scores are ~unimodal)
  }
  const lrs = tried.map((t) => t.lr);
  return { lr: best, updates: results.get(best) ?? [], tried, atEdge: best === Math.min(...lrs) || best === Math.max(...lrs) };
}

function sumSq(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

function sqDiff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}
