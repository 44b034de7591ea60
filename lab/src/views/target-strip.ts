import { diverging } from './colors.js';

/** What a strip shows, for its caption. */
export interface TargetStripScales {
  /** Units drawn (the first ones, when the layer is wider than maxUnits). */
  units: number;
  /** The largest |h| or |ĥ|: the scale of the top two rows. */
  activity: number;
  /** ‖ĥ − h‖ over the layer, and the largest |ĥ − h|: the scale of the bottom row. */
  shiftNorm: number;
  shiftMax: number;
}

/** Pixels per row of cells; rows are 2 pixels apart. */
export const STRIP_ROW = 14;

/**
 * Draws one layer's activity h beside its target ĥ for one example: three rows of cells, one column per unit
 * (at most maxUnits), blue for positive and red for negative. h and ĥ share one scale; the displacement ĥ − h,
 * often far smaller, has its own. Plain arrays in; the canvas is the only state.
 */
export function drawTargetStrip(canvas: HTMLCanvasElement, activity: Float32Array, target: Float32Array, maxUnits: number): TargetStripScales {
  const units = Math.min(activity.length, maxUnits);
  let scale = 0, shiftMax = 0, shiftSq = 0;
  for (let i = 0; i < activity.length; i++) {
    const d = target[i] - activity[i];
    shiftSq += d * d;
    if (i >= units) continue;
    scale = Math.max(scale, Math.abs(activity[i]), Math.abs(target[i]));
    shiftMax = Math.max(shiftMax, Math.abs(d));
  }
  const cell = Math.max(3, Math.min(24, Math.floor(480 / Math.max(1, units))));
  canvas.width = units * cell;
  canvas.height = 3 * STRIP_ROW + 4;
  const ctx = canvas.getContext('2d');
  if (ctx) {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const rows: [Float32Array | null, number][] = [[activity, scale], [target, scale], [null, shiftMax]];
    rows.forEach(([values, s], r) => {
      for (let i = 0; i < units; i++) {
        const v = values ? values[i] : target[i] - activity[i];
        const [red, green, blue] = diverging(s > 0 ? v / s : 0);
        ctx.fillStyle = `rgb(${red},${green},${blue})`;
        ctx.fillRect(i * cell, r * (STRIP_ROW + 2), cell - (cell > 4 ? 1 : 0), STRIP_ROW);
      }
    });
  }
  return { units, activity: scale, shiftNorm: Math.sqrt(shiftSq), shiftMax };
}
