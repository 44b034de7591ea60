import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/*
 * Line and scatter charts with arbitrary x and y, for experiments whose axes are not epochs (steps to a
 * target against network size, angle against samples, a price against updates). Same machinery as
 * plot.ts: Vega-Lite compiled to Vega, rendered to SVG by a headless view (no browser, no canvas).
 */

/** One point of a series. `style` (optional) splits a series into dash styles, e.g. measured vs theory. */
export interface ChartPoint {
  x: number;
  y: number;
  series: string;
  style?: string;
}

export interface ChartAxis {
  title: string;
  /** Logarithmic axis. Default false. */
  log?: boolean;
  /** Fixed [min, max]; default: fitted to the data. */
  domain?: readonly [number, number];
}

/** One panel of a figure. */
export interface ChartPanel {
  title?: string;
  points: readonly ChartPoint[];
  x: ChartAxis;
  y: ChartAxis;
  /** 'line' joins each series' points in x order (with dots when there are few); 'point' draws dots
   * only. Default 'line'. */
  mark?: 'line' | 'point';
  /** Legend title of the series colour. Default 'series'. */
  seriesTitle?: string;
  /** A horizontal rule at this y (a target, a threshold). */
  rule?: number;
}

/** An SVG figure: panels laid out in rows (`rows[r]` is the r-th row, left to right). */
export async function chartFigure(rows: readonly (readonly ChartPanel[])[], title = ''): Promise<string> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    vconcat: rows.map((row) => ({ hconcat: row.map(panelSpec) })),
    resolve: { scale: { color: 'independent', strokeDash: 'independent' } },
    config: { font: 'sans-serif' },
  } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

function panelSpec(p: ChartPanel): object {
  const axis = (a: ChartAxis, field: string) => ({
    field, type: 'quantitative', title: a.title,
    scale: { ...(a.log ? { type: 'log', nice: false, padding: 10 } : { zero: false }), ...(a.domain ? { domain: a.domain } : {}) },
  });
  const values = p.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y) && (!p.y.log || q.y > 0) && (!p.x.log || q.x > 0));
  const series = [...new Set(values.map((q) => q.series))];
  const styled = values.some((q) => q.style !== undefined);
  const mark = p.mark === 'point'
    ? { type: 'point', filled: true, clip: true }
    : { type: 'line', point: values.length <= 120, strokeWidth: 1.5, clip: true };
  const layer: object[] = [{
    mark,
    encoding: {
      x: axis(p.x, 'x'),
      y: axis(p.y, 'y'),
      color: { field: 'series', type: 'nominal', title: p.seriesTitle ?? 'series', sort: series },
      ...(styled ? { strokeDash: { field: 'style', type: 'nominal', title: 'style' }, detail: { field: 'style' } } : {}),
    },
  }];
  if (p.rule !== undefined) {
    layer.push({ data: { values: [{ y: p.rule }] }, mark: { type: 'rule', color: 'gray', strokeDash: [4, 4] }, encoding: { y: { field: 'y', type: 'quantitative' } } });
  }
  return { width: 320, height: 220, title: p.title ?? '', data: { values }, layer };
}
