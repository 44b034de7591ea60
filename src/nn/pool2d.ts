import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import { patchGeometry } from '../tensor/patches.js';
import type { Layer, LayerParams } from './layer.js';

/**
 * Max or average pooling over k×k windows of each channel (no padding; windows may overlap when
 * stride < k). No parameters (W is 0×0), so every rule trains a pooled net alike; the error goes back to
 * the window's maximum (max: the first one on ties) or is shared equally over the window (avg), whatever
 * feedback the rule passes. Both directions are Backend kernels (pool2d, pool2dBackward).
 */
export function pool2dLayer(input: readonly number[], mode: 'max' | 'avg', k: number, stride: number): Layer {
  const g = patchGeometry(input, k, stride, 0);
  const inSize = g.c * g.h * g.w, outSize = g.c * g.oh * g.ow;
  return {
    kind: `${mode}pool2d`, inSize, outSize, weightShape: { rows: 0, cols: 0 }, biasSize: 0,
    initParams: (): LayerParams => ({ W: matrix(0, 0), b: new Float32Array(0) }),
    forward(be: Backend, _p: LayerParams, x: Matrix, z: Matrix): void {
      be.pool2d(mode, g, x, { rows: x.rows, cols: z.cols, data: z.data });
    },
    paramGrads(): void {},
    inputError(be: Backend, dz: Matrix, _feedback: Matrix, dx: Matrix, x: Matrix): void {
      // The argmax of each window is found again from the input (layers keep no per-batch state).
      const rows = dz.rows;
      be.pool2dBackward(mode, g, { rows, cols: x.cols, data: x.data }, dz, { rows, cols: dx.cols, data: dx.data });
    },
  };
}
