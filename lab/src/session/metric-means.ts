/** Means of named diagnostics over the batches that gave each one (a rule's StepResult.metrics, one tick). */
export class MetricMeans {
  private readonly sums = new Map<string, { sum: number; count: number }>();

  add(metrics: Readonly<Record<string, number>>): void {
    for (const [name, value] of Object.entries(metrics)) {
      const m = this.sums.get(name) ?? { sum: 0, count: 0 };
      m.sum += value;
      m.count++;
      this.sums.set(name, m);
    }
  }

  /** The means so far; null when nothing was added. */
  means(): Record<string, number> | null {
    return this.sums.size ? Object.fromEntries([...this.sums].map(([name, m]) => [name, m.sum / m.count])) : null;
  }

  clear(): void {
    this.sums.clear();
  }
}
