import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Dataset } from './dataset.js';
import { DataError } from './errors.js';
import { isGzip } from './gzip.js';
import { classificationSet } from './one-hot.js';

/*
 * The binary version of CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html): each batch file is a run
 * of 3073-byte records, a label byte 0..9 then a 32x32 colour image as 1024 red, 1024 green and 1024 blue
 * bytes, each plane row-major. Bytes in, arrays out: no file system here, so a browser can parse fetched
 * batches too.
 */

/** The per-example image shape of CIFAR-10: [channels, height, width], the order of the file's bytes. */
export const CIFAR10_SHAPE: readonly number[] = Object.freeze([3, 32, 32]);

/** Pixel bytes of one image: 3 * 32 * 32. */
export const CIFAR10_PIXELS = 3072;

/** Bytes of one record: the label byte, then the pixels. */
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_PIXELS;

export const CIFAR10_CLASSES = 10;

/** The class names of batches.meta.txt, in label order. */
export const CIFAR10_CLASS_NAMES: readonly string[] = Object.freeze([
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
]);

/** The files of the binary version's folder (cifar-10-batches-bin). */
export const CIFAR10_FILES = Object.freeze({
  train: Object.freeze(['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin']),
  test: 'test_batch.bin',
  /** Optional: the class names, one per line. */
  meta: 'batches.meta.txt',
});

/**
 * The most bytes of batches parsed together: a real batch is 30,730,000 bytes, and the pixels become
 * float32 (four times the bytes), so more than 2 GiB is a wrong file, not CIFAR-10, and is refused before
 * anything is allocated.
 */
export const MAX_CIFAR_BYTES = 2 ** 31;

/** Batches parsed: images [n, 3072] float32 in [0, 1], in the file's channel-first order, and labels. */
export interface CifarBatch {
  /** [n, 3072]: pixel byte / 255, red plane, then green, then blue, each row-major. */
  x: Matrix;
  /** The class index 0..9 of each image. */
  labels: Int32Array;
}

/** The bytes of one batch file and the name (path or URL) that errors give it. */
export interface CifarBatchBytes {
  bytes: Uint8Array;
  source: string;
}

/**
 * Refuses a batch file of more than MAX_CIFAR_BYTES (a one-line DataError naming `source`): for a file
 * system to call with the file's size before reading it.
 */
export function checkCifarBatchSize(bytes: number, source: string): void {
  if (bytes > MAX_CIFAR_BYTES) {
    throw new DataError(`${source}: ${bytes} bytes, more than the ${MAX_CIFAR_BYTES} a batch may have (a CIFAR-10 batch is 30730000); not a CIFAR-10 batch`);
  }
}

/**
 * Checks one batch file without allocating anything: not gzip, not empty, whole records only, every
 * label in 0..9. Returns its number of records; anything else is a one-line DataError naming `source`.
 */
export function checkCifarBatch(bytes: Uint8Array, source: string): number {
  const fail = (why: string) => new DataError(`${source}: ${why}`);
  // NOTE: unambiguous, since a raw batch starts with a label byte 0..9, never 0x1f.
  if (isGzip(bytes)) throw fail('is gzip-compressed, and CIFAR-10 batches are read raw: decompress it (gunzip it, or extract cifar-10-binary.tar.gz with tar -xzf)');
  if (bytes.length === 0) throw fail(`is empty; a CIFAR-10 batch holds at least one ${CIFAR10_RECORD_BYTES}-byte record`);
  checkCifarBatchSize(bytes.length, source);
  const n = Math.floor(bytes.length / CIFAR10_RECORD_BYTES);
  const left = bytes.length - n * CIFAR10_RECORD_BYTES;
  if (left !== 0) {
    // CIFAR-100's binary records carry two label bytes (coarse, fine); worth naming when the length fits.
    const hint = bytes.length % (CIFAR10_RECORD_BYTES + 1) === 0 ? '; a CIFAR-100 batch (3074-byte records)?' : '; file truncated or extended?';
    throw fail(`${bytes.length} bytes are not whole ${CIFAR10_RECORD_BYTES}-byte records (1 label byte + ${CIFAR10_PIXELS} pixel bytes): ${left} bytes left over after ${n} records${hint}`);
  }
  for (let i = 0; i < n; i++) {
    const label = bytes[i * CIFAR10_RECORD_BYTES];
    if (label >= CIFAR10_CLASSES) {
      // 0x80 is how a Python pickle starts: the python version's data_batch_1 renamed, or given by mistake.
      const hint = i === 0 && label === 0x80 ? '; it looks like a Python pickle: use the binary version (cifar-10-binary.tar.gz)' : '; not a CIFAR-10 batch, or a corrupt one';
      throw fail(`label ${label} in record ${i} (byte ${i * CIFAR10_RECORD_BYTES}) is outside the ${CIFAR10_CLASSES} classes 0..${CIFAR10_CLASSES - 1}${hint}`);
    }
  }
  return n;
}

/**
 * Parses batch files into one set of images and labels, in the order given: every file is checked
 * (checkCifarBatch) and the total size bounded before the output is allocated, once.
 */
export function parseCifarBatches(files: readonly CifarBatchBytes[]): CifarBatch {
  if (files.length === 0) throw new Error('parseCifarBatches: no batch files given');
  let n = 0;
  let bytes = 0;
  for (const f of files) {
    n += checkCifarBatch(f.bytes, f.source);
    bytes += f.bytes.length;
  }
  if (bytes > MAX_CIFAR_BYTES) {
    throw new DataError(`${files.map((f) => f.source).join(', ')}: ${bytes} bytes together, more than the ${MAX_CIFAR_BYTES} ngrad reads as one CIFAR-10 set (the real one is 184380000); not CIFAR-10 batches`);
  }
  const x = matrix(n, CIFAR10_PIXELS);
  const labels = new Int32Array(n);
  let row = 0;
  for (const { bytes: b } of files) {
    for (let at = 0; at < b.length; at += CIFAR10_RECORD_BYTES, row++) {
      labels[row] = b[at];
      const out = row * CIFAR10_PIXELS;
      for (let j = 0; j < CIFAR10_PIXELS; j++) x.data[out + j] = b[at + 1 + j] / 255;
    }
  }
  return { x, labels };
}

/** Parses one batch file (see parseCifarBatches); `source` names it in errors. */
export function parseCifarBatch(bytes: Uint8Array, source: string): CifarBatch {
  return parseCifarBatches([{ bytes, source }]);
}

/**
 * Parses batches.meta.txt: the class names in label order, one per line, blank lines ignored (the real
 * file ends with some). Anything but exactly 10 names is a one-line DataError naming `source`.
 */
export function parseCifarMeta(text: string, source: string): string[] {
  const names = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (names.length !== CIFAR10_CLASSES) {
    throw new DataError(`${source}: holds ${names.length} class names, CIFAR-10 has ${CIFAR10_CLASSES} (one per line); use the file from the binary version, or delete it`);
  }
  return names;
}

/** A CIFAR-10 classification Dataset from parsed batches: one-hot targets for 10 classes, shape [3, 32, 32]. */
export function cifarDataset(name: string, batch: CifarBatch, classNames: readonly string[] = CIFAR10_CLASS_NAMES): Dataset {
  return { ...classificationSet(name, batch.x, batch.labels, CIFAR10_CLASSES, CIFAR10_SHAPE), classNames };
}

/**
 * Encodes images and labels as a batch file (the inverse of parseCifarBatch, for tests and small sets):
 * `pixels` holds 3072 bytes per label, in the file's order.
 */
export function encodeCifarBatch(labels: ArrayLike<number>, pixels: ArrayLike<number>): Uint8Array {
  if (pixels.length !== labels.length * CIFAR10_PIXELS) {
    throw new Error(`encodeCifarBatch: ${labels.length} labels need ${labels.length * CIFAR10_PIXELS} pixel bytes, got ${pixels.length}`);
  }
  const out = new Uint8Array(labels.length * CIFAR10_RECORD_BYTES);
  for (let i = 0; i < labels.length; i++) {
    const at = i * CIFAR10_RECORD_BYTES;
    out[at] = labels[i];
    for (let j = 0; j < CIFAR10_PIXELS; j++) out[at + 1 + j] = pixels[i * CIFAR10_PIXELS + j];
  }
  return out;
}
