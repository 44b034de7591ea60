import type { Backend } from '../tensor/backend.js';
import type { DataSplits } from '../data/dataset.js';
import { createNetwork, type NetworkSpec } from '../nn/network.js';
import { makeOptimizer, type OptimizerConfig } from '../optim/optimizer.js';
import { checkRuleFitsSpec, createRule, type RuleId } from '../rules/registry.js';
import type { LearningRule, RuleOptions } from '../rules/rule.js';
import type { ScheduleConfig } from './schedule.js';
import { singleStage, type GroupSettings, type Stage } from './stage.js';
import { initialState, runStreams, Trainer, type TrainConfig, type TrainState } from './trainer.js';

/** One stage of a multi-stage run as data (a config file or the CLI's --stage). */
export interface StageConfig {
  rule: RuleId;
  ruleOptions: RuleOptions;
  epochs: number;
  /** 1-based indices of the layers this stage trains; absent: every layer. */
  trains?: number[];
  /** Defaults: the run's optimizer, learning rate and schedule (a cosine schedule spans the stage's epochs). */
  optimizer?: OptimizerConfig;
  lr?: number;
  schedule?: ScheduleConfig;
  groups?: Record<string, GroupSettings>;
}

/** Everything that defines a training run; with the same backend it fixes every number the run produces. */
export interface RunConfig {
  rule: RuleId;
  ruleOptions: RuleOptions;
  spec: NetworkSpec;
  optimizer: OptimizerConfig;
  train: TrainConfig;
  /** The one seed every random choice flows from. */
  seed: number;
  /** Settings for the rule's trainable groups (feedback weights, inverses…), by group name. */
  groups?: Record<string, GroupSettings>;
  /** A run of several stages (e.g. pre-training, then fine-tuning). Absent: one stage of `rule` for
   * train.epochs epochs, which is the ordinary run. */
  stages?: StageConfig[];
}

/** The stages a run config describes, with the rules made from the registry. */
export function runStages(config: RunConfig): Stage[] {
  for (const id of config.stages ? config.stages.map((s) => s.rule) : [config.rule]) checkRuleFitsSpec(id, config.spec);
  if (!config.stages) {
    const rule = createRule(config.rule, config.ruleOptions);
    return singleStage(rule, makeOptimizer(config.optimizer), config.train).map((s) => ({ ...s, groups: config.groups ?? {} }));
  }
  if (!config.stages.length) throw new Error('a run with stages needs at least one stage');
  return config.stages.map((s, i) => {
    if (!(Number.isInteger(s.epochs) && s.epochs >= 1)) throw new Error(`stage ${i + 1} needs a whole number of epochs ≥ 1, got ${s.epochs}`);
    const base = s.schedule ?? config.train.schedule;
    const schedule: ScheduleConfig = base.kind === 'cosine' && !s.schedule ? { ...base, epochs: s.epochs } : base;
    return {
      rule: createRule(s.rule, s.ruleOptions),
      optimizer: makeOptimizer(s.optimizer ?? config.optimizer),
      train: { ...config.train, epochs: s.epochs, lr: s.lr ?? config.train.lr, schedule },
      trains: s.trains ? s.trains.map((l) => l - 1) : null,
      groups: s.groups ?? {},
    };
  });
}

/** Epochs of the whole run, over all stages. */
export function totalEpochs(config: RunConfig): number {
  return config.stages ? config.stages.reduce((n, s) => n + s.epochs, 0) : config.train.epochs;
}

/** A trainer for a run, from its seed or from a saved state (to resume). */
export function createTrainer(config: RunConfig, backend: Backend, data: DataSplits, resume?: TrainState): Trainer {
  const stages = runStages(config);
  if (resume) return new Trainer(backend, stages, data, resume);
  return stagedTrainer(stages, config, backend, data);
}

/** A trainer for any rule object, registered or not (experiments' baselines), started from the seed exactly
 * as createTrainer does: the forward weights from streams.init, so rules compared under one seed share them. */
export function seededTrainer(
  rule: LearningRule, config: Pick<RunConfig, 'spec' | 'optimizer' | 'train' | 'seed'>, backend: Backend, data: DataSplits,
): Trainer {
  return stagedTrainer(singleStage(rule, makeOptimizer(config.optimizer), config.train), config, backend, data);
}

function stagedTrainer(stages: Stage[], config: Pick<RunConfig, 'spec' | 'seed'>, backend: Backend, data: DataSplits): Trainer {
  const streams = runStreams(config.seed);
  const first = stages[0];
  const state = initialState(createNetwork(config.spec, streams.init), first.rule, first.optimizer, streams, { trainExamples: data.train.x.rows, trains: first.trains });
  return new Trainer(backend, stages, data, state);
}
