import { h } from '../dom.js';
import type { History } from '../history.js';
import { SURFACE_GRID, type PicturesReport, type TaskInfo, type TickReport } from '../protocol.js';
import { RULE_COLORS } from '../views/colors.js';
import { drawDecisionSurface } from '../views/decision-surface.js';
import { LineChart, type LineStyle } from '../views/line-chart.js';
import { drawReceptiveFields } from '../views/receptive-fields.js';
import { MetricsSection } from './metrics-section.js';
import { PicturesSection } from './pictures-section.js';
import { SettlingSection } from './settling-section.js';
import { SpikesSection } from './spikes-section.js';
import { TargetsSection } from './targets-section.js';

/**
 * The Inside panel: per layer, the angle between each rule's update and the true gradient; ∠(B, Wᵀ) for
 * rules with feedback weights; for target-propagation rules their targets and inverses (TargetsSection); for
 * settling rules their relaxation (SettlingSection); for spiking nets a spike raster of one example (SpikesSection); the
 * rules' named diagnostics over time (MetricsSection); for rules that draw pictures, their pictures (PicturesSection); the
 * decision surface (2-D tasks) or first-layer receptive fields (images). Rule by colour, as in the Compare panel.
 */
export class InsideView {
  private readonly charts: HTMLElement;
  private readonly pictures: HTMLElement;
  private updateCharts: LineChart[] = [];
  private feedbackCharts: { chart: LineChart; box: HTMLElement }[] = [];
  private canvases: HTMLCanvasElement[] = [];
  private captions: HTMLElement[] = [];
  private readonly targets = new TargetsSection();
  private readonly settling = new SettlingSection();
  private readonly spikes = new SpikesSection();
  private readonly metrics = new MetricsSection();
  private readonly rulePictures: PicturesSection;
  private task: TaskInfo | null = null;

  /** `requestPictures` asks the worker to draw the rules' pictures now. */
  constructor(container: HTMLElement, requestPictures: () => void = () => {}) {
    this.rulePictures = new PicturesSection(requestPictures);
    this.charts = h('div', { class: 'charts small' });
    this.pictures = h('div', { class: 'pictures', id: 'pictures' });
    container.replaceChildren(
      h('p', { class: 'hint' }, ['Every 5 updates each rule\'s update is compared with backprop\'s gradient at the same weights and batch; ',
        'the charts show the latest measurement at each redraw. 0° = backprop; below 90° the update still goes downhill. ',
        '∠(B, Wᵀ) compares a layer\'s feedback weights with the transpose of its forward weights.']),
      this.charts,
      this.targets.element,
      this.settling.element,
      this.spikes.element,
      this.metrics.element,
      this.rulePictures.element,
      this.pictures,
    );
  }

  /** New charts and pictures for a task: one angle chart per layer, one ∠(B, Wᵀ) chart per layer (shown once
   * some rule reports feedback weights there), and a canvas per rule. */
  reset(task: TaskInfo | null, rules: readonly string[]): void {
    this.task = task;
    for (const c of this.updateCharts) c.clear();
    for (const f of this.feedbackCharts) f.chart.clear();
    this.updateCharts = [];
    this.feedbackCharts = [];
    this.canvases = [];
    this.captions = [];
    this.targets.reset(task);
    this.settling.reset();
    this.spikes.reset();
    this.metrics.reset();
    this.rulePictures.reset();
    this.charts.replaceChildren();
    this.pictures.replaceChildren();
    if (!task) return;
    const layers = task.sizes.length - 1;
    for (let l = 1; l <= layers; l++) {
      const box = h('div', { class: 'chart', id: `chart-angle-${l}` });
      this.charts.append(box);
      this.updateCharts.push(new LineChart(box, { title: `Layer ${l}: ∠(update, true gradient)`, xLabel: 'updates', yLabel: 'degrees', height: 200 }));
    }
    for (let l = 1; l <= layers; l++) {
      const box = h('div', { class: 'chart', id: `chart-feedback-${l}` });
      box.hidden = true;
      this.charts.append(box);
      this.feedbackCharts.push({ box, chart: new LineChart(box, { title: `Layer ${l}: ∠(B, Wᵀ)`, xLabel: 'updates', yLabel: 'degrees', height: 200 }) });
    }
    const kind = task.points && task.classification ? 'surface' : task.fieldSide ? 'fields' : null;
    if (!kind) return;
    const fields = task.fieldsAreKernels ? `First layer kernels, ${task.fieldSide}×${task.fieldSide} (blue +, red −)` : 'First layer receptive fields (blue +, red −)';
    this.pictures.append(h('h3', {}, [kind === 'surface' ? 'Decision surface (p(class 1), training points on top)' : fields]));
    const row = h('div', { class: 'picture-row' });
    rules.forEach((rule, i) => {
      const canvas = h('canvas', { width: '240', height: '240', 'data-rule': rule, style: `border:3px solid ${RULE_COLORS[i]}` });
      const caption = h('figcaption', {}, [rule]);
      this.canvases.push(canvas);
      this.captions.push(caption);
      row.append(h('figure', {}, [canvas, caption]));
    });
    this.pictures.append(row);
  }

  /** The rules' pictures, as the worker drew them (every few seconds, not every tick). */
  drawPictures(report: PicturesReport): void {
    this.rulePictures.draw(report);
  }

  draw(history: History, last: TickReport): void {
    if (history.angleSteps.length) {
      this.updateCharts.forEach((chart, l) => {
        const lines: LineStyle[] = history.rules.map((c, i) => ({ label: c.rule, color: RULE_COLORS[i] }));
        chart.draw(lines, history.angleSteps, history.rules.map((c) => c.updateAngle[l]));
      });
      this.feedbackCharts.forEach(({ chart, box }, l) => {
        const withFeedback = history.rules.map((c, i) => ({ c, i })).filter(({ c }) => c.feedbackAngle[l].some((v) => v !== null));
        box.hidden = !withFeedback.length;
        if (withFeedback.length) {
          chart.draw(withFeedback.map(({ c, i }) => ({ label: c.rule, color: RULE_COLORS[i] })), history.angleSteps, withFeedback.map(({ c }) => c.feedbackAngle[l]));
        }
      });
    }
    this.targets.draw(history, last);
    this.settling.draw(last);
    this.spikes.draw(last);
    this.metrics.draw(history);
    const task = this.task;
    if (!task) return;
    last.rules.forEach((r, i) => {
      const canvas = this.canvases[i];
      if (!canvas) return;
      if (r.refused) this.captions[i].textContent = `${r.rule}: ${r.refused}`;
      if (r.surface && task.points) drawDecisionSurface(canvas, r.surface, SURFACE_GRID, task.points);
      if (r.fields && task.fieldSide) drawReceptiveFields(canvas, r.fields, task.fieldSide);
    });
  }
}
