import { gatherRows, matrix, Rng, type Dataset } from '../../../src/index.js';

/**
 * An endless stream of training examples: one seeded shuffle per pass over the set, continued across
 * passes. Every rule in a race trains on the same batches in the same order, so the data order cannot
 * explain a difference between rules. NOTE: unlike the CLI's epochs, every batch is full: a batch may take
 * the last examples of one pass and the first of the next, so a tick of k batches is always k equal updates.
 */
export class BatchStream {
  private order: Int32Array;
  private position = 0;
  /** Examples handed out so far. */
  taken = 0;

  constructor(private readonly source: Dataset, private readonly rng: Rng) {
    this.order = this.shuffled();
  }

  /** The next `rows` examples as a data set of their own (copies, so trainers can read them freely). */
  next(rows: number): Dataset {
    const indices = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      if (this.position === this.order.length) {
        this.order = this.shuffled();
        this.position = 0;
      }
      indices[i] = this.order[this.position++];
    }
    this.taken += rows;
    const { x, y, labels } = this.source;
    const chunk: Dataset = { name: `${this.source.name}/batch`, x: matrix(rows, x.cols), y: matrix(rows, y.cols) };
    gatherRows(x, indices, chunk.x);
    gatherRows(y, indices, chunk.y);
    if (labels) chunk.labels = Int32Array.from(indices, (i) => labels[i]);
    return chunk;
  }

  private shuffled(): Int32Array {
    return this.rng.shuffle(Int32Array.from({ length: this.source.x.rows }, (_, i) => i));
  }
}
