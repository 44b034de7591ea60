import { accessSync, constants, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeFsError, ensureFolder, removeStaleTemporaries } from '../node/files.js';
import { PICTURES_FOLDER } from './run-pictures.js';
import { UsageError } from './usage-error.js';

/** The files a run writes into its folder. */
export const RUN_FILES = { metrics: 'metrics.jsonl', checkpoint: 'checkpoint.ngrad', summary: 'summary.json' } as const;

/**
 * Makes sure `out` can hold a run before any training starts, and never loses a run already there:
 * - 'new': out must not exist, or be an empty folder;
 * - 'force': out may hold an earlier run, whose run files are removed (other files are kept);
 * - 'resume': out must hold the run's checkpoint.
 * A path that is a file, lies under a file, or cannot be written gets a one-line UsageError.
 * Temporary files left by a killed writer (NAME.PID.tmp) are removed. The run's pictures (pictures/*.png) are run
 * files too.
 */
export function prepareRunFolder(out: string, mode: 'new' | 'force' | 'resume', flag = '--out'): void {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UsageError(`${flag} ${out} is a file, not a folder: choose another ${flag}`);
  if (mode === 'new' && existsSync(out) && readdirSync(out).length > 0) {
    throw new UsageError(`${flag} ${out} already holds files (an earlier run?): choose another ${flag}, add --force to replace the run, or --resume ${out} to continue it`);
  }
  try {
    ensureFolder(out);
    accessSync(out, constants.W_OK);
  } catch (err) {
    const cause = (err as NodeJS.ErrnoException).code ? describeFsError(err) : (err as Error).message.replace(/^.*\((.*)\)$/, '$1');
    throw new UsageError(`${flag} ${out} cannot be used: ${cause}; choose another ${flag}`);
  }
  for (const name of Object.values(RUN_FILES)) removeStaleTemporaries(join(out, name));
  const pictures = join(out, PICTURES_FOLDER);
  const names = existsSync(pictures) && statSync(pictures).isDirectory() ? readdirSync(pictures) : [];
  const pngs = names.filter((n) => n.endsWith('.png'));
  // A picture's temporary file may outlive a first write that never reached its rename: NAME.png.PID.tmp alone.
  const written = new Set([...pngs, ...names.flatMap((n) => /^(.+\.png)\.[0-9]+\.tmp$/.exec(n)?.[1] ?? [])]);
  for (const name of written) removeStaleTemporaries(join(pictures, name));
  if (mode === 'force') {
    for (const name of Object.values(RUN_FILES)) rmSync(join(out, name), { force: true });
    for (const name of pngs) rmSync(join(pictures, name), { force: true });
  }
}
