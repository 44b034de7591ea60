import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsBackend, RULE_IDS } from '../src/index.js';
import { Race } from '../lab/src/session/race.js';
import { loadTask } from '../lab/src/session/tasks.js';
import { defaultSettings, type Settings } from '../lab/src/state.js';
import { SURFACE_GRID } from '../lab/src/protocol.js';

const noFetch = async (path: string): Promise<Uint8Array> => {
  throw new Error(`no server in this test (asked for ${path})`);
};

/** The settings the end-to-end test uses: BP and FA on XOR. */
export const XOR_SETTINGS: Partial<Settings> = { task: 'xor', rules: ['bp', 'fa'], hidden: '8', lr: 0.5, batch: 4, speed: 20 };

async function race(patch: Partial<Settings>): Promise<Race> {
  const settings = { ...defaultSettings(), ...patch };
  return new Race(settings, await loadTask(settings.task, settings.seed, noFetch), createJsBackend());
}

test('lab race: BP and FA both learn XOR; angles are measured and FA reports ∠(B, Wᵀ)', async () => {
  const r = await race(XOR_SETTINGS);
  assert.deepEqual(r.info.sizes, [2, 8, 2]);
  assert.ok(r.info.points, 'XOR is a 2-D task');
  let last = r.tick();
  const first = last.rules.map((x) => x.trainLoss as number);
  let sawAngles = false, sawFeedback = false;
  for (let i = 0; i < 100; i++) {
    last = r.tick();
    for (const x of last.rules) {
      if (x.angles) sawAngles = true;
      if (x.rule === 'fa' && x.angles?.feedback.some((v) => v !== null)) sawFeedback = true;
    }
  }
  for (const [i, x] of last.rules.entries()) {
    assert.equal(x.diverged, null);
    assert.ok((x.trainLoss as number) < 0.1, `${x.rule}: train loss ${x.trainLoss} after ${last.step} updates (started ${first[i]})`);
    assert.equal(x.testError, 0, `${x.rule} classifies all four points`);
    assert.equal(x.surface?.length, SURFACE_GRID * SURFACE_GRID);
  }
  assert.ok(sawAngles && sawFeedback);
  assert.equal(last.step, 101 * 20);
});

test('lab race: one seed gives every rule the same initial weights and data; reruns give the same numbers', async () => {
  // One tick of one full batch of XOR: the reported loss is measured before the first update, so it is
  // equal across rules exactly when their initial forward weights are.
  const first = (await race({ task: 'xor', rules: ['bp', 'fa', 'dfa', 'kp'], batch: 4, speed: 1 })).tick();
  const losses = first.rules.map((r) => r.trainLoss);
  assert.ok(losses.every((l) => l === losses[0]), `initial losses ${losses.join(', ')}`);

  const settings: Partial<Settings> = { task: 'spirals', rules: ['bp', 'fa', 'kp'], hidden: '16', speed: 3 };
  const a = await race(settings), b = await race(settings);
  assert.deepEqual(a.tick(), b.tick());
  const alone = await race({ ...settings, rules: ['fa'] });
  assert.deepEqual(alone.tick().rules[0], (await race(settings)).tick().rules[1], "a rule's numbers do not depend on the rules beside it");
});

test('lab race: every registered rule runs in the lab, and every synthetic task gives reports', async () => {
  for (let i = 0; i < RULE_IDS.length; i += 4) {
    const rules = RULE_IDS.slice(i, i + 4);
    const report = (await race({ task: 'spirals', rules, hidden: '8-8', speed: 5 })).tick();
    assert.deepEqual(report.rules.map((r) => r.rule), rules);
    for (const r of report.rules) assert.ok(r.diverged !== null || Number.isFinite(r.trainLoss), `${r.rule}: ${JSON.stringify(r)}`);
  }
  for (const task of ['xor', 'spirals', 'linear', 'cafeteria'] as const) {
    const r = await race({ task, rules: ['bp', 'fa'], lr: 0.001, speed: 2 });
    const report = r.tick();
    assert.equal(report.rules.length, 2);
    assert.equal(r.info.classification, task === 'xor' || task === 'spirals', task);
    for (const x of report.rules) assert.ok(Number.isFinite(x.testLoss), `${task} ${x.rule}: ${x.diverged}`);
  }
});
