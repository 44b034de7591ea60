import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  architectureSpec, createJsBackend, createNetwork, DEFAULT_SETTLE, EP_DEFAULTS, modelFor, Rng, RULE_IDS, RULES, specForRule, subset, type RuleInfo,
} from '../src/index.js';
import { Race } from '../lab/src/session/race.js';
import { isSettlingRule, settlingReport, tracedPhases } from '../lab/src/session/settling-report.js';
import { loadTask } from '../lab/src/session/tasks.js';
import { defaultSettings, type Settings } from '../lab/src/state.js';

/*
 * The settling view in the lab (issue 11), without a browser: what the Race reports for a settling rule — its
 * relaxation on one example, free phase then nudged phase, at the current parameters — and nothing for the others.
 */

const noFetch = async (path: string): Promise<Uint8Array> => {
  throw new Error(`no server in this test (asked for ${path})`);
};

async function race(patch: Partial<Settings>): Promise<{ race: Race; settings: Settings }> {
  const settings = { ...defaultSettings(), ...patch };
  return { race: new Race(settings, await loadTask(settings.task, settings.seed, noFetch), createJsBackend()), settings };
}

const be = createJsBackend();
const finite = (xs: ArrayLike<number>) => Array.from(xs).every(Number.isFinite);

test('lab: ep reports its relaxation on one example — E over the free phase, F over the nudged one, the residual, a few units — and bp reports none', async () => {
  const { race: r } = await race({ task: 'xor', hidden: '8', rules: ['bp', 'ep'], lr: 0.5, batch: 4, speed: 10 });
  let last = r.tick();
  for (let t = 0; t < 20; t++) last = r.tick();
  const [bp, ep] = last.rules;
  assert.equal(bp.settling, null);
  assert.equal(ep.diverged, null);
  const report = ep.settling!;
  assert.ok(report, 'ep reports a settling trace');
  const { free, second } = report.trace;
  assert.equal(free.energy.length, DEFAULT_SETTLE.steps + 1, 'the net\'s own free phase: spec.settle');
  assert.equal(second!.energy.length, EP_DEFAULTS.nudgedSteps + 1, 'the rule\'s nudged steps');
  assert.equal(report.second, `nudged, β = ${EP_DEFAULTS.beta}`);
  assert.ok(report.label === 0 || report.label === 1);
  assert.deepEqual(report.trace.units, [{ layer: 1, unit: 0 }, { layer: 1, unit: 1 }, { layer: 1, unit: 2 }, { layer: 2, unit: 0 }, { layer: 2, unit: 1 }]);
  for (const phase of [free, second!]) {
    assert.ok(finite(phase.energy) && finite(phase.residual) && phase.states.every(finite), JSON.stringify(phase));
    assert.ok(phase.energy[phase.energy.length - 1] < phase.energy[0], 'each phase lowers its energy');
  }
  assert.ok(second!.energy[0] >= free.energy[DEFAULT_SETTLE.steps], 'F = E + βC ≥ E at the free fixed point');
  assert.equal(second!.states[3][0], free.states[3][DEFAULT_SETTLE.steps], 'the nudged phase starts where the free one stopped');
});

test('lab: the traced free phase ends at the settling model\'s prediction for that example; the nudge is the rule\'s options', async () => {
  const data = await loadTask('spirals', 1, noFetch);
  const spec = specForRule('ep', { ...architectureSpec(`2-8-8-${data.train.y.cols}`), hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'mse', init: { kind: 'glorot' } });
  const net = createNetwork(spec, Rng.fromSeed(3));
  const batch = subset(data.train, 3);
  const options = { beta: 0.2, nudgedSteps: 9 };
  const report = settlingReport('ep', options, net, be, batch)!;
  assert.equal(report.second, 'nudged, β = 0.2');
  assert.equal(report.trace.second!.steps, 9);
  const predicted = modelFor(net).createPredictor(net, 3).predict(be, net, batch.x);
  const outputs = report.trace.units.map((u, i) => ({ u, i })).filter(({ u }) => u.layer === 3);
  assert.equal(outputs.length, predicted.cols, 'every output unit is traced');
  for (const { u, i } of outputs) assert.equal(report.trace.free.states[i][DEFAULT_SETTLE.steps], predicted.data[u.unit], `output ${u.unit}`);
  assert.equal(report.label, batch.labels![0]);
  const { second } = tracedPhases('ep', options, net, batch.y);
  assert.deepEqual({ ...second, y: null }, { epsilon: DEFAULT_SETTLE.epsilon, steps: 9, beta: 0.2, y: null });
  // CHL's second phase holds the output at the target; ap has none.
  const clamped = settlingReport('chl', { clampedSteps: 7 }, net, be, batch)!;
  assert.equal(clamped.trace.second!.steps, 7);
  for (const { i, u } of outputs) assert.equal(clamped.trace.second!.states[i][7], batch.y.data[u.unit], `output ${u.unit} stays clamped`);
  assert.equal(settlingReport('ap', {}, net, be, batch)!.trace.second, null);
  assert.equal(settlingReport('bp', {}, net, be, batch), null);
});

test('lab: a settling rule is told by the registry\'s model, and every one of them gets a settling report beside the others', async () => {
  const settling = RULE_IDS.filter(isSettlingRule);
  assert.deepEqual(settling, RULE_IDS.filter((id) => (RULES[id] as RuleInfo).model === 'settling'));
  assert.ok(settling.includes('ep'));
  for (let i = 0; i < settling.length; i += 3) {
    const rules = ['fa', ...settling.slice(i, i + 3)] as Settings['rules'];
    const report = (await race({ task: 'spirals', hidden: '8', rules, speed: 2 })).race.tick();
    for (const rr of report.rules) {
      if (rr.rule === 'fa') assert.equal(rr.settling, null);
      else assert.ok(rr.diverged !== null || (rr.settling && Number.isFinite(rr.settling.trace.free.energy[0])), rr.rule);
    }
  }
});
