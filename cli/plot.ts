import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../node/files.js';
import { readMetrics, runsFigure, type RunCurves } from '../node/plot.js';
import { DataError } from '../src/data/errors.js';
import { UsageError } from './usage-error.js';

export const PLOT_USAGE = `usage: ngrad plot RUN_DIR [RUN_DIR …] [--out FILE.svg] [--title TEXT] [--label TEXT …]
  Draws the runs' learning curves (and angles, where measured) into one SVG figure (default figure.svg,
  replaced if it exists). A last line of metrics.jsonl cut short by a crash is skipped with a warning.
  --label names the runs in the legend, one per run in order (default: the rule and the folder's name).`;

export async function plotCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { out: { type: 'string' }, title: { type: 'string' }, label: { type: 'string', multiple: true } } });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  const dirs = parsed.positionals;
  if (!dirs.length) throw new UsageError('plot needs at least one run folder (one that holds metrics.jsonl)');
  // Checked before any work, so a bad --out costs nothing and leaves whatever is there untouched.
  const out = checkOut(parsed.values.out ?? 'figure.svg');
  const labels = parsed.values.label ?? [];
  if (labels.length && labels.length !== dirs.length) {
    throw new UsageError(`--label was given ${labels.length} time(s) for ${dirs.length} run folder(s): give one per run, in order, or none`);
  }
  const runs = dirs.map((dir, i) => ({ ...readRun(dir), ...(labels.length ? { label: labels[i] } : {}) }));
  const svg = await runsFigure(runs, parsed.values.title ?? '');
  try {
    writeFileAtomic(out, svg); // a new file or the old one, never half of one
  } catch (err) {
    throw new DataError(`cannot write ${out} (${(err as NodeJS.ErrnoException).code ?? String(err)}): check that its folder exists, is writable and has space`);
  }
  process.stdout.write(`wrote ${out}\n`);
  return 0;
}

function readRun(dir: string): RunCurves {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) {
    if (existsSync(dir) && !statSync(dir).isDirectory()) {
      throw new UsageError(`${dir} is a file, not a run folder: give the folder that holds metrics.jsonl${basename(dir) === 'metrics.jsonl' ? ` (${dirname(dir)})` : ''}`);
    }
    throw new UsageError(`${path} not found: give folders written by 'ngrad train' or 'ngrad compare'`);
  }
  const { events, cutLine } = readMetrics(path);
  if (cutLine !== null) {
    process.stderr.write(`ngrad plot: warning: ${path} line ${cutLine} is cut short (the run stopped while writing it); skipped it and plotted the ${events.length} events before it\n`);
  }
  return { label: runLabel(dir), events };
}

/** "rule (folder)" when the run's summary.json names its rule, else the folder's name. */
function runLabel(dir: string): string {
  const summaryPath = join(dir, 'summary.json');
  if (!existsSync(summaryPath)) return basename(dir);
  let summary: unknown;
  try {
    summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
  } catch {
    throw new DataError(`${summaryPath} is not valid JSON: repair or remove it (the run is then labelled by its folder name)`);
  }
  const rule = (summary as { rule?: unknown } | null)?.rule;
  return typeof rule === 'string' ? `${rule} (${basename(dir)})` : basename(dir);
}

/** --out: a file name ending in .svg whose folder is, or can be made, writable; an existing file is replaced. */
function checkOut(out: string): string {
  if (out === '') throw new UsageError('--out needs a file name, e.g. --out figure.svg');
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a folder: give a file in it, e.g. --out ${join(out, 'figure.svg')}`);
  // The figure replaces what is there, so the name must say SVG: a slip such as --out run/metrics.jsonl
  // would otherwise overwrite the run's data with a picture.
  if (!/\.svg$/i.test(out)) throw new UsageError(`--out ${out} does not end in .svg: plot writes an SVG figure, e.g. --out figure.svg`);
  if (existsSync(out) && !statSync(out).isFile()) throw new UsageError(`--out ${out} exists and is not a regular file: give another name`);
  let folder = dirname(resolve(out));
  while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
  if (!statSync(folder).isDirectory()) throw new UsageError(`--out ${out}: ${folder} is a file, not a folder: give a path inside a folder`);
  try {
    accessSync(folder, constants.W_OK | constants.X_OK);
  } catch {
    throw new UsageError(`--out ${out}: no permission to write in ${folder}: give a path in a folder you can write to`);
  }
  return out;
}
