import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { LAB_DIST, startLabServer, type LabServer } from '../node/lab-server.js';
import { findWasm } from '../node/wasm-loader.js';
import { createRule, RULE_IDS } from '../src/index.js';
import { labRuleOptions } from '../lab/src/session/rule-options.js';

/*
 * The lab end to end, in Debian's Chromium driven by playwright-core: choose BP and FA on XOR, train until
 * both losses fall below LOSS_GOAL, check the curves and the angle panel have data, restore a shared link.
 * Skipped (with a message) when Chromium is missing, unless NGRAD_REQUIRE_BROWSER=1 (CI), which fails instead.
 */

const CHROMIUM = '/usr/bin/chromium';
const LOSS_GOAL = 0.05;
const OUT = fileURLToPath(new URL('../../test-output/', import.meta.url));
const DOCS_SHOT = fileURLToPath(new URL('../../docs/lab.png', import.meta.url));
const required = process.env.NGRAD_REQUIRE_BROWSER === '1';
const skip = existsSync(CHROMIUM) ? false : `no ${CHROMIUM}: install Debian's chromium (npm run setup) to run the browser tests`;
if (skip && required) throw new Error(`NGRAD_REQUIRE_BROWSER=1 but ${skip}`);

// The flags that keep Chromium quiet on a machine without network (see shared/README.md).
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

async function withLab(run: (page: Page, lab: LabServer) => Promise<void>): Promise<void> {
  assert.ok(existsSync(join(LAB_DIST, 'index.html')), 'the lab is built (npm test runs npm run lab:build first)');
  const lab = await startLabServer({ port: 0 });
  const profile = mkdtempSync(join(tmpdir(), 'ngrad-chromium-'));
  let context: BrowserContext | null = null;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1200, height: 1000 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('dialog', (d) => {
      problems.push(`unexpected dialog: ${d.message()}`);
      void d.dismiss();
    });
    await run(page, lab);
    assert.deepEqual(problems, []);
  } finally {
    await context?.close();
    await lab.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

const shot = (page: Page, name: string) => {
  mkdirSync(OUT, { recursive: true });
  return page.screenshot({ path: join(OUT, name), fullPage: true });
};

test('lab e2e: BP and FA learn XOR side by side; curves and angles are drawn', { skip, timeout: 120_000 }, async () => {
  await withLab(async (page, lab) => {
    await page.goto(lab.url);
    await page.selectOption('select[name=task]', 'xor');
    await page.fill('input[name=hidden]', '8');
    await page.dispatchEvent('input[name=hidden]', 'change');
    await page.fill('input[name=lr]', '0.5');
    await page.dispatchEvent('input[name=lr]', 'change');
    await page.fill('input[name=batch]', '4');
    await page.dispatchEvent('input[name=batch]', 'change');
    await page.selectOption('select[name=rule1]', 'bp');
    await page.selectOption('select[name=rule2]', 'fa');
    await page.waitForSelector('#status[data-state=ready]');
    assert.match(await page.textContent('.slot0 .rule-info') ?? '', /Backpropagation.*Rumelhart/s);
    assert.match(await page.textContent('.slot1 .rule-info') ?? '', /Feedback alignment.*Lillicrap/s);
    await page.click('#start');
    await page.waitForFunction((goal) => {
      const rows = Array.from(document.querySelectorAll<HTMLElement>('table.status tr[data-rule]'));
      return rows.length === 2 && rows.every((r) => r.dataset.trainLoss !== '' && Number(r.dataset.trainLoss) < goal);
    }, LOSS_GOAL, { timeout: 90_000, polling: 200 });
    await page.click('#pause');
    await page.waitForSelector('#status[data-state=paused]');
    const rules = await page.$$eval('table.status tr[data-rule]', (rows) => rows.map((r) => (r as HTMLElement).dataset.rule));
    assert.deepEqual(rules, ['bp', 'fa']);
    assert.equal(new URL(page.url()).searchParams.get('rules'), null, 'bp,fa is the default, so the link leaves it out');
    assert.equal(new URL(page.url()).searchParams.get('lr'), '0.5');
    // Both rules' curves are on the loss chart: points counted, and pixels of both colours on its canvas.
    assert.ok(Number(await page.getAttribute('#chart-loss', 'data-points')) > 10);
    const colours = await page.$eval('#chart-loss canvas', (canvas) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
      const near = (r: number, g: number, b: number) => {
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 60) n++;
        return n;
      };
      return { bp: near(0x00, 0x72, 0xb2), fa: near(0xd5, 0x5e, 0x00) };
    });
    assert.ok(colours.bp > 50 && colours.fa > 50, `curve pixels ${JSON.stringify(colours)}`);
    await shot(page, 'lab-compare.png');
    await page.click('#tab-inside');
    for (const layer of [1, 2]) {
      assert.ok(Number(await page.getAttribute(`#chart-angle-${layer}`, 'data-points')) > 10, `layer ${layer}: angles between updates and the gradient`);
    }
    assert.ok(Number(await page.getAttribute('#chart-feedback-2', 'data-points')) > 0, "∠(B, Wᵀ) for FA's feedback matrix");
    assert.equal(await page.isHidden('#chart-feedback-1'), true, 'layer 1 has no feedback matrix (its error is not sent further down)');
    assert.equal(await page.locator('#pictures canvas').count(), 2, 'one decision surface per rule');
    assert.equal(new URL(page.url()).searchParams.get('panel'), 'inside');
    await shot(page, 'lab-inside.png');
    // The README's picture: NGRAD_UPDATE_DOCS=1 npm test refreshes it.
    if (process.env.NGRAD_UPDATE_DOCS === '1') copyFileSync(join(OUT, 'lab-inside.png'), DOCS_SHOT);
    await page.click('#reset');
    await page.waitForSelector('#status[data-state=ready]');
    assert.equal(await page.getAttribute('#chart-loss', 'data-points'), '0', 'reset clears the curves');
    assert.equal(await page.locator('table.status tr[data-rule]').count(), 0);
  });
});

test('lab e2e: a shared link restores its settings; a hostile one shows a notice', { skip, timeout: 60_000 }, async () => {
  await withLab(async (page, lab) => {
    const query = 'task=spirals&hidden=12-6&act=relu&rules=kp,dfa,sign&lr=0.05&batch=20&opt=momentum&seed=42&speed=3&panel=inside';
    await page.goto(`${lab.url}?${query}`);
    await page.waitForSelector('#status[data-state=ready]');
    const values = await page.$$eval('#controls select, #controls input', (els) =>
      Object.fromEntries(els.map((e) => [(e as HTMLInputElement).name, (e as HTMLInputElement).value])));
    assert.deepEqual(values, {
      task: 'spirals', hidden: '12-6', act: 'relu', net: 'feedforward', steps: '20', signals: 'full', lr: '0.05', batch: '20', opt: 'momentum', seed: '42', speed: '3',
      rule1: 'kp', rule2: 'dfa', rule3: 'sign', rule4: '',
    });
    assert.equal(await page.getAttribute('#tab-inside', 'aria-selected'), 'true');
    assert.equal(await page.isHidden('#notices'), true);
    assert.deepEqual([...new URL(page.url()).searchParams].sort(), [...new URLSearchParams(query)].sort(), 'the address round-trips');

    await page.goto(`${lab.url}?task=%3Cscript%3Ealert(1)%3C/script%3E&lr=1e999&rules=bp,evil`);
    await page.waitForSelector('#notices:not([hidden])');
    assert.match(await page.textContent('#notices') ?? '', /ignored task='<script>alert\(1\)<\/script>'/);
    assert.equal(await page.locator('#notices script').count(), 0, 'echoed as text, not markup');
    assert.equal(await page.inputValue('select[name=task]'), 'xor');
    await page.waitForSelector('#status[data-state=ready]');
  });
});

test('lab e2e: the cafeteria panel draws online and batch delta-rule paths', { skip, timeout: 60_000 }, async () => {
  await withLab(async (page, lab) => {
    await page.goto(`${lab.url}?panel=cafeteria&corr=0.9`);
    await page.waitForSelector('#cafeteria-canvas[data-online]');
    const online = Number(await page.getAttribute('#cafeteria-canvas', 'data-online'));
    const batch = Number(await page.getAttribute('#cafeteria-canvas', 'data-batch'));
    assert.ok(online > batch && batch > 0, `online path ${online}, batch path ${batch}`);
    await page.locator('input[name=correlation]').fill('0');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('corr') === null);
    await shot(page, 'lab-cafeteria.png');
  });
});

test('lab e2e: dtp shows its layer-local losses, its inverses\' reconstruction errors and one example\'s targets; tp says why it refuses a network', { skip, timeout: 90_000 }, async () => {
  await withLab(async (page, lab) => {
    await page.goto(`${lab.url}?task=xor&hidden=8-8&rules=bp,dtp&lr=0.5&batch=4&speed=20&panel=inside`);
    await page.waitForSelector('#status[data-state=ready]');
    assert.equal(await page.isHidden('#targets-section'), true, 'nothing to show before training');
    await page.click('#start');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#chart-inverse-2')?.dataset.points) >= 20, undefined, { timeout: 60_000, polling: 200 });
    await page.click('#pause');
    await page.waitForSelector('#status[data-state=paused]');
    assert.equal(await page.isVisible('#targets-section'), true);
    for (const k of [1, 2]) assert.ok(Number(await page.getAttribute(`#chart-local-${k}`, 'data-points')) >= 20, `layer ${k}: dtp's layer-local loss`);
    assert.equal(await page.isHidden('#chart-inverse-1'), true, 'layer 1 has no inverse (its input is the data)');
    assert.equal(await page.isHidden('#chart-local-3'), true, 'dtp\'s output layer learns from the task loss, not a target');
    const strips = await page.$$eval('#targets canvas', (cs) => cs.map((c) => {
      const { rule, layer, units, shift } = (c as HTMLElement).dataset;
      return { rule, layer, units, shift, width: (c as HTMLCanvasElement).width };
    }));
    assert.deepEqual(strips.map((s) => [s.rule, s.layer, s.units]), [['dtp', '1', '8'], ['dtp', '2', '8']], 'a strip per hidden layer of dtp only');
    for (const s of strips) assert.ok(Number(s.shift) > 0 && s.width > 0, `ĥ ≠ h: ${JSON.stringify(s)}`);
    assert.match(await page.textContent('#targets .target-rule h4') ?? '', /^dtp: an example of class [01] of the latest update$/);
    await shot(page, 'lab-targets.png');

    await page.goto(`${lab.url}?task=xor&hidden=8-4&rules=tp,fa&speed=2`);
    await page.waitForSelector('#status[data-state=ready]');
    assert.match(await page.textContent('.slot0 .refusal') ?? '', /^rule 'tp' needs square hidden layers above the first/);
    assert.match(await page.textContent('#status') ?? '', /tp cannot train it: rule 'tp' needs square hidden layers/);
    await page.click('#step');
    await page.waitForFunction(() => document.querySelectorAll('table.status tr[data-rule]').length === 2, undefined, { timeout: 30_000 });
    assert.match(await page.textContent('table.status tr[data-rule=tp] td.note') ?? '', /needs square hidden layers/);
    assert.notEqual(await page.getAttribute('table.status tr[data-rule=fa]', 'data-train-loss'), '', 'fa trains beside it');
    await page.click('#reset');
    await page.waitForSelector('#status[data-state=ready]');
    assert.equal(await page.locator('.slot0 .refusal').count(), 1, 'said once after a reset');
  });
});

test('lab e2e: ep trains beside bp in Compare, and Inside shows its settling: E and F over relaxation steps, the residual, units\' states', { skip, timeout: 90_000 }, async () => {
  await withLab(async (page, lab) => {
    await page.goto(`${lab.url}?task=xor&hidden=8&rules=bp,ep&lr=0.5&batch=4&speed=10&panel=inside`);
    await page.waitForSelector('#status[data-state=ready]');
    assert.match(await page.textContent('.slot1 .rule-info') ?? '', /Equilibrium propagation.*Scellier/s);
    assert.equal(await page.isHidden('#settling-section'), true, 'nothing to show before training');
    await page.click('#start');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#chart-angle-1')?.dataset.points) >= 4, undefined, { timeout: 60_000, polling: 200 });
    await page.click('#pause');
    await page.waitForSelector('#status[data-state=paused]');
    assert.equal(await page.isVisible('#settling-section'), true);
    assert.deepEqual(await page.$$eval('#settling .settling-rule', (els) => els.map((e) => (e as HTMLElement).dataset.rule)), ['ep'], 'a block for the settling rule only');
    // ep is in slot 1: 20 free steps (E, 21 values) then 4 nudged ones (F, 5 values); residuals one a step.
    const points = async (what: string) => Number(await page.getAttribute(`#chart-settling-${what}-1`, 'data-points'));
    assert.equal(await points('energy'), 21 + 5);
    assert.ok(await points('residual') > 0 && await points('residual') <= 24, 'residuals on a log scale (a step that moves nothing is not drawn)');
    assert.equal(await points('hidden'), 3 * 25, 'three hidden units over 25 states');
    assert.equal(await points('output'), 2 * 25, 'both output units');
    const numbers = await page.$eval('#settling .settling-rule[data-rule=ep]', (e) => ({ ...(e as HTMLElement).dataset }));
    for (const name of ['freeEnergy', 'freeResidual', 'secondEnergy', 'secondResidual']) {
      assert.ok(Number.isFinite(Number(numbers[name])) && numbers[name] !== '', `${name}: ${numbers[name]}`);
    }
    assert.match(await page.textContent('#settling .settling-numbers') ?? '', /^free phase: E \S+ → \S+ in 20 steps, .*; nudged, β = 0\.5: F \S+ → \S+ in 4 steps/);
    assert.match(await page.textContent('#settling h4') ?? '', /^ep: an example of class [01] of the latest update$/);
    await shot(page, 'lab-settling.png');
    await page.click('#tab-compare');
    assert.notEqual(await page.getAttribute('table.status tr[data-rule=ep]', 'data-train-loss'), '', 'ep trains in the Compare panel');
  });
});

test('lab e2e: a spiking net shows a spike raster and spikes per neuron in Inside; a quantised race runs in Compare and names its signals', { skip, timeout: 90_000 }, async () => {
  await withLab(async (page, lab) => {
    await page.goto(`${lab.url}?task=xor&hidden=8&net=lif&steps=10&rules=bp,ep&lr=0.5&batch=4&speed=10&panel=inside`);
    await page.waitForSelector('#status[data-state=ready]');
    assert.match(await page.textContent('.slot1 .refusal') ?? '', /^a spiking network is trained through its rates by a rule that sends error signals .*, not by 'ep'$/);
    assert.equal(await page.isHidden('#spikes-section'), true, 'nothing to show before training');
    await page.click('#start');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#chart-metric-spikesPerNeuron')?.dataset.points) >= 5, undefined, { timeout: 60_000, polling: 200 });
    await page.click('#pause');
    await page.waitForSelector('#status[data-state=paused]');
    assert.equal(await page.isVisible('#spikes-section'), true);
    const rasters = await page.$$eval('#spikes canvas', (cs) => cs.map((e) => {
      const c = e as HTMLCanvasElement, { rule, layer, units, steps, counts } = c.dataset;
      const pixels = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
      let blue = 0;
      for (let i = 0; i < pixels.length; i += 4) if (Math.abs(pixels[i]) + Math.abs(pixels[i + 1] - 0x72) + Math.abs(pixels[i + 2] - 0xb2) < 30) blue++;
      return { rule, layer, units, steps, counts: (counts ?? '').split(',').map(Number), width: c.width, blue };
    }));
    assert.deepEqual(rasters.map((r) => [r.rule, r.layer, r.units, r.steps]), [['bp', '-1', '2', '10'], ['bp', '0', '8', '10']], 'XOR\'s two inputs and the eight hidden units of bp only');
    for (const r of rasters) {
      assert.equal(r.counts.length, Number(r.units));
      assert.ok(r.counts.every((n) => Number.isInteger(n) && n >= 0 && n <= 10), JSON.stringify(r));
      const spikes = r.counts.reduce((a, b) => a + b, 0);
      assert.ok(r.width > 0 && (spikes === 0 || r.blue > 0), `spikes drawn in bp's colour: ${JSON.stringify(r)}`);
    }
    assert.match(await page.textContent('#spikes figcaption:last-of-type') ?? '', /^(Input|Hidden layer 1): .*\d+ spikes, [\d.]+ a unit in 10 steps/);
    assert.match(await page.textContent('#spikes h4') ?? '', /^bp: an example of class [01] of the latest update, LIF neurons over 10 steps$/);
    await shot(page, 'lab-spikes.png');
    await page.click('#tab-compare');
    assert.equal(await page.textContent('#compare-network'), 'Every rule trains a 2-8-2 net: LIF spiking (τ 10, θ 0.25), T 10, inputs as spikes.');

    // Choosing 1-bit forward signals switches the activation to sigmoid; np has no error signals to quantise.
    await page.goto(`${lab.url}?task=xor&hidden=16&rules=bp,np&lr=2&batch=4&speed=20`);
    await page.waitForSelector('#status[data-state=ready]');
    await page.selectOption('select[name=signals]', 'fwd1-bwd2');
    await page.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-state') === 'ready' && /1-bit forward/.test(document.querySelector('#status')?.textContent ?? ''));
    assert.equal(await page.inputValue('select[name=act]'), 'sigmoid');
    assert.equal(new URL(page.url()).searchParams.get('act'), 'sigmoid');
    assert.equal(new URL(page.url()).searchParams.get('signals'), 'fwd1-bwd2');
    assert.equal(await page.textContent('#compare-network'), 'Every rule trains a 2-16-2 net: sigmoid units, 1-bit forward, 2-bit backward signals (stochastic, unbiased).');
    assert.match(await page.textContent('.slot1 .refusal') ?? '', /^rule 'np' sends no error signals to its hidden layers/);
    await page.click('#step');
    await page.waitForFunction(() => document.querySelectorAll('table.status tr[data-rule]').length === 2, undefined, { timeout: 30_000 });
    assert.ok(Number.isFinite(Number(await page.getAttribute('table.status tr[data-rule=bp]', 'data-train-loss'))), 'bp trains on quantised signals');
    assert.match(await page.textContent('table.status tr[data-rule=np] td.note') ?? '', /nothing for --backward-bits to quantise/);
  });
});

test('lab e2e: MNIST subset from the server trains in the worker; receptive fields are drawn', { skip, timeout: 90_000 }, async () => {
  await withLab(async (page, lab) => {
    await page.goto(`${lab.url}?task=mnist&hidden=16&rules=bp,dfa&lr=0.05&batch=20&speed=25&panel=inside`);
    await page.waitForSelector('#status[data-state=ready]', { timeout: 30_000 });
    const status = await page.textContent('#status') ?? '';
    assert.match(status, /784-16-10 network, 5000 training and 1000 test examples/);
    if (findWasm()) assert.match(status, /\(wasm backend\)/, 'the worker trains on the served wasm kernels');
    await page.click('#step');
    await page.waitForFunction(() => document.querySelectorAll('table.status tr[data-rule]').length === 2, undefined, { timeout: 30_000 });
    const errors = await page.$$eval('table.status tr[data-rule]', (rows) => rows.map((r) => Number((r as HTMLElement).dataset.testError)));
    for (const e of errors) assert.ok(e < 0.9, `after 25 updates the test error is below chance: ${errors}`);
    assert.equal(await page.locator('#pictures canvas').count(), 2, 'receptive fields per rule');
    assert.equal(await page.isHidden('#rule-pictures'), true, 'neither rule draws pictures of its own');
    await shot(page, 'lab-mnist.png');
  });
});

/** The first registered rule that draws pictures (LearningRule.pictures), if any does yet. */
const drawingRule = RULE_IDS.find((id) => createRule(id, labRuleOptions(id)).pictures !== undefined);

test('lab e2e: a rule that draws pictures shows them in Inside, upscaled pixel for pixel, redrawn after a step and on request', {
  skip: skip || (!drawingRule && 'no registered rule draws pictures yet'), timeout: 90_000,
}, async () => {
  await withLab(async (page, lab) => {
    await page.goto(`${lab.url}?task=mnist&hidden=16&rules=bp,${drawingRule}&batch=20&speed=5&panel=inside`);
    await page.waitForSelector('#status[data-state=ready]', { timeout: 30_000 });
    await page.waitForSelector('#rule-pictures[data-step="0"]', { timeout: 30_000 }); // at the initial weights
    assert.deepEqual(await page.$$eval('#rule-pictures .rule-pictures-rule', (els) => els.map((e) => (e as HTMLElement).dataset.rule)), [drawingRule], 'a block for the drawing rule only');
    const canvases = await page.$$eval('#rule-pictures canvas', (els) => els.map((e) => {
      const c = e as HTMLCanvasElement, zoom = Number(c.dataset.zoom);
      const pixels = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
      let grey = true, blocks = true;
      for (let y = 0; y < c.height; y++) {
        for (let x = 0; x < c.width; x++) {
          const at = 4 * (y * c.width + x), corner = 4 * ((y - (y % zoom)) * c.width + x - (x % zoom));
          grey &&= pixels[at] === pixels[at + 1] && pixels[at] === pixels[at + 2] && pixels[at + 3] === 255;
          blocks &&= pixels[at] === pixels[corner];
        }
      }
      return { width: c.width, height: c.height, zoom, rasterWidth: Number(c.dataset.width), rasterHeight: Number(c.dataset.height), grey, blocks };
    }));
    assert.ok(canvases.length >= 1, 'at least one picture');
    for (const c of canvases) {
      assert.deepEqual([c.width, c.height], [c.rasterWidth * c.zoom, c.rasterHeight * c.zoom], JSON.stringify(c));
      assert.ok(c.grey && c.blocks, `grey, each value a zoom×zoom block: ${JSON.stringify(c)}`);
    }
    await page.click('#step');
    await page.waitForSelector('#rule-pictures[data-step="5"]', { timeout: 30_000 });
    const draws = Number(await page.getAttribute('#rule-pictures', 'data-draws'));
    await page.click('#rule-pictures-redraw');
    await page.waitForFunction((n) => Number(document.querySelector<HTMLElement>('#rule-pictures')?.dataset.draws) > n, draws, { timeout: 30_000 });
    await shot(page, 'lab-pictures.png');
  });
});
