import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line of a chart: its legend label and how it is drawn. */
export interface LineStyle {
  label: string;
  color: string;
  /** Dash pattern in pixels; none for a solid line. */
  dash?: number[];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Logarithmic y axis (losses span decades). */
  logY?: boolean;
  /** Pixels. Default 240. */
  height?: number;
}

/**
 * A live line chart over uPlot (canvas, a few kB, redraws thousands of points per frame). Takes plain
 * arrays; knows nothing about rules or training. The container's data-points attribute says how many
 * points are drawn, for tests and for screen readers that cannot see a canvas.
 */
export class LineChart {
  private plot: uPlot | null = null;
  private lines: readonly LineStyle[] = [];
  private markX: number | null = null;

  constructor(private readonly container: HTMLElement, private readonly options: LineChartOptions) {}

  /** Redraws with new lines and data; ys[i] belongs to lines[i] and is aligned with x. markX: a dashed vertical
   * line at that x (e.g. where a second phase begins). */
  draw(lines: readonly LineStyle[], x: readonly number[], ys: readonly (readonly (number | null)[])[], markX: number | null = null): void {
    this.markX = markX;
    if (!this.plot || !sameLines(lines, this.lines)) this.rebuild(lines);
    // A chart made while its panel was hidden had no width to measure; fit it once it is shown.
    const width = this.container.clientWidth;
    if (this.plot && width > 0 && Math.abs(width - this.plot.width) > 4) this.plot.setSize({ width, height: this.plot.height });
    const data = [x.slice(), ...ys.map((y) => y.map((v) => (v === null || (this.options.logY && !(v > 0)) ? null : v)))] as uPlot.AlignedData;
    this.plot?.setData(data);
    const points = ys.reduce((sum, y) => sum + y.filter((v) => v !== null).length, 0);
    this.container.dataset.points = String(points);
  }

  clear(): void {
    this.plot?.destroy();
    this.plot = null;
    this.lines = [];
    this.container.dataset.points = '0';
  }

  private rebuild(lines: readonly LineStyle[]): void {
    this.plot?.destroy();
    this.lines = lines.map((l) => ({ ...l }));
    const { title, xLabel, yLabel, logY, height = 240 } = this.options;
    const width = Math.max(280, this.container.clientWidth || 400);
    this.plot = new uPlot({
      title, width, height,
      scales: { x: { time: false }, y: logY ? { distr: 3 } : {} },
      axes: [{ label: xLabel }, { label: yLabel, size: 60, ...(logY && { values: (_: uPlot, ticks: number[]) => ticks.map(logTick) }) }],
      series: [{ label: xLabel }, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, dash: l.dash, spanGaps: false }))],
      legend: { live: false },
      hooks: { draw: [(u) => this.drawMark(u)] },
    }, [[], ...lines.map(() => [])] as uPlot.AlignedData, this.container);
  }

  private drawMark(u: uPlot): void {
    if (this.markX === null) return;
    const x = u.valToPos(this.markX, 'x', true), { ctx, bbox } = u;
    ctx.save();
    ctx.strokeStyle = '#888';
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(x, bbox.top);
    ctx.lineTo(x, bbox.top + bbox.height);
    ctx.stroke();
    ctx.restore();
  }
}

/** A log axis' tick: uPlot's own rounds values below 0.001 to '0'. */
function logTick(v: number | null): string {
  return v === null ? '' : v >= 0.001 && v < 10000 ? String(Number(v.toPrecision(3))) : v.toExponential(0);
}

function sameLines(a: readonly LineStyle[], b: readonly LineStyle[]): boolean {
  return a.length === b.length && a.every((l, i) => l.label === b[i].label && l.color === b[i].color);
}
