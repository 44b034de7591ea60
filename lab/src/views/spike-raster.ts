import type { SpikeRasterLayer } from '../../../src/index.js';

/** Pixels: the row of one unit, the unit-number column on the left, the count column on the right. */
const ROW = 10;
const LEFT = 34;
const RIGHT = 34;
/** Pixels on the time axis that T steps are spread over, by a whole number of pixels a step (2 to 16). */
const TIME_BOX = 480;

/** The width of one time step in pixels for a raster of T steps. */
export function stepWidth(steps: number): number {
  return Math.max(2, Math.min(16, Math.floor(TIME_BOX / Math.max(1, steps))));
}

/**
 * Draws one layer's rows of a spike raster: time on x (step 0 on the left), one row per shown unit (its index on the
 * left, its spike count on the right), a filled tick in `color` where the unit spiked. Faint lines mark every tenth step.
 */
export function drawSpikeRaster(canvas: HTMLCanvasElement, layer: SpikeRasterLayer, steps: number, color: string): void {
  const w = stepWidth(steps), rows = layer.units.length;
  canvas.width = LEFT + steps * w + RIGHT;
  canvas.height = Math.max(1, rows) * ROW;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = '#eee';
  for (let t = 10; t < steps; t += 10) ctx.fillRect(LEFT + t * w, 0, 1, canvas.height);
  ctx.font = '9px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  for (let i = 0; i < rows; i++) {
    const y = i * ROW;
    if (i % 2) {
      ctx.fillStyle = 'rgba(0, 0, 0, 0.03)';
      ctx.fillRect(LEFT, y, steps * w, ROW);
    }
    ctx.fillStyle = color;
    for (let t = 0; t < steps; t++) if (layer.spikes[i * steps + t]) ctx.fillRect(LEFT + t * w, y + 1, Math.max(1, w - 1), ROW - 2);
    ctx.fillStyle = '#555';
    ctx.textAlign = 'right';
    ctx.fillText(String(layer.units[i]), LEFT - 4, y + ROW / 2);
    ctx.textAlign = 'left';
    ctx.fillText(String(layer.counts[i]), LEFT + steps * w + 4, y + ROW / 2);
  }
}
