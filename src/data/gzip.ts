import { gunzipSync } from 'fflate';
import { DataError } from './errors.js';

/** True when bytes start with the gzip magic number 0x1f 0x8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

// Deflate cannot do better than about 1032:1, so a trailer claiming more than this is corrupt. The check
// matters: fflate allocates the trailer's size up front, so a truncated file would otherwise ask for
// gigabytes and then return zeros instead of failing.
const MAX_RATIO = 1032;

/**
 * Decompresses a single-member gzip file. Unlike a bare gunzipSync, a truncated or corrupt stream is an
 * error (DataError naming `source`) rather than silently short or zero-filled output: the trailer's size
 * is sanity-checked, the output length must match it, and the CRC-32 must match.
 */
export function gunzip(bytes: Uint8Array, source: string): Uint8Array {
  const bad = (why: string) => new DataError(`${source}: corrupt gzip stream (${why})`);
  if (!isGzip(bytes)) throw bad('no gzip magic number');
  if (bytes.length < 18) throw bad(`only ${bytes.length} bytes, too short for a gzip file`);
  if (bytes[2] !== 8) throw bad(`compression method ${bytes[2]}, expected 8 (deflate)`);
  const n = bytes.length;
  const size = (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
  const crc = (bytes[n - 8] | (bytes[n - 7] << 8) | (bytes[n - 6] << 16) | (bytes[n - 5] << 24)) >>> 0;
  if (size > n * MAX_RATIO + 1024) throw bad(`trailer claims ${size} bytes from ${n} compressed bytes; file truncated?`);
  let out: Uint8Array;
  try {
    out = gunzipSync(bytes);
  } catch (e) {
    throw bad(e instanceof Error ? e.message : String(e));
  }
  if (out.length !== size) throw bad(`inflated to ${out.length} bytes but the trailer says ${size}; file truncated?`);
  if (crc32(out) !== crc) throw bad('CRC-32 mismatch');
  return out;
}

let table: Int32Array | undefined;

/** CRC-32 (IEEE, as used by gzip) of bytes, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Int32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[i] = c;
    }
  }
  const t = table;
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
