/**
 * The lowering of image layers onto GEMM: im2col copies every k×k patch of an image (all channels) into a
 * row, so that a convolution becomes one matrix product; col2im adds such rows back onto an image.
 * Images are flat rows in channels-first order [C, H, W]; a patch row is ordered [c, ky, kx], which is the
 * layout of a kernel row of W ([out, C·k·k]).
 */
export interface PatchGeometry {
  c: number;
  h: number;
  w: number;
  k: number;
  stride: number;
  pad: number;
  /** Output height and width: floor((h + 2·pad − k) / stride) + 1. */
  oh: number;
  ow: number;
}

export function patchGeometry(input: readonly number[], k: number, stride: number, pad: number): PatchGeometry {
  const [c, h, w] = input;
  return { c, h, w, k, stride, pad, oh: Math.floor((h + 2 * pad - k) / stride) + 1, ow: Math.floor((w + 2 * pad - k) / stride) + 1 };
}

/**
 * Patches of one image `x` (at xOffset, C·H·W values) into `cols`: patch q = oy·ow + ox goes to row
 * rowOf(q), K = C·k·k values; outside the image (padding) the values are 0.
 */
export function im2col(g: PatchGeometry, x: Float32Array, xOffset: number, cols: Float32Array, rowOf: (q: number) => number): void {
  const { c, h, w, k, stride, pad, oh, ow } = g;
  const K = c * k * k;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      let at = rowOf(oy * ow + ox) * K;
      for (let ch = 0; ch < c; ch++) {
        const plane = xOffset + ch * h * w;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride - pad + ky;
          const inside = iy >= 0 && iy < h;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * stride - pad + kx;
            cols[at++] = inside && ix >= 0 && ix < w ? x[plane + iy * w + ix] : 0;
          }
        }
      }
    }
  }
}

/** The adjoint of im2col: adds every patch row of `cols` back onto image `dx` (at dxOffset). dx is not cleared. */
export function col2im(g: PatchGeometry, cols: Float32Array, rowOf: (q: number) => number, dx: Float32Array, dxOffset: number): void {
  const { c, h, w, k, stride, pad, oh, ow } = g;
  const K = c * k * k;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      let at = rowOf(oy * ow + ox) * K;
      for (let ch = 0; ch < c; ch++) {
        const plane = dxOffset + ch * h * w;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride - pad + ky;
          const inside = iy >= 0 && iy < h;
          for (let kx = 0; kx < k; kx++, at++) {
            const ix = ox * stride - pad + kx;
            if (inside && ix >= 0 && ix < w) dx[plane + iy * w + ix] += cols[at];
          }
        }
      }
    }
  }
}

/** A scratch buffer that grows to the largest size asked for (layers are shared by runs of one spec). */
export function scratch(): (length: number) => Float32Array {
  let buffer = new Float32Array(0);
  return (length) => {
    if (buffer.length < length) buffer = new Float32Array(length);
    return buffer.subarray(0, length);
  };
}
