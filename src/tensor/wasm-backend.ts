import { loweredConv2d } from './conv-lowering.js';
import { loweredLocal2d } from './local-lowering.js';
import { checkBernoulli, checkClip, checkGemmShapes, checkSign, type ActivationKind, type Backend } from './backend.js';
import { activateBackwardJs, activateJs, createJsBackend } from './js-backend.js';
import type { Matrix } from './matrix.js';
import {
  checkGemmBatch, checkPatches, checkPool, checkTransposeBlocks, isDenseLayout, layoutExtent, POOL_CODES, type PatchGeometry,
} from './patches.js';

/**
 * The WebAssembly backend: GEMM, tanh and sigmoid run in a SIMD kernel compiled from src/tensor/wasm/*.c
 * (scripts/build-wasm.mjs), and so do clip, sign, bernoulli and the hard sigmoid (forward and backward),
 * whose compare-and-select kernels give the js reference's bits exactly, and the image kernels (batched
 * GEMM, im2col / col2im, block transposes, pooling; image.c). relu, leaky_relu, bias, column
 * sums, axpby and Adam are the js backend's. Single-threaded. Runs in browsers and in Node
 * (node/wasm-loader.ts reads the module from disk).
 *
 * Operands are copied into the module's linear memory above __heap_base for each call and the result is
 * copied back: Float32Arrays owned by JS cannot be handed to wasm in place. The memory only ever grows,
 * to the largest call so far, so steady-state training allocates nothing.
 */

/** What the compiled kernels export. Pointers are byte offsets into `memory`. */
interface WasmKernels {
  memory: WebAssembly.Memory;
  /** First byte not used by the module's static data and stack: operands go from here up. */
  heapBase: number;
  sgemm(
    transA: number, transB: number, m: number, n: number, k: number,
    alpha: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number,
  ): void;
  tanhInPlace(x: number, n: number): void;
  sigmoidInPlace(x: number, n: number): void;
  clipInPlace(x: number, n: number, lo: number, hi: number): void;
  signInPlace(x: number, n: number, scale: number): void;
  /** Writes the samples over p. */
  bernoulliInPlace(p: number, u: number, n: number): void;
  /** Writes dz over dh. */
  hardSigmoidBackwardInPlace(z: number, dh: number, n: number): void;
  sgemmBatched(
    transA: number, transB: number, m: number, n: number, k: number, alpha: number, a: number, lda: number, b: number,
    ldb: number, beta: number, c: number, count: number, strideA: number, strideB: number, strideC: number,
  ): void;
  im2colWasm(...args: [...Geometry, x: number, batch: number, cols: number, sImage: number, sPosition: number, sValue: number]): void;
  col2imWasm(...args: [...Geometry, cols: number, sImage: number, sPosition: number, sValue: number, dx: number, batch: number]): void;
  transposeBlocksWasm(count: number, rows: number, cols: number, src: number, dst: number): void;
  pool2dWasm(...args: [mode: number, ...Geometry, x: number, batch: number, z: number]): void;
  pool2dBackwardWasm(...args: [mode: number, ...Geometry, x: number, dz: number, batch: number, dx: number]): void;
}

/** A PatchGeometry as the kernels take it: c, h, w, k, stride, pad, oh, ow. */
type Geometry = [number, number, number, number, number, number, number, number];
const geometry = (g: PatchGeometry): Geometry => [g.c, g.h, g.w, g.k, g.stride, g.pad, g.oh, g.ow];

const KERNEL_FUNCTIONS = [
  'sgemm', 'tanhInPlace', 'sigmoidInPlace', 'clipInPlace', 'signInPlace', 'bernoulliInPlace',
  'hardSigmoidBackwardInPlace', 'sgemmBatched', 'im2colWasm', 'col2imWasm', 'transposeBlocksWasm', 'pool2dWasm',
  'pool2dBackwardWasm',
] as const;

/** The kernels of an instance, or an error naming what is missing (a stale or foreign .wasm file). */
function kernelsOf(instance: WebAssembly.Instance): WasmKernels {
  const ex = instance.exports;
  const stale = (what: string): never => {
    throw new Error(`wasm backend: the module does not export ${what}; it is stale or not ngrad's kernels`);
  };
  const missing = KERNEL_FUNCTIONS.filter((f) => typeof ex[f] !== 'function');
  if (missing.length > 0) stale(missing.join(', '));
  const memory = ex.memory, heapBase = ex.__heap_base;
  if (!(memory instanceof WebAssembly.Memory)) return stale('memory');
  if (!(heapBase instanceof WebAssembly.Global)) return stale('__heap_base');
  return {
    memory,
    heapBase: Number(heapBase.value),
    sgemm: ex.sgemm as WasmKernels['sgemm'],
    tanhInPlace: ex.tanhInPlace as WasmKernels['tanhInPlace'],
    sigmoidInPlace: ex.sigmoidInPlace as WasmKernels['sigmoidInPlace'],
    clipInPlace: ex.clipInPlace as WasmKernels['clipInPlace'],
    signInPlace: ex.signInPlace as WasmKernels['signInPlace'],
    bernoulliInPlace: ex.bernoulliInPlace as WasmKernels['bernoulliInPlace'],
    hardSigmoidBackwardInPlace: ex.hardSigmoidBackwardInPlace as WasmKernels['hardSigmoidBackwardInPlace'],
    sgemmBatched: ex.sgemmBatched as WasmKernels['sgemmBatched'],
    im2colWasm: ex.im2colWasm as WasmKernels['im2colWasm'],
    col2imWasm: ex.col2imWasm as WasmKernels['col2imWasm'],
    transposeBlocksWasm: ex.transposeBlocksWasm as WasmKernels['transposeBlocksWasm'],
    pool2dWasm: ex.pool2dWasm as WasmKernels['pool2dWasm'],
    pool2dBackwardWasm: ex.pool2dBackwardWasm as WasmKernels['pool2dBackwardWasm'],
  };
}

const WASM_PAGE = 65536;

/** Float count rounded up to 4, so every operand starts 16-byte aligned (as the SIMD loads prefer). */
const padded = (floats: number) => (floats + 3) & ~3;

/** A Backend over instantiated kernels. */
function backendFromInstance(instance: WebAssembly.Instance): Backend {
  const kernels = kernelsOf(instance);
  const { memory, heapBase } = kernels;
  if (heapBase % 16 !== 0) throw new Error(`wasm backend: __heap_base ${heapBase} is not 16-byte aligned`);
  const base = heapBase / 4; // in floats
  let view = new Float32Array(memory.buffer);

  /** A view of all of memory with room for `floats` values from the heap base. NOTE: growing detaches the
   * old ArrayBuffer, so the view is rebuilt whenever memory.buffer has changed. */
  function reserve(floats: number): Float32Array {
    const needBytes = heapBase + 4 * floats;
    const have = memory.buffer.byteLength;
    if (have < needBytes) memory.grow(Math.ceil((needBytes - have) / WASM_PAGE));
    if (view.buffer !== memory.buffer) view = new Float32Array(memory.buffer);
    return view;
  }

  /** tanh or sigmoid through the kernel: z in, f(z) out (out may alias z, since z is copied first). */
  function mapInPlace(kernel: (x: number, n: number) => void, z: Float32Array, out: Float32Array): void {
    const n = z.length;
    if (out.length !== n) throw new Error(`activate: out has ${out.length} values, z has ${n}`);
    const mem = reserve(n);
    mem.set(z, base);
    kernel(heapBase, n);
    out.set(mem.subarray(base, base + n));
  }

  /** Copies a to the heap base and b (if given) after it, 16-byte aligned; returns b's offset in floats.
   * The kernels then work in place, and unstage copies their result out, so an output may alias any
   * input. */
  function stage(a: Float32Array, b?: Float32Array): number {
    const n = a.length, offB = base + padded(n);
    const mem = reserve(b ? offB - base + n : n);
    mem.set(a, base);
    if (b) mem.set(b, offB);
    return offB;
  }

  function unstage(offset: number, out: Float32Array): void {
    out.set(view.subarray(offset, offset + out.length));
  }

  /** Offsets in floats of consecutive operands of these lengths from the heap base, each 16-byte aligned,
   * with memory grown to hold them all (so `view` is current afterwards). */
  function place(...lengths: number[]): number[] {
    const offsets: number[] = [];
    let at = base;
    for (const n of lengths) {
      offsets.push(at);
      at += padded(n);
    }
    reserve(at - base);
    return offsets;
  }

  const head = (x: Float32Array, n: number) => x.subarray(0, n);

  /** The kernel takes lo and hi as float32, as the js reference rounds them. Lengths checked by the caller. */
  function clipWasm(x: Float32Array, lo: number, hi: number, out: Float32Array): void {
    stage(x);
    kernels.clipInPlace(heapBase, x.length, lo, hi);
    unstage(base, out);
  }

  const js = createJsBackend();
  const backend: Backend = {
    ...js,
    name: 'wasm',
    gemm(transA: boolean, transB: boolean, alpha: number, a: Matrix, b: Matrix, beta: number, c: Matrix) {
      const { m, n, k } = checkGemmShapes(transA, transB, a, b, c);
      if (m === 0 || n === 0) return;
      // NOTE: the kernel takes alpha and beta as float32 (as cblas_sgemm does). Deciding "beta = 0" on the
      // rounded value keeps this side and the kernel in agreement about whether C is read.
      const beta32 = Math.fround(beta);
      const offA = base, offB = offA + padded(m * k), offC = offB + padded(k * n);
      const mem = reserve(offC - base + m * n);
      mem.set(a.data.subarray(0, m * k), offA);
      mem.set(b.data.subarray(0, k * n), offB);
      // BLAS convention: with beta = 0, C is not read (it may hold NaN), so it need not be copied in.
      if (beta32 !== 0) mem.set(c.data.subarray(0, m * n), offC);
      kernels.sgemm(+transA, +transB, m, n, k, alpha, 4 * offA, a.cols, 4 * offB, b.cols, beta32, 4 * offC);
      c.data.set(mem.subarray(offC, offC + m * n));
    },
    activate(kind: ActivationKind, z: Float32Array, out: Float32Array, slope: number) {
      if (kind === 'tanh') mapInPlace(kernels.tanhInPlace, z, out);
      else if (kind === 'sigmoid') mapInPlace(kernels.sigmoidInPlace, z, out);
      else if (kind === 'hard_sigmoid') {
        if (out.length !== z.length) throw new Error(`activate: out has ${out.length} values, z has ${z.length}`);
        clipWasm(z, 0, 1, out);
      } else activateJs(kind, z, out, slope);
    },
    activateBackward(
      kind: ActivationKind, z: Float32Array, h: Float32Array, dh: Float32Array, dz: Float32Array, slope: number,
    ) {
      if (kind !== 'hard_sigmoid') {
        activateBackwardJs(kind, z, h, dh, dz, slope);
        return;
      }
      const n = dz.length;
      if (z.length !== n || dh.length !== n) {
        throw new Error(`activateBackward: z has ${z.length} values, dh ${dh.length}, dz ${n}`);
      }
      const offDh = stage(z, dh);
      kernels.hardSigmoidBackwardInPlace(heapBase, 4 * offDh, n); // writes over dh's copy
      unstage(offDh, dz);
    },
    clip(x, lo, hi, out) {
      checkClip(x, lo, hi, out);
      clipWasm(x, lo, hi, out);
    },
    sign(x, scale, out) {
      checkSign(x, out);
      stage(x);
      kernels.signInPlace(heapBase, x.length, scale);
      unstage(base, out);
    },
    bernoulli(p, u, out) {
      checkBernoulli(p, u, out);
      const offU = stage(p, u);
      kernels.bernoulliInPlace(heapBase, 4 * offU, p.length); // writes over p's copy
      unstage(base, out);
    },
    gemmBatched(batch, transA, transB, alpha, a, b, beta, c) {
      const one = (x: Matrix): Matrix => ({ rows: x.rows, cols: x.cols, data: x.data.subarray(0, x.rows * x.cols) });
      const { m, n, k } = checkGemmShapes(transA, transB, one(a), one(b), one(c));
      checkGemmBatch(batch, a, b, c, m, n, k);
      const { count, strideA, strideB, strideC } = batch;
      if (count === 0 || m === 0 || n === 0) return;
      const beta32 = Math.fround(beta);
      const last = count - 1, lenA = last * strideA + m * k, lenB = last * strideB + k * n, lenC = last * strideC + m * n;
      const [offA, offB, offC] = place(lenA, lenB, lenC);
      view.set(head(a.data, lenA), offA);
      view.set(head(b.data, lenB), offB);
      // C is read with beta ≠ 0, and values between its blocks (strideC > m·n) must survive the copy back.
      if (beta32 !== 0 || (count > 1 && strideC > m * n)) view.set(head(c.data, lenC), offC);
      kernels.sgemmBatched(+transA, +transB, m, n, k, alpha, 4 * offA, a.cols, 4 * offB, b.cols, beta32, 4 * offC, count, strideA, strideB, strideC);
      c.data.set(view.subarray(offC, offC + lenC));
    },
    transposeBlocks(count, rows, cols, src, dst) {
      checkTransposeBlocks(count, rows, cols, src, dst);
      const len = count * rows * cols;
      const [offS, offD] = place(len, len);
      view.set(head(src, len), offS);
      kernels.transposeBlocksWasm(count, rows, cols, 4 * offS, 4 * offD);
      dst.set(view.subarray(offD, offD + len));
    },
    im2col(g, x, layout, cols) {
      checkPatches(g, x, layout, cols, 'im2col');
      const lenX = x.rows * x.cols, lenC = layoutExtent(g, x.rows, layout);
      if (lenC === 0) return;
      const [offX, offC] = place(lenX, lenC);
      view.set(head(x.data, lenX), offX);
      // Values of cols the layout skips are left alone: copy them in unless every one is overwritten.
      if (!isDenseLayout(g, x.rows, layout)) view.set(head(cols, lenC), offC);
      kernels.im2colWasm(...geometry(g), 4 * offX, x.rows, 4 * offC, layout.image, layout.position, layout.value);
      cols.set(view.subarray(offC, offC + lenC));
    },
    col2im(g, cols, layout, dx) {
      checkPatches(g, dx, layout, cols, 'col2im');
      const lenX = dx.rows * dx.cols, lenC = layoutExtent(g, dx.rows, layout);
      if (lenX === 0) return;
      const [offC, offX] = place(lenC, lenX);
      view.set(head(cols, lenC), offC);
      kernels.col2imWasm(...geometry(g), 4 * offC, layout.image, layout.position, layout.value, 4 * offX, dx.rows);
      dx.data.set(view.subarray(offX, offX + lenX));
    },
    pool2d(mode, g, x, z) {
      checkPool(mode, g, x, z, 'pool2d');
      const lenX = x.rows * x.cols, lenZ = z.rows * z.cols;
      if (lenZ === 0) return;
      const [offX, offZ] = place(lenX, lenZ);
      view.set(head(x.data, lenX), offX);
      kernels.pool2dWasm(POOL_CODES[mode], ...geometry(g), 4 * offX, x.rows, 4 * offZ);
      z.data.set(view.subarray(offZ, offZ + lenZ));
    },
    pool2dBackward(mode, g, x, dz, dx) {
      checkPool(mode, g, dx, dz, 'pool2dBackward');
      if (mode === 'max') checkPool(mode, g, x, dz, 'pool2dBackward');
      const lenX = dx.rows * dx.cols, lenZ = dz.rows * dz.cols, lenIn = mode === 'max' ? lenX : 0;
      if (lenX === 0) return;
      const [offIn, offZ, offX] = place(lenIn, lenZ, lenX);
      if (lenIn > 0) view.set(head(x.data, lenIn), offIn);
      view.set(head(dz.data, lenZ), offZ);
      kernels.pool2dBackwardWasm(POOL_CODES[mode], ...geometry(g), 4 * offIn, 4 * offZ, dx.rows, 4 * offX);
      dx.data.set(view.subarray(offX, offX + lenX));
    },
    setThreads() {},
    getThreads: () => 1,
  };
  backend.conv2d = loweredConv2d(backend); // the js backend's would call the js primitives
  backend.local2d = loweredLocal2d(backend);
  return backend;
}

function isModule(source: WebAssembly.Module | BufferSource): source is WebAssembly.Module {
  return source instanceof WebAssembly.Module;
}

/**
 * The wasm backend from the compiled module or its bytes, synchronously. NOTE: Chrome refuses to compile
 * or instantiate modules over 4 KB synchronously on a page's main thread; there, use
 * instantiateWasmBackend (or call this in a Web Worker, where it is fine).
 */
export function createWasmBackend(source: WebAssembly.Module | BufferSource): Backend {
  const module = isModule(source) ? source : new WebAssembly.Module(source);
  return backendFromInstance(new WebAssembly.Instance(module, {}));
}

/** The wasm backend, compiled and instantiated asynchronously (what a browser's main thread needs). */
export async function instantiateWasmBackend(source: WebAssembly.Module | BufferSource): Promise<Backend> {
  const module = isModule(source) ? source : await WebAssembly.compile(source);
  return backendFromInstance(await WebAssembly.instantiate(module, {}));
}
