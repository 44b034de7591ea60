import type { Backend } from '../tensor/backend.js';
import type { DataSplits } from '../data/dataset.js';
import { createNetwork, type NetworkSpec } from '../nn/network.js';
import { makeOptimizer, type OptimizerConfig } from '../optim/optimizer.js';
import { createRule, type RuleId } from '../rules/registry.js';
import type { LearningRule, RuleOptions } from '../rules/rule.js';
import { initialState, runStreams, Trainer, type TrainConfig, type TrainState } from './trainer.js';

/** Everything that defines a training run; with the same backend it fixes every number the run produces. */
export interface RunConfig {
  rule: RuleId;
  ruleOptions: RuleOptions;
  spec: NetworkSpec;
  optimizer: OptimizerConfig;
  train: TrainConfig;
  /** The one seed every random choice flows from. */
  seed: number;
}

/** A trainer for a run, from its seed or from a saved state (to resume). */
export function createTrainer(config: RunConfig, backend: Backend, data: DataSplits, resume?: TrainState): Trainer {
  const rule = createRule(config.rule, config.ruleOptions);
  if (resume) return new Trainer(backend, rule, makeOptimizer(config.optimizer), data, config.train, resume);
  return seededTrainer(rule, config, backend, data);
}

/** A trainer for any rule object, registered or not (experiments' baselines), started from the seed exactly
 * as createTrainer does: the forward weights from streams.init, so rules compared under one seed share them. */
export function seededTrainer(
  rule: LearningRule, config: Pick<RunConfig, 'spec' | 'optimizer' | 'train' | 'seed'>, backend: Backend, data: DataSplits,
): Trainer {
  const optimizer = makeOptimizer(config.optimizer);
  const streams = runStreams(config.seed);
  const state = initialState(createNetwork(config.spec, streams.init), rule, optimizer, streams);
  return new Trainer(backend, rule, optimizer, data, config.train, state);
}
