import type { SpikeRasterLayer } from '../../../src/index.js';
import { h } from '../dom.js';
import type { SpikeRasterReport, TickReport } from '../protocol.js';
import { RULE_COLORS } from '../views/colors.js';
import { drawSpikeRaster } from '../views/spike-raster.js';

/**
 * The Inside panel's part for spiking nets: for one example of the latest update, at the current weights, the spikes
 * of a few input units (when the input spikes) and of the first units of every hidden layer over the T steps, one
 * raster per layer (time on x, unit on y) with each unit's spike count beside its row. Hidden while no rule trains a
 * spiking net.
 */
export class SpikesSection {
  readonly element: HTMLElement;
  private readonly body = h('div', { id: 'spikes' });

  constructor() {
    this.element = h('div', { class: 'spikes', id: 'spikes-section' }, [
      h('h3', {}, ['Spikes: a raster of a few units']),
      h('p', { class: 'hint' }, [
        'Each hidden neuron of a spiking net runs for T steps per input and sends spikes; the layer above sums them as its ',
        'input current, and the output reads the last hidden layer\'s counts out as rates (count / T). Below, for the first ',
        'example of the latest update at the current weights: the example\'s most active inputs (when inputs are sent as ',
        'spikes: a pixel x fires with probability x at every step) and the first units of each hidden layer, one row a unit ',
        '(its number on the left, its spike count on the right), time from left to right. The spikes are drawn from the ',
        'net\'s evaluation stream, as its predictions are, so they change only when the weights do.',
      ]),
      this.body,
    ]);
    this.element.hidden = true;
  }

  reset(): void {
    this.body.replaceChildren();
    this.element.hidden = true;
  }

  draw(last: TickReport): void {
    const withSpikes = last.rules.flatMap((r, slot) => (r.spikes ? [{ rule: r.rule, slot, report: r.spikes }] : []));
    this.element.hidden = !withSpikes.length;
    this.body.replaceChildren(...withSpikes.map(({ rule, slot, report }) => ruleBlock(rule, slot, report)));
  }
}

function ruleBlock(rule: string, slot: number, report: SpikeRasterReport): HTMLElement {
  const { raster } = report, color = RULE_COLORS[slot];
  const figures = raster.layers.map((layer) => {
    const canvas = h('canvas', {
      'data-rule': rule, 'data-layer': String(layer.layer), 'data-units': String(layer.units.length), 'data-steps': String(raster.steps),
      'data-counts': Array.from(layer.counts).join(','), 'data-spikes': String(sum(layer.counts)),
    });
    drawSpikeRaster(canvas, layer, raster.steps, color);
    return h('figure', { class: 'raster' }, [canvas, h('figcaption', {}, [caption(layer, raster.steps)])]);
  });
  const example = report.label === null ? 'an example' : `an example of class ${report.label}`;
  return h('div', { class: 'spike-rule', 'data-rule': rule, 'data-steps': String(raster.steps) }, [
    h('h4', { style: `color:${color}` }, [`${rule}: ${example} of the latest update, ${raster.neuron === 'lif' ? 'LIF' : 'Bernoulli'} neurons over ${raster.steps} steps`]),
    h('div', { class: 'picture-row' }, figures),
  ]);
}

function caption(layer: SpikeRasterLayer, steps: number): string {
  const n = layer.units.length, spikes = sum(layer.counts);
  const which = layer.layer < 0
    ? `Input: the ${n} most active of ${layer.width} units`
    : `Hidden layer ${layer.layer + 1}: ${n < layer.width ? `units 0–${n - 1} of ${layer.width}` : `all ${n} units`}`;
  const rate = n ? spikes / n : 0;
  return `${which}; ${spikes} spikes, ${rate.toFixed(1)} a unit in ${steps} steps (rate ${(rate / steps).toFixed(2)} a step)`;
}

function sum(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}
