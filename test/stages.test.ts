import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { twoSpirals } from '../src/data/synthetic.js';
import { paramList, type NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { makeOptimizer } from '../src/optim/optimizer.js';
import { Rng } from '../src/random.js';
import { backprop } from '../src/rules/backprop.js';
import type { LearningRule } from '../src/rules/rule.js';
import type { TrainEvent } from '../src/train/events.js';
import { createTrainer, seededTrainer, type RunConfig } from '../src/train/run.js';
import { singleStage } from '../src/train/stage.js';
import { DEFAULT_TRAIN, Trainer, type TrainState } from '../src/train/trainer.js';
import { availableBackends } from './helpers.js';

const be = availableBackends()[0];
const spec: NetworkSpec = { sizes: [2, 12, 10, 2], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };
const data = twoSpirals(Rng.fromSeed(5), { n: 120, nTest: 40 });

/** Stage 1: backprop on the output layer only (hidden layers stay random features); stage 2: feedback
 * alignment on every layer with Adam. */
const twoStages: RunConfig = {
  rule: 'fa', ruleOptions: {}, seed: 4, spec,
  optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
  train: { ...DEFAULT_TRAIN, epochs: 5, batchSize: 16, lr: 0.1, schedule: { kind: 'cosine', epochs: 5, minFactor: 0 } },
  stages: [
    { rule: 'bp', ruleOptions: {}, epochs: 2, trains: [3] },
    { rule: 'fa', ruleOptions: {}, epochs: 3, optimizer: { ...DEFAULT_OPTIMIZER, name: 'adam' }, lr: 0.01 },
  ],
};

const roundTrip = (state: TrainState): TrainState => decodeCheckpoint(encodeCheckpoint(state)) as TrainState;
const flat = (state: TrainState) => paramList(state.net.layers).map((p) => [...p.value]);

test('stages: a two-stage run trains the layers each stage names, with its own rule and optimizer', () => {
  const trainer = createTrainer(twoStages, be, data);
  const initial = flat(trainer.state);
  const events: TrainEvent[] = [];
  let afterStage1: number[][] | null = null;
  trainer.run((e) => events.push(e), (state) => { if (state.epoch === 2) afterStage1 = flat(state); });
  assert.ok(afterStage1);
  const s1 = afterStage1 as number[][];
  assert.deepEqual(s1.slice(0, 4), initial.slice(0, 4), 'stage 1 leaves layers 1 and 2 alone');
  assert.notDeepEqual(s1.slice(4), initial.slice(4), 'stage 1 trains layer 3');
  const final = flat(trainer.state);
  assert.notDeepEqual(final.slice(0, 4), s1.slice(0, 4), 'stage 2 trains every layer');
  const stage = events.filter((e) => e.type === 'stage');
  assert.deepEqual(stage, [{ type: 'stage', stage: 2, rule: 'fa', epoch: 2, epochs: 3 }]);
  assert.deepEqual(events.filter((e) => e.type === 'epoch').map((e) => e.epoch), [1, 2, 3, 4, 5], 'epochs count over the whole run');
  assert.equal(trainer.state.stage, 1);
  assert.equal(trainer.state.step, 3 * Math.ceil(120 / 16), 'the optimizer step count restarts with the stage (Adam\'s bias correction)');
  assert.ok(trainer.finished);
});

test('stages: resuming from a checkpoint inside either stage gives bit-identical results', () => {
  const whole = createTrainer(twoStages, be, data);
  whole.run();
  for (const at of [1, 2, 3]) {
    let saved: TrainState | null = null;
    const first = createTrainer(twoStages, be, data);
    first.run(() => {}, (state) => { if (state.epoch === at && !saved) saved = roundTrip(state); });
    const resumed = createTrainer(twoStages, be, data, saved as unknown as TrainState);
    resumed.run();
    assert.deepEqual(flat(resumed.state), flat(whole.state), `resumed after epoch ${at}`);
    assert.deepEqual(resumed.state.ruleState, whole.state.ruleState);
  }
});

test('stages: a stage naming a layer the network lacks is refused', () => {
  const bad: RunConfig = { ...twoStages, stages: [{ rule: 'bp', ruleOptions: {}, epochs: 1, trains: [4] }] };
  assert.throws(() => createTrainer(bad, be, data), /a stage trains layer 4, but the network has layers 1–3/);
});

/** A rule with per-example state: how often each training example was seen, and the loss it last had. */
interface VisitState { visits: Int32Array; lastLoss: Float32Array }
function visitCounter(): LearningRule<VisitState> {
  const bp = backprop();
  return {
    id: 'visits',
    locality: bp.locality,
    init(_net, _rng, info) {
      if (!info) throw new Error('visits needs the number of training examples');
      return { visits: new Int32Array(info.trainExamples), lastLoss: new Float32Array(info.trainExamples) };
    },
    step(ctx, state, batch) {
      const result = bp.step(ctx, {}, batch);
      const indices = batch.indices as Int32Array;
      indices.forEach((i, r) => {
        // The batch's row r really is training example i.
        for (let c = 0; c < batch.x.cols; c++) assert.equal(batch.x.data[r * batch.x.cols + c], data.train.x.data[i * batch.x.cols + c]);
        state.visits[i]++;
        state.lastLoss[i] = result.loss;
      });
      return { ...result, state };
    },
  };
}

test('per-example state: batches carry their example indices; state indexed by them is checkpointed and resumed', () => {
  const config = { spec, seed: 2, optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' as const }, train: { ...DEFAULT_TRAIN, epochs: 3, batchSize: 16, lr: 0.1 } };
  const whole = seededTrainer(visitCounter(), config, be, data);
  let saved: TrainState | null = null;
  whole.run(() => {}, (state) => { if (state.epoch === 1) saved = roundTrip(state); });
  const visits = (whole.state.ruleState as VisitState).visits;
  assert.ok(visits.every((v) => v === 3), 'every example seen once per epoch');
  const rule = visitCounter();
  const resumed = new Trainer(be, singleStage(rule, makeOptimizer(config.optimizer), config.train), data, saved as unknown as TrainState);
  assert.ok((resumed.state.ruleState as VisitState).visits.every((v) => v === 1), 'the checkpoint holds the per-example state');
  resumed.run();
  assert.deepEqual(resumed.state.ruleState, whole.state.ruleState);
  assert.deepEqual(flat(resumed.state), flat(whole.state));
});
