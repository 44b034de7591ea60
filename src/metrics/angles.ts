/** Angles between update vectors, error signals and matrices, in degrees, accumulated in float64. */
import { dot } from '../tensor/vector.js';

export { dot, norm } from '../tensor/vector.js';

/** Cosine of the angle between two vectors; NaN when either is zero (no direction). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return cosineFromDots(dot(a, b), dot(a, a), dot(b, b));
}

/** cos ∠(a, b) from a·b, a·a and b·b, clamped against rounding; NaN when a or b is zero. */
export function cosineFromDots(ab: number, aa: number, bb: number): number {
  if (aa === 0 || bb === 0) return NaN;
  return Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
}

/** ∠(a, b) in degrees: 0 = same direction, 90 = orthogonal, 180 = opposite. NaN for a zero vector. */
export function angleDegrees(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return degrees(cosine(a, b));
}

export function degrees(cos: number): number {
  return (Math.acos(cos) * 180) / Math.PI;
}
