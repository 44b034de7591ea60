import type { Backend } from '../tensor/backend.js';
import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import { initWeights, type InitSpec } from './init.js';
import type { Layer, LayerParams } from './layer.js';

/** A fully connected layer's parameters. W is [out, in] as in the papers (z = W·x + b for a column x);
 * with a batch of row vectors X [batch, in] the layer computes Z = X·Wᵀ + b. */
export type DenseParams = LayerParams;

/** The dense layer in[in] → out[out] behind the Layer protocol. */
export function denseLayer(inSize: number, outSize: number): Layer {
  return {
    kind: 'dense', inSize, outSize, weightShape: { rows: outSize, cols: inSize }, biasSize: outSize,
    initParams(init: InitSpec, rng: Rng): LayerParams {
      const W = matrix(outSize, inSize);
      initWeights(init, inSize, outSize, rng, W.data);
      return { W, b: new Float32Array(outSize) };
    },
    forward: denseForward,
    paramGrads: denseParamGrads,
    inputError: denseInputError,
  };
}

/** Z = X·Wᵀ + b. X [batch, in], Z [batch, out]. */
export function denseForward(be: Backend, p: DenseParams, x: Matrix, z: Matrix): void {
  be.gemm(false, true, 1, x, p.W, 0, z);
  be.addRowVector(z, p.b);
}

/** Parameter gradients from the error at the layer's pre-activation:
 * dL/dW = dZᵀ·X  [out, in],  dL/db = Σ_rows dZ  [out]. */
export function denseParamGrads(be: Backend, dz: Matrix, x: Matrix, grad: DenseParams): void {
  be.gemm(true, false, 1, dz, x, 0, grad.W);
  be.sumRows(dz, 1, 0, grad.b);
}

/**
 * Sends the error at this layer's pre-activation down to its input: dX = dZ·F, with F of W's shape
 * [out, in]. Backprop passes F = W (so dX = dZ·W, i.e. δ_in = Wᵀδ for column vectors); the feedback family
 * passes its own matrix (feedback alignment: F = Bᵀ stored in W's shape), so no rule forks the layer code.
 */
export function denseInputError(be: Backend, dz: Matrix, feedback: Matrix, dx: Matrix): void {
  be.gemm(false, false, 1, dz, feedback, 0, dx);
}
