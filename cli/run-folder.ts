import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './usage-error.js';

/** The files a run writes into its folder. */
export const RUN_FILES = { metrics: 'metrics.jsonl', checkpoint: 'checkpoint.ngrad', summary: 'summary.json' } as const;

/**
 * Makes sure `out` can hold a run before any training starts, and never loses a run already there:
 * - 'new': out must not exist, or be an empty folder;
 * - 'force': out may hold an earlier run, whose run files are removed (other files are kept);
 * - 'resume': out must hold the run's checkpoint.
 * A path that is a file, lies under a file, or cannot be written gets a one-line UsageError.
 * Temporary files left by a killed writer (NAME.PID.tmp) are removed.
 */
export function prepareRunFolder(out: string, mode: 'new' | 'force' | 'resume', flag = '--out'): void {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`${flag} ${out} is a file, not a folder: choose another ${flag}`);
  if (mode === 'new' && existsSync(out) && readdirSync(out).length > 0) {
    throw new UsageError(`${flag} ${out} already holds files (an earlier run?): choose another ${flag}, add --force to replace the run, or --resume ${out} to continue it`);
  }
  try {
    mkdirSync(out, { recursive: true });
    accessSync(out, constants.W_OK);
  } catch (err) {
    throw new UsageError(`${flag} ${out} cannot be used: ${describeFsError(err)}; choose another ${flag}`);
  }
  removeStaleTemporaries(out);
  if (mode === 'force') for (const name of Object.values(RUN_FILES)) rmSync(join(out, name), { force: true });
}

/** Removes NAME.PID.tmp files that a killed process left in `dir` (a live writer's file is never older
 * than the write in progress, and only one run writes to a folder). */
export function removeStaleTemporaries(dir: string): void {
  for (const name of readdirSync(dir)) if (/\.\d+\.tmp$/.test(name)) rmSync(join(dir, name), { force: true });
}

/** A file-system error in words. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOTDIR': return 'a part of the path is a file, not a folder';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'the file system is read-only';
    case 'ENOSPC': return 'the disk is full';
    case 'EEXIST': return 'a file of that name is in the way';
    case 'ENOENT': return 'no such file or folder';
    default: return (err as Error).message.split('\n')[0];
  }
}
