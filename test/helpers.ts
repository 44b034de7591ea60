import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend } from '../node/backends.js';
import { DataError } from '../src/data/errors.js';
import type { Backend } from '../src/tensor/backend.js';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { Rng } from '../src/random.js';

/** The js reference, then the wasm and native backends when they are built (CI requires them:
 * NGRAD_REQUIRE_WASM=1, NGRAD_REQUIRE_NATIVE=1). Ordered slowest first. */
export function availableBackends(): Backend[] {
  const list = [createJsBackend()];
  for (const [name, requireVar] of [['wasm', 'NGRAD_REQUIRE_WASM'], ['native', 'NGRAD_REQUIRE_NATIVE']] as const) {
    try {
      list.push(createBackend(name).backend);
    } catch (err) {
      if (process.env[requireVar] === '1') throw err;
    }
  }
  return list;
}

/** The fastest backend available (the last): what end-to-end tests train on. */
export function fastBackend(): Backend {
  const all = availableBackends();
  return all[all.length - 1];
}

export function randomMatrix(rows: number, cols: number, rng: Rng, scale = 1): Matrix {
  return { ...matrix(rows, cols), data: rng.fillNormal(new Float32Array(rows * cols), 0, scale) };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Runs fn in a fresh temporary folder, removed afterwards. */
export function withTempDir(fn: (dir: string) => void, prefix = 'ngrad-test-'): void {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** fn must throw a one-line DataError matching re. */
export function refuses(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}
