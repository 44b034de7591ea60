import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseActivation } from '../src/nn/activations.js';
import { parseInit, type InitSpec } from '../src/nn/init.js';
import { LOSS_KINDS, type LossKind } from '../src/nn/losses.js';
import { parseArch } from '../src/nn/network.js';
import { DEFAULT_OPTIMIZER, OPTIMIZER_NAMES, type OptimizerName } from '../src/optim/optimizer.js';
import { isRuleId, RULE_IDS } from '../src/rules/registry.js';
import type { RuleOptions } from '../src/rules/rule.js';
import type { RunConfig } from '../src/train/run.js';
import { parseSchedule } from '../src/train/schedule.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { UsageError } from './usage-error.js';

export const TRAIN_USAGE = `usage: ngrad train [options]
  --rule ID            learning rule (${RULE_IDS.join(', ')}; see 'ngrad rules')   [bp]
  --rule-opt K=V       a rule option, repeatable
  --data NAME          mnist, fashion-mnist, xor, spirals, linear, cafeteria      [mnist]
  --data-dir DIR       read train-/t10k- IDX files from DIR instead
  --validation N       hold out N training examples as a validation set           [0]
  --limit-train N      use only the first N training examples (after the split)
  --limit-test N       use only the first N test examples
  --arch A-B-C         layer widths, e.g. 784-1000-10                             [784-1000-10]
  --act NAME           hidden activation: tanh, sigmoid, relu, leaky_relu, linear [tanh]
  --out-act NAME       output activation                                          [linear]
  --loss NAME          softmax_xent or mse                    [softmax_xent for classes, else mse]
  --init NAME          glorot, he, or uniform:OMEGA           [glorot; he for relu]
  --epochs N           passes over the training set                               [20]
  --batch N            mini-batch size                                            [100]
  --lr X               learning rate                                              [0.2]
  --schedule S         constant, step:EVERY:GAMMA, cosine[:MIN] (over --epochs)   [cosine]
  --optimizer NAME     ${OPTIMIZER_NAMES.join(', ')}                           [momentum]
  --momentum X         momentum coefficient                                       [0.9]
  --weight-decay X     L2 weight decay on weights                                 [0]
  --align-every N      every N updates, measure angles to the true gradient (0: off) [0]
  --seed N             the one seed of every random choice                        [1]
  --backend NAME       native, wasm or js (or env NGRAD_BACKEND)                  [native if built]
  --threads N          BLAS threads of the native backend                         [2]
  --out DIR            output folder for metrics.jsonl, summary.json, checkpoint  [runs/RULE-DATA-sSEED]
  --json               print the summary as JSON on the last line of stdout
  --quiet              no progress output`;

export interface TrainInvocation {
  run: RunConfig;
  data: string;
  dataDir?: string;
  validation: number;
  limitTrain?: number;
  limitTest?: number;
  /** Loss chosen explicitly, or undefined to pick by task (classification → softmax_xent). */
  lossGiven: boolean;
  backend?: string;
  threads?: number;
  /** Output folder if given; see runFolder for the default. */
  out?: string;
  json: boolean;
  quiet: boolean;
}

const OPTIONS = {
  rule: { type: 'string', default: 'bp' },
  'rule-opt': { type: 'string', multiple: true, default: [] as string[] },
  data: { type: 'string', default: 'mnist' },
  'data-dir': { type: 'string' },
  validation: { type: 'string', default: '0' },
  'limit-train': { type: 'string' },
  'limit-test': { type: 'string' },
  arch: { type: 'string', default: '784-1000-10' },
  act: { type: 'string', default: 'tanh' },
  'out-act': { type: 'string', default: 'linear' },
  loss: { type: 'string' },
  init: { type: 'string' },
  epochs: { type: 'string', default: '20' },
  batch: { type: 'string', default: '100' },
  lr: { type: 'string', default: '0.2' },
  schedule: { type: 'string', default: 'cosine' },
  optimizer: { type: 'string', default: 'momentum' },
  momentum: { type: 'string', default: String(DEFAULT_OPTIMIZER.momentum) },
  'weight-decay': { type: 'string', default: '0' },
  'align-every': { type: 'string', default: '0' },
  seed: { type: 'string', default: '1' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

export function parseTrainArgs(argv: string[]): TrainInvocation {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  const guard = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
  if (!isRuleId(values.rule)) throw new UsageError(`unknown rule '${values.rule}' (choose ${RULE_IDS.join(', ')})`);
  const hidden = guard(() => parseActivation(values.act));
  const init: InitSpec = values.init ? guard(() => parseInit(values.init as string)) : hidden === 'relu' || hidden === 'leaky_relu' ? { kind: 'he' } : { kind: 'glorot' };
  if (values.loss !== undefined && !LOSS_KINDS.includes(values.loss as LossKind)) {
    throw new UsageError(`unknown loss '${values.loss}' (choose ${LOSS_KINDS.join(', ')})`);
  }
  if (!OPTIMIZER_NAMES.includes(values.optimizer as OptimizerName)) {
    throw new UsageError(`unknown optimizer '${values.optimizer}' (choose ${OPTIMIZER_NAMES.join(', ')})`);
  }
  const epochs = parseWholeNumber('--epochs', values.epochs, 1);
  const seed = parseWholeNumber('--seed', values.seed, 0, 2 ** 31 - 1); // the generator takes a 32-bit seed
  return {
    run: {
      rule: values.rule,
      ruleOptions: parseRuleOptions(values['rule-opt']),
      spec: {
        sizes: guard(() => parseArch(values.arch)),
        hidden,
        output: guard(() => parseActivation(values['out-act'])),
        leakySlope: 0.01,
        loss: (values.loss as LossKind | undefined) ?? 'softmax_xent',
        init,
      },
      optimizer: {
        ...DEFAULT_OPTIMIZER,
        name: values.optimizer as OptimizerName,
        momentum: real('--momentum', values.momentum, 0),
        weightDecay: real('--weight-decay', values['weight-decay'], 0),
      },
      train: {
        ...DEFAULT_TRAIN,
        epochs,
        batchSize: parseWholeNumber('--batch', values.batch, 1),
        lr: real('--lr', values.lr, 0),
        schedule: guard(() => parseSchedule(values.schedule, epochs)),
        alignEvery: parseWholeNumber('--align-every', values['align-every'], 0),
      },
      seed,
    },
    data: values.data,
    dataDir: values['data-dir'],
    validation: parseWholeNumber('--validation', values.validation, 0),
    limitTrain: values['limit-train'] === undefined ? undefined : parseWholeNumber('--limit-train', values['limit-train'], 1),
    limitTest: values['limit-test'] === undefined ? undefined : parseWholeNumber('--limit-test', values['limit-test'], 1),
    lossGiven: values.loss !== undefined,
    backend: values.backend,
    threads: values.threads === undefined ? undefined : parseWholeNumber('--threads', values.threads, 1),
    out: values.out,
    json: values.json,
    quiet: values.quiet,
  };
}

/** --out, or runs/NAME-DATA-sSEED. */
export function runFolder(inv: TrainInvocation, name: string): string {
  return inv.out ?? `runs/${name}-${inv.dataDir ? 'data-dir' : inv.data}-s${inv.run.seed}`;
}

/** A whole number in [min, max] from a flag's text, or a UsageError naming the flag. */
export function parseWholeNumber(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text) || n < min || n > max) {
    throw new UsageError(`${flag} needs a whole number from ${min} to ${max}, got '${text}'`);
  }
  return n;
}


function real(flag: string, text: string, min: number): number {
  const x = Number(text);
  if (text.trim() === '' || !Number.isFinite(x) || x < min) throw new UsageError(`${flag} needs a number ≥ ${min}, got '${text}'`);
  return x;
}

/** 'k=v' pairs; values that read as numbers or booleans become those. */
function parseRuleOptions(pairs: string[]): RuleOptions {
  const options: Record<string, number | boolean | string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--rule-opt needs KEY=VALUE, got '${pair}'`);
    const key = pair.slice(0, eq), text = pair.slice(eq + 1);
    options[key] = text === 'true' ? true : text === 'false' ? false : text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return options;
}
