import { readFileSync } from 'node:fs';
import type { Backend } from '../src/tensor/backend.js';
import { createWasmBackend } from '../src/tensor/wasm-backend.js';
import { findPackageFile } from './package-files.js';

/** Where scripts/build-wasm.mjs leaves the kernels, relative to the package root. */
export const WASM_RELATIVE_PATH = 'src/tensor/wasm/build/kernels.wasm';

/** How to get the wasm backend when it is missing. */
export const WASM_FIX = 'apt-get install clang lld, then node scripts/build-wasm.mjs (or npm rebuild ngrad)';

/** The kernels could not be loaded (not built, or built for another Node); `reason` is one line. */
export class WasmUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`wasm backend unavailable: ${reason}`);
    this.name = 'WasmUnavailableError';
  }
}

/** The .wasm file: $NGRAD_WASM_MODULE, else the one in the package (undefined if not built). */
export function findWasm(): string | undefined {
  return findPackageFile(WASM_RELATIVE_PATH, process.env.NGRAD_WASM_MODULE);
}

// Compiled once per process; each backend gets its own instance (and so its own memory).
let compiled: WebAssembly.Module | undefined;

/** The wasm backend from the file on disk. Throws WasmUnavailableError if it is missing or will not load. */
export function loadWasmBackend(): Backend {
  if (!compiled) {
    const path = findWasm();
    if (!path) throw new WasmUnavailableError(`kernels not built (no ${WASM_RELATIVE_PATH})`);
    try {
      compiled = new WebAssembly.Module(readFileSync(path));
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new WasmUnavailableError(`cannot load ${path}: ${message.split('\n')[0]}`);
    }
  }
  try {
    return createWasmBackend(compiled);
  } catch (e) {
    throw new WasmUnavailableError(e instanceof Error ? e.message : String(e));
  }
}
