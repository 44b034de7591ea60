import type { Backend, BackendName } from '../src/tensor/backend.js';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { loadNativeBackend, NATIVE_FIX, NativeUnavailableError } from './native-backend.js';
import { loadWasmBackend, WASM_FIX, WasmUnavailableError } from './wasm-loader.js';

export const BACKEND_NAMES = ['js', 'native', 'wasm'] as const satisfies readonly BackendName[];

export interface BackendChoice {
  backend: Backend;
  /** One line for the user when the choice fell back from native to js. */
  note?: string;
}

function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}

/**
 * The backend to run on: `name` if given, else $NGRAD_BACKEND, else native when its addon loads, else js.
 * Asking for native or wasm by name or environment and not getting it is an error (a silent 100x slowdown
 * would be worse); falling back when nothing was asked for only adds a `note`. wasm is never chosen by
 * default: in Node it is several times slower than native; it exists for browsers.
 */
export function createBackend(name?: string): BackendChoice {
  const fromEnv = name === undefined && process.env.NGRAD_BACKEND ? process.env.NGRAD_BACKEND : undefined;
  const requested = name ?? fromEnv;
  if (requested === undefined) {
    try {
      return { backend: loadNativeBackend() };
    } catch (e) {
      if (!(e instanceof NativeUnavailableError)) throw e;
      return {
        backend: createJsBackend(),
        note: `ngrad: native backend unavailable (${e.reason}); running on js. Fix: ${NATIVE_FIX}`,
      };
    }
  }
  if (!isBackendName(requested)) {
    const source = fromEnv !== undefined ? ' in NGRAD_BACKEND' : '';
    throw new Error(`unknown backend '${requested}'${source} (choose ${BACKEND_NAMES.join(', ')})`);
  }
  if (requested === 'js') return { backend: createJsBackend() };
  if (requested === 'wasm') {
    try {
      return { backend: loadWasmBackend() };
    } catch (e) {
      if (!(e instanceof WasmUnavailableError)) throw e;
      const source = fromEnv !== undefined ? ' (NGRAD_BACKEND=wasm)' : '';
      throw new Error(`ngrad: wasm backend requested${source} but unavailable (${e.reason}). Fix: ${WASM_FIX}; or use another backend`);
    }
  }
  try {
    return { backend: loadNativeBackend() };
  } catch (e) {
    if (!(e instanceof NativeUnavailableError)) throw e;
    const source = fromEnv !== undefined ? ' (NGRAD_BACKEND=native)' : '';
    throw new Error(`ngrad: native backend requested${source} but unavailable (${e.reason}). Fix: ${NATIVE_FIX}; or use the js backend`);
  }
}
