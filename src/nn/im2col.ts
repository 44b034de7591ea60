/**
 * The lowering of image layers onto GEMM: im2col copies every k×k patch of an image (all channels) into a
 * row or a column of a patch buffer, so that a convolution becomes matrix products; col2im adds such
 * patches back onto an image. Both are Backend kernels (src/tensor/backend.ts); this file names the
 * layouts the layers use. Images are flat rows in channels-first order [C, H, W]; a patch is ordered
 * [c, ky, kx], which is the layout of a kernel row of W ([out, C·k·k]).
 */
import type { PatchGeometry, PatchLayout } from '../tensor/patches.js';

export { patchGeometry, type PatchGeometry, type PatchLayout } from '../tensor/patches.js';

/** The patch layouts of `batch` images (P positions, K values a patch); see PatchLayout. */
export function patchLayouts(g: PatchGeometry, batch = 1): { rowsPerImage: PatchLayout; rowsPerPosition: PatchLayout; columnsPerImage: PatchLayout } {
  const P = g.oh * g.ow, K = g.c * g.k * g.k;
  return {
    rowsPerImage: { image: P * K, position: K, value: 1 }, // [B, P, K]
    rowsPerPosition: { image: K, position: batch * K, value: 1 }, // [P, B, K]
    columnsPerImage: { image: K * P, position: 1, value: P }, // [B, K, P]
  };
}

/** A scratch buffer that grows to the largest size asked for (layers are shared by runs of one spec). */
export function scratch(): (length: number) => Float32Array {
  let buffer = new Float32Array(0);
  return (length) => {
    if (buffer.length < length) buffer = new Float32Array(length);
    return buffer.subarray(0, length);
  };
}
