import { patchGeometry } from '../tensor/patches.js';

/**
 * What each layer of a network is, as plain data (in the spec, so in checkpoints and configs), and the
 * architecture grammar of --arch that writes it. Shapes are per example, channels first: [C, H, W].
 */
export type LayerSpec =
  | { kind: 'dense'; out: number }
  /** 2-D convolution: `out` kernels of k×k over every input channel, zero padding `pad`, step `stride`. */
  | { kind: 'conv2d'; out: number; k: number; stride: number; pad: number }
  /** Like conv2d, but with untied kernels: one kernel bank per output position (Bartunov et al. 2018). */
  | { kind: 'local2d'; out: number; k: number; stride: number; pad: number }
  /** Max or average over k×k windows of each channel, step `stride`. */
  | { kind: 'pool2d'; mode: 'max' | 'avg'; k: number; stride: number };

/** The output shape of a layer for an input shape ([C, H, W] for images, [N] for flat vectors). */
export function layerOutputShape(spec: LayerSpec, input: readonly number[]): number[] {
  if (spec.kind === 'dense') return [spec.out];
  if (input.length !== 3) throw new Error(`a ${spec.kind} layer needs an image input [channels, height, width], got [${input.join(', ')}]: start --arch with CxHxW, e.g. 1x28x28`);
  const { c, h, w, oh, ow } = patchGeometry(input, spec.k, spec.stride, 'pad' in spec ? spec.pad : 0);
  if (oh < 1 || ow < 1) throw new Error(`a ${spec.kind} layer with k=${spec.k} does not fit an input of ${h}×${w}: use a smaller kernel or more padding`);
  return [spec.kind === 'pool2d' ? c : spec.out, oh, ow];
}

export interface Architecture {
  /** Values per example at the input and at the output of every layer: [inputs, width_1, …, outputs]. */
  sizes: number[];
  /** The input's shape, e.g. [1, 28, 28]; [inputs] for a flat input. */
  inputShape: number[];
  layers: LayerSpec[];
  /** Each layer's output shape. */
  shapes: number[][];
}

export const ARCH_GRAMMAR = `an architecture is an input then layers, joined by '-':
  input     N (a vector) or CxHxW (an image, channels first), e.g. 784 or 1x28x28
  N         a dense layer of N units
  cOkK      a convolution with O kernels of K×K; add sS for stride S and pP for zero padding P, e.g. c6k5p2
  lcOkK     a locally connected layer (untied kernels per position), same options, e.g. lc32k3s2p1
  poolK     K×K max pooling (stride K; add sS for another stride); avgpoolK for average pooling
  e.g. 784-1000-10, 1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10 (LeNet-5), 1x28x28-lc32k3s2p1-lc64k3s2p1-1024-10`;

/** Parses --arch: '784-1000-10' (dense) or '1x28x28-c6k5p2-pool2-120-10' (with image layers). */
export function parseArchitecture(text: string): Architecture {
  const fail = (why: string): never => {
    throw new Error(`bad architecture '${text}': ${why} (e.g. 784-1000-10 or 1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10; see ngrad train --help)`);
  };
  const parts = text.split('-');
  if (parts.length < 2) fail('give an input and at least one layer, joined by -');
  const input = parts[0].split('x');
  if (!(input.length === 1 || input.length === 3) || input.some((d) => !/^[1-9]\d*$/.test(d))) fail(`'${parts[0]}' is not an input size N or CxHxW`);
  const inputShape = input.map(Number);
  const layers = parts.slice(1).map((token): LayerSpec => {
    if (/^[1-9]\d*$/.test(token)) return { kind: 'dense', out: Number(token) };
    const conv = /^(c|lc)([1-9]\d*)k([1-9]\d*)(?:s([1-9]\d*))?(?:p(\d+))?$/.exec(token);
    if (conv) {
      const [, kind, out, k, stride, pad] = conv;
      return { kind: kind === 'c' ? 'conv2d' : 'local2d', out: Number(out), k: Number(k), stride: Number(stride ?? 1), pad: Number(pad ?? 0) };
    }
    const pool = /^(pool|maxpool|avgpool)([1-9]\d*)(?:s([1-9]\d*))?$/.exec(token);
    if (pool) return { kind: 'pool2d', mode: pool[1] === 'avgpool' ? 'avg' : 'max', k: Number(pool[2]), stride: Number(pool[3] ?? pool[2]) };
    return fail(`'${token}' is not a layer`);
  });
  if (layers[layers.length - 1].kind !== 'dense') fail('the last layer must be dense (the outputs)');
  const shapes: number[][] = [];
  let shape = inputShape;
  for (const layer of layers) {
    try {
      shape = layerOutputShape(layer, shape);
    } catch (err) {
      fail((err as Error).message);
    }
    shapes.push(shape);
  }
  const size = (s: readonly number[]) => s.reduce((n, d) => n * d, 1);
  return { sizes: [size(inputShape), ...shapes.map(size)], inputShape, layers, shapes };
}

/** True when the architecture has only dense layers on a flat input (the spec then needs only sizes). */
export function isPlainDense(arch: Architecture): boolean {
  return arch.inputShape.length === 1 && arch.layers.every((l) => l.kind === 'dense');
}

/** The --arch text of a network: the inverse of parseArchitecture (defaults left out, e.g. c6k5p2, pool2). */
export function architectureText(inputShape: readonly number[], layers: readonly LayerSpec[]): string {
  const token = (l: LayerSpec): string => {
    if (l.kind === 'dense') return String(l.out);
    if (l.kind === 'pool2d') return `${l.mode === 'max' ? 'pool' : 'avgpool'}${l.k}${l.stride !== l.k ? `s${l.stride}` : ''}`;
    return `${l.kind === 'conv2d' ? 'c' : 'lc'}${l.out}k${l.k}${l.stride !== 1 ? `s${l.stride}` : ''}${l.pad ? `p${l.pad}` : ''}`;
  };
  return [inputShape.join('x'), ...layers.map(token)].join('-');
}
