import { Gunzip } from 'fflate';
import { DataError } from './errors.js';

/** True when bytes start with the gzip magic number 0x1f 0x8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

// Deflate cannot do better than about 1032:1, so a trailer claiming more than this is corrupt. The check
// matters: without it a truncated file's "trailer" (bytes from the middle) could ask for gigabytes.
const MAX_RATIO = 1032;

/** The most any gzip stream may inflate to when the caller sets no smaller limit (2 GiB). */
export const MAX_INFLATED_BYTES = 2 ** 31;

// Compressed input is fed to the inflater in slices sized to what the limit still allows at deflate's best
// ratio (between these bounds), so output passes a limit by at most about MIN_CHUNK * MAX_RATIO bytes
// (1 MiB) before inflation stops, while a file well within its limit goes in large, cheap slices.
const MIN_CHUNK = 1024;
const MAX_CHUNK = 256 * 1024;

/** A cap on how far a stream may inflate, and what set it, for the message when a stream goes past it. */
export interface InflateLimit {
  /** The most bytes the stream may inflate to. */
  bytes: number;
  /** What declared that size, completing "...more than the N bytes ___", e.g. "its IDX header declares (10x28x28 u8)". */
  declaredBy: string;
}

/** The one-line error for a stream that inflates past its limit: trailing data, or a decompression bomb. */
export function inflateLimitError(source: string, limit: InflateLimit): DataError {
  return new DataError(`${source}: inflates to more than the ${limit.bytes} bytes ${limit.declaredBy}: the file holds extra data or is a decompression bomb; use the original file`);
}

/**
 * Decompresses a single-member gzip file, inflating it piece by piece and stopping as soon as the output
 * passes `limit` (default MAX_INFLATED_BYTES), so a small file that claims to be a few images but inflates
 * to gigabytes costs a few megabytes, not the gigabytes. A truncated or corrupt stream is an error
 * (DataError naming `source`) rather than silently short output: the output length must match the
 * trailer's and the CRC-32 must match.
 */
export function gunzip(bytes: Uint8Array, source: string, limit: InflateLimit = { bytes: MAX_INFLATED_BYTES, declaredBy: 'that ngrad inflates' }): Uint8Array {
  const out = inflateChecked(bytes, source, limit.bytes);
  if (!out) throw inflateLimitError(source, limit);
  return out;
}

/**
 * Checks a whole gzip stream (inflate, length, CRC-32) but gives up quietly once it passes `maxBytes`:
 * for telling a damaged stream from a wrong file when a header looks wrong, without inflating a bomb.
 * Throws the DataError a corrupt stream gets; returns when the stream is intact or too long to tell.
 */
export function checkGzipStream(bytes: Uint8Array, source: string, maxBytes: number): void {
  inflateChecked(bytes, source, maxBytes);
}

/** The inflated stream, or undefined once it passes maxBytes; throws a DataError for a corrupt stream. */
function inflateChecked(bytes: Uint8Array, source: string, maxBytes: number): Uint8Array | undefined {
  const bad = (why: string) => new DataError(`${source}: corrupt gzip stream (${why})`);
  const trailer = checkGzipFrame(bytes, source);
  // The output goes straight into one buffer of the size the trailer states (no chunks to join, so no
  // second copy); a stream that inflates past it is corrupt, or past maxBytes, too big.
  const out = new Uint8Array(Math.min(trailer.size, maxBytes));
  let total = 0;
  let crc = 0;
  const tooBig = new Error('limit');
  const inflater = new Gunzip((chunk) => {
    if (total + chunk.length > maxBytes) throw tooBig;
    if (total + chunk.length > trailer.size) throw bad(`inflates past the ${trailer.size} bytes its trailer says; file truncated or corrupt?`);
    out.set(chunk, total);
    total += chunk.length;
    crc = crc32(chunk, crc);
  });
  try {
    for (let at = 0; at < bytes.length;) {
      const step = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.floor((maxBytes - total) / MAX_RATIO)));
      inflater.push(bytes.subarray(at, at + step), at + step >= bytes.length);
      at += step;
    }
  } catch (e) {
    if (e === tooBig) return undefined;
    if (e instanceof DataError) throw e;
    throw bad(e instanceof Error ? e.message : String(e));
  }
  if (total !== trailer.size) throw bad(`inflated to ${total} bytes but the trailer says ${trailer.size}; file truncated?`);
  if (crc !== trailer.crc) throw bad('CRC-32 mismatch');
  return out;
}

/**
 * At least the first `want` inflated bytes of a gzip stream (fewer only if the whole stream is shorter),
 * inflating little more than that: enough to read a file's header before deciding how far to inflate it.
 * Unchecked beyond the frame (no CRC: the stream is not finished); a corrupt start is a DataError.
 */
export function gunzipHead(bytes: Uint8Array, source: string, want: number): Uint8Array {
  checkGzipFrame(bytes, source);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inflater = new Gunzip((chunk) => {
    chunks.push(chunk);
    total += chunk.length;
  });
  const step = MIN_CHUNK;
  try {
    for (let at = 0; at < bytes.length && total < want; at += step) inflater.push(bytes.subarray(at, at + step), at + step >= bytes.length);
  } catch (e) {
    throw new DataError(`${source}: corrupt gzip stream (${e instanceof Error ? e.message : String(e)})`);
  }
  return concat(chunks, total);
}

/** Checks a gzip file's fixed parts (magic, method, size, plausible trailer) and returns its trailer. */
export function checkGzipFrame(bytes: Uint8Array, source: string): { size: number; crc: number } {
  const bad = (why: string) => new DataError(`${source}: corrupt gzip stream (${why})`);
  if (!isGzip(bytes)) throw bad('no gzip magic number');
  if (bytes.length < 18) throw bad(`only ${bytes.length} bytes, too short for a gzip file`);
  if (bytes[2] !== 8) throw bad(`compression method ${bytes[2]}, expected 8 (deflate)`);
  const n = bytes.length;
  const size = (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
  const crc = (bytes[n - 8] | (bytes[n - 7] << 8) | (bytes[n - 6] << 16) | (bytes[n - 5] << 24)) >>> 0;
  if (size > n * MAX_RATIO + 1024) throw bad(`trailer claims ${size} bytes from ${n} compressed bytes; file truncated?`);
  return { size, crc };
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

let table: Int32Array | undefined;

/**
 * CRC-32 (IEEE, as used by gzip) of bytes, as an unsigned 32-bit number; pass the previous result as `crc`
 * to continue over a following chunk.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!table) {
    table = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c;
    }
  }
  const t = table;
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
