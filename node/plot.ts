import { readFileSync } from 'node:fs';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { DataError } from '../src/data/errors.js';
import type { TrainEvent } from '../src/train/events.js';

/** One run's events under a label (usually the rule id). */
export interface RunCurves {
  label: string;
  events: readonly TrainEvent[];
}

/** A run's metrics.jsonl read back; `cutLine` is the 1-based number of a last line that was dropped. */
export interface MetricsFile {
  events: TrainEvent[];
  cutLine: number | null;
}

/**
 * Reads a metrics.jsonl as training appends it: one event a line. A last line that is not complete JSON is
 * what a crash in the middle of writing leaves, so it is dropped and reported in `cutLine`; a bad line
 * anywhere before it is damage, and a DataError names the file and the line.
 */
export function readMetrics(path: string): MetricsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new DataError(`cannot read ${path} (${code}): give a run folder whose metrics.jsonl is a readable file`);
  }
  const lines = text.split('\n');
  let last = lines.length - 1;
  while (last >= 0 && lines[last].trim() === '') last--;
  const events: TrainEvent[] = [];
  let cutLine: number | null = null;
  for (let i = 0; i <= last; i++) {
    if (lines[i].trim() === '') continue;
    let event: unknown;
    try {
      event = JSON.parse(lines[i]);
    } catch {
      if (i === last) {
        cutLine = i + 1;
        break;
      }
      throw new DataError(`${path} line ${i + 1} is not valid JSON: the file is damaged; delete that line or train the run again`);
    }
    if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string') {
      throw new DataError(`${path} line ${i + 1} is not a training event (an object with a "type"): is this a metrics.jsonl written by ngrad?`);
    }
    events.push(event as TrainEvent);
  }
  if (!events.length) throw new DataError(`${path} holds no events${cutLine ? ' (only a cut-off line)' : ''}: the run wrote nothing yet; plot it once it has trained an epoch`);
  return { events, cutLine };
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
