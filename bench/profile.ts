import type { Backend } from '../src/tensor/backend.js';

/** Seconds spent in each Backend method. */
export type Profile = Record<string, number>;

/** A Backend that adds the seconds spent in each of its methods to `profile` (timing costs a few
 * hundred nanoseconds a call, so rates are measured without it). */
export function profiled(be: Backend, profile: Profile): Backend {
  const wrapped: Record<string, unknown> = { ...be };
  for (const [name, f] of Object.entries(be)) {
    if (typeof f !== 'function' || name === 'setThreads' || name === 'getThreads') continue;
    wrapped[name] = (...args: unknown[]) => {
      const t = performance.now();
      const r = (f as (...a: unknown[]) => unknown)(...args);
      profile[name] = (profile[name] ?? 0) + (performance.now() - t) / 1000;
      return r;
    };
  }
  return wrapped as unknown as Backend;
}
