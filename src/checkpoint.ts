import { DataError } from './data/errors.js';

/**
 * A byte format for plain data holding typed arrays (networks, optimizer and rule state, RNG state):
 *   "NGRADCK2" | u32 CRC-32C | u32 header length | header JSON | blobs, each 8-byte aligned (zero padding)
 * The two u32 are little-endian. The CRC-32C covers every byte after itself (header length, header,
 * padding, blobs), so a flipped byte anywhere, a truncated copy or appended bytes are refused rather than
 * loaded as slightly wrong weights. The header is {version, littleEndian, blobs: [{type, length}], tree}:
 * tree is the value as JSON with every typed array replaced by {"$blob": index} and every number JSON
 * cannot hold by {"$number": "NaN" | "Infinity" | "-Infinity" | "-0"}; the blob table must account for
 * the file's length exactly. Version-1 files ("NGRADCK1" | u32 header length | header | blobs, no
 * checksum) are still read, with the same structural checks; damage inside their blobs goes unnoticed.
 * Works in Node and browsers; writing the bytes to a file (atomically) is the Node seam's job (node/files.ts).
 * NOTE: blobs are stored in the platform's byte order, which is little-endian on every platform ngrad runs on;
 * the header records it and decoding refuses a mismatch.
 */
const MAGIC_STEM = 'NGRADCK';
const VERSION = 2;
/** Bytes before the header: magic, then (version 2) checksum, then header length. */
const PREFIX: Readonly<Record<1 | 2, number>> = { 1: 12, 2: 16 };

type BlobArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint32Array;
const BLOB_TYPES = { f32: Float32Array, f64: Float64Array, i32: Int32Array, u8: Uint8Array, u32: Uint32Array } as const;
type BlobType = keyof typeof BLOB_TYPES;
interface BlobInfo { type: BlobType; length: number }
interface Header { version: number; littleEndian: boolean; blobs: BlobInfo[]; tree: string }

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SPECIAL_NUMBERS = new Set(['NaN', 'Infinity', '-Infinity', '-0']);

/** Encodes a value of plain data (objects, arrays, numbers, strings, booleans, null) and typed arrays. */
export function encodeCheckpoint(value: unknown): Uint8Array {
  const blobs: BlobArray[] = [];
  const blobInfo: BlobInfo[] = [];
  const tree = JSON.stringify(value, function (this: unknown, key, v: unknown) {
    const type = blobTypeOf(v);
    if (type) {
      blobs.push(v as BlobArray);
      blobInfo.push({ type, length: (v as BlobArray).length });
      return { $blob: blobs.length - 1 };
    }
    // Refused rather than written: JSON would turn these into something else and decode them wrongly.
    if (ArrayBuffer.isView(v)) throw new Error(`encodeCheckpoint: cannot store a ${v.constructor.name} at '${key}' (known: ${Object.keys(BLOB_TYPES).join(', ')})`);
    if (v && typeof v === 'object' && ('$blob' in v || '$number' in v)) throw new Error(`encodeCheckpoint: the keys $blob and $number are reserved (at '${key}')`);
    if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
    if (Object.is(v, -0)) return { $number: '-0' }; // JSON would write 0
    return v;
  }, 0);
  const header = new TextEncoder().encode(JSON.stringify({ version: VERSION, littleEndian: LITTLE_ENDIAN, blobs: blobInfo, tree }));
  const prefix = PREFIX[VERSION];
  let size = align(prefix + header.length);
  for (const b of blobs) size += align(b.byteLength);
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(`${MAGIC_STEM}${VERSION}`), 0);
  const view = new DataView(out.buffer);
  view.setUint32(12, header.length, true);
  out.set(header, prefix);
  let offset = align(prefix + header.length);
  for (const b of blobs) {
    out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), offset);
    offset += align(b.byteLength);
  }
  view.setUint32(8, crc32c(out.subarray(12)), true);
  return out;
}

/**
 * Decodes bytes written by encodeCheckpoint (this version or version 1). Anything else (another file, a
 * corrupt, truncated or extended copy, a newer version) throws a one-line DataError
 * `<source>: not a readable ngrad checkpoint (<why>; <fix>)`; nothing is allocated from sizes the file
 * merely claims.
 */
export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): unknown {
  const fail = (why: string, fix = ''): never => {
    throw new DataError(`${source}: not a readable ngrad checkpoint (${oneLine(why)})${fix}`);
  };
  const version = formatVersion(bytes, fail);
  const prefix = PREFIX[version];
  const n = bytes.length;
  if (n < prefix) fail(`truncated: ${n} bytes, shorter than the ${prefix}-byte start of a checkpoint; restore or retrain it`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(prefix - 4, true);
  const intact = version === 1 || view.getUint32(8, true) === crc32c(bytes.subarray(12));

  // The structure is examined even when the checksum fails, to tell a truncated or extended copy (the
  // usual accident) from damage inside; only the length diagnosis is reported then.
  let header: Header | undefined;
  let malformed: string | undefined;
  try {
    if (prefix + headerLength > n) {
      throw new LengthError(`truncated: the file has ${n} bytes but its header alone needs ${prefix + headerLength}; the copy is incomplete or corrupt, restore or retrain it`);
    }
    header = readHeader(bytes.subarray(prefix, prefix + headerLength), version);
    const end = layoutEnd(header.blobs, align(prefix + headerLength), n);
    if (end > n) throw new LengthError(`truncated: the file has ${n} bytes but its header declares ${end}; the copy is incomplete or corrupt, restore or retrain it`);
    if (end < n) throw new LengthError(`${n - end} unexpected byte${n - end === 1 ? '' : 's'} after the end of the checkpoint's ${end}; the file was appended to or is corrupt, restore or retrain it`);
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    if (e instanceof LengthError) fail(e.message);
    malformed = e.message;
  }
  if (!intact) fail('checksum mismatch: the file is corrupt or was edited; retrain or restore it');
  if (malformed !== undefined || !header) return fail(`${malformed ?? 'bad header'}; the file was not written by ngrad, or by a broken writer`);

  let offset = align(prefix + headerLength);
  const arrays = header.blobs.map(({ type, length }) => {
    const Ctor = BLOB_TYPES[type];
    const byteLength = length * Ctor.BYTES_PER_ELEMENT;
    // Copy, so the arrays are aligned and do not pin the file's buffer.
    const copy = new Uint8Array(bytes.subarray(offset, offset + byteLength));
    offset += align(byteLength);
    return new Ctor(copy.buffer);
  });
  const used = new Uint8Array(arrays.length);
  let value: unknown;
  try {
    value = JSON.parse(header.tree, (_key, v: unknown) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      if ('$blob' in v) {
        const i = (v as { $blob: unknown }).$blob;
        if (Object.keys(v).length !== 1 || typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= arrays.length) {
          throw new Error(`bad blob reference ${JSON.stringify(v)} (the file has ${arrays.length} blobs)`);
        }
        if (used[i]++) throw new Error(`blob ${i} is referenced twice`);
        return arrays[i];
      }
      if ('$number' in v) {
        const s = (v as { $number: unknown }).$number;
        if (Object.keys(v).length !== 1 || typeof s !== 'string' || !SPECIAL_NUMBERS.has(s)) throw new Error(`bad number ${JSON.stringify(v)}`);
        return Number(s);
      }
      return v;
    });
  } catch (e) {
    return fail(`${e instanceof Error ? e.message : String(e)}; the file was not written by ngrad, or by a broken writer`);
  }
  const unused = used.indexOf(0);
  if (unused >= 0) fail(`blob ${unused} is never referenced; the file was not written by ngrad, or by a broken writer`);
  return value;
}

/** The format version named by the magic bytes; fails for anything that is not a checkpoint this code reads. */
function formatVersion(bytes: Uint8Array, fail: (why: string, fix?: string) => never): 1 | 2 {
  if (bytes.length === 0) return fail('the file is empty; restore or retrain it');
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic.length < 8 && MAGIC_STEM.startsWith(magic)) return fail(`truncated: ${bytes.length} bytes; restore or retrain it`);
  if (!magic.startsWith(MAGIC_STEM) || !/^[0-9]$/.test(magic[7])) {
    return fail('wrong magic', `; it is some other file: give one that ngrad wrote (a run writes OUT/checkpoint.ngrad)`);
  }
  const v = Number(magic[7]);
  if (v !== 1 && v !== 2) return fail(`format version ${v}, this ngrad reads versions 1 and ${VERSION}; upgrade ngrad to read it`);
  return v;
}

/** A length problem: reported even when the checksum also fails, because it says more. */
class LengthError extends Error {}

/** Parses and checks the header's shape; throws an Error saying what is wrong. */
function readHeader(bytes: Uint8Array, version: number): Header {
  let h: unknown;
  try {
    h = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (h === null || typeof h !== 'object' || Array.isArray(h)) throw new Error('header is not a JSON object');
  const { version: v, littleEndian, blobs, tree } = h as Partial<Record<keyof Header, unknown>>;
  if (v !== version) throw new Error(`header says version ${JSON.stringify(v)} but the file starts with ${MAGIC_STEM}${version}`);
  if (typeof littleEndian !== 'boolean') throw new Error('header has no littleEndian flag');
  if (littleEndian !== LITTLE_ENDIAN) throw new Error('written on a machine of the other byte order');
  if (!Array.isArray(blobs)) throw new Error('header has no blob table');
  blobs.forEach((b: unknown, i) => {
    const { type, length } = (b ?? {}) as Partial<Record<keyof BlobInfo, unknown>>;
    if (typeof type !== 'string' || !Object.hasOwn(BLOB_TYPES, type)) {
      throw new Error(`blob ${i} has unknown type ${JSON.stringify(type)} (known: ${Object.keys(BLOB_TYPES).join(', ')})`);
    }
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
      throw new Error(`blob ${i} has length ${JSON.stringify(length)}, not a whole number ≥ 0`);
    }
  });
  if (typeof tree !== 'string') throw new Error('header has no value tree');
  return h as Header;
}

/** Where the last blob ends, checking each size against the file's size before anything is allocated. */
function layoutEnd(blobs: readonly BlobInfo[], start: number, fileSize: number): number {
  let end = start;
  blobs.forEach(({ type, length }, i) => {
    const bytes = length * BLOB_TYPES[type].BYTES_PER_ELEMENT;
    if (bytes > fileSize) {
      throw new LengthError(`truncated: blob ${i} declares ${length} ${type} elements (${bytes} bytes) in a file of ${fileSize} bytes; the file is corrupt or incomplete, restore or retrain it`);
    }
    end += align(bytes);
  });
  return end;
}

function blobTypeOf(v: unknown): BlobType | null {
  if (v instanceof Float32Array) return 'f32';
  if (v instanceof Float64Array) return 'f64';
  if (v instanceof Int32Array) return 'i32';
  if (v instanceof Uint8Array) return 'u8';
  if (v instanceof Uint32Array) return 'u32';
  return null;
}

function align(n: number): number {
  return Math.ceil(n / 8) * 8; // not (n + 7) & ~7, which wraps past 2^31
}

/** Collapses whitespace (a JSON error quotes the input) and bounds the length, so a message stays one line. */
function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}

let crcTable: Int32Array | undefined;

/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78) of bytes as an unsigned 32-bit number; pass the
 * previous result as `crc` to continue over a following chunk. Slicing-by-8: eight table look-ups per
 * eight bytes, about 1 GB/s in V8, so checking a checkpoint costs far less than reading it.
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  const t = crcTable ?? (crcTable = crc32cTable());
  let c = ~crc;
  let i = 0;
  const n = bytes.length;
  for (; i + 8 <= n; i += 8) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    const hi = bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24);
    c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)]
      ^ t[768 + (hi & 0xff)] ^ t[512 + ((hi >>> 8) & 0xff)] ^ t[256 + ((hi >>> 16) & 0xff)] ^ t[hi >>> 24];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Table k (at 256 k) advances a byte through k further zero bytes. */
function crc32cTable(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const prev = t[256 * (k - 1) + i];
      t[256 * k + i] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}
