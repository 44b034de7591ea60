// Every backend against the js reference (tier 2 of the testing plan): GEMM on odd shapes with all
// transposes, subarray views, each activation forward and backward, the small kernels, the exact
// compare-and-select kernels (hard sigmoid, clip, sign, bernoulli) bit for bit, seeded Bernoulli
// sampling, threads, and the errors a wrong call must raise. Also how createBackend chooses and what it says when native or wasm is
// missing. (Tests only the wasm backend has are in wasm-backend.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ACTIVATION_KINDS, type Backend } from '../src/tensor/backend.js';
import { activateJs, createJsBackend } from '../src/tensor/js-backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { layoutExtent, patchGeometry, type GemmBatch, type PatchGeometry, type PatchLayout } from '../src/tensor/patches.js';
import { Rng } from '../src/random.js';
import { sampleBernoulli } from '../src/tensor/sampling.js';
import { BACKEND_NAMES, createBackend } from '../node/backends.js';
import { findAddon, loadNativeBackend, type NativeBackend } from '../node/native-backend.js';
import { loadWasmBackend } from '../node/wasm-loader.js';

const js = createJsBackend();
const rng = Rng.fromSeed(20240611);

let native: NativeBackend | undefined;
let nativeProblem = '';
try {
  native = loadNativeBackend();
} catch (e) {
  nativeProblem = e instanceof Error ? e.message : String(e);
}
// Read before any test changes it: the thread count a fresh load sets.
const initialThreads = native?.getThreads();

let wasm: Backend | undefined;
let wasmProblem = '';
try {
  wasm = loadWasmBackend();
} catch (e) {
  wasmProblem = e instanceof Error ? e.message : String(e);
}

/** A missing backend fails one test in CI (NGRAD_REQUIRE_…=1) and is skipped elsewhere. */
function reportMissing(name: string, requireVar: string, problem: string): void {
  if (process.env[requireVar] === '1') test(`${name} backend loads (${requireVar}=1)`, () => assert.fail(problem));
  else test(`${name} backend`, { skip: `not available: ${problem}` }, () => {});
}
if (!native) reportMissing('native', 'NGRAD_REQUIRE_NATIVE', nativeProblem);
if (!wasm) reportMissing('wasm', 'NGRAD_REQUIRE_WASM', wasmProblem);

/** The backends compared with js. */
const candidates: Backend[] = [native, wasm].filter((b): b is Backend => b !== undefined);

function random(n: number, low = -1, high = 1): Float32Array {
  return rng.fillUniform(new Float32Array(n), low, high);
}

function randomMatrix(rows: number, cols: number): Matrix {
  return matrix(rows, cols, random(rows * cols));
}

function abs(m: Matrix): Matrix {
  return matrix(m.rows, m.cols, m.data.map(Math.abs));
}

/** |got − want| ≤ rtol·scale + atol element-wise, where scale is |want| unless given per element. */
function assertClose(got: Float32Array, want: Float32Array, rtol: number, atol: number, what: string, scale?: Float32Array): void {
  assert.equal(got.length, want.length, `${what}: lengths differ`);
  for (let i = 0; i < got.length; i++) {
    const tol = rtol * (scale ? scale[i] : Math.abs(want[i])) + atol;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]} (tolerance ${tol})`);
    }
  }
}

/** Bit-for-bit equality, except that any NaN matches any NaN (JavaScript does not promise NaN payloads). */
function assertSameBits(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: lengths differ`);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < got.length; i++) {
    if (g[i] !== w[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      assert.fail(`${what}: element ${i} is ${Object.is(got[i], -0) ? '-0' : got[i]}, expected ${Object.is(want[i], -0) ? '-0' : want[i]}`);
    }
  }
}

/** Lengths for the element-wise kernels: empty, every 4-lane SIMD tail, and past several vector widths. */
const ODD_LENGTHS = [0, 1, 2, 3, 5, 7, 9, 17, 33, 1001];

const ULP_BELOW_1 = 1 - 2 ** -24, ULP_ABOVE_1 = 1 + 2 ** -23;
/** The values where compare-and-select kernels go wrong: signed zeros, the hard sigmoid's kinks and their
 * neighbours, infinities, NaN, subnormals. */
const EDGES = [0, -0, 1, -1, ULP_BELOW_1, ULP_ABOVE_1, 2 ** -149, -(2 ** -149), 1e-40, 0.5, Infinity, -Infinity, NaN, -NaN];

/** n values: random in [low, high] with EDGES spread through, so that some land in the SIMD tails. */
function withEdges(n: number, low = -2, high = 3): Float32Array {
  const x = random(n, low, high);
  for (let i = 0; i < n; i++) if (rng.uniform() < 0.2) x[i] = EDGES[rng.int(EDGES.length)];
  return x;
}

/**
 * An element-wise kernel x → out against js bit for bit: fresh out, in place (out === x), and on subarray
 * views whose neighbours must stay untouched, for every odd length.
 */
function checkExact(backend: Backend, what: string, run: (be: Backend, x: Float32Array, out: Float32Array) => void): void {
  for (const n of ODD_LENGTHS) {
    const buf = withEdges(n + 5), x = buf.subarray(2, 2 + n);
    const want = new Float32Array(n);
    run(js, x, want);
    const out = new Float32Array(n).fill(7);
    run(backend, x, out);
    assertSameBits(out, want, `${backend.name} ${what}, length ${n}`);
    const outBuf = new Float32Array(n + 4).fill(7);
    run(backend, x, outBuf.subarray(1, 1 + n));
    assertSameBits(outBuf.subarray(1, 1 + n), want, `${backend.name} ${what} on a view, length ${n}`);
    assert.deepEqual([outBuf[0], ...outBuf.subarray(1 + n)], [7, 7, 7, 7], `${backend.name} ${what}, length ${n}: wrote outside the view`);
    const before = buf.slice();
    run(backend, x, x);
    assertSameBits(x, want, `${backend.name} ${what} in place, length ${n}`);
    assertSameBits(buf.subarray(0, 2), before.subarray(0, 2), `${backend.name} ${what} in place: wrote before the view`);
    assertSameBits(buf.subarray(2 + n), before.subarray(2 + n), `${backend.name} ${what} in place: wrote after the view`);
  }
}

/** Clip bounds: the hard sigmoid's, lo = hi, one-sided (infinite), and doubles that float32 must round. */
const CLIP_BOUNDS: ReadonlyArray<readonly [number, number]> = [[0, 1], [-0.5, 0.25], [-Infinity, 0.3], [0.2, Infinity], [0.7, 0.7], [0.1, 0.3], [-0, 0]];
const SIGN_SCALES = [1, 0.5, -2, 0, 1e-3, 3e38];

/** Runs gemm on `backend` and js from the same C, and checks the results agree. NOTE: the tolerance scales
 * with |alpha|·|op(A)|·|op(B)| + |beta·C| (the size of the terms, not of their possibly cancelling sum) and
 * with √k, the typical growth of float32 accumulation error. */
function checkGemm(backend: Backend, tA: boolean, tB: boolean, m: number, n: number, k: number, alpha: number, beta: number, nanC = false): void {
  const a = tA ? randomMatrix(k, m) : randomMatrix(m, k);
  const b = tB ? randomMatrix(n, k) : randomMatrix(k, n);
  const c0 = nanC ? matrix(m, n, new Float32Array(m * n).fill(NaN)) : randomMatrix(m, n);
  const want = matrix(m, n, c0.data.slice());
  js.gemm(tA, tB, alpha, a, b, beta, want);
  const got = matrix(m, n, c0.data.slice());
  backend.gemm(tA, tB, alpha, a, b, beta, got);

  const scale = matrix(m, n);
  js.gemm(tA, tB, Math.abs(alpha), abs(a), abs(b), 0, scale);
  if (beta !== 0) for (let i = 0; i < scale.data.length; i++) scale.data[i] += Math.abs(beta * c0.data[i]);
  const what = `${backend.name} gemm ${m}x${n}x${k} transA=${tA} transB=${tB} alpha=${alpha} beta=${beta}${nanC ? ' (C NaN)' : ''}`;
  assertClose(got.data, want.data, 1e-5 * Math.sqrt(Math.max(k, 1)), 0, what, scale.data);
}

const TRANSPOSES: ReadonlyArray<readonly [boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];
const SCALARS: ReadonlyArray<readonly [number, number]> = [[1, 0], [0.5, 1], [-2, 0.25], [1.5, -1]];

function gemmShapes(): Array<[number, number, number]> {
  const shapes: Array<[number, number, number]> = [[1, 1, 1], [3, 5, 7], [17, 33, 9], [2, 3, 0], [0, 4, 5], [4, 0, 3]];
  for (let i = 0; i < 6; i++) shapes.push([1 + rng.int(70), 1 + rng.int(70), 1 + rng.int(70)]);
  return shapes;
}

test('js gemm equals a naive triple loop on a small shape', () => {
  const [m, n, k] = [3, 4, 5];
  for (const [tA, tB] of TRANSPOSES) {
    const a = tA ? randomMatrix(k, m) : randomMatrix(m, k);
    const b = tB ? randomMatrix(n, k) : randomMatrix(k, n);
    const c = randomMatrix(m, n);
    const want = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += (tA ? a.data[p * m + i] : a.data[i * k + p]) * (tB ? b.data[j * k + p] : b.data[p * n + j]);
        want[i * n + j] = 2 * s + 0.5 * c.data[i * n + j];
      }
    }
    js.gemm(tA, tB, 2, a, b, 0.5, c);
    assertClose(c.data, want, 1e-6, 1e-7, `js gemm transA=${tA} transB=${tB}`);
  }
});

for (const backend of candidates) {
  test(`${backend.name}: gemm matches js on odd and random shapes, all transposes, alpha/beta, NaN C with beta 0`, () => {
    for (const [m, n, k] of gemmShapes()) {
      for (const [tA, tB] of TRANSPOSES) {
        for (const [alpha, beta] of SCALARS) checkGemm(backend, tA, tB, m, n, k, alpha, beta);
        checkGemm(backend, tA, tB, m, n, k, 1, 0, true);
      }
    }
  });

  test(`${backend.name}: gemm matches js on the MNIST shape 100x784·784x1000`, () => {
    checkGemm(backend, false, false, 100, 1000, 784, 1, 0, true);
  });

  test(`${backend.name}: gemm reads and writes subarray views at their byteOffset only`, () => {
    const [m, n, k] = [5, 6, 7];
    for (const [tA, tB] of TRANSPOSES) {
      const aBuf = random(m * k + 4), bBuf = random(k * n + 8), cBuf = random(m * n + 6);
      const a = { rows: tA ? k : m, cols: tA ? m : k, data: aBuf.subarray(3, 3 + m * k) };
      const b = { rows: tB ? n : k, cols: tB ? k : n, data: bBuf.subarray(5, 5 + k * n) };
      const c = { rows: m, cols: n, data: cBuf.subarray(1, 1 + m * n) };
      const want = matrix(m, n, c.data.slice());
      js.gemm(tA, tB, 1, matrix(a.rows, a.cols, a.data.slice()), matrix(b.rows, b.cols, b.data.slice()), 0.5, want);
      const before = cBuf.slice();
      backend.gemm(tA, tB, 1, a, b, 0.5, c);
      assertClose(c.data, want.data, 1e-5, 1e-6, `${backend.name} gemm on views transA=${tA} transB=${tB}`);
      assert.equal(cBuf[0], before[0], 'value before the C view was written');
      assert.deepEqual(cBuf.subarray(1 + m * n), before.subarray(1 + m * n), 'values after the C view were written');
    }
  });

  test(`${backend.name}: gemm rejects shapes that do not fit`, () => {
    const a = randomMatrix(3, 4), b = randomMatrix(4, 5);
    assert.throws(() => backend.gemm(false, false, 1, a, b, 0, matrix(3, 4)), /shapes do not fit/);
    assert.throws(() => backend.gemm(true, false, 1, a, b, 0, matrix(3, 5)), /shapes do not fit/);
    assert.throws(() => backend.gemm(false, true, 1, a, b, 0, matrix(3, 5)), /shapes do not fit/);
    const short = { rows: 3, cols: 4, data: new Float32Array(11) };
    assert.throws(() => backend.gemm(false, false, 1, short, b, 0, matrix(3, 5)), /fewer values/);
  });

  test(`${backend.name}: every activation forward matches js, also in place (out === z)`, () => {
    // Wide range plus the edges: 0 (relu's kink), large |z| (saturation, exp overflow), tiny |z|.
    const z = new Float32Array([...random(997, -6, 6), 0, -0, 100, -100, 1e-4, -1e-4, 20, -20, 88, -88, -90]);
    for (const kind of ACTIVATION_KINDS) {
      const want = new Float32Array(z.length);
      activateJs(kind, z, want, 0.1);
      const out = new Float32Array(z.length).fill(NaN);
      backend.activate(kind, z, out, 0.1);
      // NOTE: tanhf/expf from libmvec are within a few ulp; atol covers sigmoid's denormal outputs.
      assertClose(out, want, 4e-6, 1e-30, `${backend.name} activate ${kind}`);
      const inPlace = z.slice();
      backend.activate(kind, inPlace, inPlace, 0.1);
      assertClose(inPlace, want, 4e-6, 1e-30, `${backend.name} activate ${kind} in place`);
    }
  });

  test(`${backend.name}: every activation backward matches js, also in place (dz === dh)`, () => {
    const z = new Float32Array([...random(1001, -4, 4), 0, -0, 30, -30]);
    const dh = random(z.length, -2, 2);
    for (const kind of ACTIVATION_KINDS) {
      const h = new Float32Array(z.length);
      activateJs(kind, z, h, 0.05);
      const want = new Float32Array(z.length);
      js.activateBackward(kind, z, h, dh, want, 0.05);
      const dz = new Float32Array(z.length).fill(NaN);
      backend.activateBackward(kind, z, h, dh, dz, 0.05);
      assertClose(dz, want, 1e-6, 1e-30, `${backend.name} activateBackward ${kind}`);
      const inPlace = dh.slice();
      backend.activateBackward(kind, z, h, inPlace, inPlace, 0.05);
      assertClose(inPlace, want, 1e-6, 1e-30, `${backend.name} activateBackward ${kind} in place`);
    }
  });

  test(`${backend.name}: addRowVector and sumRows (beta 0 with NaN out, beta 1, general) match js`, () => {
    for (const [rows, cols] of [[1, 1], [7, 13], [100, 1000], [3, 1030]]) {
      const m = randomMatrix(rows, cols), v = random(cols);
      const want = matrix(rows, cols, m.data.slice());
      js.addRowVector(want, v);
      backend.addRowVector(m, v);
      assertClose(m.data, want.data, 1e-7, 0, `${backend.name} addRowVector ${rows}x${cols}`);

      for (const [alpha, beta] of [[1, 0], [1, 1], [0.5, -0.3]]) {
        const out0 = beta === 0 ? new Float32Array(cols).fill(NaN) : random(cols);
        const wantSum = out0.slice(), gotSum = out0.slice();
        js.sumRows(m, alpha, beta, wantSum);
        backend.sumRows(m, alpha, beta, gotSum);
        assertClose(gotSum, wantSum, 1e-6, 1e-6, `${backend.name} sumRows ${rows}x${cols} alpha=${alpha} beta=${beta}`);
      }
    }
  });

  test(`${backend.name}: axpby (beta 1 and general, y === x) and adam match js`, () => {
    for (const [alpha, beta] of [[-0.1, 1], [0.5, 0.9], [2, 0]]) {
      const x = random(1037), y0 = random(1037);
      const want = y0.slice(), got = y0.slice();
      js.axpby(alpha, x, beta, want);
      backend.axpby(alpha, x, beta, got);
      assertClose(got, want, 1e-6, 1e-7, `${backend.name} axpby alpha=${alpha} beta=${beta}`);
    }
    const same = random(64), sameWant = same.slice();
    js.axpby(0.5, sameWant, 0.25, sameWant);
    backend.axpby(0.5, same, 0.25, same);
    assertClose(same, sameWant, 1e-6, 0, `${backend.name} axpby with y === x`);

    const n = 1029, t = 3, b1 = 0.9, b2 = 0.999;
    const g = random(n), m = random(n, -0.1, 0.1), v = random(n, 0, 0.01);
    const g0 = g.slice(), m0 = m.slice();
    const want = [g.slice(), m.slice(), v.slice()] as const;
    js.adam(want[0], want[1], want[2], b1, b2, 1 - b1 ** t, 1 - b2 ** t, 1e-8);
    backend.adam(g, m, v, b1, b2, 1 - b1 ** t, 1 - b2 ** t, 1e-8);
    // NOTE: b1·m and (1 − b1)·g may nearly cancel, so m's tolerance scales with the terms, not the sum.
    const mTerms = m0.map((mi, i) => Math.abs(b1 * mi) + Math.abs((1 - b1) * g0[i]));
    assertClose(m, want[1], 1e-6, 0, `${backend.name} adam m`, mTerms);
    assertClose(v, want[2], 1e-6, 1e-12, `${backend.name} adam v`);
    assertClose(g, want[0], 1e-5, 1e-7, `${backend.name} adam step`);
  });

  test(`${backend.name}: hard_sigmoid forward and backward equal js bit for bit (kinks, ±0, ±Inf, NaN, views, in place)`, () => {
    checkExact(backend, 'activate hard_sigmoid', (be, z, out) => be.activate('hard_sigmoid', z, out, 0));
    for (const n of ODD_LENGTHS) {
      const z = withEdges(n), dh = withEdges(n);
      const h = new Float32Array(n);
      js.activate('hard_sigmoid', z, h, 0);
      const want = new Float32Array(n);
      js.activateBackward('hard_sigmoid', z, h, dh, want, 0);
      const dz = new Float32Array(n).fill(7);
      backend.activateBackward('hard_sigmoid', z, h, dh, dz, 0);
      assertSameBits(dz, want, `${backend.name} activateBackward hard_sigmoid, length ${n}`);
      const inPlace = dh.slice();
      backend.activateBackward('hard_sigmoid', z, h, inPlace, inPlace, 0);
      assertSameBits(inPlace, want, `${backend.name} activateBackward hard_sigmoid in place, length ${n}`);
    }
    // The defining values: clip(z, 0, 1), derivative 1 strictly inside (0, 1) and 0 at and beyond the kinks.
    const z = new Float32Array([-1, -0, 0, 2 ** -149, 0.5, ULP_BELOW_1, 1, ULP_ABOVE_1, 5, NaN]);
    const h = new Float32Array(z.length), dz = new Float32Array(z.length);
    backend.activate('hard_sigmoid', z, h, 0);
    assert.deepEqual([...h], [0, -0, 0, 2 ** -149, 0.5, ULP_BELOW_1, 1, 1, 1, NaN]);
    backend.activateBackward('hard_sigmoid', z, h, new Float32Array(z.length).fill(3), dz, 0);
    assert.deepEqual([...dz], [0, 0, 0, 3, 3, 3, 0, 0, 0, 0]);
  });

  test(`${backend.name}: clip equals js bit for bit (odd lengths, edge values, lo = hi, infinite bounds, views, in place)`, () => {
    for (const [lo, hi] of CLIP_BOUNDS) checkExact(backend, `clip [${lo}, ${hi}]`, (be, x, out) => be.clip(x, lo, hi, out));
    const x = new Float32Array([-3, -0, 0, 0.1, 2, NaN, -Infinity, Infinity]), out = new Float32Array(x.length);
    backend.clip(x, 0, 1, out);
    assert.deepEqual([...out], [0, -0, 0, Math.fround(0.1), 1, NaN, 0, 1], 'NaN passes, −0 stays −0');
    assert.throws(() => backend.clip(x, 1, 0, out), /clip: need lo ≤ hi, got lo = 1, hi = 0/);
    assert.throws(() => backend.clip(x, NaN, 1, out), /clip: need lo ≤ hi/);
    assert.throws(() => backend.clip(x, 0, 1, new Float32Array(7)), /clip: out has 7 values, x has 8/);
  });

  test(`${backend.name}: sign equals js bit for bit (scales incl. 0 and negative, edge values, views, in place)`, () => {
    for (const scale of SIGN_SCALES) checkExact(backend, `sign scale ${scale}`, (be, x, out) => be.sign(x, scale, out));
    const x = new Float32Array([-3, -0, 0, 2 ** -149, -1e-40, NaN, Infinity]), out = new Float32Array(x.length);
    backend.sign(x, 0.5, out);
    assert.deepEqual([...out], [-0.5, 0, 0, 0.5, -0.5, NaN, 0.5], 'sign(±0) = +0, subnormals keep their sign, NaN passes');
    assert.throws(() => backend.sign(x, 1, new Float32Array(3)), /sign: out has 3 values, x has 7/);
  });

  test(`${backend.name}: bernoulli equals js bit for bit (p outside [0, 1], u = p, NaN, out === p or u)`, () => {
    for (const n of ODD_LENGTHS) {
      const p = withEdges(n, -0.2, 1.2), u = rng.fillUniformFloat32(new Float32Array(n));
      for (let i = 0; i < n; i += 3) u[i] = rng.uniform() < 0.5 ? Math.abs(p[i]) % 1 : [0, ULP_BELOW_1, NaN][rng.int(3)];
      const want = new Float32Array(n);
      js.bernoulli(p, u, want);
      const out = new Float32Array(n).fill(7);
      backend.bernoulli(p, u, out);
      assertSameBits(out, want, `${backend.name} bernoulli, length ${n}`);
      const overP = p.slice(), overU = u.slice();
      backend.bernoulli(overP, u, overP);
      backend.bernoulli(p, overU, overU);
      assertSameBits(overP, want, `${backend.name} bernoulli with out === p, length ${n}`);
      assertSameBits(overU, want, `${backend.name} bernoulli with out === u, length ${n}`);
    }
    const p = new Float32Array([0, 0, 1, 1, 0.5, 0.5, -1, 2, NaN, 0.3]);
    const u = new Float32Array([0, ULP_BELOW_1, 0, ULP_BELOW_1, 0.5, 0.4999999701976776, 0, ULP_BELOW_1, 0, NaN]);
    const out = new Float32Array(p.length);
    backend.bernoulli(p, u, out);
    assert.deepEqual([...out], [0, 0, 1, 1, 0, 1, 0, 1, 0, 0], 'p = 0 never fires, p = 1 always, u = p does not fire, NaN gives 0');
    assert.throws(() => backend.bernoulli(p, new Float32Array(3), out), /bernoulli: lengths differ \(p 10, u 3, out 10\)/);
    assert.throws(() => backend.bernoulli(p, u, new Float32Array(11)), /bernoulli: lengths differ/);
  });

  test(`${backend.name}: small kernels reject lengths that do not fit`, () => {
    const m = randomMatrix(4, 5);
    assert.throws(() => backend.addRowVector(m, new Float32Array(4)), /addRowVector/);
    assert.throws(() => backend.sumRows(m, 1, 0, new Float32Array(6)), /sumRows/);
    assert.throws(() => backend.axpby(1, new Float32Array(3), 1, new Float32Array(4)), /axpby/);
  });
}

/** Odd image geometries [C, H, W], k, stride, pad: strides that do not divide, padding wider than the
 * kernel's reach (patches all zeros), k = 1, one position, every kernel size the C code unrolls (3, 5) and
 * others, and the shapes of LeNet-5 and the LC net. */
const PATCH_CASES: ReadonlyArray<readonly [readonly number[], number, number, number]> = [
  [[2, 7, 6], 3, 2, 1], [[3, 5, 5], 2, 1, 0], [[1, 9, 7], 4, 3, 2], [[2, 6, 5], 3, 1, 2], [[3, 4, 5], 1, 1, 0],
  [[2, 5, 5], 5, 1, 0], [[1, 11, 10], 7, 2, 3], [[1, 12, 12], 5, 1, 2], [[32, 14, 14], 3, 2, 1], [[6, 14, 14], 5, 1, 0],
];

/** The layouts of conv2d.ts and local2d, and one with gaps between images (values there must survive). */
function testLayouts(g: PatchGeometry, batch: number): Array<[string, PatchLayout, boolean]> {
  const P = g.oh * g.ow, K = g.c * g.k * g.k;
  return [
    ['rows per image', { image: P * K, position: K, value: 1 }, true],
    ['rows per position', { image: K, position: batch * K, value: 1 }, true],
    ['columns per image', { image: K * P, position: 1, value: P }, false],
    ['columns per image with gaps', { image: K * P + 3, position: 1, value: P }, false],
  ];
}

const imagesWithEdges = (rows: number, cols: number): Matrix => matrix(rows, cols, withEdges(rows * cols));

for (const backend of candidates) {
  test(`${backend.name}: im2col equals js bit for bit in every layout; col2im too in the rows layouts, within rounding in the others`, () => {
    for (const [shape, k, stride, pad] of PATCH_CASES) {
      const g = patchGeometry(shape, k, stride, pad), batch = 3, size = shape[0] * shape[1] * shape[2];
      const x = imagesWithEdges(batch, size);
      const finite = matrix(batch, size, random(batch * size));
      for (const [name, layout, exactAdjoint] of testLayouts(g, batch)) {
        const n = layoutExtent(g, batch, layout) + 8; // a few values past the extent
        const want = new Float32Array(n).fill(7), got = new Float32Array(n).fill(7);
        js.im2col(g, x, layout, want);
        backend.im2col(g, x, layout, got);
        const what = `${backend.name} ${name} ${shape.join('x')} k${k}s${stride}p${pad}`;
        assertSameBits(got, want, `${what}: im2col`);
        const cols = random(n), dxWant = matrix(batch, size), dxGot = matrix(batch, size, new Float32Array(batch * size).fill(NaN));
        js.col2im(g, cols, layout, dxWant);
        backend.col2im(g, cols, layout, dxGot);
        if (exactAdjoint) assertSameBits(dxGot.data, dxWant.data, `${what}: col2im`);
        else assertClose(dxGot.data, dxWant.data, 1e-6, 1e-6 * k * k, `${what}: col2im`);
        // On views: patches of rows 1… of a bigger batch, into the middle of a buffer.
        const view = { rows: batch - 1, cols: size, data: finite.data.subarray(size) };
        const buf = new Float32Array(n + 5).fill(7), wantView = new Float32Array(n).fill(7);
        backend.im2col(g, view, layout, buf.subarray(2, 2 + n));
        js.im2col(g, view, layout, wantView);
        assertSameBits(buf.subarray(2, 2 + n), wantView, `${what}: im2col on views`);
        assert.deepEqual([...buf.subarray(0, 2), ...buf.subarray(2 + n)], [7, 7, 7, 7, 7], `${what}: wrote outside the view`);
      }
    }
  });

  test(`${backend.name}: transposeBlocks equals js bit for bit (odd shapes, 8x8 tails, one row or column, views)`, () => {
    for (const [count, rows, cols] of [[1, 1, 1], [1, 1, 9], [1, 9, 1], [3, 7, 5], [2, 17, 33], [1, 196, 100], [4, 8, 16], [1, 41, 23], [0, 3, 3]]) {
      const src = withEdges(count * rows * cols + 3).subarray(3);
      const want = new Float32Array(count * rows * cols), got = new Float32Array(count * rows * cols + 2).fill(7);
      js.transposeBlocks(count, rows, cols, src, want);
      backend.transposeBlocks(count, rows, cols, src, got.subarray(1, 1 + want.length));
      assertSameBits(got.subarray(1, 1 + want.length), want, `${backend.name} transposeBlocks ${count}x[${rows},${cols}]`);
      assert.deepEqual([got[0], got[got.length - 1]], [7, 7], 'wrote outside the view');
    }
    const buf = random(20);
    assert.throws(() => backend.transposeBlocks(1, 2, 5, buf.subarray(0, 10), buf.subarray(5, 15)), /share memory/);
    assert.throws(() => backend.transposeBlocks(2, 2, 5, random(19), random(20)), /need 20 values/);
  });

  test(`${backend.name}: max and average pooling forward and backward equal js bit for bit (overlaps, ties, ±0, ±Inf, NaN)`, () => {
    for (const [shape, k, stride] of [[[2, 7, 6], 2, 2], [[3, 7, 7], 3, 2], [[1, 5, 5], 2, 1], [[2, 6, 5], 3, 1], [[6, 28, 28], 2, 2], [[1, 4, 4], 4, 1], [[2, 9, 7], 3, 3]] as const) {
      const g = patchGeometry(shape, k, stride, 0), batch = 3, size = shape[0] * shape[1] * shape[2], outSize = shape[0] * g.oh * g.ow;
      const x = imagesWithEdges(batch, size);
      for (let i = 0; i < x.data.length; i += 3) x.data[i] = Math.round(2 * x.data[i]) / 2; // ties
      const dz = matrix(batch, outSize, withEdges(batch * outSize));
      for (const mode of ['max', 'avg'] as const) {
        const what = `${backend.name} ${mode}pool ${shape.join('x')} k${k}s${stride}`;
        const want = matrix(batch, outSize), got = matrix(batch, outSize, new Float32Array(batch * outSize).fill(NaN));
        js.pool2d(mode, g, x, want);
        backend.pool2d(mode, g, x, got);
        assertSameBits(got.data, want.data, `${what} forward`);
        const dxWant = matrix(batch, size), dxGot = matrix(batch, size, new Float32Array(batch * size).fill(NaN));
        js.pool2dBackward(mode, g, x, dz, dxWant);
        backend.pool2dBackward(mode, g, x, dz, dxGot);
        assertSameBits(dxGot.data, dxWant.data, `${what} backward`);
      }
    }
    const g = patchGeometry([1, 4, 4], 2, 2, 0);
    assert.throws(() => backend.pool2d('max', g, matrix(2, 16), matrix(2, 5)), /shapes do not fit/);
    assert.throws(() => backend.pool2d('max', patchGeometry([1, 4, 4], 2, 2, 1), matrix(2, 16), matrix(2, 9)), /no padding/);
    assert.throws(() => backend.pool2dBackward('avg', g, matrix(2, 16), matrix(3, 4), matrix(2, 16)), /shapes do not fit/);
  });

  test(`${backend.name}: gemmBatched matches js: strided and shared operands, summed into one C, alpha/beta, gaps left alone`, () => {
    for (const [m, n, k] of [[1, 1, 1], [3, 5, 7], [6, 25, 30], [16, 10, 9], [2, 3, 0]]) {
      for (const [tA, tB] of TRANSPOSES) {
        for (const [alpha, beta] of [...SCALARS, [1, 0]] as const) {
          for (const [count, sharedA, sharedB, sum, gap] of [[4, false, false, false, 0], [3, true, false, false, 2], [5, false, true, true, 0], [1, false, false, true, 0], [3, false, false, false, 5]] as const) {
            const sizeA = m * k, sizeB = k * n, sizeC = m * n;
            const batch: GemmBatch = { count, strideA: sharedA ? 0 : sizeA + 1, strideB: sharedB ? 0 : sizeB, strideC: sum ? 0 : sizeC + gap };
            const len = (stride: number, size: number) => (count - 1) * stride + size;
            const a = { rows: tA ? k : m, cols: tA ? m : k, data: random(len(batch.strideA, sizeA)) };
            const b = { rows: tB ? n : k, cols: tB ? k : n, data: random(len(batch.strideB, sizeB)) };
            const c0 = random(len(batch.strideC, sizeC));
            const want = { rows: m, cols: n, data: c0.slice() }, got = { rows: m, cols: n, data: c0.slice() };
            if (beta === 0 && !gap) got.data.fill(NaN); // not read
            js.gemmBatched(batch, tA, tB, alpha, a, b, beta, want);
            backend.gemmBatched(batch, tA, tB, alpha, a, b, beta, got);
            const terms = sum ? count * Math.max(k, 1) : Math.max(k, 1);
            assertClose(got.data, want.data, 1e-5 * Math.sqrt(terms), 1e-5 * Math.sqrt(terms) * (Math.abs(alpha) * terms + Math.abs(beta)),
              `${backend.name} gemmBatched ${count}x ${m}x${n}x${k} tA=${tA} tB=${tB} alpha=${alpha} beta=${beta} ${JSON.stringify(batch)}`);
          }
        }
      }
    }
    const a = randomMatrix(3, 4), b = randomMatrix(4, 5);
    assert.throws(() => backend.gemmBatched({ count: 2, strideA: 12, strideB: 0, strideC: 15 }, false, false, 1, a, b, 0, matrix(3, 5)), /do not fit/);
    assert.throws(() => backend.gemmBatched({ count: 2, strideA: 0, strideB: 0, strideC: 10 }, false, false, 1, a, b, 0, { rows: 3, cols: 5, data: random(30) }), /overlap/);
    assert.throws(() => backend.gemmBatched({ count: 1, strideA: 0, strideB: 0, strideC: 0 }, false, false, 1, a, b, 0, matrix(3, 4)), /shapes do not fit/);
  });

  test(`${backend.name}: im2col and col2im reject geometries, images and buffers that do not fit`, () => {
    const g = patchGeometry([2, 5, 5], 3, 1, 0), x = randomMatrix(2, 50), layout = { image: 9 * 18, position: 18, value: 1 };
    assert.throws(() => backend.im2col({ ...g, oh: 4 }, x, layout, new Float32Array(1000)), /bad geometry/);
    assert.throws(() => backend.im2col(g, randomMatrix(2, 49), layout, new Float32Array(1000)), /images have 49 values/);
    assert.throws(() => backend.im2col(g, x, layout, new Float32Array(2 * 9 * 18 - 1)), /needs 324/);
    assert.throws(() => backend.col2im(g, new Float32Array(100), layout, matrix(2, 50)), /needs 324/);
    assert.throws(() => backend.im2col(g, x, { ...layout, value: -1 }, new Float32Array(1000)), /bad layout/);
  });
}

/** A convolution's three products by direct summation in float64 (no patches), the definition conv2d's
 * lowering must meet: z[n, o, q] = Σ_{c,ky,kx} W[o, (c·k + ky)·k + kx] · x[n, c, oy·s − p + ky, ox·s − p + kx]. */
function directConv(g: PatchGeometry, out: number, x: Matrix, W: Matrix, dz: Matrix, untied = false) {
  const { c, h, w, k, stride, pad, oh, ow } = g, B = x.rows, K = c * k * k, P = oh * ow;
  const z = new Float64Array(B * out * P), dW = new Float64Array(out * K), dx = new Float64Array(B * c * h * w);
  for (let n = 0; n < B; n++) for (let o = 0; o < out; o++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
    const q = n * out * P + o * P + oy * ow + ox;
    for (let ch = 0; ch < c; ch++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
      const iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
      if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
      // Untied (local2d): position q's own bank of kernels, rows q·out … of W [P·out, K].
      const j = ((untied ? (oy * ow + ox) * out : 0) + o) * K + (ch * k + ky) * k + kx, pixel = n * c * h * w + ch * h * w + iy * w + ix;
      z[q] += W.data[j] * x.data[pixel];
      dW[j] += dz.data[q] * x.data[pixel];
      dx[pixel] += W.data[j] * dz.data[q];
    }
  }
  return { z, dW, dx };
}

for (const backend of [js, ...candidates]) {
  test(`${backend.name}: local2d's forward, weight gradient and input error equal direct untied summation (odd geometries, batch 0 to 7)`, () => {
    const shapes = [[[1, 9, 9], 3, 2, 1, 8], [[2, 7, 6], 3, 2, 1, 3], [[3, 6, 5], 2, 1, 0, 4], [[1, 5, 5], 2, 1, 2, 3], [[4, 7, 7], 3, 2, 1, 16], [[2, 4, 4], 4, 1, 3, 1]] as const;
    for (const [shape, k, stride, pad, out] of shapes) {
      const g = patchGeometry(shape, k, stride, pad), K = shape[0] * k * k, P = g.oh * g.ow, size = shape[0] * shape[1] * shape[2];
      for (const B of [0, 1, 3, 7]) {
        const what = `${backend.name} local2d ${shape.join('x')} k${k}s${stride}p${pad} → ${out}, batch ${B}`;
        const x = randomMatrix(B, size), W = randomMatrix(P * out, K), dz = randomMatrix(B, out * P), want = directConv(g, out, x, W, dz, true);
        const z = matrix(B, out * P, new Float32Array(B * out * P).fill(NaN)), dW = matrix(P * out, K, new Float32Array(P * out * K).fill(NaN));
        const dx = matrix(B, size, new Float32Array(B * size).fill(NaN));
        backend.local2d('forward', g, x, W, z);
        backend.local2d('weightGrad', g, dz, x, dW);
        backend.local2d('inputError', g, W, dz, dx);
        const near = (got: Float32Array, ref: Float64Array, part: string) => {
          for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `${what} ${part} at ${i}: ${got[i]} vs ${ref[i]}`);
        };
        near(z.data, want.z, 'forward');
        near(dW.data, want.dW, 'weight gradient');
        near(dx.data, want.dx, 'input error');
      }
    }
    const g = patchGeometry([2, 5, 5], 3, 1, 0); // P = 9, K = 18
    assert.throws(() => backend.local2d('forward', g, matrix(2, 50), matrix(4, 18), matrix(2, 36)), /local2d forward: shapes do not fit/);
    assert.throws(() => backend.local2d('weightGrad', g, matrix(3, 36), matrix(2, 50), matrix(36, 18)), /local2d weightGrad: shapes do not fit/);
    assert.throws(() => backend.local2d('inputError', g, matrix(37, 18), matrix(2, 36), matrix(2, 50)), /local2d inputError: shapes do not fit/);
    assert.throws(() => backend.local2d('sideways' as never, g, matrix(2, 50), matrix(36, 18), matrix(2, 36)), /unknown op 'sideways'/);
  });
}

for (const backend of [js, ...candidates]) {
  test(`${backend.name}: conv2d's forward, weight gradient and input error equal direct convolution (odd geometries, batch 0 to 7)`, () => {
    // Native takes a different path for each group (node/native/conv.c): stride > 1 or pad ≥ k, im2col and GEMM;
    // stride 1, kernels in the lanes where they fill whole vectors and the rows are narrow (16, 24, 8 kernels),
    // positions in the lanes otherwise (6, 2, 4, 1, 13, 9 kernels); the input error as a flipped convolution
    // or as patch errors and a gather.
    const shapes = [[[2, 7, 6], 3, 2, 1, 3], [[1, 9, 7], 3, 2, 0, 2], [[1, 5, 5], 2, 1, 2, 3],
      [[6, 14, 14], 5, 1, 0, 16], [[2, 11, 10], 3, 1, 0, 24], [[3, 9, 8], 3, 1, 1, 8],
      [[1, 5, 5], 3, 1, 0, 2], [[3, 6, 5], 2, 1, 0, 4], [[1, 28, 28], 5, 1, 2, 6], [[2, 4, 4], 4, 1, 3, 1], [[5, 6, 7], 3, 1, 2, 13], [[7, 5, 5], 1, 1, 0, 9]] as const;
    for (const [shape, k, stride, pad, out] of shapes) {
      const g = patchGeometry(shape, k, stride, pad), K = shape[0] * k * k, P = g.oh * g.ow, size = shape[0] * shape[1] * shape[2];
      for (const B of [0, 1, 3, 7]) {
        const what = `${backend.name} conv2d ${shape.join('x')} k${k}s${stride}p${pad} → ${out}, batch ${B}`;
        const x = randomMatrix(B, size), W = randomMatrix(out, K), dz = randomMatrix(B, out * P), want = directConv(g, out, x, W, dz);
        const z = matrix(B, out * P, new Float32Array(B * out * P).fill(NaN)), dW = matrix(out, K, new Float32Array(out * K).fill(NaN));
        const dx = matrix(B, size, new Float32Array(B * size).fill(NaN));
        backend.conv2d('forward', g, x, W, z);
        backend.conv2d('weightGrad', g, dz, x, dW);
        backend.conv2d('inputError', g, W, dz, dx);
        const near = (got: Float32Array, ref: Float64Array, part: string) => {
          for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i] - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `${what} ${part} at ${i}: ${got[i]} vs ${ref[i]}`);
        };
        near(z.data, want.z, 'forward');
        near(dW.data, want.dW, 'weight gradient');
        near(dx.data, want.dx, 'input error');
      }
    }
    const g = patchGeometry([2, 5, 5], 3, 1, 0), buf = random(400);
    assert.throws(() => backend.conv2d('forward', g, matrix(2, 50), matrix(4, 17), matrix(2, 36)), /conv2d forward: shapes do not fit/);
    assert.throws(() => backend.conv2d('weightGrad', g, matrix(3, 36), matrix(2, 50), matrix(4, 18)), /conv2d weightGrad: shapes do not fit/);
    assert.throws(() => backend.conv2d('inputError', g, matrix(4, 18), matrix(2, 36), matrix(2, 49)), /conv2d inputError: shapes do not fit/);
    assert.throws(() => backend.conv2d('forward', g, matrix(2, 50, buf.subarray(0, 100)), matrix(4, 18), matrix(2, 36, buf.subarray(90, 162))), /shares memory with an input/);
    assert.throws(() => backend.conv2d('forward', g, { rows: 2, cols: 50, data: random(99) }, matrix(4, 18), matrix(2, 36)), /fewer values than its shape says/);
    assert.throws(() => backend.conv2d('sideways' as never, g, matrix(2, 50), matrix(4, 18), matrix(2, 36)), /unknown op 'sideways'/);
  });
}

if (native) {
  const backend = native;

  test('native: default thread count is min(2, cores) or NGRAD_THREADS; setThreads(1)/getThreads round-trip', () => {
    const env = process.env.NGRAD_THREADS;
    assert.equal(initialThreads, env ? Number(env) : Math.min(2, availableParallelism()));
    const before = backend.getThreads();
    backend.setThreads(1);
    assert.equal(backend.getThreads(), 1);
    checkGemm(backend, true, false, 64, 80, 96, 1, 0.5);
    backend.setThreads(before);
    assert.equal(backend.getThreads(), before);
    assert.throws(() => backend.setThreads(0), /positive integer/);
    assert.throws(() => backend.setThreads(1.5), /positive integer/);
    assert.match(backend.blasInfo(), /OpenBLAS/);
  });

  test('native: wrong lengths, partial overlaps and wrong array types throw instead of touching memory', () => {
    const buf = random(40);
    assert.throws(() => backend.activate('tanh', buf.subarray(0, 10), new Float32Array(11), 0), /out has 11 values/);
    assert.throws(() => backend.activate('tanh', buf.subarray(0, 10), buf.subarray(1, 11), 0), /share memory/);
    assert.throws(
      () => backend.activateBackward('relu', buf.subarray(0, 5), buf.subarray(0, 5), buf.subarray(10, 15), new Float32Array(6), 0),
      /dh has 5 values/,
    );
    assert.throws(() => backend.adam(random(4), random(4), random(3), 0.9, 0.999, 0.1, 0.001, 1e-8), /v has 3 values/);
    const a = { rows: 2, cols: 3, data: buf.subarray(0, 6) };
    const c = { rows: 2, cols: 2, data: buf.subarray(4, 8) };
    assert.throws(() => backend.gemm(false, true, 1, a, a, 0, c), /share memory/);
    const f64 = new Float64Array(4) as unknown as Float32Array;
    assert.throws(() => backend.axpby(1, f64, 1, new Float32Array(4)), { name: 'TypeError', message: /Float32Array/ });
  });

  test('native: clip, sign, bernoulli and hard_sigmoid backward reject partial overlaps and wrong lengths in C', () => {
    const buf = random(40);
    assert.throws(() => backend.clip(buf.subarray(0, 10), 0, 1, buf.subarray(5, 15)), /ngrad native clip: out and x share memory/);
    assert.throws(() => backend.sign(buf.subarray(0, 10), 1, buf.subarray(9, 19)), /ngrad native sign: out and x share memory/);
    assert.throws(() => backend.bernoulli(buf.subarray(0, 10), buf.subarray(20, 30), buf.subarray(25, 35)), /out and u share memory/);
    // p and u are only read: any overlap between them is fine.
    const out = new Float32Array(10);
    backend.bernoulli(buf.subarray(0, 10), buf.subarray(3, 13), out);
    const want = new Float32Array(10);
    js.bernoulli(buf.subarray(0, 10), buf.subarray(3, 13), want);
    assert.deepEqual(out, want);
    assert.throws(
      () => backend.activateBackward('hard_sigmoid', new Float32Array(4), new Float32Array(0), new Float32Array(5), new Float32Array(5), 0),
      /ngrad native activateBackward: z has 4 values, expected 5/,
    );
  });

  test('native: the image kernels check lengths, geometry and overlaps in C (called past the TypeScript checks)', () => {
    const addon = createRequire(import.meta.url)(findAddon() ?? '') as Record<string, (...args: unknown[]) => void>;
    const geo = [2, 5, 5, 3, 1, 0, 3, 3]; // c, h, w, k, stride, pad, oh, ow
    const x = random(50), cols = new Float32Array(2 * 9 * 18);
    assert.throws(() => addon.im2col(...geo, x, 2, cols, 162, 18, 1), /ngrad native im2col: x holds 50 values, needs 100/);
    assert.throws(() => addon.im2col(...geo, random(100), 2, cols.subarray(1), 162, 18, 1), /cols holds 323 values, needs 324/);
    assert.throws(() => addon.im2col(2, 5, 5, 3, 1, 0, 4, 3, random(100), 2, cols, 162, 18, 1), /inconsistent patch geometry/);
    assert.throws(() => addon.im2col(2, 5, 5, 0, 1, 0, 6, 6, random(100), 2, cols, 162, 18, 1), /inconsistent patch geometry/);
    const buf = random(500);
    assert.throws(() => addon.im2col(...geo, buf.subarray(0, 100), 2, buf.subarray(50, 374), 162, 18, 1), /cols and x share memory/);
    assert.throws(() => addon.col2im(...geo, cols, 162, 18, 1, random(99), 2), /dx holds 99 values, needs 100/);
    assert.throws(() => addon.col2im(...geo, buf.subarray(0, 324), 162, 18, 1, buf.subarray(300, 400), 2), /dx and cols share memory/);
    assert.throws(() => addon.transposeBlocks(2, 3, 4, random(24), random(23)), /ngrad native transposeBlocks: dst holds 23 values, needs 24/);
    assert.throws(() => addon.pool2d(0, 1, 4, 4, 2, 2, 0, 2, 2, random(16), 2, random(8)), /x holds 16 values, needs 32/);
    assert.throws(() => addon.pool2d(2, 1, 4, 4, 2, 2, 0, 2, 2, random(32), 2, random(8)), /unknown pooling mode/);
    assert.throws(() => addon.pool2d(0, 1, 4, 4, 2, 2, 1, 3, 3, random(32), 2, random(18)), /pooling takes no padding/);
    assert.throws(() => addon.pool2dBackward(0, 1, 4, 4, 2, 2, 0, 2, 2, random(31), random(8), 2, random(32)), /x holds 31 values/);
    assert.throws(() => addon.pool2dBackward(1, 1, 4, 4, 2, 2, 0, 2, 2, random(0), random(7), 2, random(32)), /dz holds 7 values/);
    assert.throws(() => addon.gemmBatched(false, false, 3, 5, 4, 1, random(24), random(20), 0, random(30), 3, 6, 0, 15), /A holds 24 values, needs 24|C holds 30 values, needs 45/);
    assert.throws(() => addon.gemmBatched(false, false, 3, 5, 4, 1, random(24), random(20), 0, random(30), 2, 12, 0, 10), /C blocks overlap/);
    assert.throws(() => addon.gemmBatched(false, false, 3, 5, 4, 1, buf.subarray(0, 24), random(20), 0, buf.subarray(20, 50), 2, 12, 0, 15), /C and A share memory/);
  });

  test('native: conv2d gives the same bits on 1, 2 and 3 threads (every path), and checks lengths, op and overlaps in C', () => {
    const threads = native.getThreads();
    for (const [shape, k, stride, pad, out] of [[[3, 11, 9], 3, 2, 1, 5], [[1, 28, 28], 5, 1, 2, 6], [[6, 14, 14], 5, 1, 0, 16], [[2, 11, 10], 3, 1, 0, 24]] as const) {
      const g = patchGeometry(shape, k, stride, pad), B = 19, K = shape[0] * k * k, P = g.oh * g.ow, size = shape[0] * shape[1] * shape[2];
      const x = randomMatrix(B, size), W = randomMatrix(out, K), dz = randomMatrix(B, out * P);
      const results = [1, 2, 3].map((n) => {
        native.setThreads(n);
        const z = matrix(B, out * P), dW = matrix(out, K), dx = matrix(B, size);
        native.conv2d('forward', g, x, W, z);
        native.conv2d('weightGrad', g, dz, x, dW);
        native.conv2d('inputError', g, W, dz, dx);
        return [z.data, dW.data, dx.data];
      });
      native.setThreads(threads);
      for (const r of results.slice(1)) r.forEach((a, i) => assertSameBits(a, results[0][i], `conv2d ${shape.join('x')} k${k}s${stride} op ${i} across thread counts`));
    }
    const addon = createRequire(import.meta.url)(findAddon() ?? '') as Record<string, (...args: unknown[]) => void>;
    const geo = [2, 5, 5, 3, 1, 0, 3, 3]; // c, h, w, k, stride, pad, oh, ow; K = 18, P = 9
    assert.throws(() => addon.conv2d(0, ...geo, 4, 2, random(99), random(72), random(72)), /ngrad native conv2d: a holds 99 values, needs 100/);
    assert.throws(() => addon.conv2d(1, ...geo, 4, 2, random(72), random(100), random(71)), /c holds 71 values, needs 72/);
    assert.throws(() => addon.conv2d(2, ...geo, 4, 2, random(72), random(71), random(100)), /b holds 71 values, needs 72/);
    assert.throws(() => addon.conv2d(3, ...geo, 4, 2, random(100), random(72), random(72)), /unknown op/);
    const buf = random(300);
    assert.throws(() => addon.conv2d(0, ...geo, 4, 2, buf.subarray(0, 100), random(72), buf.subarray(99, 171)), /c and a share memory/);
  });

  test('native: local2d gives the same bits on 1, 2 and 3 threads, and checks lengths in C', () => {
    const threads = native.getThreads();
    const g = patchGeometry([3, 11, 9], 3, 2, 1), out = 8, B = 13, K = 27, P = g.oh * g.ow, size = 3 * 11 * 9;
    const x = randomMatrix(B, size), W = randomMatrix(P * out, K), dz = randomMatrix(B, out * P);
    const results = [1, 2, 3].map((n) => {
      native.setThreads(n);
      const z = matrix(B, out * P), dW = matrix(P * out, K), dx = matrix(B, size);
      native.local2d('forward', g, x, W, z);
      native.local2d('weightGrad', g, dz, x, dW);
      native.local2d('inputError', g, W, dz, dx);
      return [z.data, dW.data, dx.data];
    });
    native.setThreads(threads);
    for (const r of results.slice(1)) r.forEach((a, i) => assertSameBits(a, results[0][i], `local2d op ${i} across thread counts`));
    const addon = createRequire(import.meta.url)(findAddon() ?? '') as Record<string, (...args: unknown[]) => void>;
    const geo = [2, 5, 5, 3, 1, 0, 3, 3]; // c, h, w, k, stride, pad, oh, ow; K = 18, P = 9
    assert.throws(() => addon.local2d(0, ...geo, 4, 2, random(100), random(647), random(72)), /ngrad native local2d: b holds 647 values, needs 648/);
    assert.throws(() => addon.local2d(1, ...geo, 4, 2, random(72), random(100), random(647)), /c holds 647 values, needs 648/);
  });

  test('native: loading the addon leaves the process computing with subnormals (no flush-to-zero)', () => {
    const tiny = new Float64Array([2.2250738585072014e-308]);
    assert.ok(tiny[0] / 2 > 0, 'float64 subnormals flushed to zero in JS');
    const y = new Float32Array(1);
    backend.axpby(1, new Float32Array([1e-40]), 0, y);
    assert.ok(y[0] > 0, 'float32 subnormal flushed to zero by a kernel');
  });
}

test('Rng.fillUniformFloat32: multiples of 2⁻²⁴ in [0, 1), mean ½, and the same stream as a clone', () => {
  const r = Rng.fromSeed(9);
  const u = r.fillUniformFloat32(new Float32Array(100_003));
  let sum = 0;
  for (const x of u) {
    assert.ok(x >= 0 && x < 1 && Number.isInteger(x * 2 ** 24), `${x} is not k·2⁻²⁴ in [0, 1)`);
    sum += x;
  }
  // NOTE: a uniform has variance 1/12, so 4 standard errors of the mean are 4/√(12·n).
  assert.ok(Math.abs(sum / u.length - 0.5) <= 4 / Math.sqrt(12 * u.length), `mean ${sum / u.length}`);
  const again = Rng.fromSeed(9).fillUniformFloat32(new Float32Array(100_003));
  assert.deepEqual(again, u);
});

test('sampleBernoulli: the same seed gives identical samples on every backend, draw after draw', () => {
  const p = rng.fillUniform(new Float32Array(1003), -0.1, 1.1);
  p.set([0, 1, 0.5, NaN], 500);
  const runs = [js, ...candidates].map((be) => {
    const r = Rng.fromSeed(31), u = new Float32Array(p.length);
    const draws = [1, 2, 3].map(() => sampleBernoulli(be, r, p, u, new Float32Array(p.length)));
    return { name: be.name, draws, state: r.getState() };
  });
  assert.notDeepEqual(runs[0].draws[0], runs[0].draws[1], 'successive draws differ');
  for (const run of runs.slice(1)) {
    run.draws.forEach((d, i) => assert.deepEqual(d, runs[0].draws[i], `${run.name} draw ${i + 1} differs from js`));
    assert.deepEqual(run.state, runs[0].state, `${run.name} left the stream elsewhere`);
  }
  // out may be u (the uniforms are then replaced by the samples); a call that throws draws nothing.
  const r = Rng.fromSeed(31), u = new Float32Array(p.length);
  assert.deepEqual(sampleBernoulli(js, r, p, u, u), runs[0].draws[0]);
  const state = r.getState();
  assert.throws(() => sampleBernoulli(js, r, p, new Float32Array(3), u), /bernoulli: lengths differ/);
  assert.deepEqual(r.getState(), state);
});

for (const backend of [js, ...candidates]) {
  test(`${backend.name}: sampleBernoulli's sample means match p within 4 standard errors`, () => {
    const P = [0, 1e-3, 0.1, 0.25, 0.5, 0.73, 0.9, 0.999, 1], copies = 111, draws = 300;
    const p = Float32Array.from({ length: P.length * copies }, (_, i) => P[i % P.length]);
    const u = new Float32Array(p.length), out = new Float32Array(p.length), counts = new Float64Array(P.length);
    const r = Rng.fromSeed(2024);
    for (let d = 0; d < draws; d++) {
      sampleBernoulli(backend, r, p, u, out);
      for (let i = 0; i < out.length; i++) {
        assert.ok(out[i] === 0 || out[i] === 1, `sample ${out[i]}`);
        counts[i % P.length] += out[i];
      }
    }
    const n = copies * draws;
    P.forEach((pk, k) => {
      const pf = Math.fround(pk), mean = counts[k] / n;
      // NOTE: the uniforms are k·2⁻²⁴, so P(u < p) is p rounded up to a multiple of 2⁻²⁴: within 6e-8.
      const tol = 4 * Math.sqrt((pf * (1 - pf)) / n) + 2 ** -24;
      assert.ok(Math.abs(mean - pf) <= tol, `p = ${pk}: mean ${mean} over ${n} samples (tolerance ${tol})`);
    });
    assert.equal(counts[0], 0, 'p = 0 never fires');
    assert.equal(counts[P.length - 1], n, 'p = 1 always fires');
  });
}

test('createBackend: explicit names, NGRAD_BACKEND, and unknown names', () => {
  assert.deepEqual([...BACKEND_NAMES], ['js', 'native', 'wasm']);
  assert.equal(createBackend('js').backend.name, 'js');
  assert.throws(() => createBackend('cuda'), { message: "unknown backend 'cuda' (choose js, native, wasm)" });
  const saved = process.env.NGRAD_BACKEND;
  try {
    process.env.NGRAD_BACKEND = 'js';
    assert.equal(createBackend().backend.name, 'js');
    assert.equal(createBackend('js').note, undefined);
  } finally {
    if (saved === undefined) delete process.env.NGRAD_BACKEND;
    else process.env.NGRAD_BACKEND = saved;
  }
  if (native && !process.env.NGRAD_BACKEND) {
    assert.equal(createBackend().backend.name, 'native');
    assert.equal(createBackend('native').backend.name, 'native');
  }
  if (wasm) {
    assert.equal(createBackend('wasm').backend.name, 'wasm');
    if (!native && !process.env.NGRAD_BACKEND) assert.equal(createBackend().backend.name, 'js', 'wasm is never the default');
  }
});

test('createBackend: without the addon, falls back to js with a one-line note, or throws when native was asked for', () => {
  // A fresh process, since this one may already hold the addon.
  const backendsModule = fileURLToPath(new URL('../node/backends.js', import.meta.url));
  const script = `
    const { createBackend } = await import(${JSON.stringify(backendsModule)});
    const fallback = createBackend();
    let thrown = '';
    try { createBackend('native'); } catch (e) { thrown = e.message; }
    console.log(JSON.stringify({ name: fallback.backend.name, note: fallback.note, thrown }));`;
  const env: NodeJS.ProcessEnv = { ...process.env, NGRAD_NATIVE_ADDON: '/nonexistent/ngrad_native.node' };
  delete env.NGRAD_BACKEND;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  const result: unknown = JSON.parse(out);
  assert.ok(typeof result === 'object' && result !== null);
  const { name, note, thrown } = result as { name: string; note: string; thrown: string };
  assert.equal(name, 'js');
  assert.match(note, /^ngrad: native backend unavailable \(.+\); running on js\. Fix: apt-get install libopenblas-dev/);
  assert.ok(!note.includes('\n'), 'note is one line');
  assert.match(thrown, /native backend requested but unavailable .*Fix: apt-get install libopenblas-dev/);
});
