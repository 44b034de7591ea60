import { matrix, type Matrix } from '../tensor/matrix.js';
import type { Rng } from '../random.js';
import type { Network } from '../nn/network.js';
import { norm } from '../tensor/vector.js';

/** How fixed random feedback weights are drawn. */
export interface FeedbackInit {
  /** uniform: U[−scale, scale]; normal: N(0, scale²). Default uniform. */
  dist: 'uniform' | 'normal';
  /** Scale of the draw; 0 means "match the forward weights": each B_l gets ‖W_l‖ at initialisation. Default 0. */
  scale: number;
}

export function readFeedbackInit(options: { dist?: unknown; scale?: unknown }): FeedbackInit {
  const dist = options.dist ?? 'uniform';
  if (dist !== 'uniform' && dist !== 'normal') throw new Error(`feedback option dist must be uniform or normal, got '${String(dist)}'`);
  const scale = options.scale ?? 0;
  if (typeof scale !== 'number' || !(scale >= 0)) throw new Error(`feedback option scale must be a number ≥ 0, got '${String(scale)}'`);
  return { dist, scale };
}

/** A random matrix of W_l's shape for every layer but the first, whose error goes nowhere, and but layers
 * without weights (pooling), whose error needs none (null for both). */
export function randomFeedback(net: Network, init: FeedbackInit, rng: Rng): (Matrix | null)[] {
  return net.layers.map((layer, l) => {
    if (l === 0 || layer.W.data.length === 0) return null;
    const B = matrix(layer.W.rows, layer.W.cols);
    fillRandom(B.data, init, rng);
    if (init.scale === 0) scaleToNorm(B.data, norm(layer.W.data));
    return B;
  });
}

export function fillRandom(out: Float32Array, init: FeedbackInit, rng: Rng): void {
  const s = init.scale || 1;
  if (init.dist === 'uniform') rng.fillUniform(out, -s, s);
  else rng.fillNormal(out, 0, s);
}

export function scaleToNorm(data: Float32Array, target: number): void {
  const current = norm(data);
  if (current > 0) for (let i = 0; i < data.length; i++) data[i] *= target / current;
}

/** A connection mask: each entry 0 (removed) with probability `sparsity`, else 1 (kept). */
export function randomMask(length: number, sparsity: number, rng: Rng): Uint8Array {
  const mask = new Uint8Array(length);
  for (let i = 0; i < length; i++) mask[i] = rng.uniform() < sparsity ? 0 : 1;
  return mask;
}

/** Zeroes the removed connections (mask 0) of data; no mask: nothing. */
export function applyMask(data: Float32Array, mask: Uint8Array | null | undefined): void {
  if (!mask) return;
  for (let i = 0; i < data.length; i++) if (!mask[i]) data[i] = 0;
}
