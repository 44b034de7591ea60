import type { Backend } from '../tensor/backend.js';
import { matrix, topRows, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { ActivationKind } from './activations.js';
import { denseLayer, type DenseParams } from './dense.js';
import type { InitSpec } from './init.js';
import type { Layer } from './layer.js';
import type { LossKind } from './losses.js';
import type { ModelKind } from './model.js';
import type { SettleSpec } from './settling.js';
import { conv2dLayer, local2dLayer } from './conv2d.js';
import { layerOutputShape, parseArchitecture, type LayerSpec } from './layer-spec.js';
import { pool2dLayer } from './pool2d.js';

/** What a multi-layer perceptron is, independent of its parameter values. */
export interface NetworkSpec {
  /** Layer widths from input to output, e.g. [784, 1000, 10]. */
  sizes: number[];
  /** Non-linearity of every hidden layer. */
  hidden: ActivationKind;
  /** Non-linearity of the output layer ('linear' for logits under softmax cross-entropy). */
  output: ActivationKind;
  /** Negative-side slope of leaky_relu. Default 0.01. */
  leakySlope: number;
  loss: LossKind;
  init: InitSpec;
  /** How the network predicts (nn/model.ts); feed-forward when absent. */
  model?: ModelKind;
  /** How a settling network relaxes (model 'settling'; nn/settling.ts); DEFAULT_SETTLE when absent. */
  settle?: SettleSpec;
  /** The layers, when not all dense on a flat input (conv, locally connected, pooling; nn/layer-spec.ts);
   * sizes then holds each layer's flattened output size. Absent: dense layers sizes[l] → sizes[l+1]. */
  layers?: LayerSpec[];
  /** The input's per-example shape, e.g. [1, 28, 28], with `layers`. */
  inputShape?: number[];
}

/** A network is its spec plus plain parameter data: layers[l] maps sizes[l] → sizes[l+1]. */
export interface Network {
  spec: NetworkSpec;
  layers: DenseParams[];
}

/** Parse an architecture string such as '784-1000-10'. */
export function parseArch(text: string): number[] {
  const parts = text.split('-');
  const sizes = parts.map(Number);
  if (parts.length < 2 || sizes.some((n, i) => !/^\d+$/.test(parts[i]) || n < 1)) {
    throw new Error(`bad architecture '${text}': give layer widths joined by '-', e.g. 784-1000-10`);
  }
  return sizes;
}

/** The most parameters a network may have: 2^28 float32 values are 1 GiB of weights, and training keeps
 * three to five copies (gradients, optimizer state, feedback weights). */
export const MAX_PARAMETERS = 2 ** 28;
/** The most values one workspace buffer set may hold (activities and errors of a batch): 2^28 floats. */
export const MAX_WORKSPACE_VALUES = 2 ** 28;

const layerCache = new WeakMap<NetworkSpec, readonly Layer[]>();

/** The layers a spec describes, in order (dense layers sizes[l] → sizes[l+1] today); made once per spec. */
export function networkLayers(spec: NetworkSpec): readonly Layer[] {
  let layers = layerCache.get(spec);
  if (!layers) {
    layers = spec.layers ? imageLayers(spec.layers, spec.inputShape ?? [spec.sizes[0]]) : spec.sizes.slice(1).map((out, l) => denseLayer(spec.sizes[l], out));
    const sizes = [layers[0].inSize, ...layers.map((layer) => layer.outSize)];
    if (sizes.join('-') !== spec.sizes.join('-')) {
      throw new Error(`the spec's sizes ${spec.sizes.join('-')} do not match its layers (${sizes.join('-')})`);
    }
    layerCache.set(spec, layers);
  }
  return layers;
}

function imageLayers(specs: readonly LayerSpec[], inputShape: readonly number[]): Layer[] {
  let shape = inputShape;
  return specs.map((s) => {
    const size = shape.reduce((n, d) => n * d, 1);
    const layer = s.kind === 'dense' ? denseLayer(size, s.out)
      : s.kind === 'conv2d' ? conv2dLayer(shape, s.out, s.k, s.stride, s.pad)
        : s.kind === 'local2d' ? local2dLayer(shape, s.out, s.k, s.stride, s.pad)
          : pool2dLayer(shape, s.mode, s.k, s.stride);
    shape = layerOutputShape(s, shape);
    return layer;
  });
}

/** The spec's layer fields for an --arch text: sizes, and the layers when they are not all dense. */
export function architectureSpec(text: string): Pick<NetworkSpec, 'sizes' | 'layers' | 'inputShape'> {
  const arch = parseArchitecture(text);
  if (arch.inputShape.length === 1 && arch.layers.every((l) => l.kind === 'dense')) return { sizes: arch.sizes };
  return { sizes: arch.sizes, layers: arch.layers, inputShape: arch.inputShape };
}

/** Refuses a network with other than dense layers, for the rules that have no conv or LC form yet. */
export function checkDenseNetwork(rule: string, spec: NetworkSpec): void {
  const kinds = networkLayers(spec);
  const other = kinds.findIndex((k) => k.kind !== 'dense');
  if (other >= 0) {
    throw new Error(`rule '${rule}' needs dense layers, but layer ${other + 1} is ${kinds[other].kind}; use an architecture like 784-256-256-10`);
  }
}

/** Refuses a network whose parameters would not fit in memory, before anything is allocated. */
export function checkNetworkSize(spec: NetworkSpec): void {
  const count = networkLayers(spec).reduce((n, layer) => n + layer.weightShape.rows * layer.weightShape.cols + layer.biasSize, 0);
  if (count > MAX_PARAMETERS) {
    const gb = (count * 4) / 1e9;
    throw new Error(
      `the network ${spec.sizes.join('-')} has ${count.toExponential(2)} parameters, ${gb.toFixed(1)} GB of float32 weights ` +
        `before gradients and optimizer state (limit ${MAX_PARAMETERS.toExponential(2)} parameters): choose narrower layers`,
    );
  }
}

export function createNetwork(spec: NetworkSpec, rng: Rng): Network {
  checkNetworkSize(spec);
  return { spec, layers: networkLayers(spec).map((layer) => layer.initParams(spec.init, rng)) };
}

/** Zeroed buffers of the parameters' shapes: gradients and updates use the same type as parameters. */
export function zerosLike(layers: readonly DenseParams[]): DenseParams[] {
  return layers.map((p) => ({ W: matrix(p.W.rows, p.W.cols), b: new Float32Array(p.b.length) }));
}

export function cloneLayers(layers: readonly DenseParams[]): DenseParams[] {
  return layers.map((p) => ({ W: { rows: p.W.rows, cols: p.W.cols, data: p.W.data.slice() }, b: p.b.slice() }));
}

/** Flat view [W0, b0, W1, b1, …] for optimizers, which treat every tensor alike. */
export interface Param {
  name: string;
  value: Float32Array;
  isBias: boolean;
}
export function paramList(layers: readonly DenseParams[]): Param[] {
  return layers.flatMap((p, l) => [
    { name: `W${l + 1}`, value: p.W.data, isBias: false },
    { name: `b${l + 1}`, value: p.b, isBias: true },
  ]);
}

export function layerActivation(spec: NetworkSpec, l: number): ActivationKind {
  if (spec.layers?.[l]?.kind === 'pool2d') return 'linear'; // pooling passes activities on unchanged
  return l === spec.sizes.length - 2 ? spec.output : spec.hidden;
}

/** Per-batch buffers of a forward and backward pass, allocated once for the largest batch. */
export interface Workspace {
  capacity: number;
  /** z[l]: pre-activation of layer l, [batch, sizes[l+1]]. */
  z: Matrix[];
  /** h[l]: activity of layer l, [batch, sizes[l+1]]; h[L-1] is the network output. */
  h: Matrix[];
  /** dh[l]: error at the activity of layer l; dz[l]: error at its pre-activation. */
  dh: Matrix[];
  dz: Matrix[];
}

export function createWorkspace(spec: NetworkSpec, capacity: number): Workspace {
  const widths = networkLayers(spec).map((layer) => layer.outSize);
  const values = 4 * capacity * widths.reduce((n, w) => n + w, 0);
  if (values > MAX_WORKSPACE_VALUES) {
    throw new Error(
      `a batch of ${capacity} through ${spec.sizes.join('-')} needs ${((values * 4) / 1e9).toFixed(1)} GB of activity and error buffers: ` +
        'use a smaller --batch or narrower layers',
    );
  }
  const make = () => widths.map((w) => matrix(capacity, w));
  return { capacity, z: make(), h: make(), dh: make(), dz: make() };
}

/** The workspace's matrices cut to `rows` rows (the last batch of an epoch may be short). */
export function workspaceRows(ws: Workspace, rows: number): Workspace {
  if (rows > ws.capacity) throw new Error(`batch of ${rows} rows exceeds workspace capacity ${ws.capacity}`);
  if (rows === ws.capacity) return ws;
  const cut = (ms: Matrix[]) => ms.map((m) => topRows(m, rows));
  return { capacity: rows, z: cut(ws.z), h: cut(ws.h), dh: cut(ws.dh), dz: cut(ws.dz) };
}

/** Forward pass: h_l = f_l(W_l h_{l−1} + b_l), h_0 = x. Returns the output activity (a view into ws). */
export function forward(be: Backend, net: Network, x: Matrix, ws: Workspace): Matrix {
  const { spec, layers } = net;
  const kinds = networkLayers(spec);
  let input = x;
  for (let l = 0; l < layers.length; l++) {
    kinds[l].forward(be, layers[l], input, ws.z[l]);
    be.activate(layerActivation(spec, l), ws.z[l].data, ws.h[l].data, spec.leakySlope);
    input = ws.h[l];
  }
  return input;
}

/** The input of layer l during the last forward pass. */
export function layerInput(x: Matrix, ws: Workspace, l: number): Matrix {
  return l === 0 ? x : ws.h[l - 1];
}

/**
 * Backward pass from ws.dh[L−1] (the loss gradient at the output), given the forward pass held in ws.
 * At each layer: δz_l = δh_l ⊙ f'_l(z_l); gradients dW_l = δz_lᵀ·h_{l−1}, db_l = Σ δz_l;
 * then δh_{l−1} = δz_l·F_l, where F_l = feedback(l) has W_l's shape (W_l itself for backprop).
 * The error is not sent into the input layer, which has no parameters.
 */
export function backward(
  be: Backend, net: Network, x: Matrix, ws: Workspace, feedback: (l: number) => Matrix, grads: DenseParams[],
): void {
  const { spec, layers } = net;
  const kinds = networkLayers(spec);
  for (let l = layers.length - 1; l >= 0; l--) {
    be.activateBackward(layerActivation(spec, l), ws.z[l].data, ws.h[l].data, ws.dh[l].data, ws.dz[l].data, spec.leakySlope);
    kinds[l].paramGrads(be, ws.dz[l], layerInput(x, ws, l), grads[l]);
    if (l > 0) kinds[l].inputError(be, ws.dz[l], feedback(l), ws.dh[l - 1], layerInput(x, ws, l));
  }
}
