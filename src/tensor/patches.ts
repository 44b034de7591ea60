import type { Matrix } from './matrix.js';

/**
 * The k×k patches of channels-first images [C, H, W] (each a flat row of C·H·W values) taken every
 * `stride` pixels with `pad` zeros around: P = oh·ow positions q = oy·ow + ox, each a patch of
 * K = C·k·k values j = (c·k + ky)·k + kx, the layout of a kernel row of a convolution's W. Pooling windows
 * are the same with pad 0 (one window per channel and position).
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
 * Where im2col puts value j of position q of image n: at n·image + q·position + j·value. The layouts the
 * layers use (B images, P positions, K values a patch):
 *   rows per image      [B, P, K]  { image: P·K, position: K,   value: 1 }
 *   rows per position   [P, B, K]  { image: K,   position: B·K, value: 1 }  (the locally connected layer)
 *   columns per image   [B, K, P]  { image: K·P, position: 1,   value: P }  (the convolution)
 */
export interface PatchLayout {
  image: number;
  position: number;
  value: number;
}

/** Pooling kinds; the codes are shared with the native addon (node/native/kernels.h). */
export const POOL_CODES = { max: 0, avg: 1 } as const;
export type PoolMode = keyof typeof POOL_CODES;

const isCount = (n: number) => Number.isInteger(n) && n >= 0;

/** The checks every backend makes of a geometry (the native addon repeats them in C). */
export function checkGeometry(g: PatchGeometry, what: string): void {
  const { c, h, w, k, stride, pad, oh, ow } = g;
  if (![c, h, w, k, stride, pad, oh, ow].every(isCount) || c < 1 || k < 1 || stride < 1 || oh < 1 || ow < 1 ||
    oh !== Math.floor((h + 2 * pad - k) / stride) + 1 || ow !== Math.floor((w + 2 * pad - k) / stride) + 1) {
    throw new Error(`${what}: bad geometry ${JSON.stringify(g)}`);
  }
}

/** One past the last index of a patch buffer that `layout` addresses for `batch` images (0 for none). */
export function layoutExtent(g: PatchGeometry, batch: number, layout: PatchLayout): number {
  if (batch === 0) return 0;
  return (batch - 1) * layout.image + (g.oh * g.ow - 1) * layout.position + (g.c * g.k * g.k - 1) * layout.value + 1;
}

/** True when the layout addresses every index of [0, B·P·K) exactly once (a nesting of the three axes in
 * some order, as all of patchLayouts' are), so that im2col overwrites the whole extent. */
export function isDenseLayout(g: PatchGeometry, batch: number, layout: PatchLayout): boolean {
  const axes = [[batch, layout.image], [g.oh * g.ow, layout.position], [g.c * g.k * g.k, layout.value]]
    .filter(([size]) => size > 1).sort((a, b) => a[1] - b[1]);
  let expected = 1;
  for (const [size, stride] of axes) {
    if (stride !== expected) return false;
    expected *= size;
  }
  return true;
}

/** Checks an im2col/col2im call: images [B, C·H·W] and a patch buffer that holds every index the layout
 * addresses. */
export function checkPatches(g: PatchGeometry, images: Matrix, layout: PatchLayout, cols: Float32Array, what: string): void {
  checkGeometry(g, what);
  const size = g.c * g.h * g.w;
  if (images.cols !== size) throw new Error(`${what}: images have ${images.cols} values, the geometry says ${size}`);
  if (images.data.length < images.rows * size) throw new Error(`${what}: the image matrix holds fewer values than its shape says`);
  if (![layout.image, layout.position, layout.value].every(isCount)) throw new Error(`${what}: bad layout ${JSON.stringify(layout)}`);
  const extent = layoutExtent(g, images.rows, layout);
  if (extent > cols.length) throw new Error(`${what}: the patch buffer has ${cols.length} values, the layout needs ${extent}`);
}

/** Checks a pooling call: x [B, C·H·W], out [B, C·oh·ow] (pad 0). */
export function checkPool(mode: PoolMode, g: PatchGeometry, x: Matrix, out: Matrix, what: string): void {
  if (!(mode in POOL_CODES)) throw new Error(`${what}: unknown pooling mode '${mode}'`);
  checkGeometry(g, what);
  if (g.pad !== 0) throw new Error(`${what}: pooling takes no padding`);
  const inSize = g.c * g.h * g.w, outSize = g.c * g.oh * g.ow;
  if (x.cols !== inSize || out.cols !== outSize || out.rows !== x.rows) {
    throw new Error(`${what}: shapes do not fit: input ${x.rows}x${x.cols}, output ${out.rows}x${out.cols}, geometry ${inSize} → ${outSize}`);
  }
  if (x.data.length < x.rows * inSize || out.data.length < out.rows * outSize) throw new Error(`${what}: a matrix holds fewer values than its shape says`);
}

/** Strides of a batched GEMM: operand i of X starts at X.data[i·strideX]; stride 0 shares one operand. */
export interface GemmBatch {
  count: number;
  strideA: number;
  strideB: number;
  /** 0: every product is summed into the one C. */
  strideC: number;
}

/** Checks the shapes of one product (as gemm) and that the last operand of each array fits. */
export function checkGemmBatch(batch: GemmBatch, a: Matrix, b: Matrix, c: Matrix, m: number, n: number, k: number): void {
  const { count, strideA, strideB, strideC } = batch;
  if (![count, strideA, strideB, strideC].every(isCount)) throw new Error(`gemmBatched: bad batch ${JSON.stringify(batch)}`);
  if (strideC !== 0 && strideC < m * n && count > 1) throw new Error(`gemmBatched: C blocks of ${m}x${n} overlap at stride ${strideC}`);
  if (count === 0) return;
  const fits = (x: Matrix, stride: number, size: number) => (count - 1) * stride + size <= x.data.length;
  if (!fits(a, strideA, m * k) || !fits(b, strideB, k * n) || !fits(c, strideC, m * n)) {
    throw new Error(`gemmBatched: ${count} operands at strides ${strideA}, ${strideB}, ${strideC} do not fit the arrays`);
  }
}

/** Checks a batched transpose: count blocks [rows, cols] in src and dst, not overlapping. */
export function checkTransposeBlocks(count: number, rows: number, cols: number, src: Float32Array, dst: Float32Array): void {
  if (![count, rows, cols].every(isCount)) throw new Error(`transposeBlocks: bad sizes ${count}, ${rows}, ${cols}`);
  const size = count * rows * cols;
  if (src.length < size || dst.length < size) throw new Error(`transposeBlocks: ${count} blocks ${rows}x${cols} need ${size} values (src ${src.length}, dst ${dst.length})`);
  if (src.buffer === dst.buffer && size > 0 && src.byteOffset < dst.byteOffset + 4 * size && dst.byteOffset < src.byteOffset + 4 * size) {
    throw new Error('transposeBlocks: src and dst share memory');
  }
}

/** conv2d's and local2d's lowered products (Backend.conv2d, Backend.local2d); the codes are shared with the native addon
 * (node/native/kernels.h). */
export const CONV2D_OPS = { forward: 0, weightGrad: 1, inputError: 2 } as const;
export type Conv2dOp = keyof typeof CONV2D_OPS;

/** The operands of a Backend.conv2d call, named, with out kernels, B images, K values a patch, P positions. */
export interface Conv2dOperands {
  out: number;
  batch: number;
  images: Matrix;
  kernels: Matrix;
  outputs: Matrix;
}

/** Checks a conv2d call and names its operands: images [B, C·H·W], kernels [out, K], outputs [B, out·P];
 * see Backend.conv2d for which of a, b and c each op takes. */
export function checkConv2d(op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix): Conv2dOperands {
  return checkImageProduct('conv2d', 1, op, g, a, b, c);
}

/** Checks a local2d call like conv2d's, with kernels [P·out, K] (one bank of out kernels a position). */
export function checkLocal2d(op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix): Conv2dOperands {
  return checkImageProduct('local2d', g.oh * g.ow, op, g, a, b, c);
}

function checkImageProduct(name: string, banks: number, op: Conv2dOp, g: PatchGeometry, a: Matrix, b: Matrix, c: Matrix): Conv2dOperands {
  if (!(op in CONV2D_OPS)) throw new Error(`${name}: unknown op '${op}'`);
  checkGeometry(g, name);
  const [images, kernels, outputs] = op === 'forward' ? [a, b, c] : op === 'weightGrad' ? [b, c, a] : [c, a, b];
  const K = g.c * g.k * g.k, P = g.oh * g.ow, out = kernels.rows / banks, batch = images.rows;
  if (!Number.isInteger(out) || images.cols !== g.c * g.h * g.w || kernels.cols !== K || outputs.rows !== batch || outputs.cols !== out * P) {
    throw new Error(`${name} ${op}: shapes do not fit: images ${images.rows}x${images.cols}, kernels ${kernels.rows}x${kernels.cols}, ` +
      `outputs ${outputs.rows}x${outputs.cols}, geometry ${g.c}x${g.h}x${g.w} → ${out}x${g.oh}x${g.ow} with ${K} values a kernel` +
      (banks > 1 ? ` and ${banks} banks` : ''));
  }
  for (const m of [images, kernels, outputs]) {
    if (m.data.length < m.rows * m.cols) throw new Error(`${name} ${op}: a matrix holds fewer values than its shape says`);
  }
  const ends = (m: Matrix) => [m.data.byteOffset, m.data.byteOffset + 4 * m.rows * m.cols] as const;
  const [c0, c1] = ends(c);
  for (const m of [a, b]) {
    const [m0, m1] = ends(m);
    if (m.data.buffer === c.data.buffer && c0 < m1 && m0 < c1) throw new Error(`${name} ${op}: the output shares memory with an input`);
  }
  return { out, batch, images, kernels, outputs };
}
