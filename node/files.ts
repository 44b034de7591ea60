import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';

/** Writes a file so that readers see either the old or the complete new content, never a torn one:
 * write to a temporary file in the same folder, flush it, then rename over the target. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function saveCheckpoint(path: string, value: unknown): void {
  writeFileAtomic(path, encodeCheckpoint(value));
}

export function loadCheckpoint(path: string): unknown {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`cannot read checkpoint '${path}': check the path (a run writes OUT/checkpoint.ngrad)`);
  }
  return decodeCheckpoint(bytes, path);
}
