import { h } from '../dom.js';
import type { PicturesReport, RulePictures } from '../protocol.js';
import { RULE_COLORS } from '../views/colors.js';
import { drawGreyRaster, fitZoom } from '../views/grey-raster.js';

/** Pixels on the longer side that a picture is upscaled towards (by a whole factor, nearest neighbour). */
const PICTURE_BOX = 280;

/**
 * The Inside panel's part for rules that draw pictures (LearningRule.pictures: learned features, reconstructions,
 * samples): each rule's grids at its current weights, drawn by the worker as grey rasters and upscaled here pixel
 * for pixel. The worker redraws them every few seconds while training and after a step; the button asks now.
 * Hidden while no rule of the race draws pictures.
 */
export class PicturesSection {
  readonly element: HTMLElement;
  private readonly body = h('div', { id: 'rule-pictures-body' });
  private readonly when = h('span', { class: 'hint', id: 'rule-pictures-when' });

  constructor(requestPictures: () => void) {
    const redraw = h('button', { type: 'button', id: 'rule-pictures-redraw' }, ['Redraw now']);
    redraw.addEventListener('click', requestPictures);
    this.element = h('div', { class: 'rule-pictures', id: 'rule-pictures' }, [
      h('h3', {}, ['Pictures: what the rules have learned']),
      h('p', { class: 'hint' }, [
        'Image grids a rule draws of its model at the current weights: its features, reconstructions or samples, as the ',
        'rule defines them. Grey levels: values in [0, 1] from black to white, or, for weights, each tile scaled by its ',
        'own largest |value| with 0 mid grey; NaN is white. Redrawn every 3 s while training, after each step, and on request.',
      ]),
      h('p', { class: 'buttons' }, [redraw, this.when]),
      this.body,
    ]);
    this.element.hidden = true;
  }

  reset(): void {
    this.body.replaceChildren();
    this.when.textContent = '';
    this.element.hidden = true;
    delete this.element.dataset.step;
    delete this.element.dataset.draws;
  }

  draw(report: PicturesReport): void {
    const drawn = report.rules.flatMap((r, slot) => (r ? [{ r, slot }] : []));
    this.element.hidden = !drawn.length;
    this.when.textContent = `drawn after update ${report.step}`;
    this.element.dataset.step = String(report.step);
    this.element.dataset.draws = String(Number(this.element.dataset.draws ?? 0) + 1);
    this.body.replaceChildren(...drawn.map(({ r, slot }) => ruleBlock(r, slot)));
  }
}

function ruleBlock(r: RulePictures, slot: number): HTMLElement {
  const figures = r.images.map((image) => {
    const zoom = fitZoom(image, PICTURE_BOX);
    const canvas = h('canvas', { 'data-picture': image.name, 'data-zoom': String(zoom), 'data-width': String(image.width), 'data-height': String(image.height) });
    drawGreyRaster(canvas, image, zoom);
    return h('figure', {}, [canvas, h('figcaption', {}, [image.title])]);
  });
  const error = r.error ? [h('p', { class: 'refusal' }, [`${r.rule} could not draw its pictures: ${r.error}`])] : [];
  return h('div', { class: 'rule-pictures-rule', 'data-rule': r.rule, 'data-slot': String(slot) }, [
    h('h4', { style: `color:${RULE_COLORS[slot]}` }, [r.rule]), ...error, h('div', { class: 'picture-row' }, figures),
  ]);
}
