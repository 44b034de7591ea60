import { spikeRaster, spikingSpec, type Backend, type Dataset, type Network } from '../../../src/index.js';
import type { SpikeRasterReport } from '../protocol.js';

/** Units shown per layer of the raster (hidden: the first ones; input: the example's most active). */
export const RASTER_UNITS = 16;

/** For a spiking net, the spikes of a few units of each layer on the batch's first example at the current parameters
 * (spikeRaster: from the spec's evaluation stream, so training's streams do not move); null for other nets. */
export function spikeRasterReport(net: Network, be: Backend, batch: Dataset): SpikeRasterReport | null {
  if (!spikingSpec(net.spec) || batch.x.rows === 0) return null;
  const raster = spikeRaster(be, net, batch.x, { units: RASTER_UNITS, inputs: RASTER_UNITS });
  return { raster, label: batch.labels ? batch.labels[0] : null };
}
