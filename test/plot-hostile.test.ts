import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMetrics } from '../node/plot.js';

/*
 * `ngrad plot` on what a crash, a slip or a damaged disk leaves: a cut-off last line is skipped with a
 * warning, anything else is a one-line error with exit code 2, and an existing figure is never half-written.
 */

const bin = fileURLToPath(new URL('../../bin/ngrad.js', import.meta.url));
const esc = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ngrad = (args: string[], uid?: number) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', ...(uid === undefined ? {} : { uid, gid: uid }) });

/** Exit 2; the first stderr line is the message, the rest (if any) only the usage, never a stack trace. */
function expectOneLine(r: SpawnSyncReturns<string>, message: RegExp): void {
  assert.equal(r.status, 2, `exit code; stderr: ${r.stderr}`);
  const [first, ...rest] = r.stderr.trimEnd().split('\n');
  assert.match(first, /^ngrad plot: /);
  assert.match(first, message);
  assert.ok(rest.length === 0 || rest[0].startsWith('usage: ngrad plot'), `only the usage after the message: ${r.stderr}`);
  assert.ok(!/^\s+at /m.test(r.stderr), 'no stack trace');
  assert.ok(!/^wrote /m.test(r.stdout), 'no figure');
}

// One real run, trained once; each case copies it and damages the copy.
const base = mkdtempSync(join(tmpdir(), 'ngrad-plot-hostile-'));
const run = join(base, 'run');
const trained = spawnSync(process.execPath, [bin, 'train', '--data', 'xor', '--arch', '2-4-2', '--epochs', '6', '--batch', '4', '--out', run, '--quiet'], { encoding: 'utf8' });
assert.equal(trained.status, 0, trained.stderr);
const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trimEnd().split('\n');

function runWith(name: string, metrics: string | Uint8Array | null): string {
  const dir = join(base, name);
  cpSync(run, dir, { recursive: true });
  if (metrics !== null) writeFileSync(join(dir, 'metrics.jsonl'), metrics);
  return dir;
}

test('plot: a last line cut short by a crash is skipped with a one-line warning, and the figure is drawn', () => {
  const whole = lines.slice(0, -1).join('\n');
  const cut = lines.at(-1) as string;
  for (const [name, text] of [
    ['cut-mid-line', `${whole}\n${cut.slice(0, 17)}`],
    ['cut-then-newline', `${whole}\n${cut.slice(0, 5)}\n`],
    ['cut-mid-utf8', Buffer.concat([Buffer.from(`${whole}\n${cut.slice(0, 12)}`), Buffer.from('é').subarray(0, 1)])],
  ] as const) {
    const dir = runWith(name, text);
    const out = join(base, `${name}.svg`);
    const r = ngrad(['plot', dir, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const warning = r.stderr.trimEnd().split('\n');
    assert.equal(warning.length, 1, `one line: ${r.stderr}`);
    assert.match(warning[0], new RegExp(`^ngrad plot: warning: .*${name}/metrics\\.jsonl line ${lines.length} is cut short .*skipped it and plotted the ${lines.length - 1} events before it$`));
    assert.match(readFileSync(out, 'utf8'), /^<svg/);
  }
  // A complete file, with or without its last newline, plots without a word on stderr.
  const clean = ngrad(['plot', runWith('no-final-newline', lines.join('\n')), '--out', join(base, 'clean.svg')]);
  assert.deepEqual([clean.status, clean.stderr], [0, '']);
  assert.deepEqual(readMetrics(join(run, 'metrics.jsonl')).cutLine, null);
});

test('plot: a bad line before the last is an error naming the file and the line; nothing is written', () => {
  const out = join(base, 'never.svg');
  const broken = [...lines];
  broken[2] = broken[2].slice(0, 10);
  expectOneLine(ngrad(['plot', runWith('bad-middle', broken.join('\n') + '\n'), '--out', out]),
    /bad-middle\/metrics\.jsonl line 3 is not valid JSON: the file is damaged; delete that line or train the run again$/);
  const notEvent = [...lines];
  notEvent[1] = '[1, 2, 3]';
  expectOneLine(ngrad(['plot', runWith('not-event', notEvent.join('\n') + '\n'), '--out', out]),
    /not-event\/metrics\.jsonl line 2 is not a training event/);
  // Blank lines do not count as damage, but line numbers still count them.
  const blanks = [lines[0], '', lines[1], 'garbage', ...lines.slice(2)];
  expectOneLine(ngrad(['plot', runWith('blank-lines', blanks.join('\n') + '\n'), '--out', out]), /blank-lines\/metrics\.jsonl line 4 is not valid JSON/);
  expectOneLine(ngrad(['plot', runWith('empty', ''), '--out', out]), /empty\/metrics\.jsonl holds no events: /);
  expectOneLine(ngrad(['plot', runWith('only-cut', '{"type":"ep'), '--out', out]), /only-cut\/metrics\.jsonl holds no events \(only a cut-off line\)/);
  assert.ok(!existsSync(out));
});

test('plot: run folders without a readable metrics.jsonl are one-line errors naming the file', () => {
  const empty = join(base, 'no-metrics');
  mkdirSync(empty);
  expectOneLine(ngrad(['plot', run, empty]), new RegExp(`${esc(empty)}/metrics\\.jsonl not found: give folders written by 'ngrad train' or 'ngrad compare'`));
  expectOneLine(ngrad(['plot', join(run, 'metrics.jsonl')]), new RegExp(`${esc(run)}/metrics\\.jsonl is a file, not a run folder: give the folder that holds metrics\\.jsonl \\(${esc(run)}\\)`));
  const folderMetrics = join(base, 'metrics-is-folder');
  mkdirSync(join(folderMetrics, 'metrics.jsonl'), { recursive: true });
  expectOneLine(ngrad(['plot', folderMetrics]), /cannot read .*metrics-is-folder\/metrics\.jsonl \(EISDIR\)/);
  const badSummary = runWith('bad-summary', null);
  writeFileSync(join(badSummary, 'summary.json'), '{"rule": "bp"');
  expectOneLine(ngrad(['plot', badSummary, '--out', join(base, 'x.svg')]), /bad-summary\/summary\.json is not valid JSON: repair or remove it/);
});

test('plot --out: a folder, a path under a file, a non-.svg name or an empty one are one-line errors; files are kept', () => {
  const figs = join(base, 'figs');
  mkdirSync(figs);
  expectOneLine(ngrad(['plot', run, '--out', figs]), new RegExp(`--out ${esc(figs)} is a folder: give a file in it, e\\.g\\. --out ${esc(figs)}/figure\\.svg`));
  expectOneLine(ngrad(['plot', run, '--out', `${figs}/`]), /is a folder/);
  const file = join(base, 'a-file.txt');
  writeFileSync(file, 'KEEP');
  expectOneLine(ngrad(['plot', run, '--out', join(file, 'fig.svg')]), new RegExp(`${esc(file)} is a file, not a folder: give a path inside a folder`));
  expectOneLine(ngrad(['plot', run, '--out', join(file, 'deeper', 'fig.svg')]), new RegExp(`${esc(file)} is a file, not a folder`));
  const metrics = readFileSync(join(run, 'metrics.jsonl'), 'utf8');
  expectOneLine(ngrad(['plot', run, '--out', join(run, 'metrics.jsonl')]), /does not end in \.svg: plot writes an SVG figure/);
  assert.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8'), metrics, "a slip in --out does not overwrite the run's data");
  expectOneLine(ngrad(['plot', run, '--out', '']), /--out needs a file name, e\.g\. --out figure\.svg/);
  const fifo = join(base, 'pipe.svg');
  if (spawnSync('mkfifo', [fifo]).status === 0) {
    expectOneLine(ngrad(['plot', run, '--out', fifo]), /--out .*pipe\.svg exists and is not a regular file: give another name/);
  }
  assert.equal(readFileSync(file, 'utf8'), 'KEEP');
  // An existing figure is replaced, and new folders are made as needed.
  const old = join(figs, 'old.svg');
  writeFileSync(old, 'OLD');
  assert.equal(ngrad(['plot', run, '--out', old]).status, 0);
  assert.match(readFileSync(old, 'utf8'), /^<svg/);
  assert.equal(ngrad(['plot', run, '--out', join(figs, 'new', 'deep', 'fig.SVG')]).status, 0);
  assert.deepEqual(readdirSync(figs).sort(), ['new', 'old.svg'], 'no temporary files left behind');
});

test('plot --out in a folder that cannot be written: one-line error, the old figure intact, no partial file', (t) => {
  // Root may write anywhere, so as root the check runs as nobody, if nobody can run ngrad from here.
  const uid = process.getuid?.() === 0 ? 65534 : undefined;
  const locked = join(base, 'locked');
  mkdirSync(locked);
  const old = join(locked, 'figure.svg');
  writeFileSync(old, 'OLD FIGURE');
  chmodSync(base, 0o755);
  chmodSync(locked, 0o555);
  if (uid !== undefined && ngrad(['plot', '--help'], uid).status !== 0) {
    t.skip('running as root and nobody cannot run ngrad from this checkout');
    return;
  }
  expectOneLine(ngrad(['plot', run, '--out', old], uid), new RegExp(`--out ${esc(old)}: no permission to write in ${esc(locked)}: give a path in a folder you can write to`));
  expectOneLine(ngrad(['plot', run, '--out', join(locked, 'sub', 'f.svg')], uid), /no permission to write in/);
  assert.equal(readFileSync(old, 'utf8'), 'OLD FIGURE');
  assert.deepEqual(readdirSync(locked), ['figure.svg']);
  chmodSync(locked, 0o755);
});
