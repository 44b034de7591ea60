// What only the wasm backend needs checking (backends.test.ts compares it with js like every backend):
// the loader's errors, the browser entry points, memory growth between calls, the big GEMM in every
// transpose, the SIMD tanh/sigmoid on the whole line and on ragged lengths, the image kernels' staging
// as memory grows, and that the built module is not older than its C source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../src/tensor/backend.js';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { patchGeometry } from '../src/tensor/patches.js';
import { createWasmBackend, instantiateWasmBackend } from '../src/tensor/wasm-backend.js';
import { Rng } from '../src/random.js';
import { findWasm, loadWasmBackend, WASM_RELATIVE_PATH } from '../node/wasm-loader.js';

const js = createJsBackend();
const rng = Rng.fromSeed(77);
let problem = '';
try {
  loadWasmBackend();
} catch (e) {
  problem = e instanceof Error ? e.message : String(e);
}
const wasmPath = problem ? undefined : findWasm();
const skip = problem ? `not available: ${problem}` : false;
if (problem && process.env.NGRAD_REQUIRE_WASM === '1') {
  test('wasm kernels load (NGRAD_REQUIRE_WASM=1)', () => assert.fail(`${problem}; run node scripts/build-wasm.mjs`));
}

function randomMatrix(rows: number, cols: number): Matrix {
  return matrix(rows, cols, rng.fillUniform(new Float32Array(rows * cols), -1, 1));
}

/** max |got − want| / Σ_p |a_ip·b_pj| over C: the error relative to the size of the summed terms. */
function gemmError(be: Backend, tA: boolean, tB: boolean, m: number, n: number, k: number, alpha: number, beta: number): number {
  const a = tA ? randomMatrix(k, m) : randomMatrix(m, k);
  const b = tB ? randomMatrix(n, k) : randomMatrix(k, n);
  const c0 = randomMatrix(m, n);
  const want = matrix(m, n, c0.data.slice()), got = matrix(m, n, c0.data.slice());
  js.gemm(tA, tB, alpha, a, b, beta, want);
  be.gemm(tA, tB, alpha, a, b, beta, got);
  const scale = matrix(m, n);
  const abs = (x: Matrix) => matrix(x.rows, x.cols, x.data.map(Math.abs));
  js.gemm(tA, tB, Math.abs(alpha), abs(a), abs(b), 0, scale);
  let worst = 0;
  for (let i = 0; i < m * n; i++) {
    const size = scale.data[i] + Math.abs(beta * c0.data[i]);
    worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]) / size);
  }
  return worst;
}

test('createBackend("wasm") without the kernels: a one-line error with the fix; the default never picks wasm', () => {
  const backendsModule = fileURLToPath(new URL('../node/backends.js', import.meta.url));
  const script = `
    const { createBackend } = await import(${JSON.stringify(backendsModule)});
    const messageOf = (f) => { try { f(); return ''; } catch (e) { return e.message; } };
    const explicit = messageOf(() => createBackend('wasm'));
    process.env.NGRAD_BACKEND = 'wasm';
    const fromEnv = messageOf(() => createBackend());
    delete process.env.NGRAD_BACKEND;
    console.log(JSON.stringify({ explicit, fromEnv, fallback: createBackend().backend.name }));`;
  const env: NodeJS.ProcessEnv = { ...process.env, NGRAD_WASM_MODULE: '/nonexistent/kernels.wasm' };
  delete env.NGRAD_BACKEND;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' })) as
    { explicit: string; fromEnv: string; fallback: string };
  assert.match(out.explicit, /^ngrad: wasm backend requested but unavailable \(cannot load \/nonexistent\/kernels\.wasm: .+\)\. Fix: apt-get install clang lld, then node scripts\/build-wasm\.mjs/);
  assert.ok(!out.explicit.includes('\n'), 'one line');
  assert.match(out.fromEnv, /wasm backend requested \(NGRAD_BACKEND=wasm\) but unavailable/);
  assert.notEqual(out.fallback, 'wasm');
});

test('createWasmBackend rejects a module that is not ngrad\'s kernels', () => {
  const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]); // a valid, empty module
  assert.throws(
    () => createWasmBackend(empty),
    /does not export sgemm, tanhInPlace, sigmoidInPlace, clipInPlace, signInPlace, bernoulliInPlace, hardSigmoidBackwardInPlace, sgemmBatched, im2colWasm, col2imWasm, transposeBlocksWasm, pool2dWasm, pool2dBackwardWasm; it is stale/,
  );
});

test('the built kernels are not older than their C source (else: node scripts/build-wasm.mjs)', { skip }, () => {
  const built = statSync(wasmPath ?? '').mtimeMs;
  for (const file of ['gemm.c', 'activations.c', 'elementwise.c', 'image.c']) {
    const source = fileURLToPath(new URL(`../../src/tensor/wasm/${file}`, import.meta.url));
    assert.ok(statSync(source).mtimeMs <= built, `${file} changed after ${WASM_RELATIVE_PATH} was built; run node scripts/build-wasm.mjs`);
  }
});

test('browser entry points: createWasmBackend from bytes and instantiateWasmBackend give the same results', { skip }, async () => {
  const bytes = readFileSync(wasmPath ?? '');
  const fromBytes = createWasmBackend(bytes);
  const fromAsync = await instantiateWasmBackend(bytes);
  assert.equal(fromBytes.name, 'wasm');
  assert.equal(fromAsync.getThreads(), 1);
  const a = randomMatrix(9, 13), b = randomMatrix(13, 21);
  const c1 = matrix(9, 21), c2 = matrix(9, 21);
  fromBytes.gemm(false, false, 1, a, b, 0, c1);
  fromAsync.gemm(false, false, 1, a, b, 0, c2);
  assert.deepEqual(c1.data, c2.data);
});

test('wasm gemm on 100x784·784x1000 in all four transposes, and after memory grows and shrinks in use', { skip }, () => {
  const be = loadWasmBackend();
  // NOTE: float32 accumulation error grows like √k·ε; 1e-5·√784 ≈ 3e-4 is the bound backends.test.ts uses.
  const bound = 1e-5 * Math.sqrt(784);
  for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    const err = gemmError(be, tA, tB, 100, 1000, 784, 1, 0);
    assert.ok(err <= bound, `transA=${tA} transB=${tB}: relative error ${err}`);
  }
  // Small after big (memory already grown), then bigger than before (grows again, views rebuilt), then small.
  for (const [m, n, k] of [[3, 5, 7], [40, 1500, 900], [17, 33, 9]]) {
    const err = gemmError(be, true, false, m, n, k, -0.5, 0.75);
    assert.ok(err <= 1e-5 * Math.sqrt(k), `${m}x${n}x${k} after growth: relative error ${err}`);
  }
});

test('wasm gemm is deterministic: same inputs, bit-identical outputs', { skip }, () => {
  const be = loadWasmBackend();
  const a = randomMatrix(37, 300), b = randomMatrix(45, 300);
  const c1 = matrix(37, 45), c2 = matrix(37, 45).data.fill(NaN);
  be.gemm(false, true, 1, a, b, 0, c1);
  be.gemm(false, true, 1, a, b, 0, { rows: 37, cols: 45, data: c2 });
  assert.deepEqual(c1.data, c2);
});

test('wasm tanh and sigmoid: within 4 float32 ulp of the float64 functions on the whole line', { skip }, () => {
  const be = loadWasmBackend();
  const n = 200_000;
  // Uniform on [−20, 20] plus log-uniform magnitudes from 1e-12 to 1e8, both signs.
  const z = Float32Array.from({ length: n }, (_, i) =>
    i % 2 === 0 ? 40 * rng.uniform() - 20 : (i % 4 === 1 ? 1 : -1) * 10 ** (20 * rng.uniform() - 12));
  for (const [kind, f] of [['tanh', Math.tanh], ['sigmoid', (x: number) => 1 / (1 + Math.exp(-x))]] as const) {
    const out = new Float32Array(n);
    be.activate(kind, z, out, 0);
    for (let i = 0; i < n; i++) {
      const want = f(z[i]);
      // NOTE: sigmoid below ~1e-38 (z ≲ −87) may come out as 0 instead of a subnormal: the absolute term.
      const tol = 4 * 2 ** -23 * Math.abs(want) + (kind === 'sigmoid' ? 5e-39 : 0);
      if (!(Math.abs(out[i] - want) <= tol)) assert.fail(`${kind}(${z[i]}) = ${out[i]}, expected ${want}`);
    }
  }
});

test('wasm tanh and sigmoid: special values, ragged lengths, subarray views and in place', { skip }, () => {
  const be = loadWasmBackend();
  const special = new Float32Array([0, -0, Infinity, -Infinity, NaN, 1e-30, -1e-30]);
  const t = new Float32Array(special.length);
  be.activate('tanh', special, t, 0);
  assert.ok(Object.is(t[0], 0) && Object.is(t[1], -0), 'tanh keeps the sign of zero');
  assert.deepEqual([...t.subarray(2, 4)], [1, -1]);
  assert.ok(Number.isNaN(t[4]), 'NaN propagates through tanh');
  assert.deepEqual([...t.subarray(5)], [special[5], special[6]], 'tanh(x) = x for tiny x');
  const s = new Float32Array(special.length);
  be.activate('sigmoid', special, s, 0);
  assert.deepEqual([...s.subarray(0, 4)], [0.5, 0.5, 1, 0]);
  assert.ok(Number.isNaN(s[4]), 'NaN propagates through sigmoid');

  // Lengths 0..9 cover the 4-lane tail; values around the views must stay untouched.
  for (let len = 0; len <= 9; len++) {
    for (const kind of ['tanh', 'sigmoid'] as const) {
      const buf = rng.fillUniform(new Float32Array(len + 5), -3, 3);
      const z = buf.subarray(2, 2 + len);
      const want = new Float32Array(len);
      js.activate(kind, z, want, 0);
      const outBuf = new Float32Array(len + 4).fill(7);
      be.activate(kind, z, outBuf.subarray(1, 1 + len), 0);
      for (let i = 0; i < len; i++) assert.ok(Math.abs(outBuf[1 + i] - want[i]) <= 4e-7 * Math.abs(want[i]), `${kind} len ${len} at ${i}`);
      assert.deepEqual([outBuf[0], ...outBuf.subarray(1 + len)], [7, 7, 7, 7], `${kind} len ${len}: wrote outside the view`);
      be.activate(kind, z, z, 0);
      for (let i = 0; i < len; i++) assert.ok(Math.abs(z[i] - want[i]) <= 4e-7 * Math.abs(want[i]), `${kind} in place, len ${len}`);
    }
  }
  assert.throws(() => be.activate('tanh', new Float32Array(4), new Float32Array(5), 0), /out has 5 values, z has 4/);
});

test('wasm clip, sign, bernoulli and the hard sigmoid backward stage operands right as memory grows', { skip }, () => {
  const be = loadWasmBackend();
  // Small, then larger than any call so far (memory grows, views are rebuilt), then small again.
  for (const n of [5, 1_500_001, 13]) {
    const x = rng.fillUniform(new Float32Array(n), -2, 3), u = rng.fillUniformFloat32(new Float32Array(n));
    const got = new Float32Array(n), want = new Float32Array(n);
    for (const run of [
      (b: Backend, out: Float32Array) => b.clip(x, -0.5, 0.5, out),
      (b: Backend, out: Float32Array) => b.sign(x, 0.25, out),
      (b: Backend, out: Float32Array) => b.bernoulli(x, u, out),
      (b: Backend, out: Float32Array) => b.activateBackward('hard_sigmoid', x, x, u, out, 0),
    ]) {
      run(js, want);
      run(be, got);
      assert.deepEqual(got, want, `length ${n}`);
    }
  }
});

test('wasm image kernels and gemmBatched stage operands right as memory grows and shrinks in use', { skip }, () => {
  const be = loadWasmBackend();
  // Small, then larger than any call so far (memory grows, views are rebuilt), then small again.
  for (const [batch, shape] of [[2, [1, 6, 6]], [300, [32, 14, 14]], [3, [2, 5, 4]]] as const) {
    const g = patchGeometry(shape, 3, 2, 1), size = shape[0] * shape[1] * shape[2], P = g.oh * g.ow, K = shape[0] * 9;
    const x = randomMatrix(batch, size), layout = { image: K, position: batch * K, value: 1 };
    const got = new Float32Array(batch * P * K), want = new Float32Array(batch * P * K);
    be.im2col(g, x, layout, got);
    js.im2col(g, x, layout, want);
    assert.deepEqual(got, want, `im2col, batch ${batch}`);
    const dxGot = matrix(batch, size), dxWant = matrix(batch, size);
    be.col2im(g, want, layout, dxGot);
    js.col2im(g, want, layout, dxWant);
    assert.deepEqual(dxGot.data, dxWant.data, `col2im, batch ${batch}`);
    const W = randomMatrix(P * 5, K), zGot = matrix(P * batch, 5), zWant = matrix(P * batch, 5);
    const batched = { count: P, strideA: batch * K, strideB: 5 * K, strideC: batch * 5 };
    be.gemmBatched(batched, false, true, 1, { rows: batch, cols: K, data: want }, { rows: 5, cols: K, data: W.data }, 0, { rows: batch, cols: 5, data: zGot.data });
    js.gemmBatched(batched, false, true, 1, { rows: batch, cols: K, data: want }, { rows: 5, cols: K, data: W.data }, 0, { rows: batch, cols: 5, data: zWant.data });
    for (let i = 0; i < zGot.data.length; i++) assert.ok(Math.abs(zGot.data[i] - zWant.data[i]) <= 1e-4, `gemmBatched, batch ${batch}, at ${i}`);
  }
});
