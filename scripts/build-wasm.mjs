#!/usr/bin/env node
// Builds the wasm backend's kernels (src/tensor/wasm/*.c → src/tensor/wasm/build/kernels.wasm) with
// Debian's clang and lld; part of the package's `install` script, also runnable by hand:
// `node scripts/build-wasm.mjs`.
//
// Like the native build, a failure never fails the installation (the wasm backend is only used when asked
// for): one line says why and how to fix it, and the script exits 0. With NGRAD_REQUIRE_WASM=1 (CI) a
// failure is an error. NGRAD_SKIP_WASM=1 skips the build.
//
// NOTE: the module is built, not committed: the C source is the single truth and the build takes a second.
// Exports are named in the source (__attribute__((export_name))) rather than with --export-dynamic, so the
// module exports exactly the kernels, its memory and __heap_base (where src/tensor/wasm-backend.ts puts
// operands). No relaxed-SIMD flags: Node 20 rejects those opcodes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const srcDir = join(root, 'src', 'tensor', 'wasm');
const sources = ['gemm.c', 'activations.c', 'elementwise.c', 'image.c'].map((f) => join(srcDir, f));
// Keep in step with WASM_RELATIVE_PATH in node/wasm-loader.ts.
const outPath = join(srcDir, 'build', 'kernels.wasm');
const required = process.env.NGRAD_REQUIRE_WASM === '1';
const FIX = 'apt-get install clang lld, then node scripts/build-wasm.mjs (or npm rebuild ngrad)';
const EXPORTS = [
  'sgemm', 'tanhInPlace', 'sigmoidInPlace', 'clipInPlace', 'signInPlace', 'bernoulliInPlace',
  'hardSigmoidBackwardInPlace', 'sgemmBatched', 'im2colWasm', 'col2imWasm', 'transposeBlocksWasm', 'pool2dWasm',
  'pool2dBackwardWasm', 'memory', '__heap_base',
];

// NOTE: no -Werror: a newer clang's new warning must not make the backend unavailable at install.
const CLANG_FLAGS = [
  '--target=wasm32', '-msimd128', '-mbulk-memory', '-nostdlib', '-ffreestanding', '-O3', '-Wall', '-Wextra',
  '-Wl,--no-entry', '-Wl,--export=__heap_base', '-Wl,--strip-all',
];

function unavailable(reason, detail) {
  console.error(`ngrad: wasm backend unavailable (${reason}); --backend wasm will not work. Fix: ${FIX}.`);
  if (required) {
    if (detail) console.error(detail.split('\n').slice(-40).join('\n'));
    process.exit(1);
  }
  process.exit(0);
}

function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, name)));
}

if (process.env.NGRAD_SKIP_WASM === '1') {
  console.error('ngrad: wasm backend build skipped (NGRAD_SKIP_WASM=1).');
  process.exit(0);
}
if (!onPath('clang')) unavailable('clang not found');
// clang links wasm32 objects with lld's wasm-ld; without it the error is an obscure driver message.
if (!onPath('wasm-ld')) unavailable('wasm-ld not found (Debian package lld)');

mkdirSync(dirname(outPath), { recursive: true });
const tmpPath = `${outPath}.${process.pid}.tmp`;
const run = spawnSync('clang', [...CLANG_FLAGS, '-o', tmpPath, ...sources], { cwd: root, encoding: 'utf8' });
const log = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `\n${run.error.message}` : ''}`;
if (run.status !== 0 || !existsSync(tmpPath)) {
  rmSync(tmpPath, { force: true });
  const errorLine = log.split('\n').find((l) => /error/i.test(l)) ?? 'see the output above';
  unavailable(`clang failed: ${errorLine.trim().slice(0, 160)}`, log);
}

// Compiling it here proves this Node accepts every opcode (e.g. no relaxed SIMD) and that the exports the
// TypeScript side needs are there, before the file replaces a working one.
const bytes = readFileSync(tmpPath);
try {
  const names = WebAssembly.Module.exports(new WebAssembly.Module(bytes)).map((e) => e.name);
  const missing = EXPORTS.filter((e) => !names.includes(e));
  if (missing.length > 0) throw new Error(`missing exports ${missing.join(', ')}`);
} catch (e) {
  rmSync(tmpPath, { force: true });
  unavailable(`built but not loadable by Node ${process.version}: ${String(e instanceof Error ? e.message : e).split('\n')[0]}`);
}
renameSync(tmpPath, outPath);
console.error(`ngrad: wasm backend built (${relative(root, outPath)}, ${(bytes.length / 1024).toFixed(1)} KB)`);
