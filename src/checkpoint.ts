/**
 * A byte format for plain data holding typed arrays (networks, optimizer and rule state, RNG state):
 *   "NGRADCK1" | u32 header length | header JSON | blobs, each 8-byte aligned.
 * The header is the value with every typed array replaced by {"$blob": index}. Works in Node and browsers;
 * writing the bytes to a file (atomically) is the Node seam's job (node/files.ts).
 * NOTE: blobs are stored in the platform's byte order, which is little-endian on every platform ngrad runs on;
 * the header records it and decoding refuses a mismatch.
 */
const MAGIC = 'NGRADCK1';

type BlobArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint32Array;
const BLOB_TYPES = { f32: Float32Array, f64: Float64Array, i32: Int32Array, u8: Uint8Array, u32: Uint32Array } as const;
type BlobType = keyof typeof BLOB_TYPES;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeCheckpoint(value: unknown): Uint8Array {
  const blobs: BlobArray[] = [];
  const blobInfo: { type: BlobType; length: number }[] = [];
  const tree = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    const type = blobTypeOf(v);
    if (type) {
      blobs.push(v as BlobArray);
      blobInfo.push({ type, length: (v as BlobArray).length });
      return { $blob: blobs.length - 1 };
    }
    if (typeof v === 'number' && !Number.isFinite(v)) return { $number: String(v) };
    return v;
  }, 0);
  const header = new TextEncoder().encode(JSON.stringify({ version: 1, littleEndian: LITTLE_ENDIAN, blobs: blobInfo, tree }));
  let size = align(MAGIC.length + 4 + header.length);
  for (const b of blobs) size += align(b.byteLength);
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  let offset = align(MAGIC.length + 4 + header.length);
  for (const b of blobs) {
    out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), offset);
    offset += align(b.byteLength);
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, source = 'checkpoint'): unknown {
  const fail = (why: string): never => { throw new Error(`${source}: not a readable ngrad checkpoint (${why})`); };
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC) fail('wrong magic');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + headerLength > bytes.length) fail('truncated header');
  let header: { version: number; littleEndian: boolean; blobs: { type: BlobType; length: number }[]; tree: string };
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + headerLength)));
  } catch {
    return fail('corrupt header');
  }
  if (header.version !== 1) fail(`unsupported version ${header.version}`);
  if (header.littleEndian !== LITTLE_ENDIAN) fail('written on a machine of the other byte order');
  let offset = align(MAGIC.length + 4 + headerLength);
  const arrays = header.blobs.map(({ type, length }) => {
    const Ctor = BLOB_TYPES[type] ?? fail(`unknown blob type ${type}`);
    const byteLength = length * Ctor.BYTES_PER_ELEMENT;
    if (offset + byteLength > bytes.length) fail('truncated data');
    // Copy, so the arrays are aligned and do not pin the file's buffer.
    const copy = new Uint8Array(bytes.subarray(offset, offset + byteLength));
    offset += align(byteLength);
    return new Ctor(copy.buffer);
  });
  return JSON.parse(header.tree, (_key, v: unknown) => {
    if (v && typeof v === 'object' && '$blob' in v) return arrays[(v as { $blob: number }).$blob] ?? fail('bad blob reference');
    if (v && typeof v === 'object' && '$number' in v) return Number((v as { $number: string }).$number);
    return v;
  });
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
  return (n + 7) & ~7;
}
