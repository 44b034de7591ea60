import { pictureRaster, type Trainer } from '../../../src/index.js';
import type { RulePictures } from '../protocol.js';

/** Training inputs a rule's pictures may use (reconstructions, samples started from data): the task's first ones. */
export const PICTURE_EXAMPLES = 16;

/**
 * A rule's pictures at the trainer's current parameters (Trainer.pictures, which changes no number of the run), each
 * tiled into a grey raster at one pixel a value; the page upscales them. null for a rule that draws none; a rule
 * whose drawing fails says why instead of stopping the race.
 */
export function rulePictures(trainer: Trainer): RulePictures | null {
  const rule = trainer.rule;
  if (!rule.pictures) return null;
  try {
    const images = trainer.pictures(PICTURE_EXAMPLES).map((p) => ({ name: p.name, title: p.title, ...pictureRaster(p) }));
    return { rule: rule.id, images, error: null };
  } catch (err) {
    return { rule: rule.id, images: [], error: err instanceof Error ? err.message : String(err) };
  }
}
