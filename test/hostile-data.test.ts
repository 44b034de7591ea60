import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Rng } from '../src/random.js';
import { matrix } from '../src/tensor/matrix.js';
import type { DataSplits } from '../src/data/dataset.js';
import { encodeIdx } from '../src/data/idx.js';
import { classificationSet } from '../src/data/one-hot.js';
import { checkSplits } from '../src/data/split.js';
import { IDX_FILES, loadDataset } from '../node/datasets.js';
import { withTempDir, refuses } from './helpers.js';

/*
 * Data a user should never be able to turn into a hang, a stack trace, a blown memory budget or a run that
 * trains on nothing: every case must be a one-line DataError that names the file or the split.
 */



const images = (n: number, rows = 2, cols = 3) => encodeIdx([n, rows, cols], 'u8', Array.from({ length: n * rows * cols }, (_, i) => i % 256));
const labels = (values: number[]) => encodeIdx([values.length], 'u8', values);

/** A raw MNIST-style folder: 6 training and 3 test images of 2x3 pixels, classes 0..2. */
function writeSet(dir: string): void {
  writeFileSync(join(dir, IDX_FILES.trainImages), images(6));
  writeFileSync(join(dir, IDX_FILES.trainLabels), labels([0, 1, 2, 0, 1, 2]));
  writeFileSync(join(dir, IDX_FILES.testImages), images(3));
  writeFileSync(join(dir, IDX_FILES.testLabels), labels([2, 1, 0]));
}

const load = (dir: string, opts: Parameters<typeof loadDataset>[1] = {}) => loadDataset('tiny', { dataDir: dir, ...opts });

test('a gzip bomb in a data dir is refused after inflating a few bytes, not 200 MB', () => {
  withTempDir((dir) => {
    writeSet(dir);
    // The header claims 10 images of 28x28; behind it, 200 MB of zeros (about 200 kB gzipped).
    const body = new Uint8Array(200 * 2 ** 20);
    body.set(encodeIdx([10, 28, 28], 'u8', new Array<number>(7840).fill(0)).subarray(0, 16));
    const bomb = join(dir, `${IDX_FILES.trainImages}.gz`);
    rmSync(join(dir, IDX_FILES.trainImages));
    writeFileSync(bomb, gzipSync(body, { level: 9 }));
    const before = process.memoryUsage().arrayBuffers;
    const start = performance.now();
    refuses(() => load(dir), new RegExp(`^${bomb.replace(/[.]/g, '\\.')}: inflates to more than the 7856 bytes its IDX header declares \\(10x28x28 u8\\): the file holds extra data or is a decompression bomb; use the original file$`));
    const ms = performance.now() - start;
    assert.ok(ms < 1000, `refused in ${ms.toFixed(0)} ms`);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 2 ** 20, 'without inflating the bomb');
  });
});

test('a gzipped file with a bad header is refused before the rest is inflated; a damaged one is called damaged', () => {
  withTempDir((dir) => {
    writeSet(dir);
    rmSync(join(dir, IDX_FILES.testLabels));
    const path = join(dir, `${IDX_FILES.testLabels}.gz`);
    writeFileSync(path, gzipSync(Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 3, 2, 1, 0])));
    refuses(() => load(dir), /t10k-labels-idx1-ubyte\.gz: unknown IDX type code 0x0a/);
    const damaged = gzipSync(labels([2, 1, 0]));
    damaged[11] ^= 0x40;
    writeFileSync(path, damaged);
    refuses(() => load(dir), /t10k-labels-idx1-ubyte\.gz: corrupt gzip stream/);
  });
});

test('a directory or a FIFO where an IDX file should be: one line, no hang', () => {
  withTempDir((dir) => {
    writeSet(dir);
    rmSync(join(dir, IDX_FILES.trainImages));
    mkdirSync(join(dir, IDX_FILES.trainImages));
    refuses(() => load(dir), /train-images-idx3-ubyte: cannot read IDX file \(it is a directory, not a regular file\)$/);
    if (process.platform === 'win32') return;
    rmSync(join(dir, IDX_FILES.trainImages), { recursive: true });
    writeFileSync(join(dir, IDX_FILES.trainImages), images(6));
    rmSync(join(dir, IDX_FILES.testLabels));
    execFileSync('mkfifo', [join(dir, IDX_FILES.testLabels)]);
    refuses(() => load(dir), /t10k-labels-idx1-ubyte: cannot read IDX file \(it is a FIFO \(named pipe\), not a regular file\)$/);
  });
});

test('files swapped or of the wrong shape are named as such, not as a count mismatch', () => {
  withTempDir((dir) => {
    writeSet(dir);
    writeFileSync(join(dir, IDX_FILES.trainImages), labels([0, 1, 2, 0, 1, 2]));
    refuses(() => load(dir), /train-images-idx3-ubyte: an images file must have 3 dimensions \(count, rows, cols\), found 1 \(6\); is it a labels file\?$/);
    writeSet(dir);
    writeFileSync(join(dir, IDX_FILES.testLabels), images(3));
    refuses(() => load(dir), /t10k-labels-idx1-ubyte: labels must be 1-D \(count\), found 3 dimensions \(3x2x3\); is it an images file\?$/);
    writeSet(dir);
    writeFileSync(join(dir, IDX_FILES.testImages), encodeIdx([3, 0, 3], 'u8', []));
    refuses(() => load(dir), /t10k-images-idx3-ubyte: images of 0x3 pixels \(3x0x3\) hold nothing/);
    writeSet(dir);
    writeFileSync(join(dir, IDX_FILES.testImages), encodeIdx([3, 2, 3], 'i16', new Array<number>(18).fill(1)));
    refuses(() => load(dir), /t10k-images-idx3-ubyte: images must be u8, found i16$/);
    writeSet(dir);
    writeFileSync(join(dir, IDX_FILES.trainLabels), encodeIdx([6], 'f32', [0, 1, 2, 0, 1, 2]));
    refuses(() => load(dir), /train-labels-idx1-ubyte: labels must be integers, found f32$/);
  });
});

test('test images of another size than the training images are refused at load time', () => {
  withTempDir((dir) => {
    writeSet(dir);
    writeFileSync(join(dir, IDX_FILES.testImages), images(3, 3, 2));
    refuses(() => load(dir), /t10k-images-idx3-ubyte has 3x2 images but .*train-images-idx3-ubyte has 2x3; files from different sets\?$/);
  });
});

test('labels out of range, and a stray label that would silently add classes', () => {
  withTempDir((dir) => {
    writeSet(dir);
    writeFileSync(join(dir, IDX_FILES.trainLabels), labels([0, 1, 2, 0, 1, 10]));
    refuses(() => loadDataset('mnist', { dataDir: dir }), /train-labels-idx1-ubyte: label 10 at index 5 is outside the 10 classes 0\.\.9$/);
    writeFileSync(join(dir, IDX_FILES.trainLabels), labels([0, 1, 2, 0, 1, 255]));
    refuses(() => load(dir), /train-labels-idx1-ubyte and .*t10k-labels-idx1-ubyte: the largest label is 255 but only 4 of the classes 0\.\.255 occur \(never 3\); a corrupt label\?/);
    assert.equal(load(dir, { classes: 256 }).train.y.cols, 256, 'given explicitly, sparse classes are allowed');
  });
});

test('empty sets are refused, also after the validation split and the limits', () => {
  withTempDir((dir) => {
    writeSet(dir);
    assert.equal(load(dir).train.x.rows, 6);
    refuses(() => load(dir, { validation: 6, rng: Rng.fromSeed(1) }), /validation size 6 leaves no training rows: tiny\/train has only 6; hold out fewer \(--validation below 6\)$/);
    refuses(() => load(dir, { validation: 60, rng: Rng.fromSeed(1) }), /validation size 60 leaves no training rows/);
    refuses(() => load(dir, { limitTrain: 0 }), /a training limit of 0 leaves tiny\/train empty; give --limit-train 1 or more$/);
    refuses(() => load(dir, { limitTest: 0 }), /a test limit of 0 leaves tiny\/test empty; give --limit-test 1 or more$/);
    const s = load(dir, { validation: 5, limitTrain: 1, limitTest: 1, rng: Rng.fromSeed(1) });
    assert.deepEqual([s.train.x.rows, s.validation?.x.rows, s.test.x.rows], [1, 5, 1]);

    writeFileSync(join(dir, IDX_FILES.trainImages), images(0));
    writeFileSync(join(dir, IDX_FILES.trainLabels), labels([]));
    refuses(() => load(dir, { classes: 3 }), /train-images-idx3-ubyte: holds no images \(0x2x3\); a training set needs at least one$/);
    writeSet(dir);
    writeFileSync(join(dir, IDX_FILES.testImages), images(0));
    writeFileSync(join(dir, IDX_FILES.testLabels), labels([]));
    refuses(() => load(dir), /t10k-images-idx3-ubyte: holds no images \(0x2x3\); a test set needs at least one$/);
  });
});

test('checkSplits: parts must be non-empty and agree in width, outputs and kind', () => {
  const set = (name: string, rows: number, cols: number, classes: number) =>
    classificationSet(name, matrix(rows, cols), Int32Array.from({ length: rows }, (_, i) => i % classes), classes);
  const ok: DataSplits = { train: set('t/train', 4, 3, 2), validation: set('t/validation', 2, 3, 2), test: set('t/test', 2, 3, 2) };
  checkSplits(ok);
  refuses(() => checkSplits({ ...ok, train: set('t/train', 0, 3, 2) }), /^t\/train is empty; a training set needs at least one example$/);
  refuses(() => checkSplits({ ...ok, test: set('t/test', 0, 3, 2) }), /^t\/test is empty; a test set needs at least one example$/);
  refuses(() => checkSplits({ ...ok, validation: set('t/validation', 0, 3, 2) }), /^t\/validation is empty; a validation set needs at least one example$/);
  refuses(() => checkSplits({ ...ok, test: set('t/test', 2, 4, 2) }), /^t\/test has 4 inputs per example but t\/train has 3; use parts of the same data set$/);
  refuses(() => checkSplits({ ...ok, validation: set('t/validation', 2, 3, 5) }), /^t\/validation has 5 classes but t\/train has 2/);
  const regression = { name: 't/test', x: matrix(2, 3), y: matrix(2, 2) };
  refuses(() => checkSplits({ ...ok, validation: undefined, test: regression }), /^t\/test and t\/train are not both classification sets/);
  refuses(() => checkSplits({ ...ok, test: { name: 't/test', x: matrix(2, 3), y: matrix(3, 2) } }), /^t\/test: 2 inputs but 3 targets$/);
});

test('the CLI reports hostile data in one line with exit code 2', () => {
  const bin = fileURLToPath(new URL('../../bin/ngrad.js', import.meta.url));
  withTempDir((dir) => {
    writeSet(dir);
    const out = join(dir, 'run');
    const train = (...args: string[]) => spawnSync(process.execPath, [bin, 'train', '--data-dir', dir, '--out', out, '--epochs', '1', '--quiet', ...args], { encoding: 'utf8' });
    const cases: [() => void, RegExp][] = [
      [() => writeFileSync(join(dir, IDX_FILES.testImages), images(3, 3, 2)), /has 3x2 images but .* has 2x3/],
      [() => writeFileSync(join(dir, IDX_FILES.trainImages), labels([0, 1, 2, 0, 1, 2])), /must have 3 dimensions/],
    ];
    for (const [spoil, re] of cases) {
      writeSet(dir);
      spoil();
      const r = train();
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
    writeSet(dir);
    const r = train('--validation', '6');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /validation size 6 leaves no training rows/);
  });
});
