import type { RuleId } from '../../src/index.js';
import type { TickReport } from './protocol.js';

/** One rule's curves, aligned with History.steps (null where there is no value: diverged, regression). */
export interface RuleCurves {
  rule: RuleId;
  trainLoss: (number | null)[];
  testLoss: (number | null)[];
  testError: (number | null)[];
  /** Per layer, aligned with History.angleSteps. */
  updateAngle: (number | null)[][];
  feedbackAngle: (number | null)[][];
  /** The rule's named diagnostics (RuleReport.metrics) by name, each aligned with History.steps. */
  metrics: Map<string, (number | null)[]>;
}

/**
 * The curves of a race, built from the worker's reports: plain arrays that the views draw. Every rule
 * reports at the same updates (they share the data stream), so all curves share one x axis.
 */
export class History {
  readonly steps: number[] = [];
  readonly angleSteps: number[] = [];
  readonly rules: RuleCurves[];

  constructor(rules: readonly RuleId[], private readonly layers: number) {
    this.rules = rules.map((rule) => ({
      rule, trainLoss: [], testLoss: [], testError: [],
      updateAngle: Array.from({ length: layers }, () => []), feedbackAngle: Array.from({ length: layers }, () => []),
      metrics: new Map(),
    }));
  }

  add(report: TickReport): void {
    this.steps.push(report.step);
    const measured = report.rules.some((r) => r.angles);
    if (measured) this.angleSteps.push(report.step);
    report.rules.forEach((r, i) => {
      const c = this.rules[i];
      c.trainLoss.push(r.trainLoss);
      c.testLoss.push(r.testLoss);
      c.testError.push(r.testError === null ? null : 100 * r.testError);
      addMetrics(c.metrics, r.metrics, this.steps.length);
      if (!measured) return;
      for (let l = 0; l < this.layers; l++) {
        c.updateAngle[l].push(finiteOrNull(r.angles?.update[l]));
        c.feedbackAngle[l].push(finiteOrNull(r.angles?.feedback[l]));
      }
    });
  }

  /** Whether some rule has a feedback matrix (so the ∠(B, Wᵀ) chart has something to show). */
  hasFeedback(): boolean {
    return this.rules.some((c) => c.feedbackAngle.some((layer) => layer.some((v) => v !== null)));
  }
}

/** Appends one tick's metrics to their series; a series first seen now starts with nulls for earlier ticks,
 * and one missing now gets a null, so every series stays aligned with the steps (`ticks` of them). */
function addMetrics(series: Map<string, (number | null)[]>, metrics: Readonly<Record<string, number>> | null, ticks: number): void {
  for (const name of Object.keys(metrics ?? {})) if (!series.has(name)) series.set(name, Array<number | null>(ticks - 1).fill(null));
  for (const [name, values] of series) values.push(finiteOrNull(metrics?.[name]));
}

function finiteOrNull(v: number | null | undefined): number | null {
  return v === null || v === undefined || !Number.isFinite(v) ? null : v;
}
