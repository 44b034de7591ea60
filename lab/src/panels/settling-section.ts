import { h } from '../dom.js';
import type { SettlingReport, TickReport } from '../protocol.js';
import { RULE_COLORS, UNIT_COLORS } from '../views/colors.js';
import { LineChart, type LineStyle } from '../views/line-chart.js';

interface RuleCharts {
  header: HTMLElement;
  caption: HTMLElement;
  block: HTMLElement;
  energy: LineChart;
  residual: LineChart;
  hidden: LineChart;
  output: LineChart;
}

/**
 * The Inside panel's part for settling rules (ep, and any rule the registry marks model: 'settling'): for one
 * example of the latest update, relaxed from zero at the current weights, the energy E over the free phase and
 * F = E + βC over the nudged one, the projected ‖∂F/∂s‖∞ (log scale), and a few hidden and all output units'
 * states; a dashed vertical line marks where the nudged phase starts. Hidden while no rule reports a trace.
 */
export class SettlingSection {
  readonly element: HTMLElement;
  private readonly body = h('div', { id: 'settling' });
  private readonly charts = new Map<number, RuleCharts>();
  /** Which rules (by slot) the charts were built for, so they are rebuilt only when that changes. */
  private builtFor = '';

  constructor() {
    this.element = h('div', { class: 'settling', id: 'settling-section' }, [
      h('h3', {}, ['Settling: energy and relaxation']),
      h('p', { class: 'hint' }, [
        'A settling network\'s state s descends its energy E with the input clamped (Scellier & Bengio 2017): the free phase ',
        'from zero for the net\'s own steps, then, from where it stopped, the nudged phase pulls the output towards the target ',
        'with strength β and descends F = E + βC, C = ½‖s_L − y‖² (after the dashed line). ‖∂E/∂s‖ is the largest |Δs|/ε of a ',
        'step (the projected gradient at the state the step started from; log scale, a step that moves nothing is not drawn): ',
        'it falls towards 0 as the state settles. Recomputed at each redraw for the first example of the latest update, at the ',
        'current weights, from zero (ep trains each example from its persistent state instead) and with +β (ep draws its sign at random).',
      ]),
      this.body,
    ]);
    this.element.hidden = true;
  }

  reset(): void {
    for (const c of this.charts.values()) for (const chart of [c.energy, c.residual, c.hidden, c.output]) chart.clear();
    this.charts.clear();
    this.body.replaceChildren();
    this.builtFor = '';
    this.element.hidden = true;
  }

  draw(last: TickReport): void {
    const withTrace = last.rules.map((r, i) => ({ r, i })).filter(({ r }) => r.settling);
    const key = withTrace.map(({ r, i }) => `${i}:${r.rule}`).join(',');
    if (key !== this.builtFor) this.build(withTrace.map(({ r, i }) => ({ rule: r.rule, slot: i })), key);
    for (const { r, i } of withTrace) this.drawRule(this.charts.get(i)!, r.rule, RULE_COLORS[i], r.settling!);
    this.element.hidden = !withTrace.length;
  }

  private build(slots: { rule: string; slot: number }[], key: string): void {
    this.reset();
    this.body.replaceChildren(...slots.map(({ rule, slot }) => {
      const box = (what: string) => h('div', { class: 'chart', id: `chart-settling-${what}-${slot}` });
      const boxes = { energy: box('energy'), residual: box('residual'), hidden: box('hidden'), output: box('output') };
      const header = h('h4', { style: `color:${RULE_COLORS[slot]}` }), caption = h('p', { class: 'settling-numbers' });
      const block = h('div', { class: 'settling-rule', 'data-rule': rule }, [
        header, h('div', { class: 'charts small' }, [boxes.energy, boxes.residual, boxes.hidden, boxes.output]), caption,
      ]);
      const chart = (el: HTMLElement, title: string, yLabel: string, logY = false) => new LineChart(el, { title, xLabel: 'relaxation steps', yLabel, logY, height: 200 });
      this.charts.set(slot, {
        header, caption, block,
        energy: chart(boxes.energy, `${rule}: energy (E free, F = E + βC nudged)`, 'mean energy'),
        residual: chart(boxes.residual, `${rule}: ‖∂E/∂s‖∞ (projected)`, '|Δs|/ε', true),
        hidden: chart(boxes.hidden, `${rule}: hidden units' states`, 's'),
        output: chart(boxes.output, `${rule}: output units' states`, 's'),
      });
      return block;
    }));
    this.builtFor = key;
  }

  private drawRule(c: RuleCharts, rule: string, color: string, report: SettlingReport): void {
    const { free, second, units } = report.trace;
    const Tf = free.steps, Tn = second?.steps ?? 0, steps = Array.from({ length: Tf + Tn + 1 }, (_, t) => t);
    const nulls = (n: number) => Array<null>(n).fill(null);
    // Free values at steps 0 … Tf, the second phase's at Tf … Tf + Tn (its first value is at the free phase's last state).
    const freeSeries = (v: ArrayLike<number>, from = 0) => [...nulls(from), ...Array.from(v), ...nulls(Tf + Tn + 1 - from - v.length)];
    const secondSeries = (v: ArrayLike<number>, from: number) => [...nulls(from), ...Array.from(v)];
    const phases: LineStyle[] = [{ label: 'free', color }, { label: report.second, color, dash: [6, 4] }];
    c.header.textContent = `${rule}: ${report.label === null ? 'an example' : `an example of class ${report.label}`} of the latest update`;
    c.energy.draw(phases, steps, [freeSeries(free.energy), second ? secondSeries(second.energy, Tf) : nulls(steps.length)], Tf);
    c.residual.draw(phases, steps, [freeSeries(free.residual, 1), second ? secondSeries(second.residual, Tf + 1) : nulls(steps.length)], Tf);
    const L = Math.max(...units.map((u) => u.layer));
    for (const [chart, top] of [[c.hidden, false], [c.output, true]] as const) {
      const picked = units.map((u, i) => ({ u, i })).filter(({ u }) => (u.layer === L) === top);
      const lines = picked.map(({ u }, n) => ({ label: top ? `output ${u.unit}` : `layer ${u.layer}, unit ${u.unit}`, color: UNIT_COLORS[n % UNIT_COLORS.length] }));
      chart.draw(lines, steps, picked.map(({ i }) => [...Array.from(free.states[i]), ...Array.from(second?.states[i] ?? []).slice(1)]), Tf);
    }
    const lastOf = (v: ArrayLike<number>) => (v.length ? v[v.length - 1] : Number.NaN);
    const numbers: Record<string, number> = {
      freeEnergy: lastOf(free.energy), freeResidual: lastOf(free.residual),
      secondEnergy: second ? lastOf(second.energy) : Number.NaN, secondResidual: second ? lastOf(second.residual) : Number.NaN,
    };
    for (const [name, v] of Object.entries(numbers)) c.block.dataset[name] = String(v);
    c.caption.textContent = `free phase: E ${fmt(free.energy[0])} → ${fmt(numbers.freeEnergy)} in ${Tf} steps, last ‖∂E/∂s‖∞ ${fmt(numbers.freeResidual)}` +
      (second ? `; ${report.second}: F ${fmt(second.energy[0])} → ${fmt(numbers.secondEnergy)} in ${Tn} steps, last ‖∂F/∂s‖∞ ${fmt(numbers.secondResidual)}` : '');
  }
}

function fmt(v: number): string {
  return v === 0 ? '0' : Math.abs(v) >= 0.01 && Math.abs(v) < 1000 ? v.toPrecision(4) : v.toExponential(2);
}
