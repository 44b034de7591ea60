import { RULE_COLORS } from './colors.js';

/** The two classes' colours on the surface: p(class 1) = 0 → CLASS0, 1 → CLASS1. */
const CLASS0 = [240, 160, 60] as const;
const CLASS1 = [70, 130, 200] as const;

/**
 * Draws a network's decision surface on a canvas: p(class 1) on an n×n grid (rows from the top), with the
 * training points on top. Plain arrays in; the canvas is the only state.
 */
export function drawDecisionSurface(
  canvas: HTMLCanvasElement, p: Float32Array, n: number,
  points: { xy: Float32Array; labels: Int32Array; extent: [number, number, number, number] },
): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const cells = document.createElement('canvas');
  cells.width = cells.height = n;
  const cctx = cells.getContext('2d');
  if (!cctx) return;
  const image = cctx.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const t = p[i];
    for (let k = 0; k < 3; k++) image.data[4 * i + k] = Math.round(CLASS0[k] + t * (CLASS1[k] - CLASS0[k]));
    image.data[4 * i + 3] = 255;
  }
  cctx.putImageData(image, 0, 0);
  const { width, height } = canvas;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(cells, 0, 0, width, height);
  const [x0, x1, y0, y1] = points.extent;
  for (let i = 0; i < points.labels.length; i++) {
    const px = ((points.xy[2 * i] - x0) / (x1 - x0)) * width;
    const py = (1 - (points.xy[2 * i + 1] - y0) / (y1 - y0)) * height;
    ctx.beginPath();
    ctx.arc(px, py, points.labels.length > 50 ? 2.5 : 6, 0, 2 * Math.PI);
    ctx.fillStyle = points.labels[i] === 1 ? `rgb(${CLASS1.map((c) => c * 0.6).join(',')})` : `rgb(${CLASS0.map((c) => c * 0.7).join(',')})`;
    ctx.fill();
    ctx.strokeStyle = 'white';
    ctx.stroke();
  }
}

/** A frame in the rule's colour, so the surfaces can be told apart at a glance. */
export function frameColor(slot: number): string {
  return RULE_COLORS[slot % RULE_COLORS.length];
}
