import { matrix, type Matrix } from '../tensor/matrix.js';
import { DataError } from './errors.js';
import { checkGzipStream, gunzip, gunzipHead, isGzip, type InflateLimit } from './gzip.js';

/*
 * The IDX format of the MNIST family (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type code,
 * the number of dimensions, each dimension as a big-endian u32, then the elements in row-major order,
 * big-endian. Bytes in, arrays out: no file system here, so a browser can parse fetched files too.
 */

export type IdxType = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A parsed IDX file: its shape, element type, and elements in native typed-array form. */
export interface IdxArray {
  dims: number[];
  type: IdxType;
  data: IdxData;
}

const CODES: Readonly<Record<number, IdxType>> = { 0x08: 'u8', 0x09: 'i8', 0x0b: 'i16', 0x0c: 'i32', 0x0d: 'f32', 0x0e: 'f64' };
const TYPE_CODE: Readonly<Record<IdxType, number>> = { u8: 0x08, i8: 0x09, i16: 0x0b, i32: 0x0c, f32: 0x0d, f64: 0x0e };
const SIZE: Readonly<Record<IdxType, number>> = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 };

// Typed arrays top out near 2^32 bytes in current engines, and images become float32 (four times the
// bytes), so a header asking for more than 2 GiB of data is damage, not data, and saying so beats a
// misleading "truncated: expected 10^20 bytes" or an allocation failure.
const MAX_DATA_BYTES = 2 ** 31;

/** The longest IDX header: 4 bytes, then a u32 for each of at most 255 dimensions. */
export const MAX_IDX_HEADER_BYTES = 4 + 4 * 255;

// How far a gzip stream whose IDX header looks wrong is inflated to see whether the stream is damaged:
// more than any MNIST-family file, little enough that a bomb stays cheap.
const DIAGNOSE_BYTES = 64 * 2 ** 20;

const hex = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

/** What an IDX header declares: element type, dimensions, and so the exact size of the whole file. */
export interface IdxHeader {
  type: IdxType;
  dims: number[];
  /** Bytes of the header itself: 4 + 4 per dimension. */
  headerBytes: number;
  /** Elements the data holds: the product of dims. */
  count: number;
  /** headerBytes + count * element size: the exact length of a well-formed file. */
  fileBytes: number;
}

/**
 * Reads the IDX header at the start of `bytes` (a whole file, or only its first bytes). Throws a one-line
 * DataError naming `source` for a wrong magic number, unknown type code, zero dimensions or absurd
 * dimensions; when `bytes` ends inside the header, throws "truncated header" if `bytes` is the whole file
 * (`whole`), else returns undefined (more bytes needed).
 */
export function readIdxHeader(bytes: Uint8Array, source: string, whole = true): IdxHeader | undefined {
  const fail = (why: string) => new DataError(`${source}: ${why}`);
  if (bytes.length < 4) {
    if (!whole) return undefined;
    throw fail(`truncated header: ${bytes.length} bytes, an IDX header needs at least 4`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw fail(`not an IDX file: magic bytes ${hex(bytes[0])} ${hex(bytes[1])}, expected 0x00 0x00`);
  }
  const type = CODES[bytes[2]];
  if (!type) throw fail(`unknown IDX type code ${hex(bytes[2])} (known: 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64)`);
  const ndim = bytes[3];
  if (ndim === 0) throw fail('IDX header declares zero dimensions');
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    if (!whole) return undefined;
    throw fail(`truncated header: ${ndim} dimensions need ${headerBytes} header bytes, found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const size = SIZE[type];
  // NOTE: checked as the product grows, so it stays exact (below 2^53) and never reaches Infinity, whose
  // product with a later zero would be NaN and slip past every comparison.
  let count = 1;
  for (const d of dims) {
    count *= d;
    if (count * size > MAX_DATA_BYTES) {
      throw fail(`absurd dimensions ${dims.join('x')} (more than ${MAX_DATA_BYTES} bytes of ${type}); corrupt header?`);
    }
  }
  return { type, dims, headerBytes, count, fileBytes: headerBytes + count * size };
}

/**
 * Parses an IDX file, raw or gzip-compressed (detected from its first two bytes). Throws a one-line
 * DataError naming `source` (a file name or URL) for a wrong magic number, unknown type code, zero
 * dimensions, truncated header, absurd dimensions, too little data ("truncated") or too much (trailing).
 * A gzipped file's header is read first and inflation stops at the size it declares, so a decompression
 * bomb is refused after a few megabytes. u8 data is a view into `bytes` (or the inflated buffer), not a copy.
 */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (isGzip(bytes)) bytes = gunzip(bytes, source, gzippedIdxLimit(bytes, source));
  const header = readIdxHeader(bytes, source) as IdxHeader;
  const { type, dims, headerBytes, count } = header;
  const expected = header.fileBytes - headerBytes;
  const found = bytes.length - headerBytes;
  const fail = (why: string) => new DataError(`${source}: ${why}`);
  if (found < expected) throw fail(`truncated: expected ${expected} bytes of data for ${dims.join('x')} ${type}, found ${found}`);
  if (found > expected) throw fail(`${found - expected} trailing bytes after the ${expected} bytes of data for ${dims.join('x')} ${type}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dims, type, data: decode(type, view, headerBytes, count, bytes) };
}

/**
 * How far a gzipped IDX file may inflate: the size its header declares, read by inflating only the first
 * kilobytes (a bad header is refused right there). When the whole stream is shorter than a header, the
 * limit is a header's size, and parsing the inflated bytes reports the truncation.
 */
export function gzippedIdxLimit(gz: Uint8Array, source: string): InflateLimit {
  let header: IdxHeader | undefined;
  try {
    header = readIdxHeader(gunzipHead(gz, source, MAX_IDX_HEADER_BYTES), source, false);
  } catch (e) {
    // A bad header behind gzip is as likely a damaged stream as a wrong file; check the stream (up to a
    // bound, so a bomb stays cheap) and report damage if that is what it shows.
    checkGzipStream(gz, source, DIAGNOSE_BYTES);
    throw e;
  }
  if (!header) return { bytes: MAX_IDX_HEADER_BYTES, declaredBy: 'an IDX header can have' };
  return { bytes: header.fileBytes, declaredBy: `its IDX header declares (${header.dims.join('x')} ${header.type})` };
}

function decode(type: IdxType, view: DataView, start: number, count: number, bytes: Uint8Array): IdxData {
  switch (type) {
    case 'u8':
      return bytes.subarray(start, start + count);
    case 'i8':
      return new Int8Array(bytes.buffer, bytes.byteOffset + start, count).slice();
    case 'i16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(start + 2 * i, false);
      return out;
    }
    case 'i32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(start + 4 * i, false);
      return out;
    }
    case 'f32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(start + 4 * i, false);
      return out;
    }
    case 'f64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(start + 8 * i, false);
      return out;
    }
  }
}

/** Encodes an IDX file (uncompressed): the inverse of parseIdx, for tests and for writing small data sets. */
export function encodeIdx(dims: readonly number[], type: IdxType, data: ArrayLike<number>): Uint8Array {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`encodeIdx: dims ${dims.join('x')} need ${count} values, got ${data.length}`);
  if (dims.length === 0 || dims.length > 255) throw new Error(`encodeIdx: need 1..255 dimensions, got ${dims.length}`);
  const header = 4 + 4 * dims.length;
  const size = SIZE[type];
  const out = new Uint8Array(header + count * size);
  const view = new DataView(out.buffer);
  out[2] = TYPE_CODE[type];
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const at = header + i * size;
    const v = data[i];
    switch (type) {
      case 'u8': view.setUint8(at, v); break;
      case 'i8': view.setInt8(at, v); break;
      case 'i16': view.setInt16(at, v, false); break;
      case 'i32': view.setInt32(at, v, false); break;
      case 'f32': view.setFloat32(at, v, false); break;
      case 'f64': view.setFloat64(at, v, false); break;
    }
  }
  return out;
}

/**
 * u8 images [n, rows, cols] as a Matrix [n, rows*cols] of float32 pixels scaled to [0, 1] by /255.
 * Anything else (a labels file given as images, images of zero pixels) is a one-line DataError.
 */
export function idxImagesToMatrix(images: IdxArray, source: string): Matrix {
  const dims = images.dims.join('x');
  if (images.dims.length !== 3) {
    const hint = images.dims.length === 1 ? '; is it a labels file?' : '';
    throw new DataError(`${source}: an images file must have 3 dimensions (count, rows, cols), found ${images.dims.length} (${dims})${hint}`);
  }
  if (images.type !== 'u8') throw new DataError(`${source}: images must be u8, found ${images.type}`);
  const [n, rows, cols] = images.dims;
  if (rows === 0 || cols === 0) throw new DataError(`${source}: images of ${rows}x${cols} pixels (${dims}) hold nothing; corrupt header?`);
  const src = images.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] / 255;
  return matrix(n, rows * cols, out);
}

/** 1-D integer labels as an Int32Array, each checked to be a class index in [0, classes). */
export function idxLabels(labels: IdxArray, source: string, classes: number): Int32Array {
  if (labels.dims.length !== 1) {
    const hint = labels.dims.length === 3 ? '; is it an images file?' : '';
    throw new DataError(`${source}: labels must be 1-D (count), found ${labels.dims.length} dimensions (${labels.dims.join('x')})${hint}`);
  }
  if (labels.type === 'f32' || labels.type === 'f64') throw new DataError(`${source}: labels must be integers, found ${labels.type}`);
  const out = Int32Array.from(labels.data);
  for (let i = 0; i < out.length; i++) {
    if (out[i] < 0 || out[i] >= classes) {
      throw new DataError(`${source}: label ${out[i]} at index ${i} is outside the ${classes} classes 0..${classes - 1}`);
    }
  }
  return out;
}

/** Checks that an images file and a labels file describe the same number of examples. */
export function checkSameCount(imagesSource: string, images: number, labelsSource: string, labels: number): void {
  if (images !== labels) {
    throw new DataError(`${imagesSource} has ${images} images but ${labelsSource} has ${labels} labels; files from different sets?`);
  }
}
