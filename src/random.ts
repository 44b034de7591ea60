import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { JumpableRandomGenerator } from 'pure-rand/types/JumpableRandomGenerator';

/** Serialisable state of an Rng: the generator's words. */
export type RngState = readonly number[];

/**
 * A seeded random stream (xoroshiro128+ from pure-rand). Every random choice in ngrad flows from one of
 * these, created from the run's seed and split per use; never from the platform's unseeded generator.
 */
export class Rng {
  private constructor(private gen: JumpableRandomGenerator) {}

  static fromSeed(seed: number): Rng {
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    return new Rng(xoroshiro128plus(seed | 0));
  }

  static fromState(state: RngState): Rng {
    return new Rng(xoroshiro128plusFromState(state));
  }

  getState(): RngState {
    return [...this.gen.getState()];
  }

  /** An independent stream. NOTE: the child continues from this stream's current position and this
   * stream jumps 2^64 steps ahead, so successive splits never overlap. */
  split(): Rng {
    const child = new Rng(this.gen.clone());
    this.gen.jump();
    return child;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.gen.next() & 0x3ffffff; // 26 bits
    const lo = this.gen.next() & 0x7ffffff; // 27 bits
    return (hi * 134217728 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal by Box–Muller (one value per call; fillNormal uses both). */
  normal(): number {
    const u = 1 - this.uniform(); // (0, 1]: log stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  fillUniform(out: Float32Array, low: number, high: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * this.uniform();
    return out;
  }

  /** Uniforms in [0, 1) that float32 holds exactly, k·2⁻²⁴ for k uniform in {0, …, 2²⁴ − 1}, one generator
   * step per value: the u of a Bernoulli draw u < p, so that P(u < p) = ⌈2²⁴·p⌉ / 2²⁴ for p in [0, 1] (exact
   * at 0, ½ and 1). NOTE: fillUniform(out, 0, 1) rounds 53-bit uniforms to float32, which gives exactly 1
   * with probability 2⁻²⁵ and would switch off a unit with p = 1. The 24 bits are the top ones of the
   * generator's 32-bit output: xoroshiro128+'s lowest bits are its weakest. */
  fillUniformFloat32(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = (this.gen.next() >>> 8) / 16777216;
    return out;
  }

  fillNormal(out: Float32Array, mean: number, std: number): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
      const t = 2 * Math.PI * this.uniform();
      out[i] = mean + std * r * Math.cos(t);
      if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(t);
    }
    return out;
  }

  /** ±scale with equal probability (Rademacher noise): zero mean, variance scale², 32 values per draw. */
  fillSigns(out: Float32Array, scale: number): Float32Array {
    for (let i = 0; i < out.length; i += 32) {
      const bits = this.gen.next();
      const end = Math.min(32, out.length - i);
      for (let b = 0; b < end; b++) out[i + b] = (bits >>> b) & 1 ? scale : -scale;
    }
    return out;
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
