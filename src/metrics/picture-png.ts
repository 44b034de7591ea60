import { encode } from 'fast-png';
import type { GreyRaster } from './image-grid.js';

/** A grey raster (pictureRaster) as the bytes of a PNG file: 8-bit greyscale, one channel, no alpha. */
export function encodePicturePng(raster: GreyRaster): Uint8Array {
  if (raster.data.length !== raster.width * raster.height) {
    throw new Error(`a ${raster.width}×${raster.height} raster needs ${raster.width * raster.height} bytes, got ${raster.data.length}`);
  }
  return encode({ width: raster.width, height: raster.height, data: raster.data, depth: 8, channels: 1 });
}
