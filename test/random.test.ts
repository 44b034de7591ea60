import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/random.js';

test('same seed gives the same stream; different seeds differ', () => {
  const a = Rng.fromSeed(42), b = Rng.fromSeed(42), c = Rng.fromSeed(43);
  const xs = Array.from({ length: 5 }, () => a.uniform());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.uniform()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.uniform()));
});

test('state round-trips and splits are independent of later draws', () => {
  const a = Rng.fromSeed(7);
  a.uniform();
  const copy = Rng.fromState(a.getState());
  assert.equal(copy.uniform(), a.uniform());
  const root1 = Rng.fromSeed(1), root2 = Rng.fromSeed(1);
  const child1 = root1.split();
  root1.uniform(); // drawing from the parent must not move the child
  const child2 = root2.split();
  assert.equal(child1.uniform(), child2.uniform());
  const r = Rng.fromSeed(1);
  assert.notEqual(r.split().uniform(), r.split().uniform(), 'successive splits are different streams');
});

test('uniform and normal have the right moments', () => {
  const rng = Rng.fromSeed(5);
  const n = 200000;
  const u = rng.fillUniform(new Float32Array(n), -1, 3);
  const z = rng.fillNormal(new Float32Array(n + 1), 2, 0.5);
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
  const variance = (a: Float32Array) => { const m = mean(a); return a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length; };
  assert.ok(Math.abs(mean(u) - 1) < 0.01 && u.every((v) => v >= -1 && v < 3));
  assert.ok(Math.abs(variance(u) - 16 / 12) < 0.02);
  assert.ok(Math.abs(mean(z) - 2) < 0.01 && Math.abs(variance(z) - 0.25) < 0.005);
});

test('shuffle is a permutation', () => {
  const a = Rng.fromSeed(9).shuffle(Int32Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual([...a], Array.from({ length: 100 }, (_, i) => i));
});

test('fillSigns gives ±scale, balanced, from 32 values a draw', () => {
  const out = Rng.fromSeed(3).fillSigns(new Float32Array(100001), 0.5);
  assert.ok(out.every((v) => v === 0.5 || v === -0.5));
  const mean = out.reduce((s, v) => s + v, 0) / out.length;
  assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
  assert.notDeepEqual(out.subarray(0, 32), out.subarray(32, 64));
});
