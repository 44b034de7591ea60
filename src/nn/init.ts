import type { Rng } from '../random.js';

/**
 * How a weight matrix of shape [fanOut, fanIn] is drawn.
 * - uniform: U[−omega, omega] (Lillicrap et al. 2016 use this with a fixed omega);
 * - glorot: U[−√(6/(fanIn+fanOut)), +√(6/(fanIn+fanOut))] (Glorot & Bengio 2010), for tanh/sigmoid;
 * - he: N(0, 2/fanIn) (He et al. 2015), for ReLU.
 */
export type InitSpec = { kind: 'uniform'; omega: number } | { kind: 'glorot' } | { kind: 'he' };

export function parseInit(text: string): InitSpec {
  if (text === 'glorot' || text === 'he') return { kind: text };
  const m = /^uniform:([0-9.eE+-]+)$/.exec(text);
  if (m && Number(m[1]) > 0) return { kind: 'uniform', omega: Number(m[1]) };
  throw new Error(`unknown init '${text}' (choose glorot, he, or uniform:OMEGA such as uniform:0.05)`);
}

export function initWeights(spec: InitSpec, fanIn: number, fanOut: number, rng: Rng, out: Float32Array): Float32Array {
  switch (spec.kind) {
    case 'uniform':
      return rng.fillUniform(out, -spec.omega, spec.omega);
    case 'glorot': {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return rng.fillUniform(out, -limit, limit);
    }
    case 'he':
      return rng.fillNormal(out, 0, Math.sqrt(2 / fanIn));
  }
}
