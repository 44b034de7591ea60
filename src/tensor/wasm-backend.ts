import { checkBernoulli, checkClip, checkGemmShapes, checkSign, type ActivationKind, type Backend } from './backend.js';
import { activateBackwardJs, activateJs, createJsBackend } from './js-backend.js';
import type { Matrix } from './matrix.js';

/**
 * The WebAssembly backend: GEMM, tanh and sigmoid run in a SIMD kernel compiled from src/tensor/wasm/*.c
 * (scripts/build-wasm.mjs), and so do clip, sign, bernoulli and the hard sigmoid (forward and backward),
 * whose compare-and-select kernels give the js reference's bits exactly. relu, leaky_relu, bias, column
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
}

const KERNEL_FUNCTIONS = [
  'sgemm', 'tanhInPlace', 'sigmoidInPlace', 'clipInPlace', 'signInPlace', 'bernoulliInPlace',
  'hardSigmoidBackwardInPlace',
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

  /** The kernel takes lo and hi as float32, as the js reference rounds them. Lengths checked by the caller. */
  function clipWasm(x: Float32Array, lo: number, hi: number, out: Float32Array): void {
    stage(x);
    kernels.clipInPlace(heapBase, x.length, lo, hi);
    unstage(base, out);
  }

  const js = createJsBackend();
  return {
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
    setThreads() {},
    getThreads: () => 1,
  };
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
