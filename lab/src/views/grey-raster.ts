import type { GreyRaster } from '../../../src/index.js';

/** The largest whole zoom at which a raster fits a box of `side` pixels; 1 for one larger than the box. */
export function fitZoom(raster: Pick<GreyRaster, 'width' | 'height'>, side: number): number {
  return Math.max(1, Math.floor(side / Math.max(raster.width, raster.height)));
}

/** The raster's RGBA pixels at `zoom`×, nearest neighbour: each grey level becomes a zoom×zoom block. */
export function greyRgba(raster: GreyRaster, zoom: number): Uint8ClampedArray<ArrayBuffer> {
  const width = raster.width * zoom, height = raster.height * zoom;
  const rgba = new Uint8ClampedArray(new ArrayBuffer(4 * width * height));
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / zoom) * raster.width;
    for (let x = 0; x < width; x++) {
      const v = raster.data[row + Math.floor(x / zoom)], at = 4 * (y * width + x);
      rgba[at] = rgba[at + 1] = rgba[at + 2] = v;
      rgba[at + 3] = 255;
    }
  }
  return rgba;
}

/** Draws the raster onto the canvas at `zoom`×, pixel for pixel (no smoothing: the canvas is sized to fit it). */
export function drawGreyRaster(canvas: HTMLCanvasElement, raster: GreyRaster, zoom: number): void {
  canvas.width = raster.width * zoom;
  canvas.height = raster.height * zoom;
  canvas.getContext('2d')?.putImageData(new ImageData(greyRgba(raster, zoom), canvas.width, canvas.height), 0, 0);
}
