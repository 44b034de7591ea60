import type { Dataset } from './dataset.js';

/**
 * A short fingerprint of a data set's contents (FNV-1a, 32 bits, over its inputs, targets and labels, with
 * its shape): enough to tell that `ngrad eval` or `--resume` found other data than the run was trained on,
 * not a cryptographic hash.
 */
export function datasetFingerprint(ds: Dataset): string {
  let h = 0x811c9dc5;
  const mix = (bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  };
  const view = (a: Float32Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  mix(new Uint8Array(new Int32Array([ds.x.rows, ds.x.cols, ds.y.cols]).buffer));
  mix(view(ds.x.data));
  mix(view(ds.y.data));
  if (ds.labels) mix(view(ds.labels));
  return `fnv1a32:${(h >>> 0).toString(16).padStart(8, '0')}`;
}
