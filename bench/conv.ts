import type { Backend } from '../src/tensor/backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { architectureSpec, networkLayers, type NetworkSpec } from '../src/nn/network.js';
import { layerOutputShape } from '../src/nn/layer-spec.js';
import { Rng } from '../src/random.js';
import { forwardMacsPerExample } from './epoch.js';
import { profiled, type Profile } from './profile.js';

/** The image nets of the conv benchmark: LeNet-5 and Bartunov et al. (2018)'s locally connected net. */
export const CONV_BENCH_ARCHS = {
  'LeNet-5': '1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10',
  'LC net': '1x28x28-lc32k3s2p1-lc64k3s2p1-1024-10',
} as const;

export interface PassBench {
  /** Seconds per call, best round. */
  seconds: number;
  gflops: number;
  /** Fraction of the pass's time in each Backend method; 'other' is the rest (JavaScript outside kernels). */
  share: Profile;
}

export interface ConvLayerBench {
  net: string;
  /** 1-based position in the net, kind and shapes, e.g. 'conv2d 1x28x28 → 6x28x28'. */
  layer: string;
  batch: number;
  /** GEMM FLOPs of the forward pass of the batch (the backward pass counts twice as many). */
  forwardGflop: number;
  forward: PassBench;
  /** paramGrads then inputError. */
  backward: PassBench;
}

export interface ConvBenchOptions {
  batch?: number;
  /** Each round repeats the pass until this much time has passed. Default 0.3 s. */
  minSeconds?: number;
  /** Timed rounds; the best is kept. Default 3. */
  rounds?: number;
}

function timePass(be: Backend, gflop: number, pass: (b: Backend) => void, minSeconds: number, rounds: number): PassBench {
  pass(be);
  pass(be); // warm-up: JIT, page faults, scratch buffers
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    let calls = 0, elapsed = 0;
    const start = performance.now();
    do {
      pass(be);
      calls++;
      elapsed = (performance.now() - start) / 1000;
    } while (elapsed < minSeconds);
    best = Math.min(best, elapsed / calls);
  }
  // One more series through the profiling wrapper, for the split of time (not for the rate).
  const profile: Profile = {};
  const p = profiled(be, profile);
  let total = 0, calls = 0;
  const start = performance.now();
  do {
    pass(p);
    calls++;
    total = (performance.now() - start) / 1000;
  } while (total < minSeconds / 2);
  const share: Profile = {};
  let inside = 0;
  for (const [name, s] of Object.entries(profile)) {
    share[name] = s / total;
    inside += s;
  }
  share.other = Math.max(0, 1 - inside / total);
  return { seconds: best, gflops: gflop / best, share };
}

const shapeText = (size: number, shape: readonly number[]) => (shape.length === 3 ? shape.join('x') : String(size));

/** Times forward and backward (param gradients, then input error, for every layer, the first included) of
 * every conv, locally connected and pooling layer of `arch` on random data, one layer at a time. */
export function benchConvLayers(be: Backend, net: string, arch: string, opts: ConvBenchOptions = {}): ConvLayerBench[] {
  const { batch = 100, minSeconds = 0.3, rounds = 3 } = opts;
  const parts = architectureSpec(arch);
  const spec: NetworkSpec = { ...parts, hidden: 'relu', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };
  const rng = Rng.fromSeed(3);
  const results: ConvLayerBench[] = [];
  let shape: number[] = parts.inputShape ?? [spec.sizes[0]];
  networkLayers(spec).forEach((layer, l) => {
    const outShape = parts.layers ? layerOutputShape(parts.layers[l], shape) : [layer.outSize];
    const inShape = shape;
    shape = outShape;
    if (layer.kind === 'dense') return;
    const p = layer.initParams(spec.init, rng);
    const random = (rows: number, cols: number): Matrix => matrix(rows, cols, rng.fillNormal(new Float32Array(rows * cols), 0, 1));
    const x = random(batch, layer.inSize), z = matrix(batch, layer.outSize), dz = random(batch, layer.outSize), dx = matrix(batch, layer.inSize);
    const grad = { W: matrix(p.W.rows, p.W.cols), b: new Float32Array(p.b.length) };
    const gflop = (2 * forwardMacsPerExample(layer) * batch) / 1e9;
    results.push({
      net, layer: `${l + 1} ${layer.kind} ${shapeText(layer.inSize, inShape)} → ${shapeText(layer.outSize, outShape)}`, batch, forwardGflop: gflop,
      forward: timePass(be, gflop, (b) => layer.forward(b, p, x, z), minSeconds, rounds),
      backward: timePass(be, 2 * gflop, (b) => {
        layer.paramGrads(b, dz, x, grad);
        layer.inputError(b, dz, p.W, dx, x);
      }, minSeconds, rounds),
    });
  });
  return results;
}
