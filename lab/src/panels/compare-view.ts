import { RULES } from '../../../src/index.js';
import { h } from '../dom.js';
import type { History } from '../history.js';
import type { TaskInfo, TickReport } from '../protocol.js';
import { RULE_COLORS } from '../views/colors.js';
import { LineChart, type LineStyle } from '../views/line-chart.js';

/** The Compare panel: learning curves of every rule on shared axes, and a table of where each stands; above them, the
 * network the race trains (its widths, units and signals: spiking neurons, quantised signals). */
export class CompareView {
  private readonly network = h('p', { class: 'network', id: 'compare-network' });
  private readonly loss: LineChart;
  private readonly error: LineChart;
  private readonly errorBox: HTMLElement;
  private readonly table: HTMLTableSectionElement;

  constructor(container: HTMLElement) {
    const lossBox = h('div', { class: 'chart', id: 'chart-loss' });
    this.errorBox = h('div', { class: 'chart', id: 'chart-error' });
    this.table = h('tbody');
    container.replaceChildren(
      this.network,
      h('div', { class: 'charts' }, [lossBox, this.errorBox]),
      h('table', { class: 'status' }, [
        h('thead', {}, [h('tr', {}, ['rule', 'updates', 'train loss', 'test loss', 'test error', ''].map((c) => h('th', {}, [c])))]),
        this.table,
      ]),
    );
    this.loss = new LineChart(lossBox, { title: 'Loss (solid: train, dashed: test)', xLabel: 'updates', yLabel: 'loss', logY: true });
    this.error = new LineChart(this.errorBox, { title: 'Test error', xLabel: 'updates', yLabel: '% wrong' });
  }

  /** Names the race's network ('2-8-2 net of LIF spiking neurons …'); null: none yet. */
  describe(task: TaskInfo | null): void {
    this.network.textContent = task ? `Every rule trains a ${task.sizes.join('-')} net: ${task.network}.` : '';
  }

  reset(): void {
    this.describe(null);
    this.loss.clear();
    this.error.clear();
    this.table.replaceChildren();
  }

  draw(history: History, last: TickReport, classification: boolean): void {
    const lossLines: LineStyle[] = [], lossData: (number | null)[][] = [];
    const errorLines: LineStyle[] = [], errorData: (number | null)[][] = [];
    history.rules.forEach((c, i) => {
      const color = RULE_COLORS[i];
      lossLines.push({ label: `${c.rule} train`, color }, { label: `${c.rule} test`, color, dash: [6, 4] });
      lossData.push(c.trainLoss, c.testLoss);
      errorLines.push({ label: c.rule, color });
      errorData.push(c.testError);
    });
    this.loss.draw(lossLines, history.steps, lossData);
    this.errorBox.hidden = !classification;
    if (classification) this.error.draw(errorLines, history.steps, errorData);
    this.table.replaceChildren(...last.rules.map((r, i) => {
      const fmt = (v: number | null, digits: number) => (v === null ? '—' : v.toFixed(digits));
      const row = h('tr', { 'data-rule': r.rule, 'data-train-loss': String(r.trainLoss ?? ''), 'data-test-error': String(r.testError ?? '') }, [
        h('td', { style: `color:${RULE_COLORS[i]}` }, [`● ${r.rule} — ${RULES[r.rule].title}`]),
        h('td', {}, [String(last.step)]),
        h('td', {}, [fmt(r.trainLoss, 4)]),
        h('td', {}, [fmt(r.testLoss, 4)]),
        h('td', {}, [r.testError === null ? '—' : `${(100 * r.testError).toFixed(1)} %`]),
        h('td', { class: 'note' }, [r.refused ?? r.diverged ?? '']),
      ]);
      return row;
    }));
  }
}
