import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { loadCheckpoint, saveCheckpoint } from '../node/files.js';
import { xor } from '../src/data/synthetic.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN, type TrainState } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { paramList } from '../src/nn/network.js';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { RULE_IDS } from '../src/rules/registry.js';

const run: RunConfig = {
  rule: 'bp', ruleOptions: {}, seed: 4,
  spec: { sizes: [2, 5, 2], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } },
  optimizer: { ...DEFAULT_OPTIMIZER, name: 'adam' },
  train: { ...DEFAULT_TRAIN, epochs: 6, batchSize: 2, lr: 0.05 },
};

test('plain data with typed arrays round-trips through the byte format', () => {
  const value = { a: 1, b: [new Float32Array([1.5, -2]), { c: new Int32Array([7]), d: 'x' }], e: null, f: NaN, g: new Float64Array([Math.PI]) };
  const back = decodeCheckpoint(encodeCheckpoint(value)) as typeof value;
  assert.deepEqual(back.b[0], new Float32Array([1.5, -2]));
  assert.deepEqual((back.b[1] as { c: Int32Array }).c, new Int32Array([7]));
  assert.ok(Number.isNaN(back.f));
  assert.equal(back.g[0], Math.PI);
});

test('resuming from a checkpoint gives exactly the uninterrupted run', () => {
  const be = createJsBackend();
  const straight = createTrainer(run, be, xor());
  straight.run();
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-ckpt-'));
  const first = createTrainer({ ...run, train: { ...run.train, epochs: 3 } }, be, xor());
  first.run();
  saveCheckpoint(join(dir, 'c.ngrad'), { state: first.state });
  const { state } = loadCheckpoint(join(dir, 'c.ngrad')) as { state: TrainState };
  assert.equal(state.epoch, 3);
  const second = createTrainer(run, be, xor(), state);
  second.run();
  const values = (t: typeof straight) => paramList(t.state.net.layers).map((p) => [...p.value]);
  assert.deepEqual(values(second), values(straight));
  assert.deepEqual(readdirSync(dir), ['c.ngrad'], 'no temporary file is left behind');
});

test('corrupt and truncated checkpoints are refused with a clear message', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-ckpt-'));
  const good = encodeCheckpoint({ w: new Float32Array(100) });
  writeFileSync(join(dir, 'trunc.ngrad'), good.subarray(0, good.length - 100));
  assert.throws(() => loadCheckpoint(join(dir, 'trunc.ngrad')), /trunc\.ngrad: not a readable ngrad checkpoint \(truncated data\)/);
  writeFileSync(join(dir, 'junk.ngrad'), 'hello world, not a checkpoint');
  assert.throws(() => loadCheckpoint(join(dir, 'junk.ngrad')), /not a readable ngrad checkpoint \(wrong magic\)/);
  assert.throws(() => loadCheckpoint(join(dir, 'missing.ngrad')), /cannot read checkpoint/);
});

for (const rule of RULE_IDS) {
  test(`resume is bit-identical for ${rule}: parameters, rule state, optimizer and RNG through the byte format`, () => {
    const be = createJsBackend();
    const base: RunConfig = { ...run, rule, optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' }, train: { ...run.train, epochs: 4, alignEvery: 3 } };
    const straight = createTrainer(base, be, xor());
    straight.run();
    const first = createTrainer({ ...base, train: { ...base.train, epochs: 2 } }, be, xor());
    first.run();
    const { state } = decodeCheckpoint(encodeCheckpoint({ state: first.state })) as { state: TrainState };
    const second = createTrainer(base, be, xor(), state);
    second.run();
    assert.deepEqual(second.state.net.layers, straight.state.net.layers);
    assert.deepEqual(second.state.ruleState, straight.state.ruleState);
    assert.deepEqual(second.state.optimizerState, straight.state.optimizerState);
  });
}
