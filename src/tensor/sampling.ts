import type { Rng } from '../random.js';
import { checkBernoulli, type Backend } from './backend.js';

/**
 * out[i] ~ Bernoulli(p[i]), as 0 or 1: uniforms from `rng` into the scratch `u` (same length as p; left
 * holding them), then the backend's threshold kernel. The randomness is drawn in TypeScript, so the same
 * Rng state gives the same samples on every backend. out may alias p or u. Returns out.
 */
export function sampleBernoulli(be: Backend, rng: Rng, p: Float32Array, u: Float32Array, out: Float32Array): Float32Array {
  checkBernoulli(p, u, out); // before drawing: a call that throws leaves the stream where it was
  rng.fillUniformFloat32(u);
  be.bernoulli(p, u, out);
  return out;
}
