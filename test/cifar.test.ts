import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Rng } from '../src/random.js';
import { matrix } from '../src/tensor/matrix.js';
import {
  CIFAR10_CLASS_NAMES, CIFAR10_FILES, CIFAR10_PIXELS, CIFAR10_RECORD_BYTES, MAX_CIFAR_BYTES, encodeCifarBatch, parseCifarBatch, parseCifarMeta,
} from '../src/data/cifar.js';
import type { Dataset } from '../src/data/dataset.js';
import { encodeIdx } from '../src/data/idx.js';
import { classificationSet } from '../src/data/one-hot.js';
import { checkSplits, subset, validationSplit } from '../src/data/split.js';
import { IDX_FILES, loadDataset } from '../node/datasets.js';
import { withTempDir, refuses } from './helpers.js';

/*
 * CIFAR-10's binary version, written here in small batches (7 records each) from a seeded Rng, since no
 * copy of the real data can be installed: exact pixels in channel-first order, labels, one-hot targets,
 * the image shape through every split, and a one-line DataError for every damaged or misplaced file.
 */

const RECORDS = 7;
const bin = fileURLToPath(new URL('../../bin/ngrad.js', import.meta.url));
const ngrad = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });



const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Batch {
  labels: Uint8Array;
  pixels: Uint8Array;
}

function randomBatch(rng: Rng, n = RECORDS): Batch {
  const labels = Uint8Array.from({ length: n }, () => rng.int(10));
  const pixels = Uint8Array.from({ length: n * CIFAR10_PIXELS }, () => rng.int(256));
  return { labels, pixels };
}

/** A CIFAR-10 folder of five training batches and a test batch, RECORDS records each; returns them in file order. */
function writeFolder(dir: string, seed = 1): { train: Batch[]; test: Batch } {
  const rng = Rng.fromSeed(seed);
  const train = CIFAR10_FILES.train.map((f) => {
    const b = randomBatch(rng);
    writeFileSync(join(dir, f), encodeCifarBatch(b.labels, b.pixels));
    return b;
  });
  const test = randomBatch(rng);
  writeFileSync(join(dir, CIFAR10_FILES.test), encodeCifarBatch(test.labels, test.pixels));
  return { train, test };
}

const load = (dir: string, opts: Parameters<typeof loadDataset>[1] = {}) => loadDataset('cifar10', { dataDir: dir, ...opts });

test('parseCifarBatch: a label byte, then the red, green and blue planes, row-major, scaled by 1/255', () => {
  // One record whose planes are constant 10 (red), 20 (green), 30 (blue), but for green pixel (row 2, col 5).
  const pixels = new Uint8Array(CIFAR10_PIXELS);
  pixels.fill(10, 0, 1024).fill(20, 1024, 2048).fill(30, 2048);
  pixels[1024 + 2 * 32 + 5] = 255;
  const { x, labels } = parseCifarBatch(encodeCifarBatch([7], pixels), 'one.bin');
  assert.deepEqual([x.rows, x.cols], [1, 3072]);
  assert.deepEqual([...labels], [7]);
  assert.equal(x.data[0], Math.fround(10 / 255));
  assert.equal(x.data[1023], Math.fround(10 / 255));
  assert.equal(x.data[1024], Math.fround(20 / 255));
  assert.equal(x.data[1024 + 2 * 32 + 5], 1);
  assert.equal(x.data[1024 + 2 * 32 + 4], Math.fround(20 / 255));
  assert.equal(x.data[2048], Math.fround(30 / 255));
  assert.equal(x.data[3071], Math.fround(30 / 255));
});

test('loadDataset cifar10: exact pixels and labels in file order, one-hot targets, shape [3, 32, 32]', () => {
  withTempDir((dir) => {
    const written = writeFolder(dir);
    const s = load(dir);
    assert.equal(s.train.name, 'cifar10/train');
    assert.equal(s.test.name, 'cifar10/test');
    assert.deepEqual([s.train.x.rows, s.train.x.cols, s.train.y.cols], [5 * RECORDS, 3072, 10]);
    assert.deepEqual([s.test.x.rows, s.test.x.cols, s.test.y.cols], [RECORDS, 3072, 10]);
    const check = (ds: Dataset, batches: Batch[]) => {
      assert.deepEqual(ds.shape, [3, 32, 32]);
      assert.deepEqual(ds.classNames, CIFAR10_CLASS_NAMES);
      const labels = batches.flatMap((b) => [...b.labels]);
      assert.deepEqual([...(ds.labels as Int32Array)], labels);
      labels.forEach((l, i) => {
        const row = [...ds.y.data.subarray(i * 10, (i + 1) * 10)];
        assert.deepEqual(row, Array.from({ length: 10 }, (_, c) => (c === l ? 1 : 0)), `one-hot row ${i}`);
      });
      const pixels = batches.flatMap((b) => [...b.pixels]);
      assert.equal(ds.x.data.length, pixels.length);
      for (let i = 0; i < pixels.length; i++) {
        if (ds.x.data[i] !== Math.fround(pixels[i] / 255)) assert.fail(`pixel ${i}: ${ds.x.data[i]} ≠ ${pixels[i]}/255`);
      }
    };
    check(s.train, written.train);
    check(s.test, [written.test]);
    // Record 3 of data_batch_2, blue plane, row 31, col 0: read straight from the file's bytes.
    const bytes = readFileSync(join(dir, CIFAR10_FILES.train[1]));
    const at = 3 * CIFAR10_RECORD_BYTES + 1 + 2048 + 31 * 32;
    assert.equal(s.train.x.data[(RECORDS + 3) * 3072 + 2048 + 31 * 32], Math.fround(bytes[at] / 255));
  });
});

test('batches.meta.txt names the classes when present; a wrong one is refused', () => {
  withTempDir((dir) => {
    writeFolder(dir);
    const names = ['a0', 'b1', 'c2', 'd3', 'e4', 'f5', 'g6', 'h7', 'i8', 'j9'];
    writeFileSync(join(dir, CIFAR10_FILES.meta), `${names.join('\n')}\n\n`);
    assert.deepEqual(load(dir).test.classNames, names);
    writeFileSync(join(dir, CIFAR10_FILES.meta), 'cat\ndog\n');
    refuses(() => load(dir), /batches\.meta\.txt: holds 2 class names, CIFAR-10 has 10 \(one per line\); use the file from the binary version, or delete it$/);
    assert.throws(() => parseCifarMeta('', 'm.txt'), /m\.txt: holds 0 class names/);
  });
});

test('the image shape survives the validation split, the limits and subsets', () => {
  withTempDir((dir) => {
    writeFolder(dir);
    const s = load(dir, { validation: 5, limitTrain: 20, limitTest: 3, rng: Rng.fromSeed(3) });
    assert.deepEqual([s.train.x.rows, s.validation?.x.rows, s.test.x.rows], [20, 5, 3]);
    assert.equal(s.validation?.name, 'cifar10/validation');
    for (const ds of [s.train, s.validation as Dataset, s.test]) {
      assert.deepEqual(ds.shape, [3, 32, 32], ds.name);
      assert.deepEqual(ds.classNames, CIFAR10_CLASS_NAMES, ds.name);
    }
    const full = load(dir).train;
    assert.deepEqual(subset(full, 4, Rng.fromSeed(1)).shape, [3, 32, 32]);
    assert.deepEqual(validationSplit(full, 0.2, Rng.fromSeed(1)).validation.shape, [3, 32, 32]);
    assert.equal(validationSplit(full, 0.2, Rng.fromSeed(1)).validation.x.rows, 7);
  });
});

test('IDX images get the shape [1, rows, cols]', () => {
  withTempDir((dir) => {
    const images = (n: number) => encodeIdx([n, 2, 3], 'u8', Array.from({ length: n * 6 }, (_, i) => i % 256));
    writeFileSync(join(dir, IDX_FILES.trainImages), images(4));
    writeFileSync(join(dir, IDX_FILES.trainLabels), encodeIdx([4], 'u8', [0, 1, 0, 1]));
    writeFileSync(join(dir, IDX_FILES.testImages), images(2));
    writeFileSync(join(dir, IDX_FILES.testLabels), encodeIdx([2], 'u8', [1, 0]));
    const s = loadDataset('tiny', { dataDir: dir, validation: 1, rng: Rng.fromSeed(1) });
    for (const ds of [s.train, s.validation as Dataset, s.test]) assert.deepEqual(ds.shape, [1, 2, 3], ds.name);
    assert.equal(s.train.classNames, undefined);
  });
});

test('checkSplits refuses parts of different image shapes, and a shape that does not fit the width', () => {
  const set = (name: string, cols: number, shape?: number[]) => classificationSet(name, matrix(2, cols), Int32Array.from([0, 1]), 2, shape);
  checkSplits({ train: set('a/train', 12, [3, 2, 2]), test: set('a/test', 12, [3, 2, 2]) });
  refuses(() => checkSplits({ train: set('a/train', 12, [3, 2, 2]), test: set('b/test', 12, [1, 3, 4]) }),
    /^b\/test has images of 1x3x4 but a\/train has images of 3x2x2; use parts of the same data set$/);
  refuses(() => checkSplits({ train: set('a/train', 12, [3, 2, 2]), test: set('b/test', 12) }),
    /^b\/test has no image shape but a\/train has images of 3x2x2; use parts of the same data set$/);
  refuses(() => checkSplits({ train: set('a/train', 12, [3, 2, 2]), validation: set('v', 12, [2, 3, 2]), test: set('a/test', 12, [3, 2, 2]) }),
    /^v has images of 2x3x2 but a\/train has images of 3x2x2/);
  refuses(() => checkSplits({ train: set('a/train', 12, [3, 3, 3]), test: set('a/test', 12, [3, 3, 3]) }),
    /^a\/train: its image shape \[3, 3, 3\] does not hold its 12 inputs per example/);
});

test('damaged batches: truncated, extended, empty, label 10, gzipped, a pickle, CIFAR-100, each one line', () => {
  withTempDir((dir) => {
    const written = writeFolder(dir);
    const path = join(dir, CIFAR10_FILES.train[2]);
    const good = encodeCifarBatch(written.train[2].labels, written.train[2].pixels);
    const bad = (bytes: Uint8Array, re: RegExp) => {
      writeFileSync(path, bytes);
      refuses(() => load(dir), new RegExp(`^${escape(path)}: ${re.source}`));
    };
    bad(good.subarray(0, good.length - 100), /21411 bytes are not whole 3073-byte records \(1 label byte \+ 3072 pixel bytes\): 2973 bytes left over after 6 records; file truncated or extended\?$/);
    const extended = new Uint8Array(good.length + 5);
    extended.set(good);
    bad(extended, /21516 bytes are not whole 3073-byte records .*: 5 bytes left over after 7 records; file truncated or extended\?$/);
    bad(new Uint8Array(0), /is empty; a CIFAR-10 batch holds at least one 3073-byte record$/);
    const label10 = good.slice();
    label10[4 * CIFAR10_RECORD_BYTES] = 10;
    bad(label10, /label 10 in record 4 \(byte 12292\) is outside the 10 classes 0\.\.9; not a CIFAR-10 batch, or a corrupt one$/);
    bad(gzipSync(good), /is gzip-compressed, and CIFAR-10 batches are read raw: decompress it/);
    bad(Uint8Array.from([0x80, 2, ...good.subarray(2)]), /label 128 in record 0 \(byte 0\) .*; it looks like a Python pickle: use the binary version/);
    bad(new Uint8Array(3 * 3074), /9222 bytes are not whole 3073-byte records.*; a CIFAR-100 batch \(3074-byte records\)\?$/);
    // Parsing bytes directly (as a browser would) gives the same messages.
    refuses(() => parseCifarBatch(new Uint8Array(3072), 'https://example.org/b.bin'), /^https:\/\/example\.org\/b\.bin: 3072 bytes are not whole 3073-byte records.*0 records/);
    writeFileSync(path, good);
    assert.equal(load(dir).train.x.rows, 5 * RECORDS, 'restored, the folder loads again');
  });
});

test('missing files, a missing folder, and no --data-dir: one line saying what a CIFAR-10 folder holds', () => {
  withTempDir((dir) => {
    writeFolder(dir);
    rmSync(join(dir, 'data_batch_3.bin'));
    const holds = 'a CIFAR-10 folder holds data_batch_1\\.bin … data_batch_5\\.bin and test_batch\\.bin \\(the binary version\\)';
    refuses(() => load(dir), new RegExp(`^${escape(dir)} has no data_batch_3\\.bin: ${holds}$`));
    rmSync(join(dir, CIFAR10_FILES.test));
    refuses(() => load(dir), new RegExp(`^${escape(dir)} has no data_batch_3\\.bin, test_batch\\.bin: ${holds}$`));
    for (const f of CIFAR10_FILES.train) rmSync(join(dir, f), { force: true });
    refuses(() => load(dir), new RegExp(`^${escape(dir)} has none of the batch files: ${holds}$`));
    refuses(() => load(join(dir, 'nope')), new RegExp(`^${escape(join(dir, 'nope'))}: cannot read this folder \\(no such file or folder \\[ENOENT\\]\\); ${holds}$`));
    writeFileSync(join(dir, 'a-file'), '');
    refuses(() => load(join(dir, 'a-file')), /a-file is a file, not a folder; a CIFAR-10 folder holds/);
    refuses(() => loadDataset('cifar10'), /^cifar10 needs --data-dir DIR, the folder of CIFAR-10's binary version \(data_batch_1\.bin … data_batch_5\.bin and test_batch\.bin; cifar-10-binary\.tar\.gz from .*\): no copy is installed$/);
  });
});

test('usual folder mistakes are named: the batches one level down, the python version, CIFAR given as IDX', () => {
  withTempDir((dir) => {
    const nested = join(dir, 'cifar-10-batches-bin');
    mkdirSync(nested);
    writeFolder(nested);
    refuses(() => load(dir), new RegExp(`; the batches are one level down: pass --data-dir ${escape(nested)}$`));
    refuses(() => loadDataset('mnist', { dataDir: nested }), new RegExp(`${escape(nested)} holds CIFAR-10 batches: pass --data cifar10\\)$`));
    const py = join(dir, 'py');
    mkdirSync(py);
    for (const f of ['data_batch_1', 'test_batch', 'batches.meta']) writeFileSync(join(py, f), 'x');
    refuses(() => load(py), /; this is the python version \(pickles\): get cifar-10-binary\.tar\.gz instead$/);
  });
});

test('a directory or FIFO where a batch should be, and a file over 2 GiB, are refused before reading', () => {
  withTempDir((dir) => {
    writeFolder(dir);
    const path = join(dir, CIFAR10_FILES.test);
    rmSync(path);
    mkdirSync(path);
    refuses(() => load(dir), new RegExp(`^${escape(path)}: cannot read CIFAR-10 batch \\(it is a directory, not a regular file\\)$`));
    rmSync(path, { recursive: true });
    if (process.platform !== 'win32') {
      execFileSync('mkfifo', [path]);
      refuses(() => load(dir), new RegExp(`^${escape(path)}: cannot read CIFAR-10 batch \\(it is a FIFO \\(named pipe\\), not a regular file\\)$`));
      rmSync(path);
    }
    // A sparse file: 2 GiB + one record on paper, no blocks on disk; refused from its size, unread.
    const fd = openSync(path, 'w');
    ftruncateSync(fd, MAX_CIFAR_BYTES + CIFAR10_RECORD_BYTES);
    closeSync(fd);
    const before = process.memoryUsage().arrayBuffers;
    const start = performance.now();
    refuses(() => load(dir), new RegExp(`^${escape(path)}: 2147486721 bytes, more than the 2147483648 a batch may have \\(a CIFAR-10 batch is 30730000\\); not a CIFAR-10 batch$`));
    assert.ok(performance.now() - start < 1000, 'without reading it');
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'without reading it');
  });
});

test('ngrad train --data cifar10 --data-dir DIR trains; bad CIFAR input is exit code 2 and one line', () => {
  withTempDir((dir) => {
    const data = join(dir, 'data');
    mkdirSync(data);
    writeFolder(data);
    const out = join(dir, 'run');
    const r = ngrad('train', '--data', 'cifar10', '--data-dir', data, '--arch', '3072-16-10', '--epochs', '1', '--batch', '5', '--quiet', '--json', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    assert.equal(summary.arch, '3072-16-10');
    assert.ok(summary.test_error >= 0 && summary.test_error <= 1, `test error ${summary.test_error}`);
    const e = ngrad('eval', '--checkpoint', join(out, 'checkpoint.ngrad'), '--json');
    assert.equal(e.status, 0, e.stderr);

    const expectError = (args: string[], re: RegExp) => {
      const bad = ngrad(...args);
      assert.equal(bad.status, 2, `exit code; stderr: ${bad.stderr}`);
      const lines = bad.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${bad.stderr}`);
      assert.match(lines[0], re);
    };
    expectError(['train', '--data', 'cifar10', '--quiet'], /cifar10 needs --data-dir DIR/);
    writeFileSync(join(data, 'data_batch_4.bin'), Uint8Array.from([10, ...new Uint8Array(3072)]));
    expectError(['train', '--data', 'cifar10', '--data-dir', data, '--arch', '3072-16-10', '--quiet', '--out', join(dir, 'run2')],
      /data_batch_4\.bin: label 10 in record 0 \(byte 0\) is outside the 10 classes 0\.\.9/);
  });
});
