/** A dense float32 matrix in row-major order: element (i, j) is data[i * cols + j]. Plain data, so it
 * serialises and crosses into a Web Worker unchanged. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new Error(`matrix: shape must be non-negative integers, got ${rows}x${cols}`);
  }
  if (data && data.length !== rows * cols) {
    throw new Error(`matrix: ${rows}x${cols} needs ${rows * cols} values, got ${data.length}`);
  }
  return { rows, cols, data: data ?? new Float32Array(rows * cols) };
}

export function fromRows(values: readonly (readonly number[])[]): Matrix {
  const rows = values.length;
  const cols = rows === 0 ? 0 : values[0].length;
  const m = matrix(rows, cols);
  values.forEach((row, i) => {
    if (row.length !== cols) throw new Error(`fromRows: row ${i} has ${row.length} values, expected ${cols}`);
    m.data.set(row, i * cols);
  });
  return m;
}

export function cloneMatrix(m: Matrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.slice() };
}

/** The first `rows` rows of m, sharing its storage (no copy). */
export function topRows(m: Matrix, rows: number): Matrix {
  return { rows, cols: m.cols, data: m.data.subarray(0, rows * m.cols) };
}

export function transpose(m: Matrix): Matrix {
  const t = matrix(m.cols, m.rows);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) t.data[j * m.rows + i] = m.data[i * m.cols + j];
  }
  return t;
}

/** out[r, :] = src[indices[r], :] for every r: assembles a shuffled mini-batch. */
export function gatherRows(src: Matrix, indices: ArrayLike<number>, out: Matrix): void {
  const cols = src.cols;
  if (out.cols !== cols || out.rows < indices.length) {
    throw new Error(`gatherRows: output ${out.rows}x${out.cols} cannot hold ${indices.length}x${cols}`);
  }
  for (let r = 0; r < indices.length; r++) {
    const start = indices[r] * cols;
    out.data.set(src.data.subarray(start, start + cols), r * cols);
  }
}

export function assertSameShape(a: Matrix, b: Matrix, what: string): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new Error(`${what}: shapes differ (${a.rows}x${a.cols} vs ${b.rows}x${b.cols})`);
  }
}
