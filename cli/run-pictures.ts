import { join } from 'node:path';
import { writeFileAtomic } from '../node/files.js';
import { pictureRaster } from '../src/metrics/image-grid.js';
import { encodePicturePng } from '../src/metrics/picture-png.js';
import type { Picture } from '../src/rules/rule.js';
import type { Trainer } from '../src/train/trainer.js';

/** The folder of a run's pictures, inside the run's folder. */
export const PICTURES_FOLDER = 'pictures';

/** A picture a run wrote, as summary.json and metrics.jsonl list it. */
export interface PictureFile {
  /** Path relative to the run's folder: 'pictures/features.png'. */
  file: string;
  title: string;
  /** The stage (1-based) whose rule drew it, at the end of that stage, and the rule's id. */
  stage: number;
  rule: string;
}

/** Smallest side, in pixels, that a tile of a PNG is zoomed to (at most ×8): 28×28 images are drawn ×3. */
const PNG_TILE_SIDE = 64;

/**
 * Draws the current stage's rule's pictures (Trainer.pictures) at the current parameters and writes each as a
 * grey PNG in OUT/pictures/, atomically: NAME.png in a single-stage run, stageN-RULE-NAME.png in a run of
 * several stages. Returns the files written ([] for a rule without pictures, and nothing is created then).
 * Call it at the end of a stage, after the stage's checkpoint: a failure here must cost only the pictures.
 */
export function writeStagePictures(trainer: Trainer, out: string): PictureFile[] {
  const pictures = trainer.pictures();
  const stage = trainer.state.stage + 1, rule = trainer.rule.id;
  const staged = trainer.stages.length > 1;
  const taken = new Set<string>();
  // Every picture is drawn and encoded before any is written, so a picture that cannot be drawn leaves no file.
  const encoded = pictures.map((picture) => {
    const base = pictureFileStem(picture.name, staged ? { stage, rule } : null);
    let stem = base;
    for (let n = 2; taken.has(stem); n++) stem = `${base}-${n}`; // two pictures of one name would overwrite each other
    taken.add(stem);
    const listed: PictureFile = { file: `${PICTURES_FOLDER}/${stem}.png`, title: picture.title, stage, rule };
    return { listed, bytes: encodePicturePng(pictureRaster(picture, { zoom: pngZoom(picture) })) };
  });
  for (const { listed, bytes } of encoded) writeFileAtomic(join(out, listed.file), bytes);
  return encoded.map((e) => e.listed);
}

/** A picture's file name without '.png': its name made file-safe, prefixed by the stage and rule in a run of
 * several stages ('stage1-rbm-features'). */
export function pictureFileStem(name: string, staged: { stage: number; rule: string } | null): string {
  const safe = (text: string) => text.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '') || 'picture';
  return staged ? `stage${staged.stage}-${safe(staged.rule)}-${safe(name)}` : safe(name);
}

/** The zoom a picture is written at: tiles at least PNG_TILE_SIDE pixels on their longer side, at most ×8. */
export function pngZoom(picture: Picture): number {
  return Math.min(8, Math.max(1, Math.ceil(PNG_TILE_SIDE / Math.max(picture.height, picture.width))));
}
