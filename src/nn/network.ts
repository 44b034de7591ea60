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
import { checkQuantize, logisticSlope, quantizeErrors, sampleBinary, type QuantizeSpec } from './stochastic.js';
import { checkSpiking, DEFAULT_SPIKING, simulateSpikes, spikeBufferRows, spikeBuffers, spikingDerivative, type SpikeBuffers, type SpikingSpec } from './spiking.js';

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
  /** Stochastic low-precision signals during training (nn/stochastic.ts): 1-bit hidden activities, k-bit errors.
   * Absent: real values. */
  quantize?: QuantizeSpec;
  /** The neurons of a spiking network (model 'spiking'; nn/spiking.ts); DEFAULT_SPIKING when absent. */
  spiking?: SpikingSpec;
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

/** Refuses quantisation or spiking settings the network cannot run, with a one-line error that names the fix. */
export function checkSignals(spec: NetworkSpec): void {
  if (spec.quantize) checkQuantize(spec.quantize, spec.hidden);
  if (spec.spiking && spec.model !== 'spiking') throw new Error('spiking neurons are for a spiking network: add --model spiking');
  const spiking = spikingSpec(spec);
  if (!spiking) return;
  checkSpiking(spiking);
  const other = networkLayers(spec).findIndex((k) => k.kind !== 'dense');
  if (other >= 0) throw new Error(`a spiking network has dense layers, but layer ${other + 1} is ${networkLayers(spec)[other].kind}: use an architecture like 784-500-10`);
  if (spec.quantize?.forwardBits === 1) throw new Error('a spiking network already sends spikes: leave out --forward-bits');
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
  checkSignals(spec);
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
  /** The training step's random stream, set by the training loop: 1-bit units and k-bit errors sample from it, and
   * a spiking net draws its spikes from it. Absent (evaluation, the diagnostics' references): quantised units pass
   * their expected values, and a spiking net draws from its spec's fixed evaluation stream. */
  rng?: Rng;
  /** A spiking network's simulation buffers (model 'spiking'). */
  spikes?: SpikeBuffers;
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
  const ws: Workspace = { capacity, z: make(), h: make(), dh: make(), dz: make() };
  if (spec.model === 'spiking') ws.spikes = spikeBuffers(widths, spec.sizes[0], capacity);
  return ws;
}

/** The workspace's matrices cut to `rows` rows (the last batch of an epoch may be short). */
export function workspaceRows(ws: Workspace, rows: number): Workspace {
  if (rows > ws.capacity) throw new Error(`batch of ${rows} rows exceeds workspace capacity ${ws.capacity}`);
  if (rows === ws.capacity) return ws;
  const cut = (ms: Matrix[]) => ms.map((m) => topRows(m, rows));
  const out: Workspace = { capacity: rows, z: cut(ws.z), h: cut(ws.h), dh: cut(ws.dh), dz: cut(ws.dz) };
  if (ws.rng) out.rng = ws.rng;
  if (ws.spikes) out.spikes = spikeBufferRows(ws.spikes, rows);
  return out;
}

/** The spiking neurons of a spiking network; null for other models. */
export function spikingSpec(spec: NetworkSpec): SpikingSpec | null {
  return spec.model === 'spiking' ? spec.spiking ?? DEFAULT_SPIKING : null;
}

/** true when hidden layer l's activities are stochastic (1-bit samples or spike rates), so that its derivative is
 * the one of its rate function at z (layerDerivative), not of the values in h. */
function stochasticLayer(spec: NetworkSpec, l: number): boolean {
  return l < spec.sizes.length - 2 && (spec.model === 'spiking' || spec.quantize?.forwardBits === 1);
}

/** Forward pass: h_l = f_l(W_l h_{l−1} + b_l), h_0 = x. Returns the output activity (a view into ws). With 1-bit
 * forward activities (spec.quantize) and the step's stream in ws, each hidden logistic unit sends a sample of
 * {0, 1} with P(1) = σ(z_l). A spiking network runs its hidden layers for T steps (nn/spiking.ts): h_l holds their
 * rates, and the output layer reads the last one's out. */
export function forward(be: Backend, net: Network, x: Matrix, ws: Workspace): Matrix {
  const { spec, layers } = net;
  const kinds = networkLayers(spec);
  const spiking = spikingSpec(spec), sample = spec.quantize?.forwardBits === 1 ? ws.rng : undefined;
  let first = 0;
  if (spiking) {
    if (!ws.spikes) throw new Error('a spiking network needs a workspace made for it (createWorkspace with its spec)');
    simulateSpikes(be, kinds, layers, spiking, x, ws.z, ws.h, ws.spikes, ws.rng ?? null);
    first = layers.length - 1;
  }
  for (let l = first; l < layers.length; l++) {
    kinds[l].forward(be, layers[l], layerInput(x, ws, l), ws.z[l]);
    be.activate(layerActivation(spec, l), ws.z[l].data, ws.h[l].data, spec.leakySlope);
    if (sample && l < layers.length - 1) sampleBinary(ws.h[l].data, sample);
  }
  return ws.h[layers.length - 1];
}

/** The input of layer l during the last forward pass (a spiking net's layer 0: the input's spike rate). */
export function layerInput(x: Matrix, ws: Workspace, l: number): Matrix {
  if (l > 0) return ws.h[l - 1];
  return ws.spikes ? ws.spikes.inputRate : x;
}

/** δz_l = δh_l ⊙ f'_l(z_l) at the last forward pass in ws; a stochastic hidden layer (1-bit samples, spikes) takes
 * the derivative of its rate function at z_l (σ for logistic samples), since its h holds samples, not f(z). */
export function layerDerivative(be: Backend, spec: NetworkSpec, l: number, ws: Workspace, dh: Float32Array, dz: Float32Array): void {
  const z = ws.z[l].data;
  if (!stochasticLayer(spec, l)) {
    be.activateBackward(layerActivation(spec, l), z, ws.h[l].data, dh, dz, spec.leakySlope);
    return;
  }
  const spiking = spikingSpec(spec);
  if (spiking) {
    spikingDerivative(spiking, z, dh, dz);
    return;
  }
  logisticSlope(z, dh, dz);
}

/** Quantises an error signal sent down to a hidden layer to the spec's backward bits, from the step's stream in ws
 * (nothing without it, or at full precision). Rules that deliver errors to hidden layers call it on each. */
export function quantizeSentError(spec: NetworkSpec, ws: Workspace, signal: Matrix): void {
  const bits = spec.quantize?.backwardBits ?? 0;
  if (bits > 0 && ws.rng) quantizeErrors(signal, bits, ws.rng);
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
    layerDerivative(be, spec, l, ws, ws.dh[l].data, ws.dz[l].data);
    kinds[l].paramGrads(be, ws.dz[l], layerInput(x, ws, l), grads[l]);
    if (l === 0) continue;
    kinds[l].inputError(be, ws.dz[l], feedback(l), ws.dh[l - 1], layerInput(x, ws, l));
    quantizeSentError(spec, ws, ws.dh[l - 1]);
  }
}
