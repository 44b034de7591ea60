import type { LearningRule, TrainableGroup } from '../rules/rule.js';
import { makeOptimizer, type OptimizerConfig } from '../optim/optimizer.js';
import type { Transform } from '../optim/transform.js';
import type { TrainConfig } from './trainer.js';

/** A run's settings for one of a rule's trainable groups, overriding what the rule declares. */
export interface GroupSettings {
  /** A fixed learning rate for the group (instead of the rule's choice). */
  lr?: number;
  /** Optimizer settings of the group's own. */
  optimizer?: OptimizerConfig;
}

/**
 * One stage of a run: a rule trained for `train.epochs` epochs with its optimizer, on some of the layers.
 * A run is a list of stages (a deep belief net: one RBM stage per layer, then fine-tuning); a single-stage
 * run is the ordinary run. Every stage starts a fresh rule state and fresh optimizer state on the
 * parameters the previous stage left.
 */
export interface Stage {
  rule: LearningRule;
  optimizer: Transform;
  train: TrainConfig;
  /** 0-based indices of the layers whose parameters this stage changes; null: every layer. */
  trains: readonly number[] | null;
  /** Overrides for the rule's trainable groups, by group name. */
  groups: Readonly<Record<string, GroupSettings>>;
}

/** A single-stage run of a rule. */
export function singleStage(rule: LearningRule, optimizer: Transform, train: TrainConfig): Stage[] {
  return [{ rule, optimizer, train, trains: null, groups: {} }];
}

/** A group as the loop trains it: its tensors, the optimizer that transforms its updates, its rate. */
export interface ResolvedGroup {
  group: TrainableGroup;
  optimizer: Transform;
  /** null: the run's scheduled rate. */
  fixedLr: number | null;
}

/** The rule's declaration with the run's overrides applied. */
export function resolveGroup(group: TrainableGroup, stage: Stage): ResolvedGroup {
  const settings = stage.groups[group.name] ?? {};
  const config = settings.optimizer ?? (group.optimizer === 'run' ? null : group.optimizer);
  // NOTE: a transform is stateless (its state is passed in and out), so 'run' reuses the stage's transform
  // with state of the group's own.
  const optimizer = config ? makeOptimizer(config) : stage.optimizer;
  const fixedLr = settings.lr ?? (group.lr === 'run' ? null : group.lr);
  return { group, optimizer, fixedLr };
}

/** Refuses group settings that name no group of the stage's rule, so a typo is an error. */
export function checkGroupSettings(stage: Stage, declared: readonly TrainableGroup[]): void {
  const names = declared.map((g) => g.name);
  for (const name of Object.keys(stage.groups)) {
    if (!names.includes(name)) {
      throw new Error(
        `rule '${stage.rule.id}' has no trainable group '${name}'` + (names.length ? ` (it has: ${names.join(', ')})` : ' (it has none)'),
      );
    }
  }
}
