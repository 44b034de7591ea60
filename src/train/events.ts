import type { LayerAlignment } from '../metrics/alignment.js';

/** What the training loop reports. The CLI writes these as JSON lines; the lab draws them. */
export type TrainEvent =
  | { type: 'step'; epoch: number; batch: number; batches: number; loss: number; lr: number }
  /** metrics: the epoch's means of the rule's named diagnostics (StepResult.metrics), when it gives any. */
  | { type: 'epoch'; epoch: number; trainLoss: number; seconds: number; lr: number; metrics?: Record<string, number> }
  | { type: 'eval'; epoch: number; split: 'test' | 'validation'; loss: number; error: number | null }
  | { type: 'alignment'; epoch: number; step: number; layers: LayerAlignment[] }
  /** A new stage begins (1-based), after `epoch` epochs of the run, for `epochs` epochs of `rule`. */
  | { type: 'stage'; stage: number; rule: string; epoch: number; epochs: number }
  | { type: 'done'; epochs: number; seconds: number };

export type EventSink = (event: TrainEvent) => void;

/** Thrown when the loss stops being a finite number; names where it happened. */
export class TrainingDivergedError extends Error {
  /** batch null: found outside training (an evaluation); `message` then says where. */
  constructor(readonly epoch: number, readonly batch: number | null, readonly loss: number, message?: string) {
    super(message ?? `training diverged at epoch ${epoch}, batch ${batch}: loss is ${loss}; lower the learning rate (--lr) or check the data`);
    this.name = 'TrainingDivergedError';
  }
}
