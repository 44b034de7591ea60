import type { Backend } from '../src/tensor/backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { Rng } from '../src/random.js';

/** One GEMM to time: C[m,n] = op(A)·op(B) with op(A) [m,k] and op(B) [k,n]. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Where the product occurs, e.g. 'forward Z = X·Wᵀ'. */
  label?: string;
}

export interface GemmBenchOptions {
  /** Each timed round repeats the call until this much time has passed. Default 0.3 s. */
  minSeconds?: number;
  /** Timed rounds per shape; the best is reported (the least disturbed by other work). Default 3. */
  rounds?: number;
  /** Untimed calls first (thread pool start-up, page faults, JIT). Default 2. */
  warmupCalls?: number;
  /** Seed of the random operands. Default 1. */
  seed?: number;
}

export interface GemmBenchResult {
  /** Stored operands, e.g. 'A[100,1000]ᵀ·B[100,784] → C[1000,784]'. */
  shape: string;
  label: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** 2·m·n·k / seconds / 1e9. */
  gflops: number;
  /** Seconds per call, best round. */
  seconds: number;
}

/**
 * The GEMMs of one training step of the MNIST MLP 784-1000-10 at batch 100, in the forms training uses.
 * Weights W are stored [out, in], so the forward pass is Z = X·Wᵀ and the weight gradient dW = dZᵀ·X.
 */
export const MNIST_MLP_GEMM_SHAPES: readonly GemmShape[] = [
  { m: 100, n: 1000, k: 784, transA: false, transB: false, label: 'hidden, plain X·W' },
  { m: 100, n: 1000, k: 784, transA: false, transB: true, label: 'hidden forward Z = X·Wᵀ' },
  { m: 1000, n: 784, k: 100, transA: true, transB: false, label: 'hidden dW = dZᵀ·X' },
  { m: 100, n: 10, k: 1000, transA: false, transB: false, label: 'output, plain H·W' },
  { m: 100, n: 10, k: 1000, transA: false, transB: true, label: 'output forward Z = H·Wᵀ' },
];

/** 'A[100,1000]ᵀ·B[100,784] → C[1000,784]': the arrays as stored, with ᵀ where the call transposes. */
export function describeGemm(s: GemmShape): string {
  const a = s.transA ? `A[${s.k},${s.m}]ᵀ` : `A[${s.m},${s.k}]`;
  const b = s.transB ? `B[${s.n},${s.k}]ᵀ` : `B[${s.k},${s.n}]`;
  return `${a}·${b} → C[${s.m},${s.n}]`;
}

function randomMatrix(rows: number, cols: number, rng: Rng): Matrix {
  return matrix(rows, cols, rng.fillUniform(new Float32Array(rows * cols), -1, 1));
}

/** Times backend.gemm on each shape (C = A·B + 0·C, so C is never read). Yields to the event loop between
 * shapes so a caller can report progress. */
export async function benchGemm(
  backend: Backend, shapes: readonly GemmShape[], opts: GemmBenchOptions = {},
): Promise<GemmBenchResult[]> {
  const { minSeconds = 0.3, rounds = 3, warmupCalls = 2, seed = 1 } = opts;
  const rng = Rng.fromSeed(seed);
  const results: GemmBenchResult[] = [];
  for (const s of shapes) {
    const a = s.transA ? randomMatrix(s.k, s.m, rng) : randomMatrix(s.m, s.k, rng);
    const b = s.transB ? randomMatrix(s.n, s.k, rng) : randomMatrix(s.k, s.n, rng);
    const c = matrix(s.m, s.n);
    const call = () => backend.gemm(s.transA, s.transB, 1, a, b, 0, c);
    for (let i = 0; i < warmupCalls; i++) call();
    let best = Infinity;
    for (let r = 0; r < rounds; r++) {
      let calls = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        call();
        calls++;
        elapsed = (performance.now() - start) / 1000;
      } while (elapsed < minSeconds);
      best = Math.min(best, elapsed / calls);
    }
    results.push({
      shape: describeGemm(s), label: s.label ?? '', m: s.m, n: s.n, k: s.k, transA: s.transA, transB: s.transB,
      gflops: (2 * s.m * s.n * s.k) / best / 1e9, seconds: best,
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return results;
}
