import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../node/files.js';
import { runsFigure } from '../node/plot.js';
import type { TrainEvent } from '../src/train/events.js';
import { UsageError } from './usage-error.js';

export const PLOT_USAGE = `usage: ngrad plot RUN_DIR [RUN_DIR …] [--out FILE.svg] [--title TEXT]
  Draws the runs' learning curves (and angles, where measured) into one SVG figure.`;

export async function plotCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { out: { type: 'string' }, title: { type: 'string' } } });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  const dirs = parsed.positionals;
  if (!dirs.length) throw new UsageError('plot needs at least one run folder (one that holds metrics.jsonl)');
  const runs = dirs.map((dir) => {
    const path = join(dir, 'metrics.jsonl');
    if (!existsSync(path)) throw new UsageError(`${path} not found: give folders written by 'ngrad train' or 'ngrad compare'`);
    const events = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TrainEvent);
    const summaryPath = join(dir, 'summary.json');
    const label = existsSync(summaryPath) ? `${JSON.parse(readFileSync(summaryPath, 'utf8')).rule} (${basename(dir)})` : basename(dir);
    return { label, events };
  });
  const out = parsed.values.out ?? 'figure.svg';
  writeFileAtomic(out, await runsFigure(runs, parsed.values.title ?? ''));
  process.stdout.write(`wrote ${out}\n`);
  return 0;
}
