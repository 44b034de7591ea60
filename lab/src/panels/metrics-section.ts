import { h } from '../dom.js';
import type { History } from '../history.js';
import { RULE_COLORS } from '../views/colors.js';
import { LineChart, type LineStyle } from '../views/line-chart.js';
import { drawnWithTargets, metricLabel, metricOrder } from '../views/metric-labels.js';

/**
 * The Inside panel's charts of the rules' named diagnostics over the updates (RuleReport.metrics, one mean a redraw):
 * one chart a metric, every rule that reports it in its colour — burstprop's burst probability per hidden layer, a
 * spiking net's spikes per neuron, recirculation's and the RBM's reconstruction errors, a settling rule's residuals.
 * The layer-local losses and inverses' errors of target propagation are drawn in their own section instead. Hidden
 * while no rule reports any.
 */
export class MetricsSection {
  readonly element: HTMLElement;
  private readonly charts = h('div', { class: 'charts small', id: 'metrics' });
  private readonly built = new Map<string, LineChart>();

  constructor() {
    this.element = h('div', { class: 'metrics', id: 'metrics-section' }, [
      h('h3', {}, ['Diagnostics the rules report']),
      h('p', { class: 'hint' }, ['Each point is the mean over the updates between two redraws.']),
      this.charts,
    ]);
    this.element.hidden = true;
  }

  reset(): void {
    for (const chart of this.built.values()) chart.clear();
    this.built.clear();
    this.charts.replaceChildren();
    this.element.hidden = true;
  }

  draw(history: History): void {
    const names = new Set<string>();
    for (const rule of history.rules) {
      for (const [name, values] of rule.metrics) if (!drawnWithTargets(name) && values.some((v) => v !== null)) names.add(name);
    }
    const sorted = [...names].sort(metricOrder);
    if (sorted.some((n) => !this.built.has(n))) this.build(sorted);
    for (const name of sorted) {
      const lines: LineStyle[] = [], data: (number | null)[][] = [];
      history.rules.forEach((rule, i) => {
        const values = rule.metrics.get(name);
        if (!values?.some((v) => v !== null)) return;
        lines.push({ label: rule.rule, color: RULE_COLORS[i] });
        data.push(values);
      });
      this.built.get(name)!.draw(lines, history.steps, data);
    }
    this.element.hidden = !sorted.length;
  }

  private build(names: readonly string[]): void {
    this.reset();
    for (const name of names) {
      const box = h('div', { class: 'chart', id: `chart-metric-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`, 'data-metric': name });
      this.charts.append(box);
      const { title, yLabel } = metricLabel(name);
      this.built.set(name, new LineChart(box, { title, xLabel: 'updates', yLabel, height: 200 }));
    }
  }
}
