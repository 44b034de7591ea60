import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloneMatrix } from '../src/tensor/matrix.js';
import { cloneLayers, createNetwork, createWorkspace, zerosLike, type NetworkSpec } from '../src/nn/network.js';
import { Rng } from '../src/random.js';
import { RULE_IDS, createRule } from '../src/rules/registry.js';
import { xor } from '../src/data/synthetic.js';
import { createTrainer } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { evaluate } from '../src/metrics/classification.js';
import { availableBackends } from './helpers.js';

// Every registered rule, present and future, must pass these.
const spec: NetworkSpec = { sizes: [2, 8, 6, 2], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };
const be = availableBackends()[0];

function oneStep(id: string, seed: number) {
  const rng = Rng.fromSeed(seed);
  const net = createNetwork(spec, rng);
  const rule = createRule(id);
  const state = rule.init(net, rng.split());
  rule.prepareParams?.(net.layers, state);
  const { train } = xor();
  const batch = { x: cloneMatrix(train.x), y: cloneMatrix(train.y), labels: train.labels?.slice() };
  const paramsBefore = cloneLayers(net.layers);
  const result = rule.step({ backend: be, net, ws: createWorkspace(spec, 4), rng: rng.split(), grads: zerosLike(net.layers) }, state, batch);
  return { net, batch, train, paramsBefore, result };
}

for (const id of RULE_IDS) {
  test(`rule contract: ${id}`, () => {
    const { net, batch, train, paramsBefore, result } = oneStep(id, 1);
    assert.ok(Number.isFinite(result.loss), 'finite loss');
    assert.equal(result.grads.length, net.layers.length);
    result.grads.forEach((g, l) => {
      assert.deepEqual([g.W.rows, g.W.cols, g.b.length], [net.layers[l].W.rows, net.layers[l].W.cols, net.layers[l].b.length], 'update shaped like the parameters');
      assert.ok(g.W.data.every(Number.isFinite) && g.b.every(Number.isFinite), 'finite update');
      assert.ok(g.W.data.some((v) => v !== 0), `layer ${l + 1} gets a non-zero update`);
    });
    assert.deepEqual(net.layers, paramsBefore, 'step leaves the parameters alone');
    assert.deepEqual(batch.x, train.x, 'step leaves the inputs alone');
    assert.deepEqual(batch.y, train.y, 'step leaves the targets alone');
    assert.deepEqual(oneStep(id, 1).result.grads, result.grads, 'same seed, same update');
    assert.notDeepEqual(oneStep(id, 2).result.grads, result.grads, 'different seed, different update');
  });

  test(`rule contract: ${id} lowers the XOR loss`, () => {
    const run = {
      rule: id as (typeof RULE_IDS)[number], ruleOptions: {}, seed: 3, spec,
      optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' as const },
      train: { ...DEFAULT_TRAIN, epochs: 300, batchSize: 4, lr: 0.05 },
    };
    const data = xor();
    const trainer = createTrainer(run, be, data);
    const before = evaluate(be, trainer.state.net, data.train).loss;
    trainer.run();
    const after = evaluate(be, trainer.state.net, data.train).loss;
    assert.ok(after < 0.5 * before, `XOR loss ${before} → ${after}`);
  });
}
