import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint.js';
import { DataError } from '../src/data/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../node/files.js';
import { xor } from '../src/data/synthetic.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import { DEFAULT_TRAIN, type TrainState } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { paramList } from '../src/nn/network.js';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { RULE_IDS, specForRule } from '../src/rules/registry.js';

const run: RunConfig = {
  rule: 'bp', ruleOptions: {}, seed: 4,
  spec: { sizes: [2, 5, 2], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } },
  optimizer: { ...DEFAULT_OPTIMIZER, name: 'adam' },
  train: { ...DEFAULT_TRAIN, epochs: 6, batchSize: 2, lr: 0.05 },
};

test('plain data with typed arrays round-trips through the byte format', () => {
  const value = { a: 1, b: [new Float32Array([1.5, -2]), { c: new Int32Array([7]), d: 'x' }], e: null, f: NaN, g: new Float64Array([Math.PI]) };
  const back = decodeCheckpoint(encodeCheckpoint(value)) as typeof value;
  assert.deepEqual(back.b[0], new Float32Array([1.5, -2]));
  assert.deepEqual((back.b[1] as { c: Int32Array }).c, new Int32Array([7]));
  assert.ok(Number.isNaN(back.f));
  assert.equal(back.g[0], Math.PI);
});

test('resuming from a checkpoint gives exactly the uninterrupted run', () => {
  const be = createJsBackend();
  const straight = createTrainer(run, be, xor());
  straight.run();
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-ckpt-'));
  const first = createTrainer({ ...run, train: { ...run.train, epochs: 3 } }, be, xor());
  first.run();
  saveCheckpoint(join(dir, 'c.ngrad'), { state: first.state });
  const { state } = loadCheckpoint(join(dir, 'c.ngrad')) as { state: TrainState };
  assert.equal(state.epoch, 3);
  const second = createTrainer(run, be, xor(), state);
  second.run();
  const values = (t: typeof straight) => paramList(t.state.net.layers).map((p) => [...p.value]);
  assert.deepEqual(values(second), values(straight));
  assert.deepEqual(readdirSync(dir), ['c.ngrad'], 'no temporary file is left behind');
});

for (const rule of RULE_IDS) {
  test(`resume is bit-identical for ${rule}: parameters, rule state, optimizer and RNG through the byte format`, () => {
    const be = createJsBackend();
    const base: RunConfig = { ...run, rule, spec: specForRule(rule, run.spec), optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' }, train: { ...run.train, epochs: 4, alignEvery: 3 } };
    const straight = createTrainer(base, be, xor());
    straight.run();
    const first = createTrainer({ ...base, train: { ...base.train, epochs: 2 } }, be, xor());
    first.run();
    const { state } = decodeCheckpoint(encodeCheckpoint({ state: first.state })) as { state: TrainState };
    const second = createTrainer(base, be, xor(), state);
    second.run();
    assert.deepEqual(second.state.net.layers, straight.state.net.layers);
    assert.deepEqual(second.state.ruleState, straight.state.ruleState);
    assert.deepEqual(second.state.optimizerState, straight.state.optimizerState);
  });
}

// ---- A checkpoint cannot be silently wrong -------------------------------------------------------------

/** Asserts that fn throws a one-line DataError that starts with `${source}: ` and matches re. */
function refuses(fn: () => unknown, source: string, re: RegExp, note = ''): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `${note} expected a DataError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `${note} message is not one line: ${e.message}`);
    assert.ok(e.message.startsWith(`${source}: not a readable ngrad checkpoint (`) || e.message.startsWith(`${source}: cannot read checkpoint (`), `${note} does not name ${source}: ${e.message}`);
    assert.match(e.message, re, note);
    return true;
  });
}

const be = createJsBackend();

/** A real checkpoint: the state of a short Adam run, as the CLI saves it. */
function trainedCheckpoint(): Uint8Array {
  const t = createTrainer({ ...run, train: { ...run.train, epochs: 1 } }, be, xor());
  t.run();
  return encodeCheckpoint({ format: 'ngrad-checkpoint', run, state: t.state });
}

/** The layout of a version-2 file: where its header and each blob start. */
function layout(bytes: Uint8Array): { headerStart: number; headerEnd: number; blobs: { start: number; bytes: number }[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerEnd = 16 + view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, headerEnd))) as { blobs: { type: string; length: number }[] };
  const size: Record<string, number> = { f32: 4, f64: 8, i32: 4, u8: 1, u32: 4 };
  let at = Math.ceil(headerEnd / 8) * 8;
  const blobs = header.blobs.map((b) => {
    const blob = { start: at, bytes: b.length * size[b.type] };
    at += Math.ceil(blob.bytes / 8) * 8;
    return blob;
  });
  assert.equal(at, bytes.length, 'the blob table accounts for the whole file');
  return { headerStart: 16, headerEnd, blobs };
}

/** A version-2 file with the given header text and body, with a correct checksum: only structure is wrong. */
function forge(header: string | object, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const start = Math.ceil((16 + h.length) / 8) * 8;
  const out = new Uint8Array(start + body.length);
  out.set(new TextEncoder().encode('NGRADCK2'));
  new DataView(out.buffer).setUint32(12, h.length, true);
  out.set(h, 16);
  out.set(body, start);
  new DataView(out.buffer).setUint32(8, crc32c(out.subarray(12)), true);
  return out;
}

test('crc32c matches the standard check value and continues across chunks', () => {
  const text = new TextEncoder().encode('123456789');
  assert.equal(crc32c(text), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  const long = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131) % 251);
  for (const cut of [0, 1, 7, 8, 9, 500, 999, 1000]) assert.equal(crc32c(long.subarray(cut), crc32c(long.subarray(0, cut))), crc32c(long), `cut at ${cut}`);
});

test('round-trip is bit-exact, and re-encoding gives the same bytes', () => {
  const f32 = new Float32Array([0, -0, NaN, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, Math.fround(Math.PI)]);
  new Uint32Array(f32.buffer)[2] = 0x7fc12345; // a NaN with a payload
  const value = { f32, f64: new Float64Array([-0, 5e-324, Number.MAX_VALUE, NaN]), i32: new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
    u8: new Uint8Array([0, 255]), u32: new Uint32Array([2 ** 32 - 1]), empty: new Float32Array(0), odd: new Uint8Array(13).fill(7),
    n: [NaN, Infinity, -Infinity, -0, 1], s: 'ünïcödé', nested: { deep: [{ x: new Float32Array([1]) }] } };
  const bytes = encodeCheckpoint(value);
  const back = decodeCheckpoint(bytes) as typeof value;
  for (const k of ['f32', 'f64', 'i32', 'u8', 'u32', 'empty', 'odd'] as const) {
    assert.equal(back[k].constructor, value[k].constructor, k);
    assert.deepEqual(new Uint8Array(back[k].buffer), new Uint8Array(value[k].buffer), `${k} bit for bit`);
  }
  assert.deepEqual(back.n, value.n);
  assert.ok(Object.is(back.n[3], -0));
  assert.equal(back.s, value.s);
  assert.deepEqual(back.nested.deep[0].x, new Float32Array([1]));
  assert.deepEqual(encodeCheckpoint(back), bytes, 'decode then encode reproduces the file');
  const state = trainedCheckpoint();
  assert.deepEqual(encodeCheckpoint(decodeCheckpoint(state)), state, 'a training state too');
});

test('the encoder refuses what it could not decode faithfully', () => {
  assert.throws(() => encodeCheckpoint({ w: new Int16Array(2) }), /cannot store a Int16Array at 'w'/);
  assert.throws(() => encodeCheckpoint({ w: new Uint8ClampedArray(2) }), /cannot store a Uint8ClampedArray/);
  assert.throws(() => encodeCheckpoint({ a: { $blob: 0 } }), /keys \$blob and \$number are reserved/);
  assert.throws(() => encodeCheckpoint([{ $number: 'NaN' }]), /reserved/);
});

test('every single flipped byte of a checkpoint is refused, whatever it hits', () => {
  const good = encodeCheckpoint({ w: new Float32Array([1, 2, 3]), b: new Float64Array([4]), n: NaN, tag: 'x' });
  for (let at = 0; at < good.length; at++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const bad = good.slice();
      bad[at] ^= mask;
      refuses(() => decodeCheckpoint(bad, 'c.ngrad'), 'c.ngrad', /./, `byte ${at} ^ ${mask}:`);
    }
  }
});

test('flipped bytes in each part of a real checkpoint: one line naming the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-ckpt-'));
  const good = trainedCheckpoint();
  const { headerStart, headerEnd, blobs } = layout(good);
  assert.ok(blobs.length >= 6, 'parameters, optimizer state and RNG state are blobs');
  const last = blobs[blobs.length - 1];
  const firstWeights = blobs[0];
  const flips: [string, number, RegExp][] = [
    ['magic', 0, /\(wrong magic\); it is some other file: give one that ngrad wrote \(a run writes OUT\/checkpoint\.ngrad\)$/],
    ['version digit', 7, /wrong magic|format version/],
    ['checksum field', 9, /checksum mismatch: the file is corrupt or was edited; retrain or restore it\)$/],
    ['header length, low byte', 12, /checksum mismatch|truncated/],
    ['header length, high byte', 15, /truncated: the file has \d+ bytes but its header alone needs \d+/],
    ['header JSON, first byte', headerStart, /checksum mismatch/],
    ['header JSON, middle', (headerStart + headerEnd) >> 1, /checksum mismatch|truncated|unexpected bytes/],
    ['header JSON, last byte', headerEnd - 1, /checksum mismatch/],
    ['first weight blob', firstWeights.start + 1, /checksum mismatch/],
    ['middle blob', blobs[blobs.length >> 1].start, /checksum mismatch/],
    ['last blob, last byte', last.start + last.bytes - 1, /checksum mismatch/],
    ['last byte of the file', good.length - 1, /checksum mismatch/],
  ];
  for (const [what, at, re] of flips) {
    const bad = good.slice();
    bad[at] ^= 0x10;
    const path = join(dir, 'flipped.ngrad');
    writeFileSync(path, bad);
    refuses(() => loadCheckpoint(path), path, re, `${what} (byte ${at}):`);
  }
  rmSync(dir, { recursive: true, force: true });
});

test('truncated copies and appended bytes are refused and said to be so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-ckpt-'));
  const path = join(dir, 'c.ngrad');
  const good = trainedCheckpoint();
  const { headerEnd, blobs } = layout(good);
  const cuts: [number, RegExp][] = [
    [0, /the file is empty/],
    [5, /truncated: 5 bytes/],
    [8, /truncated: 8 bytes, shorter than the 16-byte start/],
    [14, /truncated: 14 bytes/],
    [16, /truncated: the file has 16 bytes but its header alone needs/],
    [headerEnd - 3, /truncated: the file has \d+ bytes but its header alone needs/],
    [blobs[0].start + 2, /truncated: the file has \d+ bytes but its header declares \d+/],
    [good.length - 8, /truncated: the file has \d+ bytes but its header declares \d+/],
    [good.length - 1, /truncated: the file has \d+ bytes but its header declares \d+; the copy is incomplete or corrupt, restore or retrain it\)$/],
  ];
  for (const [n, re] of cuts) {
    writeFileSync(path, good.subarray(0, n));
    refuses(() => loadCheckpoint(path), path, re, `cut at ${n}:`);
  }
  for (const extra of [1, 8, 1000]) {
    writeFileSync(path, Buffer.concat([good, Buffer.alloc(extra, 0x41)]));
    refuses(() => loadCheckpoint(path), path, new RegExp(`\\(${extra} unexpected bytes? after the end of the checkpoint's ${good.length}; the file was appended to or is corrupt`));
  }
  rmSync(dir, { recursive: true, force: true });
});

test('structurally wrong files with a valid checksum are refused before anything is allocated', () => {
  const tree = JSON.stringify({ w: { $blob: 0 } });
  const header = (h: object) => ({ version: 2, littleEndian: true, blobs: [{ type: 'f32', length: 2 }], tree, ...h });
  const body = new Uint8Array(8);
  assert.deepEqual(decodeCheckpoint(forge(header({}), body)), { w: new Float32Array(2) }, 'the forger writes valid files');
  const cases: [string, Uint8Array, RegExp][] = [
    ['not JSON', forge('{"version": 2, oops', body), /header is not valid JSON \(.+\); the file was not written by ngrad/],
    ['not an object', forge('[1, 2]', body), /header is not a JSON object/],
    ['no blob table', forge({ version: 2, littleEndian: true, tree }, body), /header has no blob table/],
    ['blob table not an array', forge(header({ blobs: { type: 'f32', length: 2 } }), body), /header has no blob table/],
    ['unknown blob type', forge(header({ blobs: [{ type: 'f16', length: 4 }] }), body), /blob 0 has unknown type "f16" \(known: f32, f64, i32, u8, u32\)/],
    ['inherited name as type', forge(header({ blobs: [{ type: 'toString', length: 2 }] }), body), /unknown type "toString"/],
    ['negative length', forge(header({ blobs: [{ type: 'u8', length: -8 }] }), body), /blob 0 has length -8, not a whole number/],
    ['fractional length', forge(header({ blobs: [{ type: 'u8', length: 7.5 }] }), body), /length 7\.5, not a whole number/],
    ['length as a string', forge(header({ blobs: [{ type: 'u8', length: '8' }] }), body), /length "8", not a whole number/],
    ['huge length', forge(header({ blobs: [{ type: 'f64', length: 2 ** 40 }] }), body), /blob 0 declares 1099511627776 f64 elements \(8796093022208 bytes\) in a file of \d+ bytes/],
    ['more blobs than the file holds', forge(header({ blobs: [{ type: 'f32', length: 2 }, { type: 'f32', length: 2 }] }), body), /truncated: the file has \d+ bytes but its header declares \d+/],
    ['blob reference out of range', forge(header({ tree: JSON.stringify({ w: { $blob: 1 } }) }), body), /bad blob reference \{"\$blob":1\} \(the file has 1 blobs\)/],
    ['negative blob reference', forge(header({ tree: JSON.stringify({ w: { $blob: -1 } }) }), body), /bad blob reference/],
    ['blob reference not a number', forge(header({ tree: JSON.stringify({ w: { $blob: '0' } }) }), body), /bad blob reference/],
    ['blob used twice', forge(header({ tree: JSON.stringify([{ $blob: 0 }, { $blob: 0 }]) }), body), /blob 0 is referenced twice/],
    ['blob never used', forge(header({ tree: '{}' }), body), /blob 0 is never referenced/],
    ['bad $number', forge(header({ tree: JSON.stringify({ w: { $blob: 0 }, x: { $number: '12' } }) }), body), /bad number \{"\$number":"12"\}/],
    ['tree not JSON', forge(header({ tree: '{"w": ' }), body), /not a readable ngrad checkpoint \(.*JSON.*; the file was not written by ngrad/],
    ['no tree', forge({ version: 2, littleEndian: true, blobs: [] }), /header has no value tree/],
    ['version in header differs', forge(header({ version: 3 }), body), /header says version 3 but the file starts with NGRADCK2/],
    ['no byte-order flag', forge({ version: 2, blobs: [], tree: '{}' }), /header has no littleEndian flag/],
    ['other byte order', forge(header({ littleEndian: false }), body), /written on a machine of the other byte order/],
  ];
  for (const [what, bytes, re] of cases) refuses(() => decodeCheckpoint(bytes, 'forged.ngrad'), 'forged.ngrad', re, `${what}:`);
});

test('versions: a newer format is refused, a version-1 file is still read with the same structural checks', () => {
  const good = encodeCheckpoint({ w: new Float32Array([1, 2]) });
  for (const digit of ['3', '9', '0']) {
    const newer = good.slice();
    newer[7] = digit.charCodeAt(0);
    refuses(() => decodeCheckpoint(newer, 'v.ngrad'), 'v.ngrad', new RegExp(`\\(format version ${digit}, this ngrad reads versions 1 and 2; upgrade ngrad to read it\\)$`));
  }
  // Version 1, as ngrad 0.1 wrote it: "NGRADCK1" | u32 header length | header | blobs, no checksum.
  const v1 = (blobs: object[], tree: string, body: Uint8Array) => {
    const h = new TextEncoder().encode(JSON.stringify({ version: 1, littleEndian: true, blobs, tree }));
    const start = Math.ceil((12 + h.length) / 8) * 8;
    const out = new Uint8Array(start + body.length);
    out.set(new TextEncoder().encode('NGRADCK1'));
    new DataView(out.buffer).setUint32(8, h.length, true);
    out.set(h, 12);
    out.set(body, start);
    return out;
  };
  const old = v1([{ type: 'f32', length: 2 }], JSON.stringify({ w: { $blob: 0 }, n: { $number: 'NaN' } }), new Uint8Array(new Float32Array([1.5, -2]).buffer));
  const back = decodeCheckpoint(old, 'old.ngrad') as { w: Float32Array; n: number };
  assert.deepEqual(back.w, new Float32Array([1.5, -2]));
  assert.ok(Number.isNaN(back.n));
  refuses(() => decodeCheckpoint(Uint8Array.from([...old, 0]), 'old.ngrad'), 'old.ngrad', /1 unexpected byte after the end/);
  refuses(() => decodeCheckpoint(old.subarray(0, old.length - 4), 'old.ngrad'), 'old.ngrad', /truncated/);
  refuses(() => decodeCheckpoint(v1([], '{}', new Uint8Array(0)).subarray(0, 10), 'old.ngrad'), 'old.ngrad', /truncated: 10 bytes, shorter than the 12-byte start/);
  refuses(() => decodeCheckpoint(v1([{ type: 'f32' }], '{}', new Uint8Array(0)), 'old.ngrad'), 'old.ngrad', /blob 0 has length undefined/);
  refuses(() => decodeCheckpoint(v1([], '{"a": {"$blob": 0}}', new Uint8Array(0)), 'old.ngrad'), 'old.ngrad', /bad blob reference/);
});

test('loadCheckpoint: missing files, directories and FIFOs get one line, and a FIFO does not block', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-ckpt-'));
  const missing = join(dir, 'missing.ngrad');
  refuses(() => loadCheckpoint(missing), missing, /cannot read checkpoint \(no such file or folder \[ENOENT\]; a run writes OUT\/checkpoint\.ngrad\)$/);
  const folder = join(dir, 'folder.ngrad');
  mkdirSync(folder);
  refuses(() => loadCheckpoint(folder), folder, /cannot read checkpoint \(it is a directory, not a regular file; a run writes OUT\/checkpoint\.ngrad\)$/);
  const junk = join(dir, 'junk.ngrad');
  writeFileSync(junk, 'hello world, not a checkpoint');
  refuses(() => loadCheckpoint(junk), junk, /wrong magic/);
  if (process.platform !== 'win32') {
    const fifo = join(dir, 'fifo.ngrad');
    execFileSync('mkfifo', [fifo]);
    refuses(() => loadCheckpoint(fifo), fifo, /cannot read checkpoint \(it is a FIFO \(named pipe\), not a regular file/);
  }
  rmSync(dir, { recursive: true, force: true });
});

test('a saved checkpoint loads back exactly, and a large one is checked quickly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ngrad-ckpt-'));
  const path = join(dir, 'big.ngrad');
  const w = new Float32Array(4_000_000);
  for (let i = 0; i < w.length; i++) w[i] = i * 0.37 - 1e5;
  saveCheckpoint(path, { w });
  const t = performance.now();
  const back = loadCheckpoint(path) as { w: Float32Array };
  const ms = performance.now() - t;
  assert.deepEqual(new Uint8Array(back.w.buffer), new Uint8Array(w.buffer));
  assert.ok(ms < 2000, `16 MB checkpoint loaded and checked in ${ms.toFixed(0)} ms`);
  assert.deepEqual(readdirSync(dir), ['big.ngrad']);
  rmSync(dir, { recursive: true, force: true });
});
