import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../node/datasets.js';
import { angleDegrees, norm } from '../src/metrics/angles.js';
import { architectureSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import type { KolenPollackState } from '../src/rules/kolen-pollack.js';
import type { WeightMirrorState } from '../src/rules/weight-mirror.js';
import type { RuleId } from '../src/rules/registry.js';
import type { RuleOptions } from '../src/rules/rule.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { fastBackend } from './helpers.js';

const be = fastBackend();
const mnist = loadDataset('mnist', { limitTrain: 4000, limitTest: 1000 });
const ARCH = '1x28x28-c6k5s2-maxpool2-32-10';

function run(rule: RuleId, ruleOptions: RuleOptions = {}, epochs = 2, arch = ARCH): RunConfig {
  return {
    rule, ruleOptions, seed: 1,
    spec: { ...architectureSpec(arch), hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } },
    optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' }, train: { ...DEFAULT_TRAIN, epochs, batchSize: 50, lr: 0.05 },
  };
}

// Errors seen with seed 1 (4,000 images, 2 epochs): bp 9.8 %, fa 17.2 %, dfa 26.7 %, sign 9.4 %, wm 12.6 %,
// kp 10.7 % (chance: 90 %). DFA is known to train convolutional layers poorly (Launay et al. 2019); here it is
// 14 % without the max-pooling layer. The limits leave room for seeds; that the conv layer itself learns is
// checked separately (its kernels move, and fa with B := W equals bp in conv-layers.test.ts).
for (const [rule, limit] of [['bp', 0.15], ['fa', 0.3], ['dfa', 0.4], ['sign', 0.15], ['wm', 0.2], ['kp', 0.2]] as const) {
  test(`${rule} trains a convnet on MNIST (4,000 images, 2 epochs) below ${100 * limit} % test error, and its kernels learn`, () => {
    const trainer = createTrainer(run(rule), be, mnist);
    const before = trainer.state.net.layers[0].W.data.slice();
    trainer.run();
    const { error } = trainer.evaluate(mnist.test);
    assert.ok(error !== null && error < limit, `${rule}: test error ${error}`);
    const moved = norm(trainer.state.net.layers[0].W.data.map((w, i) => w - before[i])) / norm(before);
    assert.ok(moved > 0.1, `${rule}: the conv kernels moved by ${(100 * moved).toFixed(1)} % of their norm`);
  });
}

test('a locally connected net (untied kernels) learns MNIST', () => {
  const trainer = createTrainer(run('bp', {}, 2, '1x28x28-lc4k4s4-10'), be, mnist);
  trainer.run();
  const { error } = trainer.evaluate(mnist.test);
  assert.ok(error !== null && error < 0.2, `test error ${error}`);
});

test('Kolen–Pollack and weight mirror align their feedback kernels with the conv kernels', () => {
  // Layer 2 of '1x28x28-c6k5s2-c8k3-10' is a conv layer whose kernel tensor has a B.
  const arch = '1x28x28-c6k5s2-c8k3-10';
  const kp = createTrainer(run('kp', { decay: 0.05 }, 2, arch), be, mnist);
  const wm = createTrainer({ ...run('wm', { mirrorLr: 0.05, mirrorBatch: 1000 }, 1, arch), train: { ...DEFAULT_TRAIN, epochs: 1, batchSize: 50, lr: 0 } }, be, mnist);
  const Bkp = (kp.state.ruleState as KolenPollackState).B[1]!.data, Wkp = kp.state.net.layers[1].W.data;
  const start = angleDegrees(Bkp, Wkp);
  kp.run();
  assert.ok(start > 60 && angleDegrees(Bkp, Wkp) < 10, `kp: ∠(B, W) ${start.toFixed(1)}° → ${angleDegrees(Bkp, Wkp).toFixed(1)}°`);
  wm.run(); // lr 0: W fixed, B → (σ²/λ) W = W
  const Bwm = (wm.state.ruleState as WeightMirrorState).B[1]!.data, Wwm = wm.state.net.layers[1].W.data;
  assert.ok(angleDegrees(Bwm, Wwm) < 5 && Math.abs(norm(Bwm) / norm(Wwm) - 1) < 0.1, `wm: ∠(B, W) ${angleDegrees(Bwm, Wwm).toFixed(2)}°`);
});

test('ngrad train --arch with conv and pooling layers runs from the command line', () => {
  const bin = fileURLToPath(new URL('../../bin/ngrad.js', import.meta.url));
  const out = join(mkdtempSync(join(tmpdir(), 'ngrad-conv-')), 'run');
  const r = spawnSync(process.execPath, [bin, 'train', '--rule', 'fa', '--arch', '1x28x28-c4k5s3-avgpool2-10', '--limit-train', '500', '--limit-test', '200',
    '--epochs', '1', '--align-every', '5', '--out', out, '--quiet', '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  assert.equal(summary.arch, '1x28x28-c4k5s3-avgpool2-10', 'the summary names the layers as --arch does');
  assert.ok(summary.angles[0].update > 0 && summary.angles[2].feedback > 0, 'angles for the conv and the dense layers');
  const bad = spawnSync(process.execPath, [bin, 'train', '--arch', '1x28x28-c4k30-10', '--quiet'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /with k=30 does not fit an input of 28×28/);
});


test('a conv net whose input shape is not the images\' shape is refused before training', () => {
  const cifarLike = { ...mnist, train: { ...mnist.train, shape: [1, 28, 28] } };
  assert.throws(() => createTrainer(run('bp', {}, 1, '4x14x14-c2k3-10'), be, cifarLike), /the network's input 4x14x14 does not fit the data's images of 1x28x28: start --arch with 1x28x28/);
});
