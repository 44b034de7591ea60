import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createJsBackend, createRule, RULE_IDS } from '../src/index.js';
import { loadDataset } from '../node/datasets.js';
import { History } from '../lab/src/history.js';
import { Race } from '../lab/src/session/race.js';
import { LAB_RULE_OPTIONS } from '../lab/src/session/rule-options.js';
import { loadTask } from '../lab/src/session/tasks.js';
import { defaultSettings, type Settings } from '../lab/src/state.js';

/*
 * Target propagation in the lab (issue 10), without a browser: the Race and History the Inside panel draws
 * from, for the rules' layer-local losses, reconstruction errors and targets; rules that refuse a network.
 */

const noFetch = async (path: string): Promise<Uint8Array> => {
  throw new Error(`no server in this test (asked for ${path})`);
};

async function session(patch: Partial<Settings>): Promise<{ race: Race; history: History }> {
  const settings = { ...defaultSettings(), ...patch };
  const race = new Race(settings, await loadTask(settings.task, settings.seed, noFetch), createJsBackend());
  return { race, history: new History(settings.rules, race.info.sizes.length - 1) };
}

const TP_RULES = ['tp', 'dtp', 'sdtp', 'aosdtp', 'drl', 'ddtp', 'ldrl'] as const;
const mean = (xs: readonly (number | null)[]) => xs.reduce<number>((s, v) => s + (v as number), 0) / xs.length;

test('lab: dtp beside bp — each inverse\'s reconstruction error is a series that falls, every layer-local loss is drawn, and the targets of one example have the layers\' shapes and move them', async () => {
  const { race, history } = await session({ task: 'spirals', hidden: '16-16-16', rules: ['bp', 'dtp'], speed: 10 });
  const ticks = 30;
  let last = race.tick();
  history.add(last);
  for (let t = 1; t < ticks; t++) history.add((last = race.tick()));
  const [bp, dtp] = history.rules;
  assert.equal(bp.metrics.size, 0, 'backprop reports no target-propagation metrics');
  assert.equal(last.rules[0].targets, null, 'nor targets');
  // sizes 2-16-16-16-2: inverses g_2 and g_3 (layer 1's input is the data, which needs none), a target for every hidden layer.
  assert.deepEqual([...dtp.metrics.keys()].sort(), ['reconstruction_2', 'reconstruction_3', 'target_loss_1', 'target_loss_2', 'target_loss_3']);
  for (const [name, series] of dtp.metrics) {
    assert.equal(series.length, history.steps.length, `${name}: one value per redraw`);
    assert.ok(series.every((v) => v !== null && Number.isFinite(v) && v >= 0), `${name}: ${series.join(', ')}`);
  }
  for (const name of ['reconstruction_2', 'reconstruction_3']) {
    const series = dtp.metrics.get(name)!;
    assert.ok(mean(series.slice(-5)) < 0.4 * (series[0] as number), `${name} falls as the inverse learns: ${series[0]} → ${mean(series.slice(-5))}`);
  }
  const targets = last.rules[1].targets!;
  assert.ok(targets, 'dtp reports targets');
  assert.equal(targets.activity.length, 3, 'one per hidden layer');
  assert.ok(targets.label === 0 || targets.label === 1, `the example's class: ${targets.label}`);
  for (let l = 0; l < 3; l++) {
    assert.equal(targets.activity[l].length, 16);
    assert.equal(targets.target[l].length, 16);
    assert.ok(targets.activity[l].every((v) => Math.abs(v) <= 1), 'h of a tanh layer');
    const shift = Math.hypot(...targets.target[l].map((v, j) => v - targets.activity[l][j]));
    assert.ok(shift > 1e-4 && Number.isFinite(shift), `layer ${l + 1}: the loss is not 0, so ĥ ≠ h (‖ĥ − h‖ = ${shift})`);
  }
});

test('lab: with one example per update, each TP rule\'s reported target is the one it learned from: ‖ĥ_k − h_k‖² (ldrl: ½‖·‖²) is its layer-local loss', async () => {
  for (let i = 0; i < TP_RULES.length; i += 4) {
    const rules = TP_RULES.slice(i, i + 4);
    const { race } = await session({ task: 'spirals', hidden: '8-8', rules: [...rules], batch: 1, speed: 1 });
    for (let t = 0; t < 12; t++) {
      const report = race.tick();
      for (const r of report.rules) {
        assert.equal(r.diverged, null, r.rule);
        const targets = r.targets!;
        assert.equal(targets.activity.length, 2, `${r.rule}: both hidden layers`);
        targets.activity.forEach((h, l) => {
          const squared = h.reduce((s, v, j) => s + (targets.target[l][j] - v) ** 2, 0) * (r.rule === 'ldrl' ? 0.5 : 1);
          const loss = r.metrics![`target_loss_${l + 1}`];
          assert.ok(loss > 0 && Math.abs(squared - loss) <= 1e-5 * loss, `${r.rule} tick ${t}, layer ${l + 1}: ‖ĥ − h‖² ${squared} vs loss ${loss}`);
        });
      }
    }
  }
});

test('lab: a rule that refuses the network says why in its own row and the others train; a race none can run is an error', async () => {
  const { race } = await session({ task: 'spirals', hidden: '16-8', rules: ['bp', 'tp', 'dtp'], speed: 2 });
  assert.deepEqual(race.info.refusals.map((r) => r.rule), ['tp']);
  assert.match(race.info.refusals[0].message, /^rule 'tp' needs square hidden layers above the first, but layer 2 maps 16 → 8/);
  const report = race.tick();
  assert.equal(report.rules[1].refused, race.info.refusals[0].message);
  assert.equal(report.rules[1].trainLoss, null);
  assert.equal(report.rules[1].targets, null);
  for (const r of [report.rules[0], report.rules[2]]) assert.ok(r.refused === null && Number.isFinite(r.trainLoss), r.rule);
  const relu = await session({ task: 'xor', hidden: '8', act: 'relu', rules: ['tp', 'fa'] });
  assert.match(relu.race.info.refusals[0].message, /rule 'tp' needs an invertible hidden activation .* got relu/);

  const data = loadDataset('mnist', { limitTrain: 100, limitTest: 50 });
  const conv = (rules: Settings['rules']) => new Race({ ...defaultSettings(), task: 'mnist', hidden: 'c4k5s2-pool2-16', rules }, { train: data.train, test: data.test }, createJsBackend());
  const mixed = conv(['fa', ...TP_RULES.slice(0, 3)]);
  assert.deepEqual(mixed.info.refusals.map((r) => r.rule), ['tp', 'dtp', 'sdtp']);
  for (const r of mixed.info.refusals) assert.match(r.message, new RegExp(`^rule '${r.rule}' needs dense layers, but layer 1 is conv2d`));
  assert.ok(Number.isFinite(mixed.tick().rules[0].trainLoss), 'fa trains the convnet');
  assert.throws(() => conv(['dtp', 'ldrl']), /rule 'dtp' needs dense layers.*; rule 'ldrl' needs dense layers/);
});

test('lab: the per-rule options are real options of registered rules', () => {
  for (const [rule, options] of Object.entries(LAB_RULE_OPTIONS)) {
    assert.ok((RULE_IDS as string[]).includes(rule), rule);
    assert.doesNotThrow(() => createRule(rule, options), rule);
  }
});
