import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsBackend } from '../src/index.js';
import { loadDataset } from '../node/datasets.js';
import { Race } from '../lab/src/session/race.js';
import { defaultSettings, parseSettings } from '../lab/src/state.js';

test('lab: a small convnet trains on an MNIST subset and the Inside panel gets its first layer\'s kernels', () => {
  const data = loadDataset('mnist', { limitTrain: 600, limitTest: 200 });
  const settings = { ...defaultSettings(), task: 'mnist' as const, hidden: 'c4k5s2-pool2-16', rules: ['bp' as const, 'fa' as const], lr: 0.1, batch: 20, speed: 10 };
  const race = new Race(settings, { train: data.train, test: data.test }, createJsBackend());
  assert.deepEqual(race.info.sizes, [784, 576, 144, 16, 10]);
  assert.equal(race.info.fieldSide, 5);
  assert.equal(race.info.fieldsAreKernels, true);
  let last = race.tick();
  const first = last.rules.map((r) => r.trainLoss as number);
  for (let i = 0; i < 30; i++) last = race.tick();
  last.rules.forEach((r, i) => {
    assert.equal(r.diverged, null);
    assert.ok((r.trainLoss as number) < 0.8 * first[i], `${r.rule}: train loss ${first[i]} → ${r.trainLoss}`);
    assert.equal(r.fields?.length, 4 * 25, `${r.rule}: four 5×5 kernels`);
  });
});

test('lab state: hidden layers take --arch\'s image layers within browser-sized limits', () => {
  const parsed = (hidden: string) => parseSettings(`?task=mnist&hidden=${encodeURIComponent(hidden)}`);
  assert.equal(parsed('c6k5s2-pool2-32').settings.hidden, 'c6k5s2-pool2-32');
  assert.equal(parsed('lc8k3s2p1-avgpool2-010').settings.hidden, 'lc8k3s2p1-avgpool2-10');
  for (const bad of ['c99k5', 'c6k12', 'c6k5-<script>', 'pool0', '1-2-3-4-5-6-7']) {
    const r = parsed(bad);
    assert.equal(r.settings.hidden, defaultSettings().hidden, bad);
    assert.ok(r.notices.some((n) => /hidden/.test(n)), `${bad}: a notice`);
  }
});
