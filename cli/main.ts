import { isDataError } from '../src/data/errors.js';
import { RULES, RULE_IDS } from '../src/rules/registry.js';
import { TrainingDivergedError } from '../src/train/events.js';
import { COMPARE_USAGE, compareCommand } from './compare.js';
import { EVAL_USAGE, evalCommand } from './eval.js';
import { LAB_USAGE, labCommand } from './lab.js';
import { PLOT_USAGE, plotCommand } from './plot.js';
import { TRAIN_USAGE } from './train-options.js';
import { trainCommand } from './train.js';
import { UsageError } from './usage-error.js';

const USAGE = `usage: ngrad <command> [options]
  train    train a network with a learning rule        (ngrad train --help)
  compare  train several rules under one protocol       (ngrad compare --help)
  plot     draw runs' curves into an SVG figure         (ngrad plot --help)
  eval     evaluate a saved checkpoint                  (ngrad eval --help)
  rules    list the learning rules and their papers
  lab      serve the browser lab on 127.0.0.1           (ngrad lab --help)`;

const COMMANDS: Record<string, { run: (argv: string[]) => number | Promise<number>; usage: string }> = {
  train: { run: trainCommand, usage: TRAIN_USAGE },
  compare: { run: compareCommand, usage: COMPARE_USAGE },
  plot: { run: plotCommand, usage: PLOT_USAGE },
  eval: { run: evalCommand, usage: EVAL_USAGE },
  rules: { run: rulesCommand, usage: 'usage: ngrad rules' },
  lab: { run: labCommand, usage: LAB_USAGE },
};

function rulesCommand(argv: string[]): number {
  if (argv.length) throw new UsageError(`rules takes no arguments, got '${argv[0]}'`);
  for (const id of RULE_IDS) {
    const r = RULES[id];
    process.stdout.write(`${id.padEnd(6)} ${r.title}\n       ${r.paper}\n`);
  }
  return 0;
}

/** Runs the CLI; returns the exit code: 0 done, 1 training failed, 2 bad arguments or data. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`ngrad: unknown command '${name}'\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`ngrad ${name}: ${err.message}\n${command.usage}\n`);
      return 2;
    }
    if (isDataError(err)) {
      process.stderr.write(`ngrad ${name}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof TrainingDivergedError) {
      process.stderr.write(`ngrad ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
