import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RULE_IDS } from '../src/index.js';
import { defaultSettings, FIELDS, parseSettings, serializeSettings, type Settings } from '../lab/src/state.js';

test('lab state: defaults give an empty query, and an empty query gives the defaults', () => {
  assert.equal(serializeSettings(defaultSettings()), '');
  assert.deepEqual(parseSettings(''), { settings: defaultSettings(), notices: [] });
  assert.deepEqual(parseSettings('?'), { settings: defaultSettings(), notices: [] });
});

test('lab state: every field round-trips through the address', () => {
  const s: Settings = {
    panel: 'inside', task: 'fashion-mnist', hidden: '100-50', act: 'relu', net: 'bernoulli', steps: 35, signals: 'fwd1-bwd2', rules: ['kp', 'bp', 'fa', 'dfa'], lr: 0.025,
    batch: 32, optimizer: 'adam', seed: 12345, speed: 7, chips: 40, ketchup: 130, correlation: 0.85, deltaLr: 0.0015, passes: 55,
  };
  const query = serializeSettings(s);
  const back = parseSettings(`?${query}`);
  assert.deepEqual(back.notices, []);
  assert.deepEqual(back.settings, s);
  assert.equal(serializeSettings(back.settings), query);
  // Every field of the table is in Settings and has a distinct URL key.
  const keys = Object.values(FIELDS).map((f) => f.key);
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual(Object.keys(FIELDS).sort(), Object.keys(s).sort());
});

test('lab state: every registered rule is accepted', () => {
  for (const id of RULE_IDS) assert.deepEqual(parseSettings(`rules=${id}`).settings.rules, [id]);
});

test('lab state: invalid values fall back to the default with a notice; valid ones beside them are kept', () => {
  const cases: [string, keyof Settings][] = [
    ['task=cifar-99', 'task'], ['rules=bp,nope', 'rules'], ['rules=', 'rules'], ['rules=bp,bp', 'rules'],
    ['rules=bp,fa,dfa,kp,sign', 'rules'], ['lr=fast', 'lr'], ['lr=-1', 'lr'], ['lr=0', 'lr'], ['lr=Infinity', 'lr'],
    ['lr=NaN', 'lr'], ['lr=0x10', 'lr'], ['lr=', 'lr'], ['batch=2.5', 'batch'], ['batch=0', 'batch'], ['hidden=0', 'hidden'],
    ['hidden=8-8-8-8-8', 'hidden'], ['hidden=8--8', 'hidden'], ['hidden=99999', 'hidden'], ['act=swish', 'act'],
    ['opt=lbfgs', 'optimizer'], ['seed=-3', 'seed'], ['corr=1.5', 'correlation'], ['panel=admin', 'panel'], ['speed=1e9', 'speed'],
    ['net=spiking', 'net'], ['net=LIF', 'net'], ['steps=0', 'steps'], ['steps=201', 'steps'], ['steps=2.5', 'steps'],
    ['signals=fwd2', 'signals'], ['signals=1-bit', 'signals'],
  ];
  for (const [query, field] of cases) {
    const [beside, value]: [keyof Settings, string] = field === 'optimizer' ? ['seed', '7'] : ['optimizer', 'adam'];
    const { settings, notices } = parseSettings(`${query}&${FIELDS[beside].key}=${value}`);
    assert.deepEqual(settings[field], defaultSettings()[field], query);
    assert.equal(String(settings[beside]), value, `${query}: the valid setting beside it is kept`);
    assert.equal(notices.length, 1, `${query}: one notice, got ${JSON.stringify(notices)}`);
    assert.match(notices[0], new RegExp(`^ignored ${FIELDS[field].key}=`));
  }
});

test('lab state: hostile values never throw, are echoed only cut short, and unknown keys are reported', () => {
  const hostile = [
    'task=<script>alert(1)</script>', 'rules=<img src=x onerror=alert(1)>', 'hidden=%3Cscript%3E', 'lr=1e999999',
    'seed=99999999999999999999999999', 'batch=9007199254740993', `lr=${'9'.repeat(5000)}`, '__proto__=1&constructor=2',
    'rules=__proto__', 'rules=constructor,toString', 'task=%E0%A4%A', '%%%%=%%', 'lr=1&lr=<b>', 'a'.repeat(3000),
  ];
  for (const query of hostile) {
    const { settings, notices } = parseSettings(`?${query}`);
    assert.ok(notices.length >= 1, `${query.slice(0, 40)}: a notice`);
    for (const n of notices) assert.ok(n.length < 400, 'notices stay short');
    assert.equal(Object.getPrototypeOf(settings), Object.prototype, 'no prototype pollution');
    assert.ok(settings.rules.length >= 1 && settings.rules.every((r) => RULE_IDS.includes(r)));
    assert.ok(Number.isFinite(settings.lr) && settings.lr > 0 && settings.lr <= 10);
    assert.ok(Number.isSafeInteger(settings.seed) && Number.isSafeInteger(settings.batch));
  }
  assert.deepEqual(parseSettings('?tsak=xor').notices, ["ignored unknown setting 'tsak'"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});
