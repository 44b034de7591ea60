import type { Picture } from '../rules/rule.js';

/** An 8-bit grey image, row-major, one byte a pixel: 0 black … 255 white. */
export interface GreyRaster {
  width: number;
  height: number;
  /** [height, width] */
  data: Uint8Array;
}

export interface RasterOptions {
  /** Pixels of background between neighbouring tiles (none around the grid's edge). Default 1. */
  padding?: number;
  /** Each of a tile's values becomes a zoom×zoom block (nearest neighbour); padding is not zoomed. Default 1. */
  zoom?: number;
}

/** The grid's background: the lines between tiles and the empty cells of a last, short row. Dark grey, so that
 * it is neither a unit picture's 0 (black) nor a symmetric picture's 0 (mid grey). */
export const PADDING_GREY = 64;

/** A value that is NaN. NOTE: a grey image has no level of its own to spare; white stands out on both scales'
 * usual backgrounds (black for 'unit', mid grey for 'symmetric'), and a diverged model gives whole white tiles. */
export const NAN_GREY = 255;

/**
 * Tiles a Picture's images into one grey raster: image k (row k of picture.images, height×width values, row-major)
 * goes to grid row ⌊k / columns⌋, column k mod columns, with `columns` = picture.columns (at most the image count)
 * or ⌈√count⌉. Tile k's top-left pixel is at (column·(width·zoom + padding), row·(height·zoom + padding)).
 *
 * Grey levels: 'unit' draws round(255·clip(v, 0, 1)); 'symmetric' draws round(127.5 + 127.5·v/m) with m the
 * tile's own largest |v| (0 is grey 128, −m black, +m white; a tile of zeros is all 128; with an infinite m, ±∞
 * are black and white and finite values grey 128). NaN is NAN_GREY on both scales and is left out of m.
 * Pure and exact: the same picture gives the same bytes everywhere.
 */
export function pictureRaster(picture: Picture, options: RasterOptions = {}): GreyRaster {
  const { images, height, width } = picture;
  const padding = options.padding ?? 1, zoom = options.zoom ?? 1;
  const what = `picture '${picture.name}'`;
  if (!(isWhole(height) && height >= 1 && isWhole(width) && width >= 1)) throw new Error(`${what}: its images need a whole height and width ≥ 1, got ${height}×${width}`);
  if (images.cols !== height * width) throw new Error(`${what}: its images have ${images.cols} values each, not ${height}×${width}`);
  const count = images.rows;
  if (count < 1) throw new Error(`${what} has no images`);
  if (!(isWhole(padding) && padding >= 0)) throw new Error(`${what}: padding must be a whole number ≥ 0, got ${padding}`);
  if (!(isWhole(zoom) && zoom >= 1)) throw new Error(`${what}: zoom must be a whole number ≥ 1, got ${zoom}`);
  const asked = picture.columns ?? Math.ceil(Math.sqrt(count));
  if (!(isWhole(asked) && asked >= 1)) throw new Error(`${what}: columns must be a whole number ≥ 1, got ${asked}`);
  const columns = Math.min(asked, count), rows = Math.ceil(count / columns);
  const tileW = width * zoom, tileH = height * zoom;
  const rasterWidth = columns * tileW + (columns - 1) * padding, rasterHeight = rows * tileH + (rows - 1) * padding;
  const raster: GreyRaster = { width: rasterWidth, height: rasterHeight, data: new Uint8Array(rasterWidth * rasterHeight).fill(PADDING_GREY) };
  const grey = new Uint8Array(height * width);
  for (let k = 0; k < count; k++) {
    greyLevels(images.data.subarray(k * images.cols, (k + 1) * images.cols), picture.scale, grey);
    const x0 = (k % columns) * (tileW + padding), y0 = Math.floor(k / columns) * (tileH + padding);
    for (let y = 0; y < tileH; y++) {
      const source = Math.floor(y / zoom) * width, at = (y0 + y) * raster.width + x0;
      for (let x = 0; x < tileW; x++) raster.data[at + x] = grey[source + Math.floor(x / zoom)];
    }
  }
  return raster;
}

/** One tile's grey levels (see pictureRaster), written into `out`. */
export function greyLevels(values: ArrayLike<number>, scale: Picture['scale'], out: Uint8Array): Uint8Array {
  if (scale === 'unit') {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      out[i] = Number.isNaN(v) ? NAN_GREY : Math.round(255 * Math.min(1, Math.max(0, v)));
    }
    return out;
  }
  let m = 0;
  for (let i = 0; i < values.length; i++) if (Math.abs(values[i]) > m) m = Math.abs(values[i]); // NaN > m is false
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // NOTE: t = v/m, except that ∞/∞ would be NaN: an infinite m leaves only ±∞ at ±1.
    const t = m === 0 ? 0 : m === Infinity ? (Number.isFinite(v) ? 0 : Math.sign(v)) : v / m;
    out[i] = Number.isNaN(v) ? NAN_GREY : Math.round(127.5 + 127.5 * t);
  }
  return out;
}

function isWhole(n: number): boolean {
  return Number.isInteger(n);
}
