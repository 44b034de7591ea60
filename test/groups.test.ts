import { test } from 'node:test';
import assert from 'node:assert/strict';
import { twoSpirals } from '../src/data/synthetic.js';
import type { NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER, type OptimizerName } from '../src/optim/optimizer.js';
import { Rng } from '../src/random.js';
import { angleDegrees, norm } from '../src/metrics/angles.js';
import type { FeedbackAlignmentState } from '../src/rules/feedback-alignment.js';
import type { KolenPollackState } from '../src/rules/kolen-pollack.js';
import type { WeightMirrorState } from '../src/rules/weight-mirror.js';
import type { RuleId } from '../src/rules/registry.js';
import type { RuleOptions } from '../src/rules/rule.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import type { GroupSettings } from '../src/train/stage.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { availableBackends } from './helpers.js';

const be = availableBackends()[0];
const spec: NetworkSpec = { sizes: [2, 16, 12, 2], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };
const data = twoSpirals(Rng.fromSeed(3), { n: 100, nTest: 20 });

function run(rule: RuleId, ruleOptions: RuleOptions, optimizer: OptimizerName, lr: number, epochs: number, extra: Partial<RunConfig> = {}): RunConfig {
  return {
    rule, ruleOptions, seed: 1, spec, optimizer: { ...DEFAULT_OPTIMIZER, name: optimizer },
    train: { ...DEFAULT_TRAIN, epochs, batchSize: 10, lr }, ...extra,
  };
}

const difference = (a: Float32Array, b: Float32Array) => norm(a.map((v, i) => v - b[i]));

test('kp: with SGD, B − W shrinks by exactly (1 − ηλ) per update (Akrout et al. 2019, eqs. 9–10)', () => {
  const lr = 0.1, decay = 0.5;
  const trainer = createTrainer(run('kp', { decay }, 'sgd', lr, 1), be, data);
  const B = (trainer.state.ruleState as KolenPollackState).B[2]!.data, W = trainer.state.net.layers[2].W.data;
  const before = difference(B, W);
  trainer.run();
  const steps = trainer.state.step;
  const expected = before * Math.pow(1 - lr * decay, steps);
  assert.ok(Math.abs(difference(B, W) - expected) < 1e-4 * before, `‖B − W‖ ${difference(B, W)} vs ${expected}`);
});

test('kp: with momentum both get the same transform and B still converges to W; B\'s optimizer state is its own', () => {
  const trainer = createTrainer(run('kp', { decay: 0.05 }, 'momentum', 0.05, 30), be, data);
  const B = (trainer.state.ruleState as KolenPollackState).B[1]!.data, W = trainer.state.net.layers[1].W.data;
  const start = angleDegrees(B, W);
  trainer.run();
  assert.ok(start > 60, `random B starts far from W (${start.toFixed(1)}°)`);
  assert.ok(angleDegrees(B, W) < 2, `∠(B, Wᵀ) ${angleDegrees(B, W).toFixed(2)}° after training`);
  const velocity = trainer.state.groupStates.feedback as Float32Array[][];
  assert.equal(velocity[0].length, 2, 'one momentum buffer per B (layers 2 and 3)');
});

test('group settings: a fixed rate of 0 freezes B; an unknown group name is an error', () => {
  const frozen = createTrainer(run('kp', {}, 'momentum', 0.05, 2, { groups: { feedback: { lr: 0 } } }), be, data);
  const B = (frozen.state.ruleState as KolenPollackState).B[1]!.data.slice();
  frozen.run();
  assert.deepEqual((frozen.state.ruleState as KolenPollackState).B[1]!.data, B);
  const typo: Record<string, GroupSettings> = { fedback: { lr: 0 } };
  assert.throws(() => createTrainer(run('kp', {}, 'momentum', 0.05, 1, { groups: typo }), be, data), /rule 'kp' has no trainable group 'fedback' \(it has: feedback\)/);
  assert.throws(() => createTrainer(run('fa', {}, 'momentum', 0.05, 1, { groups: typo }), be, data), /rule 'fa' has no trainable group 'fedback' \(it has none\)/);
});

test('wm: with W fixed, B reaches its fixed point (σ²/λ)·W of the mirror mode (Akrout et al. 2019, eq. 8)', () => {
  for (const [noise, decay] of [[1, 1], [1, 2], [0.5, 0.5]]) {
    const options = { noise, decay, mirrorLr: 0.05, mirrorBatch: 400, mirrorSteps: 2 };
    const trainer = createTrainer(run('wm', options, 'sgd', 0, 20), be, data); // lr 0: W stays as it is
    trainer.run();
    const B = (trainer.state.ruleState as WeightMirrorState).B[1]!.data, W = trainer.state.net.layers[1].W.data;
    const ratio = norm(B) / norm(W), target = (noise * noise) / decay;
    assert.ok(Math.abs(ratio / target - 1) < 0.05, `‖B‖/‖W‖ ${ratio.toFixed(3)} vs σ²/λ = ${target}`);
    assert.ok(angleDegrees(B, W) < 5, `∠(B, Wᵀ) ${angleDegrees(B, W).toFixed(2)}°`);
  }
});

test('wm: mirrorSteps and mirrorBatch must be whole numbers ≥ 1', () => {
  const bads: RuleOptions[] = [{ mirrorSteps: 0.4 }, { mirrorSteps: 0 }, { mirrorBatch: 2.5 }, { mirrorBatch: -1 }];
  for (const bad of bads) {
    assert.throws(() => createTrainer(run('wm', bad, 'sgd', 0.1, 1), be, data), /wm option mirror(Steps|Batch) must be an integer ≥ 1/);
  }
});

for (const optimizer of ['momentum', 'adam', 'nesterov'] as const) {
  test(`fa sparsity: pruned weights stay exactly zero under ${optimizer} with weight decay`, () => {
    for (const independentMasks of [false, true]) {
      const config = run('fa', { sparsity: 0.5, independentMasks }, optimizer, optimizer === 'adam' ? 0.01 : 0.05, 3);
      const trainer = createTrainer({ ...config, optimizer: { ...config.optimizer, weightDecay: 1e-3 } }, be, data);
      trainer.run();
      const state = trainer.state.ruleState as FeedbackAlignmentState;
      trainer.state.net.layers.forEach((p, l) => {
        const mask = state.masks![l]!;
        const pruned = [...mask].filter((m) => m === 0).length;
        assert.ok(pruned > 0.3 * mask.length && pruned < 0.7 * mask.length, 'about half removed');
        assert.ok([...mask].every((m, i) => m === 1 || p.W.data[i] === 0), `layer ${l + 1}: pruned weights are still 0`);
        assert.ok([...mask].some((m, i) => m === 1 && p.W.data[i] !== 0), 'kept weights learn');
        const B = state.B[l];
        if (!B) return;
        const fm = state.feedbackMasks![l]!;
        assert.ok([...fm].every((m, i) => m === 1 || B.data[i] === 0), 'pruned feedback weights are 0');
        const same = [...fm].every((m, i) => m === mask[i]);
        assert.equal(same, !independentMasks, independentMasks ? 'B is pruned independently of W' : 'B is pruned where W is');
      });
    }
  });
}
