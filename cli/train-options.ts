import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseActivation } from '../src/nn/activations.js';
import { parseInit, type InitSpec } from '../src/nn/init.js';
import { LOSS_KINDS, type LossKind } from '../src/nn/losses.js';
import { architectureSpec, type NetworkSpec } from '../src/nn/network.js';
import { DEFAULT_SPIKING } from '../src/nn/spiking.js';
import type { QuantizeSpec } from '../src/nn/stochastic.js';
import { DEFAULT_SETTLE, type SettleSpec } from '../src/nn/settling.js';
import { ARCH_GRAMMAR } from '../src/nn/layer-spec.js';
import { DEFAULT_OPTIMIZER, OPTIMIZER_NAMES, type OptimizerConfig, type OptimizerName } from '../src/optim/optimizer.js';
import { isRuleId, RULE_IDS, type RuleId } from '../src/rules/registry.js';
import type { RuleOptions } from '../src/rules/rule.js';
import type { RunConfig, StageConfig } from '../src/train/run.js';
import type { GroupSettings } from '../src/train/stage.js';
import { parseSchedule } from '../src/train/schedule.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { UsageError } from './usage-error.js';

export const TRAIN_USAGE = `usage: ngrad train [options]
  --rule ID            learning rule (${RULE_IDS.join(', ')}; see 'ngrad rules')   [bp]
  --rule-opt K=V       a rule option, repeatable
  --data NAME          mnist, fashion-mnist, cifar10, xor, spirals, linear, cafeteria [mnist]
  --data-dir DIR       read train-/t10k- IDX files (with --data cifar10: CIFAR-10's binary batches) from DIR
  --validation N       hold out N training examples as a validation set           [0]
  --limit-train N      use only the first N training examples (after the split)
  --limit-test N       use only the first N test examples
  --arch A-B-C         the layers, e.g. 784-1000-10 or 1x28x28-c6k5p2-pool2-120-10 (below) [784-1000-10]
  --act NAME           hidden activation: tanh, sigmoid, relu, leaky_relu,
                       hard_sigmoid, linear                                       [tanh]
  --out-act NAME       output activation                                          [linear]
  --loss NAME          softmax_xent or mse                    [softmax_xent for classes, else mse]
  --init NAME          glorot, he, or uniform:OMEGA           [glorot; he for relu]
  --model NAME         feedforward; settling: an energy-based net that relaxes with the input
                       clamped and predicts from its free fixed point (every layer --act's
                       hard_sigmoid or sigmoid; loss mse by default); or spiking: hidden
                       layers of spiking neurons run for --time-steps steps per input, the
                       output read out from the last one's spike counts           [feedforward]
  --neuron NAME        a spiking net's neurons: lif (leaky integrate-and-fire) or bernoulli
                       (a spike with probability σ(current) each step)            [lif]
  --time-steps T       a spiking net's time steps per input                       [50]
  --lif TAU,THETA      LIF membrane time constant (steps) and threshold           [10,0.25]
  --spike-input NAME   spikes (pixel x spikes with probability x each step) or current [spikes]
  --forward-bits N     1: hidden logistic units send samples of {0, 1} with P(1) = σ(z)
                       during training (needs --act sigmoid); 0: real values      [0]
  --backward-bits N    k ≥ 2: errors sent to hidden layers are quantised to k stochastic
                       bits, a sign and k−1 magnitude bits, unbiased (bp and the feedback
                       family); 0: real values                                    [0]
  --settle E,N[,T]     a settling net's free phase: step size E, at most N steps, stop early
                       once no unit moves more than T·E a step; E = 1 under hard_sigmoid is the
                       fixed-point form s ← clip(drive) of Laborieux et al. 2021    [0.5,20,0]
  --feedback-gain G    a settling net's top-down connections scaled by G (Xie & Seung 2003's
                       weak feedback for chl and generec; the energy weights layer l by G^(l-1)) [1]
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
  --initial-momentum X:E  momentum X for the first E epochs of each stage, then --momentum
                       (Hinton & Salakhutdinov's RBMs: 0.5:5 with --momentum 0.9)
  --pretrain rbm:E     a deep belief net: first train each hidden layer as an RBM for E epochs,
                       greedily from the bottom (CD-1, Hinton & Salakhutdinov's recipe: lr 0.1,
                       weight cost 2e-4, momentum 0.5 for 5 epochs then 0.9), then fine-tune the
                       whole net with --rule for --epochs (its --lr, --optimizer…); rbm options
                       as --rule-opt rbm.KEY=VALUE; needs --act sigmoid
  --stage R:E[:L]      a stage of a multi-stage run: rule R for E epochs, training only layers
                       L (e.g. 3 or 1-2; default all); repeatable, in order; --rule-opt then
                       takes R.KEY=VALUE, and --epochs is ignored
  --group-opt G.K=V    a setting of the rule's trainable group G (e.g. feedback.lr=0.01,
                       feedback.optimizer=sgd, feedback.momentum=0.5); repeatable
  --out DIR            output folder for metrics.jsonl, summary.json, checkpoint  [runs/RULE-DATA-sSEED]
                       (must be empty or new)
                       rules that draw pictures (features, samples) add pictures/*.png at each stage's end
  --force              reuse a non-empty --out folder, replacing the run in it
  --resume DIR         continue the run in DIR from its last checkpoint (takes only --backend,
                       --threads, --quiet and --json; the saved backend by default)
  --json               print the summary as JSON on the last line of stdout
  --quiet              no progress output
Numbers are decimal (1, 0.5, 1e-3); whole numbers have no fraction or exponent.
${ARCH_GRAMMAR.replace(/^an architecture/, 'An architecture (--arch)')}`;

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
  /** Replace the run in a non-empty output folder. */
  force: boolean;
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
  model: { type: 'string', default: 'feedforward' },
  settle: { type: 'string' },
  'feedback-gain': { type: 'string' },
  neuron: { type: 'string' },
  'time-steps': { type: 'string' },
  lif: { type: 'string' },
  'spike-input': { type: 'string' },
  'forward-bits': { type: 'string', default: '0' },
  'backward-bits': { type: 'string', default: '0' },
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
  stage: { type: 'string', multiple: true, default: [] as string[] },
  pretrain: { type: 'string' },
  'initial-momentum': { type: 'string' },
  'group-opt': { type: 'string', multiple: true, default: [] as string[] },
  out: { type: 'string' },
  force: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

export function parseTrainArgs(argv: string[]): TrainInvocation {
  let values;
  try {
    ({ values } = parseArgs({ args: joinNegativeNumbers(argv, OPTIONS), options: OPTIONS, strict: true, allowPositionals: false }));
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
  if (values.model !== 'feedforward' && values.model !== 'settling' && values.model !== 'spiking') {
    throw new UsageError(`unknown model '${values.model}' (choose feedforward, settling or spiking)`);
  }
  if (values.settle !== undefined && values.model !== 'settling') throw new UsageError('--settle is for --model settling');
  if (values['feedback-gain'] !== undefined && values.model !== 'settling') throw new UsageError('--feedback-gain is for --model settling');
  const settling = values.model === 'settling' ? { model: 'settling' as const, settle: parseSettle(values.settle, values['feedback-gain']) } : {};
  const seed = parseWholeNumber('--seed', values.seed, 0, 2 ** 31 - 1); // the generator takes a 32-bit seed
  const spiking = parseSpiking(values, seed);
  const quantize = parseQuantize(values['forward-bits'], values['backward-bits']);
  if (!OPTIMIZER_NAMES.includes(values.optimizer as OptimizerName)) {
    throw new UsageError(`unknown optimizer '${values.optimizer}' (choose ${OPTIMIZER_NAMES.join(', ')})`);
  }
  const epochs = parseWholeNumber('--epochs', values.epochs, 1);
  const ruleOptions = parseRuleOptions(values['rule-opt']);
  const optimizer: OptimizerConfig = {
    ...DEFAULT_OPTIMIZER,
    name: values.optimizer as OptimizerName,
    momentum: real('--momentum', values.momentum, 0, 1),
    weightDecay: real('--weight-decay', values['weight-decay'], 0),
    ...(values['initial-momentum'] !== undefined ? { initialMomentum: parseInitialMomentum(values['initial-momentum'], values.optimizer) } : {}),
  };
  if (values.pretrain !== undefined && values.stage.length) throw new UsageError('--pretrain makes the stages itself: give --pretrain or --stage, not both');
  const arch = guard(() => architectureSpec(values.arch));
  const stages = values.stage.length ? parseStages(values.stage, ruleOptions)
    : values.pretrain !== undefined ? pretrainStages(values.pretrain, values.rule, epochs, ruleOptions, arch.sizes.length - 2) : undefined;
  const groups = parseGroupOptions(values['group-opt'], optimizer);
  return {
    run: {
      rule: stages ? stages[stages.length - 1].rule : values.rule,
      ruleOptions: stages ? stages[stages.length - 1].ruleOptions : ruleOptions,
      ...(stages ? { stages } : {}),
      ...(Object.keys(groups).length ? { groups } : {}),
      spec: {
        ...arch,
        hidden,
        output: guard(() => parseActivation(values['out-act'])),
        leakySlope: 0.01,
        loss: (values.loss as LossKind | undefined) ?? (values.model === 'settling' ? 'mse' : 'softmax_xent'),
        init,
        ...settling,
        ...spiking,
        ...(quantize ? { quantize } : {}),
      },
      optimizer,
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
    force: values.force,
    json: values.json,
    quiet: values.quiet,
  };
}

/** --out, or runs/NAME-DATA-sSEED. */
export function runFolder(inv: TrainInvocation, name: string): string {
  return inv.out ?? `runs/${name}-${inv.dataDir ? 'data-dir' : inv.data}-s${inv.run.seed}`;
}

/** The one number syntax of every flag and option: decimal, optional sign, fraction and exponent. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const WHOLE = /^[+-]?\d+$/;

/** A decimal number's value, or null for text that is not one (hex, '', 'Infinity', '1_000'…). */
export function decimalValue(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const x = Number(text);
  return Number.isFinite(x) ? x : null;
}

/** A whole number in [min, max] from a flag's text, or a UsageError naming the flag. */
export function parseWholeNumber(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!WHOLE.test(text) || n < min || n > max) {
    throw new UsageError(`${flag} needs a whole number from ${min} to ${max}, got '${text}'`);
  }
  return n;
}

/** A decimal number in [min, max) (max excluded when given), or a UsageError naming the flag. */
export function real(flag: string, text: string, min: number, max?: number): number {
  const x = decimalValue(text);
  if (x === null || x < min || (max !== undefined && x >= max)) {
    throw new UsageError(`${flag} needs a number ≥ ${min}${max === undefined ? '' : ` and < ${max}`}, got '${text}'`);
  }
  return x;
}

/**
 * parseArgs reads '--lr -1' as two options ("argument is ambiguous"). A value that is a negative decimal
 * number is joined to its flag ('--lr=-1'), so that the flag's own check can say what it needs.
 */
export function joinNegativeNumbers(argv: readonly string[], options: ParseArgsConfig['options']): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    const next = argv[i + 1];
    if (name && options?.[name]?.type === 'string' && next !== undefined && next.startsWith('-') && DECIMAL.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else out.push(argv[i]);
  }
  return out;
}

/** Option names are plain identifiers, optionally prefixed by a rule or group id: 'sparsity', 'fa.sparsity'. */
const OPTION_NAME = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)?$/;

/** 'k=v' pairs; values in the decimal syntax become numbers, 'true'/'false' booleans, the rest strings. */
export function parseRuleOptions(pairs: string[], flag = '--rule-opt'): RuleOptions {
  const options: Record<string, number | boolean | string> = Object.create(null);
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} needs KEY=VALUE, got '${pair}'`);
    const key = pair.slice(0, eq), text = pair.slice(eq + 1);
    if (!OPTION_NAME.test(key)) throw new UsageError(`${flag} ${pair}: option names are letters and digits (e.g. sparsity=0.5, fa.sparsity=0.5)`);
    if (key in options) throw new UsageError(`${flag} ${key} is given twice`);
    options[key] = text === 'true' ? true : text === 'false' ? false : decimalValue(text) ?? text;
  }
  return { ...options };
}

/** 'fa.sparsity' → option sparsity of fa; a key without a rule prefix is an error where rules are several. */
export function splitRuleOptions(options: RuleOptions, rules: readonly RuleId[], where: string): Record<string, RuleOptions> {
  const byRule: Record<string, Record<string, number | boolean | string>> = Object.fromEntries(rules.map((r) => [r, {}]));
  for (const [key, value] of Object.entries(options)) {
    const dot = key.indexOf('.');
    const rule = key.slice(0, dot), name = key.slice(dot + 1);
    if (dot <= 0 || !Object.prototype.hasOwnProperty.call(byRule, rule)) {
      throw new UsageError(`--rule-opt ${key}: ${where}, name the rule: RULE.KEY=VALUE with RULE one of ${rules.join(', ')}`);
    }
    byRule[rule][name] = value;
  }
  return byRule;
}

/** --stage RULE:EPOCHS[:LAYERS], LAYERS as '3', '1-2' or '1,3'. */
function parseStages(texts: string[], ruleOptions: RuleOptions): StageConfig[] {
  const stages = texts.map((text) => {
    const m = /^([a-z]+):(\d+)(?::(\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*))?$/.exec(text);
    if (!m) throw new UsageError(`--stage needs RULE:EPOCHS[:LAYERS], e.g. bp:5 or delta:2:3 or fa:3:1-2, got '${text}'`);
    if (!isRuleId(m[1])) throw new UsageError(`--stage ${text}: unknown rule '${m[1]}' (choose ${RULE_IDS.join(', ')})`);
    const epochs = parseWholeNumber(`--stage ${text}: epochs`, m[2], 1);
    const trains = m[3]?.split(',').flatMap((part) => {
      const [a, b = a] = part.split('-').map(Number);
      if (!(a >= 1 && b >= a)) throw new UsageError(`--stage ${text}: layers are 1-based ranges such as 2 or 1-3`);
      return Array.from({ length: b - a + 1 }, (_, i) => a + i);
    });
    return { rule: m[1], ruleOptions: {}, epochs, ...(trains ? { trains } : {}) } as StageConfig;
  });
  const byRule = splitRuleOptions(ruleOptions, [...new Set(stages.map((s) => s.rule))], 'with --stage');
  return stages.map((s) => ({ ...s, ruleOptions: byRule[s.rule] }));
}

/** Hinton & Salakhutdinov's RBM recipe (rbm.m): ε = 0.1, weight cost 2e-4, momentum 0.5 for 5 epochs, then 0.9. */
export const RBM_RECIPE = {
  lr: 0.1,
  optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum', momentum: 0.9, initialMomentum: { momentum: 0.5, epochs: 5 }, weightDecay: 2e-4 } as OptimizerConfig,
};

/** --pretrain rbm:E: one RBM stage per hidden layer, bottom up, in Hinton & Salakhutdinov's recipe, then the run's
 * rule on the whole network for the run's epochs. Options prefixed rbm. go to the RBMs, the rest to the rule. */
function pretrainStages(text: string, rule: RuleId, epochs: number, options: RuleOptions, hiddenLayers: number): StageConfig[] {
  const m = /^rbm:(\d+)$/.exec(text);
  if (!m) throw new UsageError(`--pretrain needs rbm:EPOCHS, e.g. rbm:10, got '${text}'`);
  const rbmEpochs = parseWholeNumber(`--pretrain ${text}: epochs`, m[1], 1);
  if (hiddenLayers < 1) throw new UsageError('--pretrain rbm needs a hidden layer: give --arch with at least one, e.g. 784-500-10');
  const rbmOptions: Record<string, number | boolean | string> = {}, ruleOptions: Record<string, number | boolean | string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (key.startsWith('rbm.')) rbmOptions[key.slice(4)] = value;
    else ruleOptions[key] = value;
  }
  const rbms: StageConfig[] = Array.from({ length: hiddenLayers }, (_, l) => ({
    rule: 'rbm', ruleOptions: rbmOptions, epochs: rbmEpochs, trains: [l + 1], lr: RBM_RECIPE.lr, optimizer: RBM_RECIPE.optimizer, schedule: { kind: 'constant' },
  }));
  return [...rbms, { rule, ruleOptions, epochs }];
}

/** --initial-momentum X:E. */
function parseInitialMomentum(text: string, optimizer: string): { momentum: number; epochs: number } {
  const m = /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`--initial-momentum needs MOMENTUM:EPOCHS, e.g. 0.5:5, got '${text}'`);
  if (optimizer !== 'momentum' && optimizer !== 'nesterov') throw new UsageError(`--initial-momentum is for --optimizer momentum or nesterov, not ${optimizer}`);
  return { momentum: real('--initial-momentum', m[1], 0, 1), epochs: parseWholeNumber('--initial-momentum: epochs', m[2], 1) };
}

/** --group-opt GROUP.KEY=VALUE with KEY one of lr, optimizer, momentum, weightDecay. */
function parseGroupOptions(pairs: string[], runOptimizer: OptimizerConfig): Record<string, GroupSettings> {
  const groups: Record<string, GroupSettings> = {};
  for (const [key, value] of Object.entries(parseRuleOptions(pairs, '--group-opt'))) {
    const [group, name] = key.split('.');
    if (!name) throw new UsageError(`--group-opt ${key}: give GROUP.KEY=VALUE, e.g. feedback.lr=0.01`);
    const settings = (groups[group] ??= {});
    const optimizer = () => (settings.optimizer ??= { ...runOptimizer });
    const number = (min: number, max?: number) => real(`--group-opt ${key}`, String(value), min, max);
    if (name === 'lr') settings.lr = number(0);
    else if (name === 'momentum') optimizer().momentum = number(0, 1);
    else if (name === 'weightDecay') optimizer().weightDecay = number(0);
    else if (name === 'optimizer') {
      if (!OPTIMIZER_NAMES.includes(value as OptimizerName)) throw new UsageError(`--group-opt ${key}: choose ${OPTIMIZER_NAMES.join(', ')}`);
      optimizer().name = value as OptimizerName;
    } else throw new UsageError(`--group-opt ${key}: a group has lr, optimizer, momentum and weightDecay`);
  }
  return groups;
}

/** --model spiking with --neuron, --time-steps, --lif TAU,THETA and --spike-input; the evaluation stream from --seed. */
function parseSpiking(values: { model?: string; neuron?: string; 'time-steps'?: string; lif?: string; 'spike-input'?: string }, seed: number): Pick<NetworkSpec, 'model' | 'spiking'> {
  const given = (['neuron', 'time-steps', 'lif', 'spike-input'] as const).filter((k) => values[k] !== undefined);
  if (values.model !== 'spiking') {
    if (given.length) throw new UsageError(`--${given[0]} is for --model spiking`);
    return {};
  }
  const neuron = values.neuron ?? DEFAULT_SPIKING.neuron;
  if (neuron !== 'lif' && neuron !== 'bernoulli') throw new UsageError(`unknown --neuron '${neuron}' (choose lif or bernoulli)`);
  const input = values['spike-input'] ?? DEFAULT_SPIKING.input;
  if (input !== 'spikes' && input !== 'current') throw new UsageError(`unknown --spike-input '${input}' (choose spikes or current)`);
  let { tau, threshold } = DEFAULT_SPIKING;
  if (values.lif !== undefined) {
    const parts = values.lif.split(',').map(Number);
    if (parts.length !== 2 || !parts.every((v) => v > 0 && Number.isFinite(v))) {
      throw new UsageError(`bad --lif '${values.lif}': give the membrane time constant in steps and the threshold, e.g. 10,1`);
    }
    [tau, threshold] = parts;
  }
  const steps = values['time-steps'] === undefined ? DEFAULT_SPIKING.steps : parseWholeNumber('--time-steps', values['time-steps'], 1, 10000);
  return { model: 'spiking', spiking: { neuron, steps, tau, threshold, input, seed } };
}

/** --forward-bits 0|1 and --backward-bits 0|k: the spec's quantize field, or null at full precision. */
function parseQuantize(forwardText: string, backwardText: string): QuantizeSpec | null {
  const forwardBits = parseWholeNumber('--forward-bits', forwardText, 0, 1) as 0 | 1;
  const backwardBits = parseWholeNumber('--backward-bits', backwardText, 0, 16);
  if (backwardBits === 1) throw new UsageError('--backward-bits 1 cannot carry a sign and a magnitude: give 0 (real values) or at least 2');
  return forwardBits || backwardBits ? { forwardBits, backwardBits } : null;
}

/** --settle E,N[,T]: a settling net's free-phase step size, most steps and tolerance; --feedback-gain G. */
function parseSettle(text: string | undefined, gainText: string | undefined): SettleSpec {
  const settle = parseSettleSteps(text);
  if (gainText === undefined) return settle;
  const feedbackGain = Number(gainText);
  if (!(feedbackGain > 0) || !Number.isFinite(feedbackGain)) throw new UsageError(`bad --feedback-gain '${gainText}': give a positive number, e.g. 0.1`);
  return { ...settle, feedbackGain };
}

function parseSettleSteps(text: string | undefined): SettleSpec {
  if (text === undefined) return DEFAULT_SETTLE;
  const parts = text.split(',');
  const [epsilon, steps, tolerance = 0] = parts.map(Number);
  if (parts.length < 2 || parts.length > 3 || !(epsilon > 0) || !Number.isInteger(steps) || steps < 1 || !(tolerance >= 0)) {
    throw new UsageError(`bad --settle '${text}': give the step size, the most steps and optionally a tolerance, e.g. 0.5,20 or 0.5,100,1e-4`);
  }
  return { epsilon, steps, tolerance };
}
