import type { Backend } from '../src/tensor/backend.js';
import type { DataSplits } from '../src/data/dataset.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import type { NetworkSpec } from '../src/nn/network.js';

/** The benchmark's training run: BP on MNIST 784-1000-10 tanh, batch 100, SGD with momentum (the CLI's defaults). */
export const EPOCH_RUN: RunConfig = {
  rule: 'bp', ruleOptions: {}, seed: 1,
  spec: { sizes: [784, 1000, 10], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } },
  optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
  train: { ...DEFAULT_TRAIN, epochs: 1000, batchSize: 100, lr: 0.01, stepEventEvery: 0 },
};

/** Floating-point operations of one BP step: per layer the forward GEMM and the weight-gradient GEMM,
 * and the error GEMM for every layer but the first (2·m·n·k each). Element-wise work is not counted. */
export function bpFlopsPerExample(spec: NetworkSpec): number {
  let flops = 0;
  for (let l = 0; l + 1 < spec.sizes.length; l++) {
    const mac = spec.sizes[l] * spec.sizes[l + 1];
    flops += 2 * mac * (l === 0 ? 2 : 3);
  }
  return flops;
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

/** Times whole training epochs on real data through the same Trainer the CLI uses. */
export function benchEpoch(backend: Backend, data: DataSplits, epochs: number, batchLimit?: number): EpochBench {
  const train = batchLimit ? { ...data.train, x: { ...data.train.x, rows: batchLimit * 100 }, y: { ...data.train.y, rows: batchLimit * 100 } } : data.train;
  const trainer = createTrainer(EPOCH_RUN, backend, { ...data, train });
  const times: number[] = [];
  for (let e = 0; e < epochs; e++) times.push(trainer.trainEpoch().seconds);
  times.sort((a, b) => a - b);
  const scale = data.train.x.rows / train.x.rows;
  const epochSeconds = times[times.length >> 1] * scale;
  const gflopPerEpoch = (bpFlopsPerExample(EPOCH_RUN.spec) * data.train.x.rows) / 1e9;
  return { backend: backend.name, epochSeconds, epochsTimed: epochs / scale, gflopPerEpoch, gflops: gflopPerEpoch / epochSeconds };
}
