import {
  closeSync, constants, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { DataError } from '../src/data/errors.js';

/*
 * Files in and out, with one-line errors (DataError, which the CLI prints without a stack trace and turns
 * into exit code 2) that name the path and say the cause in words.
 */

/** The temporary file writeFileAtomic writes next to `path` before renaming it over `path`. */
export function temporaryPath(path: string, pid = process.pid): string {
  return `${path}.${pid}.tmp`;
}

/** Creates a folder and any missing parents; a one-line DataError says which folder and why not. */
export function ensureFolder(dir: string): void {
  try {
    makeFolders(dir);
  } catch (e) {
    throw new DataError(`${dir}: cannot create this folder (${describeFsError(e)})`);
  }
}

/**
 * mkdir -p, one component at a time.
 * NOTE: Node's mkdirSync(…, { recursive: true }) never returns on some virtual file systems (under /proc it
 * retries ENOENT forever), so the missing folders are made one by one, each failure reported as it is.
 */
function makeFolders(dir: string): void {
  const missing: string[] = [];
  let at = resolve(dir);
  while (!existsSync(at)) {
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  if (!statSync(at).isDirectory()) {
    // As mkdir reports it: the folder's own name taken by a file is EEXIST, a file among its parents ENOTDIR.
    throw Object.assign(new Error(`${at} is not a folder`), { code: missing.length ? 'ENOTDIR' : 'EEXIST' });
  }
  for (const folder of missing.reverse()) mkdirSync(folder);
}

/**
 * Writes a file so that readers see either the old or the complete new content, never a torn one: write
 * to a temporary file in the same folder, flush it, then rename over the target. On failure the temporary
 * file is removed and a DataError says which path could not be written and why (a read-only folder, a
 * file where a folder should be, a full disk).
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  try {
    makeFolders(dir);
  } catch (e) {
    throw new DataError(`${path}: cannot write (cannot create the folder ${dir}: ${describeFsError(e)})`);
  }
  const tmp = temporaryPath(path);
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    // writeSync may write less than asked (a full disk reports ENOSPC only on the next call).
    for (let at = 0; at < bytes.length;) {
      const written = writeSync(fd, bytes, at, bytes.length - at);
      if (written <= 0) throw new Error('the file system accepted no more bytes');
      at += written;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) ignoreErrors(() => closeSync(fd as number));
    // NOTE: best effort; the error worth reporting is the one that stopped the write.
    ignoreErrors(() => rmSync(tmp, { force: true }));
    throw new DataError(`${path}: cannot write (${describeFsError(e)})`);
  }
  // Make the rename itself durable. Not every platform can open a folder (Windows cannot), and the new
  // content is in place already, so a failure here is not worth failing the write.
  ignoreErrors(() => {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  });
}

/**
 * Removes the temporary files that writeFileAtomic left next to `path` in processes that were killed
 * mid-write (`<path>.<pid>.tmp` whose process no longer runs); files of live processes, including this one,
 * are kept. Returns the paths removed. Call it before a run starts writing to `path`.
 * NOTE: liveness is judged on this machine; on a folder that another machine writes to at the same time,
 * its temporary files look stale.
 */
export function removeStaleTemporaries(path: string): string[] {
  const dir = dirname(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new DataError(`${dir}: cannot list the folder to remove stale temporary files (${describeFsError(e)})`);
  }
  const prefix = `${basename(path)}.`;
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pidText = name.slice(prefix.length, -'.tmp'.length);
    if (!/^[1-9][0-9]{0,9}$/.test(pidText)) continue;
    const pid = Number(pidText);
    if (pid === process.pid || isRunning(pid)) continue;
    const stale = join(dir, name);
    try {
      rmSync(stale, { force: true });
    } catch (e) {
      throw new DataError(`${stale}: cannot remove this stale temporary file (${describeFsError(e)}); delete it by hand`);
    }
    removed.push(stale);
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, but belongs to someone else
  }
}

export function saveCheckpoint(path: string, value: unknown): void {
  writeFileAtomic(path, encodeCheckpoint(value));
}

/** Reads and decodes a checkpoint; every problem is a one-line DataError naming the path. */
export function loadCheckpoint(path: string): unknown {
  return decodeCheckpoint(readRegularFile(path, 'checkpoint', 'a run writes OUT/checkpoint.ngrad'), path);
}

/**
 * Reads a whole regular file. A directory, FIFO, socket or device is refused with a one-line DataError
 * instead of an EISDIR or a read that blocks forever (a FIFO without a writer): the file is opened
 * non-blocking and checked before anything is read. `what` names the file in messages ("checkpoint");
 * `hint`, if given, says where the right file comes from.
 */
export function readRegularFile(path: string, what: string, hint?: string): Uint8Array {
  const fix = hint ? `; ${hint}` : '';
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new DataError(`${path}: cannot read ${what} (${describeFsError(e)}${fix})`);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new DataError(`${path}: cannot read ${what} (it is ${kindOf(stats)}, not a regular file${fix})`);
    return readFileSync(fd);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${path}: cannot read ${what} (${describeFsError(e)}${fix})`);
  } finally {
    closeSync(fd);
  }
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

const FS_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a directory',
  EEXIST: 'a file of that name is in the way',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system',
  ERR_FS_FILE_TOO_LARGE: 'file too large to read at once (over 2 GiB)',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links in the path',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'input/output error',
  EBUSY: 'the file is busy',
  ETXTBSY: 'the file is busy',
  EXDEV: 'cannot move across file systems',
};

/** A file system error in a few words, e.g. "the file system is read-only [EROFS]"; always one line. */
export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code && FS_ERRORS[code]) return `${FS_ERRORS[code]} [${code}]`;
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0];
}

function ignoreErrors(fn: () => void): void {
  try {
    fn();
  } catch {
    // deliberately ignored; see the callers
  }
}
