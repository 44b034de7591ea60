import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backprop, createJsBackend, DEFAULT_OPTIMIZER, DEFAULT_TRAIN, pictureRaster, Rng, seededTrainer, twoSpirals, type LearningRule } from '../src/index.js';
import { loadDataset } from '../node/datasets.js';
import { startLabServer } from '../node/lab-server.js';
import { PICTURE_EXAMPLES, rulePictures } from '../lab/src/session/pictures-report.js';
import { Race } from '../lab/src/session/race.js';
import { loadTask } from '../lab/src/session/tasks.js';
import { defaultSettings } from '../lab/src/state.js';
import { fitZoom, greyRgba } from '../lab/src/views/grey-raster.js';

/*
 * The lab's pictures without a browser: what the worker sends for a rule that draws pictures (its rasters at the
 * current weights, or why not), nothing for the others, the image tasks' shape that rules draw with, and the
 * page's nearest-neighbour upscaling.
 */

const be = createJsBackend();

/** Backprop that draws its first-layer weights as 28×28 images (symmetric) and the inputs it is given (unit). */
function drawing(fail = false): LearningRule {
  return {
    ...backprop(), id: 'drawing',
    pictures(ctx) {
      if (fail) throw new Error('no pictures today');
      if (!ctx.imageShape) return [];
      const [height, width] = ctx.imageShape, W = ctx.net.layers[0].W;
      return [
        { name: 'features', title: 'first-layer weights', images: { rows: 4, cols: W.cols, data: W.data.slice(0, 4 * W.cols) }, height, width, scale: 'symmetric' },
        { name: 'inputs', title: 'inputs', images: ctx.examples, height, width, scale: 'unit' },
      ];
    },
  };
}

const data = loadDataset('mnist', { limitTrain: 200, limitTest: 50 });
const config = {
  spec: { sizes: [784, 8, 10], hidden: 'tanh' as const, output: 'linear' as const, leakySlope: 0.01, loss: 'softmax_xent' as const, init: { kind: 'glorot' as const } },
  optimizer: DEFAULT_OPTIMIZER, seed: 1, train: { ...DEFAULT_TRAIN, epochs: 1, lr: 0.05, batchSize: 50 },
};

test('lab: a rule that draws pictures reports each as a grey raster of its current weights, one pixel a value', () => {
  const trainer = seededTrainer(drawing(), config, be, { train: data.train, test: data.test });
  trainer.run();
  const report = rulePictures(trainer)!;
  assert.equal(report.error, null);
  assert.equal(report.rule, 'drawing');
  const expected = trainer.pictures(PICTURE_EXAMPLES);
  assert.deepEqual(report.images.map((i) => [i.name, i.title, i.width, i.height]), [
    ['features', 'first-layer weights', 2 * 28 + 1, 2 * 28 + 1],
    ['inputs', 'inputs', 4 * 28 + 3, 4 * 28 + 3],
  ], `${PICTURE_EXAMPLES} inputs in four columns`);
  report.images.forEach((image, i) => assert.deepEqual([...image.data], [...pictureRaster(expected[i]).data], image.name));
  assert.equal(report.images[1].data[0], 0, 'the first input\'s top-left pixel is black');
});

test('lab: a rule whose pictures fail says why; a rule without pictures and non-image inputs report none', () => {
  const failing = seededTrainer(drawing(true), config, be, { train: data.train, test: data.test });
  assert.deepEqual(rulePictures(failing), { rule: 'drawing', images: [], error: 'no pictures today' });
  assert.equal(rulePictures(seededTrainer(backprop(), config, be, { train: data.train, test: data.test })), null);
  const spirals = twoSpirals(Rng.fromSeed(2), { n: 40, nTest: 10 });
  const flat = seededTrainer(drawing(), { ...config, spec: { ...config.spec, sizes: [2, 8, 2] } }, be, spirals);
  assert.deepEqual(rulePictures(flat), { rule: 'drawing', images: [], error: null }, 'inputs that are not images: nothing to draw');
});

test('lab: a race of rules without pictures draws none', async () => {
  const settings = { ...defaultSettings(), task: 'xor' as const, hidden: '8', rules: ['bp' as const, 'fa' as const], batch: 4 };
  const race = new Race(settings, await loadTask('xor', 1, async () => new Uint8Array()), be);
  race.tick();
  assert.equal(race.drawsPictures, false);
  assert.deepEqual(race.pictures(), { step: settings.speed, rules: [null, null] });
});

test('lab: the image tasks carry their images\' shape, which rules draw their pictures with', async () => {
  const lab = await startLabServer({ port: 0 });
  try {
    const fetchBytes = async (path: string) => new Uint8Array(await (await fetch(new URL(path, lab.url))).arrayBuffer());
    const task = await loadTask('mnist', 1, fetchBytes);
    assert.deepEqual(task.train.shape, [1, 28, 28]);
    assert.deepEqual(task.test.shape, [1, 28, 28]);
    const trainer = seededTrainer(drawing(), config, be, task);
    assert.deepEqual(trainer.pictures().map((p) => [p.height, p.width]), [[28, 28], [28, 28]]);
  } finally {
    await lab.close();
  }
});

test('lab: pictures are upscaled by a whole factor, nearest neighbour, into grey RGBA', () => {
  assert.equal(fitZoom({ width: 57, height: 30 }, 280), 4);
  assert.equal(fitZoom({ width: 500, height: 30 }, 280), 1, 'a raster larger than the box stays at one pixel a value');
  const rgba = greyRgba({ width: 2, height: 1, data: new Uint8Array([10, 200]) }, 2);
  const pixel = (x: number, y: number) => [...rgba.subarray(4 * (y * 4 + x), 4 * (y * 4 + x) + 4)];
  assert.equal(rgba.length, 4 * 4 * 2);
  for (const y of [0, 1]) {
    assert.deepEqual([pixel(0, y), pixel(1, y), pixel(2, y), pixel(3, y)], [[10, 10, 10, 255], [10, 10, 10, 255], [200, 200, 200, 255], [200, 200, 200, 255]]);
  }
});
