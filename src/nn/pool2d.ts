import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Layer, LayerParams } from './layer.js';

/**
 * Max or average pooling over k×k windows of each channel (no padding; windows may overlap when
 * stride < k). No parameters (W is 0×0), so every rule trains a pooled net alike; the error goes back to
 * the window's maximum (max: the first one on ties) or is shared equally over the window (avg), whatever
 * feedback the rule passes.
 */
export function pool2dLayer(input: readonly number[], mode: 'max' | 'avg', k: number, stride: number): Layer {
  const [c, h, w] = input;
  const oh = Math.floor((h - k) / stride) + 1, ow = Math.floor((w - k) / stride) + 1;
  const inSize = c * h * w, outSize = c * oh * ow;
  /** Calls visit(outIndex, inIndex) for every input of every window of image n, window by window. */
  const windows = (n: number, inCols: number, outCols: number, visit: (o: number, i: number, first: boolean) => void) => {
    for (let ch = 0; ch < c; ch++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const o = n * outCols + (ch * oh + oy) * ow + ox;
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) visit(o, n * inCols + (ch * h + oy * stride + ky) * w + ox * stride + kx, ky === 0 && kx === 0);
          }
        }
      }
    }
  };
  return {
    kind: `${mode}pool2d`, inSize, outSize, weightShape: { rows: 0, cols: 0 }, biasSize: 0,
    initParams: (): LayerParams => ({ W: matrix(0, 0), b: new Float32Array(0) }),
    forward(_be: Backend, _p: LayerParams, x: Matrix, z: Matrix): void {
      const scale = 1 / (k * k);
      for (let n = 0; n < x.rows; n++) {
        if (mode === 'max') windows(n, x.cols, z.cols, (o, i, first) => { if (first || x.data[i] > z.data[o]) z.data[o] = x.data[i]; });
        else windows(n, x.cols, z.cols, (o, i, first) => { z.data[o] = (first ? 0 : z.data[o]) + scale * x.data[i]; });
      }
    },
    paramGrads(): void {},
    inputError(_be: Backend, dz: Matrix, _feedback: Matrix, dx: Matrix, x: Matrix): void {
      dx.data.fill(0, 0, dz.rows * dx.cols);
      const scale = 1 / (k * k);
      for (let n = 0; n < dz.rows; n++) {
        if (mode === 'avg') {
          windows(n, dx.cols, dz.cols, (o, i) => { dx.data[i] += scale * dz.data[o]; });
          continue;
        }
        // The argmax of each window, found again from the input (layers keep no per-batch state).
        let best = -1, at = -1;
        windows(n, dx.cols, dz.cols, (o, i, first) => {
          if (first) {
            if (at >= 0) dx.data[best] += dz.data[at];
            best = i;
            at = o;
          } else if (x.data[i] > x.data[best]) best = i;
        });
        if (at >= 0) dx.data[best] += dz.data[at];
      }
    },
  };
}
