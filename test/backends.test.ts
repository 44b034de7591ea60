// Every backend against the js reference (tier 2 of the testing plan): GEMM on odd shapes with all
// transposes, subarray views, each activation forward and backward, the small kernels, threads, and the
// errors a wrong call must raise. Also how createBackend chooses and what it says when native or wasm is
// missing. (Tests only the wasm backend has are in wasm-backend.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ACTIVATION_KINDS, type Backend } from '../src/tensor/backend.js';
import { activateJs, createJsBackend } from '../src/tensor/js-backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { Rng } from '../src/random.js';
import { BACKEND_NAMES, createBackend } from '../node/backends.js';
import { loadNativeBackend, type NativeBackend } from '../node/native-backend.js';
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

  test(`${backend.name}: small kernels reject lengths that do not fit`, () => {
    const m = randomMatrix(4, 5);
    assert.throws(() => backend.addRowVector(m, new Float32Array(4)), /addRowVector/);
    assert.throws(() => backend.sumRows(m, 1, 0, new Float32Array(6)), /sumRows/);
    assert.throws(() => backend.axpby(1, new Float32Array(3), 1, new Float32Array(4)), /axpby/);
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

  test('native: loading the addon leaves the process computing with subnormals (no flush-to-zero)', () => {
    const tiny = new Float64Array([2.2250738585072014e-308]);
    assert.ok(tiny[0] / 2 > 0, 'float64 subnormals flushed to zero in JS');
    const y = new Float32Array(1);
    backend.axpby(1, new Float32Array([1e-40]), 0, y);
    assert.ok(y[0] > 0, 'float32 subnormal flushed to zero by a kernel');
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
