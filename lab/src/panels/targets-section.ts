import { h } from '../dom.js';
import type { History, RuleCurves } from '../history.js';
import type { TaskInfo, TickReport } from '../protocol.js';
import { RULE_COLORS } from '../views/colors.js';
import { LineChart, type LineStyle } from '../views/line-chart.js';
import { drawTargetStrip } from '../views/target-strip.js';

/** Units drawn per strip: wider layers show their first ones. */
const STRIP_UNITS = 128;

/** The metrics that say how well the inverse of layer k does its job (the rules' names, k 1-based), each with
 * what its legend adds: a reconstruction error, or ldrl's Jacobian mismatch (its feedback loss can be negative). */
const INVERSE_METRICS: readonly { prefix: string; note: string }[] = [
  { prefix: 'reconstruction_', note: '' },
  { prefix: 'jacobian_mismatch_', note: ' (Jacobian mismatch)' },
];

interface LayerCharts {
  local: LineChart;
  localBox: HTMLElement;
  inverse: LineChart;
  inverseBox: HTMLElement;
}

/**
 * The Inside panel's part for target-propagation rules: per layer, each rule's layer-local loss ‖h_k − ĥ_k‖²
 * and its inverse's reconstruction error over the updates, so the inverses are seen learning; and, for one
 * example of the latest update, each hidden layer's activity h beside the target ĥ the rule set for it (taken
 * from the rule's own step). Hidden while no rule reports any of these.
 */
export class TargetsSection {
  readonly element: HTMLElement;
  private readonly charts = h('div', { class: 'charts small' });
  private readonly strips = h('div', { class: 'target-strips', id: 'targets' });
  private layers: LayerCharts[] = [];
  /** Which rules and layers the strips were built for, so they are rebuilt only when that changes. */
  private stripsFor = '';
  private readonly canvases = new Map<string, { canvas: HTMLCanvasElement; caption: HTMLElement }>();
  private headers: HTMLElement[] = [];

  constructor() {
    this.element = h('div', { class: 'targets', id: 'targets-section' }, [
      h('h3', {}, ['Target propagation: targets and inverses']),
      h('p', { class: 'hint' }, [
        'Each hidden layer learns to move its activity h towards a target ĥ sent down from the layer above through an inverse ',
        '(learned; tp: the exact one). The layer-local loss ‖h − ĥ‖² is the mean over each redraw\'s updates; the reconstruction ',
        'error says how well layer k\'s inverse maps h_k back to h_{k−1} (ddtp: its direct feedback from the output to layer k; ',
        'ldrl: the mismatch ‖J_g − J_fᵀ‖²/‖J_f‖² of its Jacobian) and falls as the inverses learn. Below: for one example of the ',
        'latest update, each hidden layer\'s h, the rule\'s ĥ (same scale) and the displacement ĥ − h (its own scale).',
      ]),
      this.charts,
      this.strips,
    ]);
    this.element.hidden = true;
  }

  reset(task: TaskInfo | null): void {
    for (const c of this.layers) {
      c.local.clear();
      c.inverse.clear();
    }
    this.layers = [];
    this.charts.replaceChildren();
    this.strips.replaceChildren();
    this.stripsFor = '';
    this.canvases.clear();
    this.headers = [];
    this.element.hidden = true;
    if (!task) return;
    for (let k = 1; k < task.sizes.length; k++) {
      const localBox = h('div', { class: 'chart', id: `chart-local-${k}` });
      const inverseBox = h('div', { class: 'chart', id: `chart-inverse-${k}` });
      localBox.hidden = inverseBox.hidden = true;
      this.charts.append(localBox, inverseBox);
      this.layers.push({
        localBox, inverseBox,
        local: new LineChart(localBox, { title: `Layer ${k}: layer-local loss ‖h − ĥ‖²`, xLabel: 'updates', yLabel: 'loss', logY: true, height: 200 }),
        inverse: new LineChart(inverseBox, { title: `Layer ${k}: reconstruction error`, xLabel: 'updates', yLabel: 'error', logY: true, height: 200 }),
      });
    }
  }

  draw(history: History, last: TickReport): void {
    let any = false;
    this.layers.forEach((c, l) => {
      const k = l + 1;
      any = drawLines(c.local, c.localBox, history, [{ name: `target_loss_${k}`, note: '' }]) || any;
      any = drawLines(c.inverse, c.inverseBox, history, INVERSE_METRICS.map(({ prefix, note }) => ({ name: `${prefix}${k}`, note }))) || any;
    });
    any = this.drawStrips(last) || any;
    this.element.hidden = !any;
  }

  /** One row of strips per rule that reported targets; returns whether there was one. */
  private drawStrips(last: TickReport): boolean {
    const withTargets = last.rules.map((r, i) => ({ r, i })).filter(({ r }) => r.targets);
    const key = withTargets.map(({ r, i }) => `${i}:${r.rule}:${r.targets?.activity.length}`).join(',');
    if (key !== this.stripsFor) this.buildStrips(last, withTargets.map(({ i }) => i), key);
    withTargets.forEach(({ r, i }, n) => {
      const targets = r.targets;
      if (!targets) return;
      this.headers[n].textContent = `${r.rule}: ${targets.label === null ? 'an example' : `an example of class ${targets.label}`} of the latest update`;
      targets.activity.forEach((activity, l) => {
        const slot = this.canvases.get(`${i}:${l}`);
        if (!slot) return;
        const s = drawTargetStrip(slot.canvas, activity, targets.target[l], STRIP_UNITS);
        slot.canvas.dataset.units = String(s.units);
        slot.canvas.dataset.shift = String(s.shiftNorm);
        slot.caption.textContent = `Layer ${l + 1}: ‖ĥ − h‖ = ${fmt(s.shiftNorm)}; h and ĥ up to ±${fmt(s.activity)}, ĥ − h up to ±${fmt(s.shiftMax)}` +
          (s.units < activity.length ? `; the first ${s.units} of ${activity.length} units` : '');
      });
    });
    return withTargets.length > 0;
  }

  private buildStrips(last: TickReport, slots: number[], key: string): void {
    this.canvases.clear();
    this.headers = [];
    this.strips.replaceChildren(...slots.map((i) => {
      const r = last.rules[i], header = h('h4', { style: `color:${RULE_COLORS[i]}` });
      this.headers.push(header);
      const layers = (r.targets?.activity ?? []).map((_, l) => {
        const canvas = h('canvas', { 'data-rule': r.rule, 'data-layer': String(l + 1), style: `border-left:4px solid ${RULE_COLORS[i]}` });
        const caption = h('figcaption');
        this.canvases.set(`${i}:${l}`, { canvas, caption });
        const labels = h('div', { class: 'strip-labels' }, ['h', 'ĥ', 'ĥ − h'].map((t) => h('span', {}, [t])));
        return h('figure', { class: 'strip' }, [h('div', { class: 'strip-body' }, [labels, canvas]), caption]);
      });
      return h('div', { class: 'target-rule', 'data-rule': r.rule }, [header, ...layers]);
    }));
    this.stripsFor = key;
  }
}

function has(rule: RuleCurves, name: string): boolean {
  return rule.metrics.get(name)?.some((v) => v !== null) ?? false;
}

/** Draws every rule's series of the named metrics it reports (rule by colour) on a chart, shown only when
 * there is one. */
function drawLines(chart: LineChart, box: HTMLElement, history: History, metrics: readonly { name: string; note: string }[]): boolean {
  const lines: LineStyle[] = [], data: (number | null)[][] = [];
  history.rules.forEach((rule, i) => {
    for (const { name, note } of metrics.filter((m) => has(rule, m.name))) {
      lines.push({ label: `${rule.rule}${note}`, color: RULE_COLORS[i] });
      data.push(rule.metrics.get(name) ?? []);
    }
  });
  box.hidden = !lines.length;
  if (lines.length) chart.draw(lines, history.steps, data);
  return lines.length > 0;
}

function fmt(v: number): string {
  return v === 0 ? '0' : Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toPrecision(3) : v.toExponential(2);
}
