import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../src/data/errors.js';
import { describeFsError, ensureFolder, readRegularFile, removeStaleTemporaries, temporaryPath, writeFileAtomic } from '../node/files.js';
import { withTempDir } from './helpers.js';


/** Asserts that fn throws a one-line DataError starting with `start` and matching re. */
function refuses(fn: () => unknown, start: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    assert.ok(e.message.startsWith(start), `${e.message} does not start with ${start}`);
    assert.match(e.message, re);
    return true;
  });
}

const isRoot = process.getuid?.() === 0;

test('writeFileAtomic writes, replaces, and creates missing folders', () => {
  withTempDir((dir) => {
    const path = join(dir, 'a', 'b', 'out.json');
    writeFileAtomic(path, 'one');
    writeFileAtomic(path, new Uint8Array([116, 119, 111]));
    assert.equal(readFileSync(path, 'utf8'), 'two');
    assert.deepEqual(readdirSync(join(dir, 'a', 'b')), ['out.json']);
  });
});

test('writeFileAtomic: a file where a folder should be is one line naming the path and the cause', () => {
  withTempDir((dir) => {
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const below = join(file, 'out.json');
    refuses(() => writeFileAtomic(below, 'data'), `${below}: cannot write (cannot create the folder ${file}: `, /a file of that name is in the way \[EEXIST\]\)$/);
    const deeper = join(file, 'sub', 'out.json');
    refuses(() => writeFileAtomic(deeper, 'data'), `${deeper}: cannot write (`, /a part of the path is a file, not a folder \[ENOTDIR\]\)$/);
    assert.deepEqual(readdirSync(dir), ['file']);
  });
});

test('ensureFolder: creates parents; a file in the way is one line', () => {
  withTempDir((dir) => {
    ensureFolder(join(dir, 'a', 'b'));
    ensureFolder(join(dir, 'a', 'b'));
    assert.deepEqual(readdirSync(join(dir, 'a')), ['b']);
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    refuses(() => ensureFolder(file), `${file}: cannot create this folder (`, /a file of that name is in the way \[EEXIST\]\)$/);
    refuses(() => ensureFolder(join(file, 'run')), `${join(file, 'run')}: cannot create this folder (`, /\[ENOTDIR\]\)$/);
  });
});

test('writeFileAtomic: a directory in the way of the target fails cleanly and leaves no temporary file', () => {
  withTempDir((dir) => {
    const target = join(dir, 'summary.json');
    mkdirSync(target);
    refuses(() => writeFileAtomic(target, 'data'), `${target}: cannot write (`, /\((it is a directory \[EISDIR\]|.*\[ENOTEMPTY\]|.*\[EEXIST\])\)$/);
    assert.deepEqual(readdirSync(dir), ['summary.json'], 'the temporary file was removed');
  });
});

test('writeFileAtomic: a read-only folder fails cleanly and leaves no temporary file', (t) => {
  if (isRoot || process.platform === 'win32') {
    t.skip('root ignores folder permissions');
    return;
  }
  withTempDir((dir) => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    try {
      const target = join(ro, 'checkpoint.ngrad');
      refuses(() => writeFileAtomic(target, 'data'), `${target}: cannot write (`, /permission denied \[EACCES\]\)$/);
      assert.deepEqual(readdirSync(ro), []);
    } finally {
      chmodSync(ro, 0o755);
    }
  });
});

test('file system errors in words, on one line', () => {
  const err = (code: string) => Object.assign(new Error(`${code}: something, open 'x'\nsecond line`), { code });
  assert.equal(describeFsError(err('EROFS')), 'the file system is read-only [EROFS]');
  assert.equal(describeFsError(err('EACCES')), 'permission denied [EACCES]');
  assert.equal(describeFsError(err('ENOTDIR')), 'a part of the path is a file, not a folder [ENOTDIR]');
  assert.equal(describeFsError(err('ENOSPC')), 'no space left on the device [ENOSPC]');
  assert.equal(describeFsError(err('EWHATEVER')), "EWHATEVER: something, open 'x'");
  assert.equal(describeFsError('plain'), 'plain');
});

test('removeStaleTemporaries removes the temporary files of dead processes only', () => {
  withTempDir((dir) => {
    const target = join(dir, 'checkpoint.ngrad');
    // A process that has certainly exited: a child we ran to completion. 4194305 is above Linux's pid_max.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const names = {
      deadChild: `checkpoint.ngrad.${dead}.tmp`,
      neverRan: 'checkpoint.ngrad.4194305.tmp',
      mine: `checkpoint.ngrad.${process.pid}.tmp`,
      parent: `checkpoint.ngrad.${process.ppid}.tmp`,
      notAPid: 'checkpoint.ngrad.12a.tmp',
      noPid: 'checkpoint.ngrad.tmp',
      leadingZero: 'checkpoint.ngrad.0123.tmp',
      otherTarget: 'summary.json.4194305.tmp',
      target: 'checkpoint.ngrad',
    };
    for (const name of Object.values(names)) writeFileSync(join(dir, name), 'x');
    assert.equal(temporaryPath(target), join(dir, names.mine));
    const removed = removeStaleTemporaries(target).sort();
    assert.deepEqual(removed, [join(dir, names.deadChild), join(dir, names.neverRan)].sort());
    assert.deepEqual(readdirSync(dir).sort(), Object.values(names).filter((n) => n !== names.deadChild && n !== names.neverRan).sort());
    assert.deepEqual(removeStaleTemporaries(target), [], 'nothing left to remove');
    assert.deepEqual(removeStaleTemporaries(join(dir, 'missing', 'x.ngrad')), [], 'a folder that does not exist yet holds nothing stale');
  });
});

test('readRegularFile refuses directories and FIFOs without blocking', () => {
  withTempDir((dir) => {
    const file = join(dir, 'f');
    writeFileSync(file, 'abc');
    assert.deepEqual([...readRegularFile(file, 'thing')], [97, 98, 99]);
    refuses(() => readRegularFile(dir, 'thing', 'give the file'), `${dir}: cannot read thing (`, /it is a directory, not a regular file; give the file\)$/);
    refuses(() => readRegularFile(join(dir, 'nope'), 'thing'), `${join(dir, 'nope')}: cannot read thing (`, /no such file or folder \[ENOENT\]\)$/);
    refuses(() => readRegularFile(join(file, 'below'), 'thing'), `${join(file, 'below')}: cannot read thing (`, /\[ENOTDIR\]\)$/);
    if (process.platform !== 'win32') {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      refuses(() => readRegularFile(fifo, 'thing'), `${fifo}: cannot read thing (`, /it is a FIFO \(named pipe\), not a regular file\)$/);
    }
  });
});
