import { batchTrajectory, errorAt, errorSurface, onlineTrajectory, pathLength, surfaceMinimum, type Meals, type Weights } from './delta-rule-math.js';

export interface CafeteriaDrawing {
  batch: Weights[];
  online: Weights[];
  /** The least-squares prices, or null when chips and ketchup always come together. */
  minimum: Weights | null;
}

const BATCH_COLOR = '#0072b2';
const ONLINE_COLOR = '#d55e00';

/**
 * Draws the error surface E(w_chips, w_ketchup) as contour bands with the batch and online delta-rule
 * trajectories from the same start, and returns what it drew (for the caption).
 */
export function drawCafeteria(canvas: HTMLCanvasElement, meals: Meals, truth: Weights, eps: number, passes: number): CafeteriaDrawing {
  const start: Weights = [0, 0];
  const surface = errorSurface(meals);
  const batch = batchTrajectory(meals, eps, passes, start);
  const online = onlineTrajectory(meals, eps, passes, start);
  const minimum = surfaceMinimum(surface);
  const ctx = canvas.getContext('2d');
  if (!ctx) return { batch, online, minimum };
  // The square shows the start, the truth and the paths, but not a diverging path's far end.
  const span = Math.max(60, 1.4 * Math.max(Math.abs(truth[0]), Math.abs(truth[1])));
  const lo = -0.25 * span, hi = 1.25 * span;
  const { width, height } = canvas;
  const toPx = ([a, b]: Weights): [number, number] => [((a - lo) / (hi - lo)) * width, (1 - (b - lo) / (hi - lo)) * height];
  const image = ctx.createImageData(width, height);
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const w: Weights = [lo + ((px + 0.5) / width) * (hi - lo), lo + (1 - (py + 0.5) / height) * (hi - lo)];
      const level = Math.log1p(errorAt(surface, w)); // log: the bowl spans decades
      const shade = 0.35 + 0.6 * Math.min(1, level / 14);
      const band = Math.floor(level * 2.5) % 2 === 0 ? 1 : 0.93; // alternate bands read as contour lines
      const i = 4 * (py * width + px);
      image.data[i] = 255 * band * (1 - 0.2 * shade);
      image.data[i + 1] = 255 * band * (1 - 0.45 * shade);
      image.data[i + 2] = 255 * band * (1 - 0.75 * shade);
      image.data[i + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  const path = (points: readonly Weights[], color: string, lineWidth: number) => {
    ctx.beginPath();
    points.forEach((p, k) => (k ? ctx.lineTo(...toPx(p)) : ctx.moveTo(...toPx(p))));
    ctx.strokeStyle = color;
    ctx.lineWidth = lineWidth;
    ctx.stroke();
  };
  path(online, ONLINE_COLOR, 1);
  path(batch, BATCH_COLOR, 2.5);
  for (const p of batch) dot(ctx, toPx(p), 2.5, BATCH_COLOR);
  dot(ctx, toPx(start), 5, '#333');
  dot(ctx, toPx(truth), 6, '#009e73');
  ctx.fillStyle = '#222';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText('w_chips →', width - 70, height - 6);
  ctx.save();
  ctx.translate(14, 90);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('w_ketchup →', 0, 0);
  ctx.restore();
  canvas.dataset.online = pathLength(online).toFixed(1);
  canvas.dataset.batch = pathLength(batch).toFixed(1);
  return { batch, online, minimum };
}

function dot(ctx: CanvasRenderingContext2D, [x, y]: [number, number], r: number, color: string): void {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, 2 * Math.PI);
  ctx.fillStyle = color;
  ctx.fill();
}

export const CAFETERIA_COLORS = { batch: BATCH_COLOR, online: ONLINE_COLOR, truth: '#009e73' } as const;
