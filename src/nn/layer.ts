import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { InitSpec } from './init.js';

/**
 * A layer's parameters as plain data: a weight tensor W stored as a matrix in the layer's own layout, and a
 * bias b. Dense: W [out, in]. Layers to come keep the same two fields in their own layouts (a convolution's
 * kernels as [outChannels, inChannels·kh·kw], a locally connected layer's untied kernels stacked per
 * position); a layer without parameters (pooling, flatten) has a 0×0 W and an empty b.
 */
export interface LayerParams {
  W: Matrix;
  b: Float32Array;
}

/**
 * What every layer kind does, in the convnetjs way: one small protocol, so a network is a list and a new
 * layer kind costs one file. Layers are descriptions (kind and shapes, no parameter values): the values
 * live in LayerParams, which serialise and cross into a Web Worker unchanged. Every batch is a matrix of
 * rows, one example a row, its values flattened in the layer's layout ([channels, height, width] for images).
 *
 * The one argument that makes credit assignment pluggable is `feedback` in inputError: the tensor of W's
 * shape the error travels down through. Backprop passes W itself; the feedback family passes its own
 * B (random, signed, mirrored, learned), so no rule forks layer code and every rule runs on every layer kind.
 */
export interface Layer {
  readonly kind: string;
  /** Values per example at the input and at the output. */
  readonly inSize: number;
  readonly outSize: number;
  /** Shape of W as stored, and length of b. */
  readonly weightShape: { readonly rows: number; readonly cols: number };
  readonly biasSize: number;
  /** Fresh parameters: W from `init` (fan-in and fan-out as the layer counts them), b = 0. */
  initParams(init: InitSpec, rng: Rng): LayerParams;
  /** Pre-activation z = layer(x): x [batch, inSize] → z [batch, outSize]. */
  forward(be: Backend, p: LayerParams, x: Matrix, z: Matrix): void;
  /** Parameter gradients from the error dz at the layer's pre-activation, given its input x. Overwrites grad. */
  paramGrads(be: Backend, dz: Matrix, x: Matrix, grad: LayerParams): void;
  /** Error at the input, dx = (∂z/∂x)ᵀ dz computed with `feedback` (W's shape) in place of W, given the
   * layer's input x of the forward pass (max pooling routes the error to each window's maximum). Overwrites dx. */
  inputError(be: Backend, dz: Matrix, feedback: Matrix, dx: Matrix, x: Matrix): void;
}
