import type { Backend } from '../src/tensor/backend.js';
import type { DataSplits } from '../src/data/dataset.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { architectureSpec, networkLayers, type NetworkSpec } from '../src/nn/network.js';
import type { Layer } from '../src/nn/layer.js';
import { profiled, type Profile } from './profile.js';

/** The benchmark's training run: BP on MNIST 784-1000-10 tanh, batch 100, SGD with momentum (the CLI's defaults). */
export const EPOCH_RUN: RunConfig = {
  rule: 'bp', ruleOptions: {}, seed: 1,
  spec: { sizes: [784, 1000, 10], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } },
  optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
  train: { ...DEFAULT_TRAIN, epochs: 1000, batchSize: 100, lr: 0.01, stepEventEvery: 0 },
};

/** LeNet-5 (conv 6@5×5 pad 2, max pool, conv 16@5×5, max pool, 120-84-10) with the same rule, optimizer
 * and batch, for the Fashion-MNIST epoch. */
export const LENET_EPOCH_RUN: RunConfig = {
  ...EPOCH_RUN,
  spec: { ...EPOCH_RUN.spec, ...architectureSpec('1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10') },
};

/**
 * Multiply-adds of one layer's forward pass per example, as its GEMMs count them: dense out·in; conv2d
 * out·P·K (W [out, K] applied at each of P positions, K = C·k·k); local2d P·out·K (one bank [out, K] per
 * position: W's size); pooling 0. The parameter-gradient and the input-error GEMMs take as many again each.
 */
export function forwardMacsPerExample(layer: Layer): number {
  const { rows, cols } = layer.weightShape;
  if (layer.kind === 'conv2d') return cols * layer.outSize; // outSize = out·P
  return rows * cols; // dense and local2d; 0 for pooling (W is 0×0)
}

/** Floating-point operations of one BP step per example: per layer the forward GEMM and the weight-gradient
 * GEMM, and the error GEMM for every layer but the first (2 FLOPs a multiply-add). Element-wise work
 * (activations, im2col, pooling) is not counted. */
export function bpFlopsPerExample(spec: NetworkSpec): number {
  return networkLayers(spec).reduce((n, layer, l) => n + 2 * forwardMacsPerExample(layer) * (l === 0 ? 2 : 3), 0);
}

export interface EpochBench {
  backend: string;
  /** Seconds of one epoch of training (evaluation excluded), median over the timed epochs. */
  epochSeconds: number;
  /** Epochs timed; for slow backends a fraction of an epoch is timed and scaled up. */
  epochsTimed: number;
  gflopPerEpoch: number;
  gflops: number;
}

/** Times whole training epochs of `run` on real data through the same Trainer the CLI uses. */
export function benchEpoch(backend: Backend, data: DataSplits, epochs: number, batchLimit?: number, run: RunConfig = EPOCH_RUN): EpochBench {
  const rows = batchLimit ? batchLimit * run.train.batchSize : data.train.x.rows;
  const train = rows < data.train.x.rows ? { ...data.train, x: { ...data.train.x, rows }, y: { ...data.train.y, rows } } : data.train;
  const trainer = createTrainer(run, backend, { ...data, train });
  const times: number[] = [];
  for (let e = 0; e < epochs; e++) times.push(trainer.trainEpoch().seconds);
  times.sort((a, b) => a - b);
  const scale = data.train.x.rows / train.x.rows;
  const epochSeconds = times[times.length >> 1] * scale;
  const gflopPerEpoch = (bpFlopsPerExample(run.spec) * data.train.x.rows) / 1e9;
  return { backend: backend.name, epochSeconds, epochsTimed: epochs / scale, gflopPerEpoch, gflops: gflopPerEpoch / epochSeconds };
}

/** Where training time goes: `batches` batches of `run` through a profiled backend (seconds per method). */
export function profileEpoch(backend: Backend, data: DataSplits, batches: number, run: RunConfig): { seconds: number; profile: Profile } {
  const rows = Math.min(batches * run.train.batchSize, data.train.x.rows);
  const train = { ...data.train, x: { ...data.train.x, rows }, y: { ...data.train.y, rows } };
  const profile: Profile = {};
  const trainer = createTrainer(run, profiled(backend, profile), { ...data, train });
  const seconds = trainer.trainEpoch().seconds;
  return { seconds, profile };
}
