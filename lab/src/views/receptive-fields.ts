import { diverging } from './colors.js';

/**
 * Draws the first layer's receptive fields as a grid of small images: each hidden unit's incoming weights
 * reshaped to side×side, blue for positive and red for negative, scaled per unit so that each one's
 * structure shows whatever its norm.
 */
export function drawReceptiveFields(canvas: HTMLCanvasElement, weights: Float32Array, side: number): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const units = Math.floor(weights.length / (side * side));
  const perRow = Math.ceil(Math.sqrt(units));
  const cell = side + 2;
  const image = ctx.createImageData(perRow * cell, perRow * cell);
  image.data.fill(255);
  for (let u = 0; u < units; u++) {
    const w = weights.subarray(u * side * side, (u + 1) * side * side);
    let scale = 0;
    for (const v of w) scale = Math.max(scale, Math.abs(v));
    const ox = (u % perRow) * cell + 1, oy = Math.floor(u / perRow) * cell + 1;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const t = scale > 0 ? w[r * side + c] / scale : 0; // in [-1, 1]
        image.data.set(diverging(t), 4 * ((oy + r) * perRow * cell + ox + c));
      }
    }
  }
  const tile = document.createElement('canvas');
  tile.width = tile.height = perRow * cell;
  tile.getContext('2d')?.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tile, 0, 0, canvas.width, canvas.height);
}
