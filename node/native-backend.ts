import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { ACTIVATION_CODES, checkBernoulli, checkClip, checkGemmShapes, checkSign, type Backend } from '../src/tensor/backend.js';
import type { Matrix } from '../src/tensor/matrix.js';
import {
  checkConv2d, checkGemmBatch, checkLocal2d, checkPatches, checkPool, checkTransposeBlocks, CONV2D_OPS, POOL_CODES, type PatchGeometry,
} from '../src/tensor/patches.js';
import { findPackageFile } from './package-files.js';

/** What node/native/addon.c exports. Matrices travel as (data, rows, cols); lengths are re-checked in C. */
interface NativeAddon {
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
  ): void;
  activate(code: number, z: Float32Array, out: Float32Array, slope: number): void;
  activateBackward(code: number, z: Float32Array, h: Float32Array, dh: Float32Array, dz: Float32Array, slope: number): void;
  addRowVector(m: Float32Array, rows: number, cols: number, v: Float32Array): void;
  sumRows(m: Float32Array, rows: number, cols: number, alpha: number, beta: number, out: Float32Array): void;
  axpby(alpha: number, x: Float32Array, beta: number, y: Float32Array): void;
  adam(g: Float32Array, m: Float32Array, v: Float32Array, b1: number, b2: number, c1: number, c2: number, eps: number): void;
  clip(x: Float32Array, lo: number, hi: number, out: Float32Array): void;
  sign(x: Float32Array, scale: number, out: Float32Array): void;
  bernoulli(p: Float32Array, u: Float32Array, out: Float32Array): void;
  gemmBatched(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array,
    beta: number, c: Float32Array, count: number, strideA: number, strideB: number, strideC: number,
  ): void;
  transposeBlocks(count: number, rows: number, cols: number, src: Float32Array, dst: Float32Array): void;
  im2col(...args: [...Geometry, x: Float32Array, batch: number, cols: Float32Array, sImage: number, sPosition: number, sValue: number]): void;
  col2im(...args: [...Geometry, cols: Float32Array, sImage: number, sPosition: number, sValue: number, dx: Float32Array, batch: number]): void;
  conv2d(...args: [op: number, ...Geometry, out: number, batch: number, a: Float32Array, b: Float32Array, c: Float32Array]): void;
  local2d(...args: [op: number, ...Geometry, out: number, batch: number, a: Float32Array, b: Float32Array, c: Float32Array]): void;
  pool2d(...args: [mode: number, ...Geometry, x: Float32Array, batch: number, z: Float32Array]): void;
  pool2dBackward(...args: [mode: number, ...Geometry, x: Float32Array, dz: Float32Array, batch: number, dx: Float32Array]): void;
  setThreads(n: number): void;
  getThreads(): number;
  blasInfo(): string;
}

/** A PatchGeometry as the addon takes it: c, h, w, k, stride, pad, oh, ow. */
type Geometry = [number, number, number, number, number, number, number, number];
const geometry = (g: PatchGeometry): Geometry => [g.c, g.h, g.w, g.k, g.stride, g.pad, g.oh, g.ow];

const ADDON_FUNCTIONS = [
  'gemm', 'activate', 'activateBackward', 'addRowVector', 'sumRows', 'axpby', 'adam', 'clip', 'sign', 'bernoulli',
  'gemmBatched', 'transposeBlocks', 'im2col', 'col2im', 'conv2d', 'local2d', 'pool2d', 'pool2dBackward', 'setThreads', 'getThreads', 'blasInfo',
] as const satisfies readonly (keyof NativeAddon)[];

/** The native backend plus what only it can tell: which OpenBLAS build and CPU kernel it runs. */
export interface NativeBackend extends Backend {
  blasInfo(): string;
}

/** How to get the native backend when it is missing; shown by the install script and createBackend. */
export const NATIVE_FIX = 'apt-get install libopenblas-dev, then npm rebuild ngrad (or node scripts/build-native.mjs)';

/** Where scripts/build-native.mjs leaves the addon, relative to the package root. */
export const ADDON_RELATIVE_PATH = 'node/native/build/Release/ngrad_native.node';

/** The addon could not be loaded (not built, or a shared library is missing); `reason` is one line. */
export class NativeUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`native backend unavailable: ${reason}`);
    this.name = 'NativeUnavailableError';
  }
}

/** The addon's path: $NGRAD_NATIVE_ADDON, else the one in the package (undefined if not built). */
export function findAddon(): string | undefined {
  return findPackageFile(ADDON_RELATIVE_PATH, process.env.NGRAD_NATIVE_ADDON);
}

function isNativeAddon(x: unknown): x is NativeAddon {
  if (typeof x !== 'object' || x === null) return false;
  return ADDON_FUNCTIONS.every((f) => typeof Reflect.get(x, f) === 'function');
}

let addon: NativeAddon | undefined;
let threadsConfigured = false;

function loadAddon(): NativeAddon {
  if (addon) return addon;
  const path = findAddon();
  if (!path) throw new NativeUnavailableError(`addon not built (no ${ADDON_RELATIVE_PATH})`);
  let loaded: unknown;
  try {
    loaded = createRequire(import.meta.url)(path);
  } catch (e) {
    // e.g. "libopenblas.so.0: cannot open shared object file" when the runtime library was removed.
    const message = e instanceof Error ? e.message : String(e);
    throw new NativeUnavailableError(`cannot load ${path}: ${message.split('\n')[0]}`);
  }
  if (!isNativeAddon(loaded)) throw new NativeUnavailableError(`${path} is stale or not ngrad's addon; rebuild it`);
  addon = loaded;
  return addon;
}

/** GEMM threads unless told otherwise: $NGRAD_THREADS, else 2 or the number of cores if fewer. NOTE: more
 * than 2 rarely pays at MNIST sizes (a 100-row batch), and OpenBLAS's own default (all cores) oversubscribes
 * machines that run several trainings at once. */
export function defaultThreads(): number {
  const env = process.env.NGRAD_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`NGRAD_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return Math.min(2, availableParallelism());
}

/**
 * The OpenBLAS-backed backend. Throws NativeUnavailableError if the addon cannot be loaded. The thread count
 * is process-wide (OpenBLAS keeps one pool); it is set to defaultThreads() on the first load only, so a later
 * load does not undo a setThreads().
 */
export function loadNativeBackend(): NativeBackend {
  const native = loadAddon();
  if (!threadsConfigured) {
    native.setThreads(defaultThreads());
    threadsConfigured = true;
  }
  return {
    name: 'native',
    gemm(transA: boolean, transB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix) {
      const { m, n, k } = checkGemmShapes(transA, transB, a, b, c);
      native.gemm(transA, transB, m, n, k, alpha, a.data, b.data, beta, c.data);
    },
    activate(kind, z, out, slope) {
      native.activate(ACTIVATION_CODES[kind], z, out, slope);
    },
    activateBackward(kind, z, h, dh, dz, slope) {
      native.activateBackward(ACTIVATION_CODES[kind], z, h, dh, dz, slope);
    },
    addRowVector(m: Matrix, v: Float32Array) {
      if (v.length !== m.cols) throw new Error(`addRowVector: vector has ${v.length} values, matrix has ${m.cols} columns`);
      native.addRowVector(m.data, m.rows, m.cols, v);
    },
    sumRows(m: Matrix, alpha: number, beta: number, out: Float32Array) {
      if (out.length !== m.cols) throw new Error(`sumRows: output has ${out.length} values, matrix has ${m.cols} columns`);
      native.sumRows(m.data, m.rows, m.cols, alpha, beta, out);
    },
    axpby(alpha, x, beta, y) {
      if (x.length !== y.length) throw new Error(`axpby: lengths differ (${x.length} vs ${y.length})`);
      native.axpby(alpha, x, beta, y);
    },
    adam(g, m, v, b1, b2, c1, c2, eps) {
      native.adam(g, m, v, b1, b2, c1, c2, eps);
    },
    clip(x, lo, hi, out) {
      checkClip(x, lo, hi, out);
      native.clip(x, lo, hi, out);
    },
    sign(x, scale, out) {
      checkSign(x, out);
      native.sign(x, scale, out);
    },
    bernoulli(p, u, out) {
      checkBernoulli(p, u, out);
      native.bernoulli(p, u, out);
    },
    gemmBatched(batch, transA, transB, alpha, a, b, beta, c) {
      const one = (x: Matrix): Matrix => ({ rows: x.rows, cols: x.cols, data: x.data.subarray(0, x.rows * x.cols) });
      const { m, n, k } = checkGemmShapes(transA, transB, one(a), one(b), one(c));
      checkGemmBatch(batch, a, b, c, m, n, k);
      native.gemmBatched(transA, transB, m, n, k, alpha, a.data, b.data, beta, c.data, batch.count, batch.strideA, batch.strideB, batch.strideC);
    },
    transposeBlocks(count, rows, cols, src, dst) {
      checkTransposeBlocks(count, rows, cols, src, dst);
      native.transposeBlocks(count, rows, cols, src, dst);
    },
    im2col(g, x, layout, cols) {
      checkPatches(g, x, layout, cols, 'im2col');
      native.im2col(...geometry(g), x.data, x.rows, cols, layout.image, layout.position, layout.value);
    },
    col2im(g, cols, layout, dx) {
      checkPatches(g, dx, layout, cols, 'col2im');
      native.col2im(...geometry(g), cols, layout.image, layout.position, layout.value, dx.data, dx.rows);
    },
    conv2d(op, g, a, b, c) {
      const { out, batch } = checkConv2d(op, g, a, b, c);
      native.conv2d(CONV2D_OPS[op], ...geometry(g), out, batch, a.data, b.data, c.data);
    },
    local2d(op, g, a, b, c) {
      const { out, batch } = checkLocal2d(op, g, a, b, c);
      native.local2d(CONV2D_OPS[op], ...geometry(g), out, batch, a.data, b.data, c.data);
    },
    pool2d(mode, g, x, z) {
      checkPool(mode, g, x, z, 'pool2d');
      native.pool2d(POOL_CODES[mode], ...geometry(g), x.data, x.rows, z.data);
    },
    pool2dBackward(mode, g, x, dz, dx) {
      checkPool(mode, g, dx, dz, 'pool2dBackward');
      if (mode === 'max') checkPool(mode, g, x, dz, 'pool2dBackward');
      native.pool2dBackward(POOL_CODES[mode], ...geometry(g), x.data, dz.data, dx.rows, dx.data);
    },
    setThreads(n: number) {
      if (!Number.isInteger(n) || n < 1) throw new Error(`setThreads: need a positive integer, got ${n}`);
      native.setThreads(n);
    },
    getThreads: () => native.getThreads(),
    blasInfo: () => native.blasInfo(),
  };
}
