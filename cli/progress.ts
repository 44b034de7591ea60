import cliProgress from 'cli-progress';
import type { TrainEvent } from '../src/train/events.js';

/** Shows training progress on stderr: a live bar on a terminal, one plain line per epoch otherwise. The label
 * names the rule of the stage being trained (a 'stage' event moves it on); the rule's metrics follow the loss. */
export function progressReporter(label: string, quiet: boolean): { onEvent: (e: TrainEvent) => void; stop: () => void } {
  if (quiet) return { onEvent: () => {}, stop: () => {} };
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: `${label} epoch {epoch} [{bar}] {percentage}% | loss {loss} | {info}`, stream: process.stderr, hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let info = '';
  let started = false;
  return {
    onEvent(e) {
      if (e.type === 'step' && bar) {
        if (!started) { bar.start(e.batches, 0, { epoch: e.epoch, loss: '-', info }); started = true; }
        bar.setTotal(e.batches);
        bar.update(e.batch, { epoch: e.epoch, loss: e.loss.toFixed(4), info });
      } else if (e.type === 'stage') {
        label = e.rule;
        if (!bar) process.stderr.write(`stage ${e.stage}: ${e.rule} for ${e.epochs} epochs\n`);
      } else if (e.type === 'epoch') {
        const metrics = Object.entries(e.metrics ?? {}).map(([name, value]) => `, ${name} ${value.toPrecision(4)}`).join('');
        info = `train loss ${e.trainLoss.toFixed(4)}${metrics} (${e.seconds.toFixed(2)} s)`;
        if (!bar) process.stderr.write(`${label} epoch ${e.epoch}: ${info}\n`);
      } else if (e.type === 'eval') {
        const err = e.error === null ? '' : `, error ${(100 * e.error).toFixed(2)} %`;
        info += ` | ${e.split} loss ${e.loss.toFixed(4)}${err}`;
        if (!bar) process.stderr.write(`${label} epoch ${e.epoch}: ${e.split} loss ${e.loss.toFixed(4)}${err}\n`);
      }
    },
    stop() {
      if (bar && started) bar.stop();
    },
  };
}
