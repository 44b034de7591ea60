import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from 'fast-png';
import { loadCheckpoint } from '../node/files.js';
import { trainWithFiles, type RunSummary, type SavedRun } from '../cli/run-files.js';
import { prepareRunFolder } from '../cli/run-folder.js';
import { pictureFileStem, pngZoom, writeStagePictures } from '../cli/run-pictures.js';
import { classificationSet } from '../src/data/one-hot.js';
import type { DataSplits } from '../src/data/dataset.js';
import { greyLevels, NAN_GREY, PADDING_GREY, pictureRaster, type GreyRaster } from '../src/metrics/image-grid.js';
import { encodePicturePng } from '../src/metrics/picture-png.js';
import { createNetwork, paramList, type NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER, makeOptimizer } from '../src/optim/optimizer.js';
import { Rng } from '../src/random.js';
import { backprop } from '../src/rules/backprop.js';
import type { LearningRule, Picture } from '../src/rules/rule.js';
import type { RunConfig } from '../src/train/run.js';
import type { Stage } from '../src/train/stage.js';
import { DEFAULT_TRAIN, initialState, runStreams, Trainer } from '../src/train/trainer.js';
import { fromRows, matrix } from '../src/tensor/matrix.js';
import { availableBackends, withTempDir } from './helpers.js';

/*
 * Pictures (issue: image grids of what a rule learned): the grid's exact layout and grey levels, the PNG
 * encoding read back pixel by pixel, and the files a run writes at the end of each stage, with a rule made here
 * (backprop that also draws its first-layer weights and a few inputs), since no registered rule draws yet.
 */

const be = availableBackends()[0];

function picture(rows: number[][], height: number, width: number, scale: Picture['scale'], extra: Partial<Picture> = {}): Picture {
  return { name: 'test', title: 'test', images: fromRows(rows), height, width, scale, ...extra };
}

/** The raster as rows of numbers, for readable failures. */
const rowsOf = (r: GreyRaster) => Array.from({ length: r.height }, (_, y) => Array.from(r.data.subarray(y * r.width, (y + 1) * r.width)));

test('pictureRaster: unit scale clips to 0…255; tiles fill a ⌈√n⌉-column grid row by row, 1-pixel padding between them', () => {
  const P = PADDING_GREY, N = NAN_GREY;
  // Five 2×3 images: three columns (⌈√5⌉), two rows, the last row one cell short.
  const images = [
    [0, 0.5, 1, -0.2, 1.7, Number.NaN],
    [1, 1, 1, 1, 1, 1],
    [0.25, 0.75, 0.1, 0.875, 0.002, 0.998],
    [0, 0, 0, 0, 0, 0],
    [-Infinity, Infinity, 0.5, 0.5, 0.5, 0.5],
  ];
  const r = pictureRaster(picture(images, 2, 3, 'unit'));
  assert.equal(r.width, 3 * 3 + 2);
  assert.equal(r.height, 2 * 2 + 1);
  assert.equal(r.data.length, r.width * r.height);
  // round(255·0.5) = 128 (127.5 rounds up), round(255·0.25) = 64, round(255·0.75) = 191, 0.1 → 26 (float32 0.1 is a hair above), 0.875 → 223, 0.002 → 1, 0.998 → 254.
  assert.deepEqual(rowsOf(r), [
    [0, 128, 255, P, 255, 255, 255, P, 64, 191, 26],
    [0, 255, N, P, 255, 255, 255, P, 223, 1, 254],
    [P, P, P, P, P, P, P, P, P, P, P],
    [0, 0, 0, P, 0, 255, 128, P, P, P, P],
    [0, 0, 0, P, 128, 128, 128, P, P, P, P],
  ]);
});

test('pictureRaster: symmetric scale divides each tile by its own largest |value|, 0 at grey 128', () => {
  const images = [
    [-2, 0, 1, 2], // m = 2: −2 → 0, 0 → 128, 1 → round(127.5 + 63.75) = 191, 2 → 255
    [0.01, -0.005, 0, 0.0025], // m = 0.01, the same shape at a 200th of the size: 255, 64, 128, round(159.375) = 159
    [0, 0, 0, 0], // no scale: all mid grey
    [Number.NaN, 3, -1, Number.NaN], // NaN is left out of m = 3: marker, 255, round(85) = 85, marker
    [Infinity, 5, -Infinity, 0], // m = ∞: ±∞ at the ends, finite values at 0
  ];
  const r = pictureRaster(picture(images, 2, 2, 'symmetric', { columns: 5 }), { padding: 0 });
  assert.equal(r.width, 10);
  assert.equal(r.height, 2);
  assert.deepEqual(rowsOf(r), [
    [0, 128, 255, 64, 128, 128, NAN_GREY, 255, 255, 128],
    [191, 255, 128, 159, 128, 128, 85, NAN_GREY, 0, 128],
  ]);
  assert.deepEqual([...greyLevels([-1, -0.5, 0, 0.5, 1], 'symmetric', new Uint8Array(5))], [0, 64, 128, 191, 255]);
});

test('pictureRaster: zoom repeats each value in a zoom×zoom block, padding stays as given; columns are capped at the image count', () => {
  const images = [[0, 1, 0.2, 0.4], [1, 1, 1, 1], [0, 0, 0, 0]]; // 2×2 each
  const zoom = 3, padding = 2;
  const r = pictureRaster(picture(images, 2, 2, 'unit', { columns: 2 }), { zoom, padding });
  const tile = 2 * zoom;
  assert.equal(r.width, 2 * tile + padding);
  assert.equal(r.height, 2 * tile + padding);
  const at = (x: number, y: number) => r.data[y * r.width + x];
  const tileOrigin = (k: number) => [(k % 2) * (tile + padding), Math.floor(k / 2) * (tile + padding)];
  images.forEach((values, k) => {
    const [x0, y0] = tileOrigin(k);
    for (let y = 0; y < tile; y++) {
      for (let x = 0; x < tile; x++) {
        assert.equal(at(x0 + x, y0 + y), Math.round(255 * values[Math.floor(y / zoom) * 2 + Math.floor(x / zoom)]), `tile ${k} at (${x}, ${y})`);
      }
    }
  });
  // The padding lines and the empty fourth cell are the background.
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      const between = (x >= tile && x < tile + padding) || (y >= tile && y < tile + padding);
      const empty = x >= tile + padding && y >= tile + padding;
      if (between || empty) assert.equal(at(x, y), PADDING_GREY, `(${x}, ${y})`);
    }
  }
  // More columns than images: one row, no empty cells.
  const wide = pictureRaster(picture(images, 2, 2, 'unit', { columns: 10 }));
  assert.deepEqual([wide.width, wide.height], [3 * 2 + 2, 2]);
});

test('pictureRaster: refuses pictures whose shape does not add up, and bad options', () => {
  assert.throws(() => pictureRaster(picture([[1, 2, 3]], 2, 2, 'unit')), /picture 'test': its images have 3 values each, not 2×2/);
  assert.throws(() => pictureRaster({ ...picture([[1]], 1, 1, 'unit'), images: matrix(0, 1) }), /picture 'test' has no images/);
  assert.throws(() => pictureRaster(picture([[1]], 1, 1, 'unit'), { zoom: 0 }), /zoom must be a whole number ≥ 1/);
  assert.throws(() => pictureRaster(picture([[1]], 1, 1, 'unit'), { padding: 0.5 }), /padding must be a whole number ≥ 0/);
  assert.throws(() => pictureRaster(picture([[1]], 1, 1, 'unit', { columns: 0 })), /columns must be a whole number ≥ 1/);
});

test('encodePicturePng: an 8-bit grey PNG that fast-png decodes back to the same pixels', () => {
  const rng = Rng.fromSeed(9);
  const random: GreyRaster = { width: 57, height: 31, data: Uint8Array.from({ length: 57 * 31 }, () => rng.int(256)) };
  const grid = pictureRaster(picture([[0, 0.5, 1, 0.25], [-1, 2, 0, 0.75], [0.1, 0.2, 0.3, 0.4]], 2, 2, 'unit'), { zoom: 4 });
  for (const raster of [random, grid, { width: 1, height: 1, data: new Uint8Array([200]) }]) {
    const bytes = encodePicturePng(raster);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the PNG signature');
    const png = decode(bytes);
    assert.deepEqual([png.width, png.height, png.channels, png.depth], [raster.width, raster.height, 1, 8]);
    assert.deepEqual([...png.data], [...raster.data], `every pixel of the ${raster.width}×${raster.height} raster`);
  }
  assert.throws(() => encodePicturePng({ width: 2, height: 2, data: new Uint8Array(3) }), /a 2×2 raster needs 4 bytes, got 3/);
});

test('picture file names: NAME in a single-stage run, stageN-RULE-NAME in a staged one, made file-safe', () => {
  assert.equal(pictureFileStem('features', null), 'features');
  assert.equal(pictureFileStem('features', { stage: 1, rule: 'rbm' }), 'stage1-rbm-features');
  assert.equal(pictureFileStem('../a b/c', null), 'a-b-c');
  assert.equal(pictureFileStem('//', { stage: 2, rule: 'x' }), 'stage2-x-picture');
});

// A tiny image task: 4×4 images of a horizontal (class 0) or a vertical (class 1) bar, plus noise.
const SIDE = 4;
function bars(n: number, rng: Rng) {
  const x = matrix(n, SIDE * SIDE), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(2);
    const at = rng.int(SIDE);
    for (let p = 0; p < SIDE * SIDE; p++) {
      const [row, col] = [Math.floor(p / SIDE), p % SIDE];
      x.data[i * SIDE * SIDE + p] = Math.min(1, ((labels[i] === 0 ? row : col) === at ? 0.9 : 0) + 0.1 * rng.uniform());
    }
  }
  return classificationSet('bars', x, labels, 2, [1, SIDE, SIDE]);
}
const dataRng = Rng.fromSeed(11);
const data: DataSplits = { train: bars(48, dataRng), test: bars(16, dataRng) };
const spec: NetworkSpec = { sizes: [16, 6, 2], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };
const SEED = 3;
const run: RunConfig = {
  rule: 'bp', ruleOptions: {}, spec, seed: SEED, optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' },
  train: { ...DEFAULT_TRAIN, epochs: 3, batchSize: 8, lr: 0.1, stepEventEvery: 0 },
};
const saved = { run, data: 'bars', backend: be.name };

/**
 * Backprop that draws its first-layer weights (one 4×4 image per hidden unit, symmetric) and the inputs it is given
 * (unit); it draws random numbers from its context too, which must not move the run's own streams. `fail` makes
 * pictures throw; `noisy` adds noise from the step's random stream to its updates, so that a moved stream shows.
 */
function drawingBackprop(id = 'bp-pictures', fail = false, noisy = false): LearningRule {
  const bp = backprop();
  return {
    ...bp, id,
    step(ctx, state, batch) {
      const result = bp.step(ctx, state as Record<string, never>, batch);
      if (noisy) for (const g of result.grads) ctx.rng.fillNormal(g.W.data.subarray(0, 4), 0, 0.01);
      return result;
    },
    pictures(ctx) {
      if (fail) throw new Error('cannot draw today');
      ctx.rng.fillNormal(new Float32Array(100), 0, 1);
      if (!ctx.imageShape) return [];
      const [height, width] = ctx.imageShape, W = ctx.net.layers[0].W;
      return [
        { name: 'features', title: 'first-layer weights', images: { ...W, data: W.data.slice() }, height, width, scale: 'symmetric' },
        { name: 'inputs', title: 'training inputs', images: ctx.examples, height, width, scale: 'unit', columns: 4 },
      ];
    },
  };
}

function stage(rule: LearningRule, epochs: number): Stage {
  return { rule, optimizer: makeOptimizer(run.optimizer), train: { ...run.train, epochs }, trains: null, groups: {} };
}

function trainerOf(stages: Stage[]): Trainer {
  const streams = runStreams(SEED);
  const state = initialState(createNetwork(spec, streams.init), stages[0].rule, stages[0].optimizer, streams, { trainExamples: data.train.x.rows });
  return new Trainer(be, stages, data, state);
}

const readJson = <T>(path: string) => JSON.parse(readFileSync(path, 'utf8')) as T;
const metricsLines = (out: string) => readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
const flat = (t: Trainer) => paramList(t.state.net.layers).map((p) => [...p.value]);

/** Runs fn with process.stderr.write collected. */
function capturingStderr<T>(fn: () => T): { result: T; stderr: string } {
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { stderr += String(chunk); return true; }) as typeof process.stderr.write;
  try {
    return { result: fn(), stderr };
  } finally {
    process.stderr.write = write;
  }
}

test('a run writes its rule\'s pictures as PNG files in OUT/pictures/ at the end, lists them in summary.json and metrics.jsonl', () => {
  withTempDir((out) => {
    const trainer = trainerOf([stage(drawingBackprop(), 3)]);
    const { summary } = trainWithFiles(trainer, saved, { out, quiet: true }, be);
    assert.deepEqual(readdirSync(join(out, 'pictures')).sort(), ['features.png', 'inputs.png']);
    const listed = [
      { file: 'pictures/features.png', title: 'first-layer weights', stage: 1, rule: 'bp-pictures' },
      { file: 'pictures/inputs.png', title: 'training inputs', stage: 1, rule: 'bp-pictures' },
    ];
    assert.deepEqual(summary.pictures, listed);
    assert.deepEqual(readJson<RunSummary>(join(out, 'summary.json')).pictures, listed);
    const lines = metricsLines(out);
    assert.deepEqual(lines[lines.length - 2], { type: 'pictures', epoch: 3, stage: 1, files: listed }, 'after the last epoch\'s lines');
    // The files hold the pictures of the final parameters, each tile zoomed to at least 64 pixels (4×4 → ×8).
    const expected = trainer.pictures();
    for (const [i, p] of expected.entries()) {
      const png = decode(readFileSync(join(out, listed[i].file)));
      const raster = pictureRaster(p, { zoom: pngZoom(p) });
      assert.equal(pngZoom(p), 8);
      assert.deepEqual([png.width, png.height, png.channels], [raster.width, raster.height, 1]);
      assert.deepEqual([...png.data], [...raster.data], listed[i].file);
    }
    assert.deepEqual([decode(readFileSync(join(out, 'pictures/features.png'))).width], [3 * 4 * 8 + 2], 'six features in three columns');
  });
});

test('a rule without pictures writes none: no pictures folder, an empty list, no pictures line', () => {
  withTempDir((out) => {
    const { summary } = trainWithFiles(trainerOf([stage(backprop(), 2)]), saved, { out, quiet: true }, be);
    assert.equal(existsSync(join(out, 'pictures')), false);
    assert.deepEqual(summary.pictures, []);
    assert.ok(!metricsLines(out).some((l) => l.type === 'pictures'));
  });
});

test('drawing pictures changes no number of the run, at the stages\' ends or after every epoch', () => {
  withTempDir((out) => {
    const stages = () => [stage(drawingBackprop('pix', false, true), 2), stage(drawingBackprop('pix', false, true), 2)];
    const drawn = trainerOf(stages());
    const { events } = trainWithFiles(drawn, saved, { out, quiet: true }, be);
    assert.equal(readdirSync(join(out, 'pictures')).length, 4);
    const often = trainerOf(stages());
    often.run(() => {}, () => assert.equal(often.pictures().length, 2));
    const plain = trainerOf(stages().map((s) => ({ ...s, rule: { ...s.rule, pictures: undefined } })));
    const plainEvents: unknown[] = [];
    plain.run((e) => plainEvents.push(e));
    assert.deepEqual(flat(often), flat(plain), 'pictures after every epoch');
    const numbers = (es: readonly unknown[]) => es.flatMap((e) => {
      const x = e as { type: string; trainLoss?: number; loss?: number };
      return x.type === 'epoch' ? [x.trainLoss] : x.type === 'eval' ? [x.loss] : [];
    });
    assert.deepEqual(numbers(events), numbers(plainEvents), 'the same losses, epoch by epoch');
    assert.deepEqual(flat(drawn), flat(plain), 'the same final parameters');
    assert.deepEqual(drawn.state.ruleRng, plain.state.ruleRng, 'the rule\'s stream where it would be without pictures');
  });
});

test('a staged run draws each stage\'s rule at the end of that stage: stageN-RULE-NAME.png; a stage without pictures adds none', () => {
  withTempDir((out) => {
    const stages = () => [stage(drawingBackprop('pix'), 2), stage(backprop(), 1), stage(drawingBackprop('pix'), 1)];
    const { summary } = trainWithFiles(trainerOf(stages()), saved, { out, quiet: true }, be);
    assert.deepEqual(readdirSync(join(out, 'pictures')).sort(), ['stage1-pix-features.png', 'stage1-pix-inputs.png', 'stage3-pix-features.png', 'stage3-pix-inputs.png']);
    assert.deepEqual(summary.pictures.map((p) => [p.file, p.stage, p.rule]), [
      ['pictures/stage1-pix-features.png', 1, 'pix'], ['pictures/stage1-pix-inputs.png', 1, 'pix'],
      ['pictures/stage3-pix-features.png', 3, 'pix'], ['pictures/stage3-pix-inputs.png', 3, 'pix'],
    ]);
    assert.deepEqual(metricsLines(out).filter((l) => l.type === 'pictures').map((l) => (l as unknown as { epoch: number }).epoch), [2, 4]);
    // Stage 1's features are the weights after epoch 2, before stage 2 moved them.
    const again = trainerOf(stages());
    let atEpoch2: Picture | null = null;
    again.run(() => {}, (state) => { if (state.epoch === 2) atEpoch2 = again.pictures()[0]; });
    const p = atEpoch2 as unknown as Picture;
    assert.deepEqual([...decode(readFileSync(join(out, 'pictures/stage1-pix-features.png'))).data], [...pictureRaster(p, { zoom: pngZoom(p) }).data]);
    assert.notDeepEqual([...decode(readFileSync(join(out, 'pictures/stage3-pix-features.png'))).data], [...pictureRaster(p, { zoom: pngZoom(p) }).data]);
  });
});

test('a failure to draw costs only the pictures: a warning, and the run, its checkpoint and its summary are whole', () => {
  withTempDir((out) => {
    const { result, stderr } = capturingStderr(() => trainWithFiles(trainerOf([stage(drawingBackprop('bp-pictures', true), 2)]), saved, { out, quiet: true }, be));
    assert.match(stderr, /^bp-pictures: warning: the pictures of stage 1 \(bp-pictures\) could not be drawn: cannot draw today; training goes on\n$/);
    assert.equal(result.summary.epochs, 2);
    assert.ok(Number.isFinite(result.summary.test_loss));
    assert.deepEqual(result.summary.pictures, []);
    assert.equal(existsSync(join(out, 'pictures')), false);
    assert.equal((loadCheckpoint(join(out, 'checkpoint.ngrad')) as SavedRun).state.epoch, 2);
  });
  withTempDir((out) => {
    // A picture that does not add up (9 values for 4×4 images) is refused before any file is written.
    const bad: LearningRule = { ...backprop(), id: 'bad', pictures: () => [picture([[1, 2, 3, 4, 5, 6, 7, 8, 9]], 4, 4, 'unit')] };
    const { stderr } = capturingStderr(() => trainWithFiles(trainerOf([stage(bad, 1)]), saved, { out, quiet: true }, be));
    assert.match(stderr, /could not be drawn: picture 'test': its images have 9 values each, not 4×4/);
    assert.equal(existsSync(join(out, 'pictures')), false);
  });
});

test('a resumed run keeps the pictures of stages before it and draws those a crash left undrawn', () => {
  /** Stage 1 draws (or fails to), stage 2 crashes in its first epoch when `crash`; resuming runs the same stages, whole. */
  const stages = (opts: { crash: boolean; failPictures: boolean }) => {
    const bp = backprop();
    const crashing: LearningRule = { ...bp, id: 'bp', step: (ctx, s, b) => { if (opts.crash) throw new Error('killed'); return bp.step(ctx, s as Record<string, never>, b); } } as LearningRule;
    return [stage(drawingBackprop('pix', opts.failPictures), 2), stage(crashing, 1), stage(drawingBackprop('pix'), 1)];
  };
  const resume = (out: string) => {
    const { state, pending = [] } = loadCheckpoint(join(out, 'checkpoint.ngrad')) as SavedRun;
    assert.equal(state.epoch, 2, 'the crash came after the checkpoint of stage 1\'s last epoch');
    return trainWithFiles(new Trainer(be, stages({ crash: false, failPictures: false }), data, state), saved, { out, quiet: true, resumed: { pending } }, be).summary;
  };
  for (const failPictures of [false, true]) {
    withTempDir((out) => {
      capturingStderr(() => assert.throws(() => trainWithFiles(trainerOf(stages({ crash: true, failPictures })), saved, { out, quiet: true }, be), /killed/));
      assert.equal(existsSync(join(out, 'pictures/stage1-pix-features.png')), !failPictures);
      const summary = resume(out);
      assert.deepEqual(summary.pictures.map((p) => p.file), [
        'pictures/stage1-pix-features.png', 'pictures/stage1-pix-inputs.png', 'pictures/stage3-pix-features.png', 'pictures/stage3-pix-inputs.png',
      ], failPictures ? 'stage 1 drawn on resuming' : 'stage 1 kept from before the crash');
      assert.equal(metricsLines(out).filter((l) => l.type === 'pictures').length, 2, 'one pictures line a stage');
    });
  }
});

test('--force replaces a run\'s pictures too; stale temporary pictures of dead writers are removed', () => {
  withTempDir((out) => {
    const pictures = join(out, 'pictures');
    mkdirSync(pictures, { recursive: true });
    writeFileSync(join(pictures, 'features.png'), 'old');
    writeFileSync(join(pictures, 'samples.png.999999999.tmp'), 'stale');
    writeFileSync(join(pictures, 'notes.txt'), 'mine');
    prepareRunFolder(out, 'force');
    assert.deepEqual(readdirSync(pictures), ['notes.txt']);
  });
  withTempDir((out) => {
    writeStagePictures(trainerOf([stage(drawingBackprop(), 1)]), out);
    assert.deepEqual(readdirSync(join(out, 'pictures')).sort(), ['features.png', 'inputs.png'], 'writeStagePictures makes the folder');
  });
});
