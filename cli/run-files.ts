import { architectureText } from '../src/nn/layer-spec.js';
import { spikingSpec, type NetworkSpec } from '../src/nn/network.js';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveCheckpoint, writeFileAtomic } from '../node/files.js';
import type { Backend } from '../src/tensor/backend.js';
import { meanAlignment, type LayerAlignment } from '../src/metrics/alignment.js';
import { TrainingDivergedError, type TrainEvent } from '../src/train/events.js';
import type { RunConfig } from '../src/train/run.js';
import type { Trainer, TrainState } from '../src/train/trainer.js';
import { progressReporter } from './progress.js';
import { RUN_FILES } from './run-folder.js';
import { writeStagePictures, type PictureFile } from './run-pictures.js';

/** Where a run's data came from, saved in its checkpoint so that `ngrad eval` and `--resume` find the same
 * data: the data set's name, its folder as an absolute path, and a fingerprint of the test set. */
export interface DataSource {
  data: string;
  dataDir?: string;
  limitTrain?: number;
  limitTest?: number;
  validation?: number;
  /** datasetFingerprint of the test set the run was evaluated on. */
  testFingerprint?: string;
}

/** What OUT/checkpoint.ngrad holds. */
export interface SavedRun {
  format: 'ngrad-checkpoint';
  run: RunConfig;
  data: string;
  source?: DataSource;
  /** The backend that trained it (a resumed run uses it too, for bit-identical numbers). */
  backend?: string;
  state: TrainState;
  /** The metrics lines of the checkpoint's epoch (the epoch and its evaluations), written to metrics.jsonl
   * right after the checkpoint: a resumed run writes them if a kill came in between. */
  pending?: string[];
}

/** The summary a run writes to OUT/summary.json (and prints with --json). */
export interface RunSummary {
  rule: string;
  data: string;
  arch: string;
  act: string;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: string;
  backend: string;
  threads: number;
  seed: number;
  test_error: number | null;
  test_loss: number;
  validation_error: number | null;
  train_loss: number;
  epoch_seconds_median: number;
  seconds_total: number;
  /** Per layer, the mean angles (degrees) measured during the last epoch; empty without --align-every. */
  angles: {
    layer: number; update: number; signal: number | null; feedback: number | null; feedback_norm_ratio: number | null;
    gauss_newton_update: number | null; gauss_newton_signal: number | null;
  }[];
  out: string;
  /** The pictures the run's rules drew at the end of their stages (OUT/pictures/…png); empty for rules without. */
  pictures: PictureFile[];
  /** Set when training stopped because the loss was no longer finite: where and why. */
  diverged?: string;
}

/** The line metrics.jsonl gets when a stage's pictures are written (after that epoch's checkpoint and lines). */
interface PicturesLine {
  type: 'pictures';
  /** The epoch at whose end they were drawn (the stage's last). */
  epoch: number;
  stage: number;
  files: PictureFile[];
}

/** A line of metrics.jsonl. */
type RunLine = TrainEvent | PicturesLine;

/** What the summary is made of, accumulated from the events (also from the lines of a resumed run). */
class SummaryFacts {
  epochSeconds: number[] = [];
  trainLoss = NaN;
  test = { loss: NaN, error: null as number | null };
  validationError: number | null = null;
  lastEpochAngles: LayerAlignment[][] = [];
  pictures: PictureFile[] = [];
  private alignEpoch = 0;

  see(e: RunLine): void {
    if (e.type === 'pictures') this.pictures.push(...e.files);
    else if (e.type === 'epoch') {
      this.epochSeconds.push(e.seconds);
      this.trainLoss = e.trainLoss;
    } else if (e.type === 'eval' && e.split === 'test') this.test = e;
    else if (e.type === 'eval') this.validationError = e.error;
    else if (e.type === 'alignment') {
      if (e.epoch !== this.alignEpoch) this.lastEpochAngles = [];
      this.alignEpoch = e.epoch;
      this.lastEpochAngles.push(e.layers);
    }
  }
}

/**
 * Runs a trainer, appending to OUT/metrics.jsonl as events arrive (one JSON object a line, so a crash
 * loses at most the line being written) and writing atomically OUT/checkpoint.ngrad after each epoch and
 * OUT/summary.json at the end. The folder must have been prepared (prepareRunFolder).
 * NOTE: an epoch's own lines (the epoch and its evaluations) are written after its checkpoint, and the
 * checkpoint carries them: metrics.jsonl never runs ahead of the checkpoint, and `--resume` cuts the lines
 * of an epoch the checkpoint does not hold.
 * At the end of each stage, after its checkpoint, the stage's rule draws its pictures into OUT/pictures/
 * (writeStagePictures) and metrics.jsonl gets a 'pictures' line listing them; a failure to draw is a warning on
 * stderr and costs only the pictures. A run resumed from a stage's last checkpoint draws them if that line is missing.
 */
export function trainWithFiles(
  trainer: Trainer, saved: Omit<SavedRun, 'format' | 'state' | 'pending'>,
  io: { out: string; quiet: boolean; label?: string; resumed?: { pending: readonly string[] } }, backend: Backend,
): { summary: RunSummary; events: TrainEvent[] } {
  const { run } = saved;
  const metricsPath = join(io.out, RUN_FILES.metrics);
  const facts = new SummaryFacts();
  const events: TrainEvent[] = [];
  if (io.resumed) {
    for (const e of keepLinesUpTo(metricsPath, trainer.state.epoch, io.resumed.pending)) {
      facts.see(e);
      if (e.type !== 'pictures') events.push(e);
    }
  } else writeFileSync(metricsPath, '');
  const label = io.label ?? trainer.rule.id;
  const progress = progressReporter(label, io.quiet);
  let pending: string[] = [];
  const onEvent = (e: TrainEvent) => {
    events.push(e);
    facts.see(e);
    progress.onEvent(e);
    if (e.type === 'epoch' || e.type === 'eval') pending.push(JSON.stringify(e));
    else appendFileSync(metricsPath, `${JSON.stringify(e)}\n`);
  };
  const onEpochEnd = (state: TrainState) => {
    saveCheckpoint(join(io.out, RUN_FILES.checkpoint), { format: 'ngrad-checkpoint', ...saved, state, pending } satisfies SavedRun);
    flush();
    if (trainer.stageEpoch === trainer.config.epochs) drawPictures();
  };
  const flush = () => {
    if (pending.length) appendFileSync(metricsPath, pending.map((l) => `${l}\n`).join(''));
    pending = [];
  };
  const drawPictures = () => {
    const stage = trainer.state.stage + 1, epoch = trainer.state.epoch;
    try {
      const files = writeStagePictures(trainer, io.out);
      if (!files.length) return;
      const line: PicturesLine = { type: 'pictures', epoch, stage, files };
      appendFileSync(metricsPath, `${JSON.stringify(line)}\n`);
      facts.see(line);
    } catch (err) {
      // NOTE: the checkpoint of this epoch is written already; the run goes on without these pictures.
      const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
      process.stderr.write(`${label}: warning: the pictures of stage ${stage} (${trainer.rule.id}) could not be drawn: ${message}; training goes on\n`);
    }
  };
  // Killed between a stage's last checkpoint and its pictures: the state is that stage's end, so draw them now.
  const atStageEnd = trainer.state.epoch > 0 && trainer.stageEpoch === trainer.config.epochs;
  if (io.resumed && atStageEnd && !facts.pictures.some((p) => p.stage === trainer.state.stage + 1)) drawPictures();
  const started = performance.now();
  let diverged: string | undefined;
  try {
    trainer.run(onEvent, onEpochEnd);
  } catch (err) {
    if (!(err instanceof TrainingDivergedError)) throw err;
    diverged = err.message; // the summary still records what the run reached
  } finally {
    flush();
    progress.stop();
  }
  const summary: RunSummary = {
    rule: run.rule, data: saved.data, arch: run.spec.layers && run.spec.inputShape ? architectureText(run.spec.inputShape, run.spec.layers) : run.spec.sizes.join('-'), act: unitsLabel(run.spec),
    epochs: trainer.state.epoch, batch: run.train.batchSize, lr: run.train.lr, optimizer: run.optimizer.name,
    backend: backend.name, threads: backend.getThreads(), seed: run.seed,
    test_error: facts.test.error, test_loss: facts.test.loss, validation_error: facts.validationError, train_loss: facts.trainLoss,
    epoch_seconds_median: median(facts.epochSeconds), seconds_total: (performance.now() - started) / 1000,
    angles: meanAlignment(facts.lastEpochAngles).map((a) => ({
      layer: a.layer, update: a.updateAngle, signal: a.signalAngle, feedback: a.feedbackAngle, feedback_norm_ratio: a.feedbackNormRatio,
      gauss_newton_update: a.gaussNewtonUpdateAngle, gauss_newton_signal: a.gaussNewtonSignalAngle,
    })),
    out: io.out,
    pictures: facts.pictures,
    ...(diverged ? { diverged } : {}),
  };
  writeFileAtomic(join(io.out, RUN_FILES.summary), `${JSON.stringify(summary, null, 2)}\n`);
  return { summary, events };
}

/**
 * For a resumed run: rewrites metrics.jsonl with only the lines of epochs the checkpoint holds (epoch ≤
 * `epoch`; a line cut by the kill is dropped), then the checkpoint's pending lines if the kill came before
 * they were written. Returns the kept lines (events, and the pictures lines of stages that ended by then).
 */
function keepLinesUpTo(path: string, epoch: number, pending: readonly string[] = []): RunLine[] {
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split('\n') : [];
  const kept: RunLine[] = [];
  for (const line of lines) {
    let e: RunLine;
    try {
      e = JSON.parse(line) as RunLine;
    } catch {
      continue; // the empty last line, or one cut by the kill
    }
    // A stage begins after the checkpoint of its first epoch's predecessor: its line belongs to the next epoch.
    const at = e.type === 'done' ? Infinity : e.type === 'stage' ? e.epoch + 1 : e.epoch;
    if (at <= epoch) kept.push(e);
  }
  if (!kept.some((e) => e.type === 'epoch' && e.epoch === epoch)) {
    for (const line of pending) kept.push(JSON.parse(line) as TrainEvent);
  }
  writeFileAtomic(path, kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
  return kept;
}

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b), mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The hidden units in words: the activation, a spiking net's neurons and steps, and quantised signals. */
export function unitsLabel(spec: NetworkSpec): string {
  const spiking = spikingSpec(spec);
  const units = spiking ? `${spiking.neuron} spiking, T ${spiking.steps}` : spec.hidden;
  const q = spec.quantize, signals = [q?.forwardBits ? '1-bit forward' : '', q?.backwardBits ? `${q.backwardBits}-bit backward` : ''].filter(Boolean);
  return signals.length ? `${units} (${signals.join(', ')})` : units;
}
