import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xor } from '../src/data/synthetic.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { TrainingDivergedError, type TrainEvent } from '../src/train/events.js';
import { paramList } from '../src/nn/network.js';
import { linearTeacher } from '../src/data/synthetic.js';
import { Rng } from '../src/random.js';
import { availableBackends } from './helpers.js';

const xorRun = (seed: number, lr = 0.5): RunConfig => ({
  rule: 'bp', ruleOptions: {}, seed,
  spec: { sizes: [2, 8, 2], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } },
  optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
  train: { ...DEFAULT_TRAIN, epochs: 200, batchSize: 4, lr },
});

const flatParams = (run: RunConfig, backendIndex: number) => {
  const be = availableBackends()[backendIndex];
  const t = createTrainer(run, be, xor());
  t.run();
  return paramList(t.state.net.layers).map((p) => [...p.value]);
};

for (const [i, be] of availableBackends().entries()) {
  test(`training is deterministic under a seed (${be.name})`, () => {
    const a = flatParams(xorRun(1), i), b = flatParams(xorRun(1), i), c = flatParams(xorRun(2), i);
    assert.deepEqual(a, b, 'same seed, same backend: bit-identical parameters');
    assert.notDeepEqual(a, c, 'different seed: different parameters');
  });

  test(`backprop learns XOR and emits events in order (${be.name})`, () => {
    const t = createTrainer(xorRun(3), be, xor());
    const events: TrainEvent[] = [];
    t.run((e) => events.push(e));
    const test = t.evaluate(t.data.test);
    assert.equal(test.error, 0);
    assert.ok(test.loss < 0.05, `XOR loss ${test.loss}`);
    assert.equal(events.filter((e) => e.type === 'epoch').length, 200);
    assert.equal(events.at(-1)?.type, 'done');
    assert.equal(events.at(-2)?.type, 'eval');
  });
}

test('a diverging run stops with an error naming epoch and batch', () => {
  const data = linearTeacher(Rng.fromSeed(1), { inputs: 30, outputs: 10, n: 200, nTest: 50 });
  const run: RunConfig = {
    ...xorRun(1, 1e6),
    spec: { sizes: [30, 20, 10], hidden: 'linear', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } },
    train: { ...DEFAULT_TRAIN, epochs: 5, batchSize: 20, lr: 1e6 },
  };
  const t = createTrainer(run, availableBackends()[0], data);
  assert.throws(() => t.run(), (err: unknown) => {
    assert.ok(err instanceof TrainingDivergedError);
    assert.match(err.message, /^training diverged at epoch 1, batch \d+: loss is (NaN|Infinity)/);
    return true;
  });
});

test('a network that does not fit the data is refused with the fix', () => {
  const run = { ...xorRun(1), spec: { ...xorRun(1).spec, sizes: [3, 4, 2] } };
  assert.throws(() => createTrainer(run, availableBackends()[0], xor()), /does not fit the training data \(2 inputs, 2 outputs\): use --arch 2-…-2/);
});
