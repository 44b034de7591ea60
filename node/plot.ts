import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { TrainEvent } from '../src/train/events.js';

/** One run's events under a label (usually the rule id). */
export interface RunCurves {
  label: string;
  events: readonly TrainEvent[];
}

/**
 * An SVG figure of one or more runs: test error and training loss per epoch, and — when the runs measured
 * alignment — the angle of each layer's update to the true gradient and ∠(B, Wᵀ) over training.
 * Drawn with Vega-Lite and rendered to SVG by Vega's headless view (no browser, no canvas).
 */
export async function runsFigure(runs: readonly RunCurves[], title = ''): Promise<string> {
  const evals = runs.flatMap(({ label, events }) =>
    events.flatMap((e) => (e.type === 'eval' && e.split === 'test' ? [{ rule: label, epoch: e.epoch, error: e.error === null ? null : 100 * e.error, loss: e.loss }] : [])));
  const epochs = runs.flatMap(({ label, events }) =>
    events.flatMap((e) => (e.type === 'epoch' ? [{ rule: label, epoch: e.epoch, trainLoss: e.trainLoss }] : [])));
  const angles = runs.flatMap(({ label, events }) =>
    events.flatMap((e) => (e.type === 'alignment'
      ? e.layers.map((a) => ({ rule: label, step: e.step, layer: `layer ${a.layer}`, update: finite(a.updateAngle), feedback: finite(a.feedbackAngle) }))
      : [])));
  const color = { field: 'rule', type: 'nominal', title: 'rule', sort: runs.map((r) => r.label) } as const;
  const panel = (
    data: object[], x: string, xTitle: string, y: string, yTitle: string, extra: Record<string, unknown> = {},
  ) => ({
    width: 320, height: 220, data: { values: data }, mark: { type: 'line', point: data.length < 200, strokeWidth: 1.5, clip: true },
    encoding: {
      x: { field: x, type: 'quantitative', title: xTitle },
      y: { field: y, type: 'quantitative', title: yTitle, ...extra },
      color,
    },
  });
  const rows: object[] = [{
    hconcat: [
      evals.some((e) => e.error !== null)
        ? panel(evals.filter((e) => e.error !== null), 'epoch', 'epoch', 'error', 'test error (%)')
        : panel(evals, 'epoch', 'epoch', 'loss', 'test loss (regression)', { scale: { type: 'log' } }),
      panel(epochs, 'epoch', 'epoch', 'trainLoss', 'training loss', { scale: { type: 'log' } }),
    ],
  }];
  if (angles.length) {
    const withLayer = (p: ReturnType<typeof panel>) => ({ ...p, encoding: { ...p.encoding, strokeDash: { field: 'layer', type: 'nominal', title: 'layer' } } });
    const anglePanels = [withLayer(panel(angles.filter((a) => a.update !== null), 'step', 'update', 'update', '∠(update, true gradient) (°)'))];
    const feedback = angles.filter((a) => a.feedback !== null);
    if (feedback.length) anglePanels.push(withLayer(panel(feedback, 'step', 'update', 'feedback', '∠(B, Wᵀ) (°)')));
    rows.push({ hconcat: anglePanels });
  }
  const spec = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, vconcat: rows, config: { font: 'sans-serif' } } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

function finite(x: number | null): number | null {
  return x !== null && Number.isFinite(x) ? x : null;
}
