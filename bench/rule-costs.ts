import type { Backend } from '../src/tensor/backend.js';
import type { DataSplits } from '../src/data/dataset.js';
import type { Batch } from '../src/rules/rule.js';
import { RULE_IDS, RULES, specForRule, type RuleId } from '../src/rules/registry.js';
import { createTrainer, type RunConfig } from '../src/train/run.js';
import type { Trainer } from '../src/train/trainer.js';
import { architectureSpec } from '../src/nn/network.js';
import { EPOCH_RUN } from './epoch.js';
import { counted, flopCount } from './flop-count.js';
import { profiled, type Profile } from './profile.js';

/** A net the rule-cost benchmark trains on, and the run settings it is trained with. */
export interface CostNet {
  /** Short key, e.g. 'mnist-1000'. */
  key: string;
  /** For the report, e.g. 'MNIST 784-1000-10 tanh'. */
  title: string;
  run: Omit<RunConfig, 'rule' | 'ruleOptions'>;
}

/** Feed-forward rules: the BP epoch's net (MNIST 784-1000-10 tanh, softmax cross-entropy, batch 100, SGD +
 * momentum at lr 0.01). */
export const FEED_FORWARD_NET: CostNet = { key: 'mnist-1000', title: 'MNIST 784-1000-10 tanh', run: EPOCH_RUN };

/** The target-propagation family: Bartunov et al. (2018)'s MNIST net, 784-256×5-10 tanh (scripts/reproduce-tp.sh),
 * with the same loss, optimizer and batch. Its hidden layers above the first are square (256 → 256), which
 * is what `tp` needs for its exact inverses, so every TP rule, and BP as the reference, runs on the one net. */
export const TARGET_PROPAGATION_NET: CostNet = {
  key: 'tp-5x256',
  title: 'MNIST 784-256×5-10 tanh (Bartunov et al. 2018)',
  run: { ...EPOCH_RUN, spec: { ...EPOCH_RUN.spec, ...architectureSpec('784-256-256-256-256-256-10') } },
};

/** The settling family: Scellier & Bengio (2017)'s net1, MNIST 784-500-10 hard-sigmoid units, squared error, 20
 * free steps of ε 0.5 (their train_model.py), batch 100 like the others; BP on the same widths as the reference. */
export const SETTLING_NET: CostNet = {
  key: 'ep-500',
  title: 'MNIST 784-500-10 hard sigmoid, settling (Scellier & Bengio 2017, net1)',
  run: { ...EPOCH_RUN, spec: specForRule('ep', { ...EPOCH_RUN.spec, ...architectureSpec('784-500-10') }) },
};

/** Rules of logistic units (an RBM on layer 1, the Helmholtz machine on the hidden layers): the feed-forward net's
 * widths with sigmoid hidden units; BP on the same net as the reference. */
export const LOGISTIC_NET: CostNet = {
  key: 'mnist-1000-sigmoid',
  title: 'MNIST 784-1000-10 sigmoid',
  run: { ...EPOCH_RUN, spec: specForRule('wakesleep', EPOCH_RUN.spec) },
};

/** Rules of rectified units (BCM's firing rates): the feed-forward net's widths with relu hidden units; BP on the same
 * net as the reference. */
export const RECTIFIED_NET: CostNet = {
  key: 'mnist-1000-relu',
  title: 'MNIST 784-1000-10 relu',
  run: { ...EPOCH_RUN, spec: specForRule('bcm', EPOCH_RUN.spec) },
};

/** Burstprop's logistic units on squared error (it refuses any other net): the feed-forward net's widths with sigmoid
 * hidden and output units and squared error; BP on the same net as the reference. */
export const BURSTPROP_NET: CostNet = {
  key: 'mnist-1000-sigmoid-mse',
  title: 'MNIST 784-1000-10 sigmoid, squared error',
  run: { ...EPOCH_RUN, spec: specForRule('burstprop', EPOCH_RUN.spec) },
};

/** Rules measured on a family's reference net rather than FEED_FORWARD_NET. A rule not listed (a new one
 * included) runs on FEED_FORWARD_NET; one that refuses its net is reported as not measured. */
export const RULE_COST_NET_OF: Partial<Record<RuleId, CostNet>> = {
  tp: TARGET_PROPAGATION_NET, dtp: TARGET_PROPAGATION_NET, sdtp: TARGET_PROPAGATION_NET, aosdtp: TARGET_PROPAGATION_NET,
  drl: TARGET_PROPAGATION_NET, ddtp: TARGET_PROPAGATION_NET, ldrl: TARGET_PROPAGATION_NET,
  ep: SETTLING_NET, chl: SETTLING_NET, generec: SETTLING_NET, ap: SETTLING_NET,
  rbm: LOGISTIC_NET, wakesleep: LOGISTIC_NET,
  bcm: RECTIFIED_NET,
  burstprop: BURSTPROP_NET,
};

/** Every registered rule grouped by the net it is measured on, each group led by bp (the reference). */
export function ruleCostPlan(rules: readonly RuleId[] = RULE_IDS): { net: CostNet; rules: RuleId[] }[] {
  const groups = new Map<CostNet, RuleId[]>();
  for (const rule of rules) {
    const net = RULE_COST_NET_OF[rule] ?? FEED_FORWARD_NET;
    if (!groups.has(net)) groups.set(net, ['bp']);
    if (rule !== 'bp') groups.get(net)!.push(rule);
  }
  return [...groups].map(([net, rules]) => ({ net, rules }));
}


export interface RuleCostOptions {
  /** Untimed batches first (JIT, scratch buffers, thread pool). Default 2. */
  warmup?: number;
  /** Rounds: every rule of a group is timed once a round, in turn, and its best round is kept (the one least
   * disturbed by other work; a rule's place in the order then matters less). Default 2. */
  rounds?: number;
  /** A round times batches until this much time has passed… Default 1.5 s. */
  minSeconds?: number;
  /** …and at least this many. Default 3. */
  minBatches?: number;
  /** At most this many timed batches a round. Default 600 (an epoch of MNIST at batch 100). */
  maxBatches?: number;
  /** Then this share of the best round's batches again (at least 2) through a timing wrapper, for where the
   * time goes (0: none). Default 0. */
  profileShare?: number;
}

export interface RuleCost {
  rule: string;
  backend: string;
  net: string;
  /** Updates (training batches) of the best round, and the rule steps they took (inner iterations count each). */
  batches: number;
  steps: number;
  batchSize: number;
  /** Mean seconds of one update in the best round: the trainer's whole batch (rule step(s), optimizer,
   * parameter update). */
  secondsPerUpdate: number;
  /** secondsPerUpdate × the updates of one epoch of the training set. */
  epochSeconds: number;
  /** GEMM FLOPs of one update, counted from the backend calls (see flop-count.ts). */
  flopsPerUpdate: number;
  /** The same, per method (gemm, gemmBatched, conv2d). */
  flopsByMethod: Record<string, number>;
  /** Mean batch loss over the best round's batches (finite unless the rule diverged). */
  meanLoss: number;
  /** Seconds per Backend method over profiled updates, and their total time. */
  profile?: { batches: number; seconds: number; methods: Profile };
}

/** A Backend that passes every call on to `use`'s latest backend (the one given at first). */
function rerouted(be: Backend): { backend: Backend; use(next: Backend): void } {
  let current = be;
  const backend: Record<string, unknown> = { ...be };
  for (const [name, f] of Object.entries(be)) {
    if (typeof f !== 'function') continue;
    backend[name] = (...args: unknown[]) => ((current as unknown as Record<string, (...a: unknown[]) => unknown>)[name])(...args);
  }
  return { backend: backend as unknown as Backend, use: (next) => { current = next; } };
}

/** The i-th batch of `size` consecutive training examples (wrapping round the set), as views (no copy). */
function batchAt(data: DataSplits, i: number, size: number): Batch {
  const { x, y, labels } = data.train;
  const n = x.rows, start = (i * size) % (n - (n % size) || n), rows = Math.min(size, n - start);
  const view = (m: typeof x) => ({ rows, cols: m.cols, data: m.data.subarray(start * m.cols, (start + rows) * m.cols) });
  return { x: view(x), y: view(y), labels: labels?.subarray(start, start + rows), indices: Int32Array.from({ length: rows }, (_, r) => start + r) };
}

interface Round { batches: number; steps: number; seconds: number; flops: number; byMethod: Record<string, number>; lossSum: number }

/**
 * One rule training on one net through the same Trainer the CLI uses (its default options), on consecutive
 * batches of the training set, with every GEMM's FLOPs counted (the forward pass the rule makes for the trainer
 * included; no evaluation, no alignment measurements).
 */
class RuleSession {
  private readonly count = flopCount();
  private readonly route: ReturnType<typeof rerouted>;
  private readonly trainer: Trainer;
  private readonly batchSize: number;
  private readonly lr: number;
  private next = 0;
  best: Round | null = null;

  constructor(private readonly backend: Backend, private readonly data: DataSplits, readonly rule: RuleId, readonly net: CostNet, warmup: number) {
    const config: RunConfig = { ...net.run, rule, ruleOptions: {}, train: { ...net.run.train, stepEventEvery: 0, alignEvery: 0 } };
    this.route = rerouted(backend);
    this.trainer = createTrainer(config, counted(this.route.backend, this.count), data);
    ({ batchSize: this.batchSize, lr: this.lr } = config.train);
    for (let i = 0; i < warmup; i++) this.update();
  }

  private update(): number {
    return this.trainer.trainBatch(batchAt(this.data, this.next++, this.batchSize), this.lr);
  }

  /** Times updates one by one until minSeconds have passed (and at least minBatches, at most maxBatches). */
  timeRound(minSeconds: number, minBatches: number, maxBatches: number): void {
    const flops0 = this.count.flops, byMethod0 = { ...this.count.byMethod }, step0 = this.trainer.state.step;
    let batches = 0, seconds = 0, lossSum = 0;
    while (batches < maxBatches && (batches < minBatches || seconds < minSeconds)) {
      const started = performance.now();
      lossSum += this.update();
      seconds += (performance.now() - started) / 1000;
      batches++;
    }
    const byMethod = Object.fromEntries(Object.entries(this.count.byMethod).map(([k, v]) => [k, v - (byMethod0[k] ?? 0)]));
    const round = { batches, steps: this.trainer.state.step - step0, seconds, flops: this.count.flops - flops0, byMethod, lossSum };
    if (!this.best || round.seconds / round.batches < this.best.seconds / this.best.batches) this.best = round;
  }

  /** `batches` more updates through a timing wrapper (timing reads the clock at every call, so not in the rounds). */
  profile(batches: number): NonNullable<RuleCost['profile']> {
    const methods: Profile = {};
    this.route.use(profiled(this.backend, methods));
    const started = performance.now();
    for (let i = 0; i < batches; i++) this.update();
    const seconds = (performance.now() - started) / 1000;
    this.route.use(this.backend);
    return { batches, seconds, methods };
  }

  cost(profile?: RuleCost['profile']): RuleCost {
    const r = this.best;
    if (!r) throw new Error('no round timed');
    const perUpdate = r.seconds / r.batches;
    return {
      rule: this.rule, backend: this.backend.name, net: this.net.key, batches: r.batches, steps: r.steps, batchSize: this.batchSize,
      secondsPerUpdate: perUpdate, epochSeconds: perUpdate * Math.ceil(this.data.train.x.rows / this.batchSize),
      flopsPerUpdate: r.flops / r.batches,
      flopsByMethod: Object.fromEntries(Object.entries(r.byMethod).map(([k, v]) => [k, v / r.batches])),
      meanLoss: r.lossSum / r.batches, profile,
    };
  }
}

const DEFAULTS: Required<RuleCostOptions> = { warmup: 2, rounds: 2, minSeconds: 1.5, minBatches: 3, maxBatches: 600, profileShare: 0 };

/** Times rules in turn, round after round, then profiles each; a rule that throws (refuses the net, say) gets
 * its one-line message instead of a cost. */
function benchSessions(backend: Backend, data: DataSplits, net: CostNet, rules: readonly RuleId[], options: RuleCostOptions, log: (line: string) => void): RuleCostRow[] {
  const o = { ...DEFAULTS, ...options };
  const errors = new Map<RuleId, string>();
  const message = (err: unknown) => (err as Error).message.split('\n')[0];
  const sessions: RuleSession[] = [];
  for (const rule of rules) {
    try {
      sessions.push(new RuleSession(backend, data, rule, net, o.warmup));
    } catch (err) {
      errors.set(rule, message(err));
    }
  }
  for (let round = 0; round < o.rounds; round++) {
    for (const s of sessions) {
      if (errors.has(s.rule)) continue;
      log(`  ${s.rule} (${RULES[s.rule].title}) on ${net.title}, ${backend.name}, round ${round + 1} of ${o.rounds}…`);
      try {
        s.timeRound(o.minSeconds, o.minBatches, o.maxBatches);
      } catch (err) {
        errors.set(s.rule, message(err));
      }
    }
  }
  return rules.map((rule) => {
    const error = errors.get(rule);
    const s = sessions.find((x) => x.rule === rule);
    if (error !== undefined || !s) return { rule, error: error ?? 'not run' };
    try {
      return { rule, cost: s.cost(o.profileShare > 0 ? s.profile(Math.max(2, Math.ceil(o.profileShare * s.best!.batches))) : undefined) };
    } catch (err) {
      return { rule, error: message(err) };
    }
  });
}

/** The cost of one rule on one net (see RuleCostOptions). Throws where the rule refuses the net. */
export function benchRuleCost(backend: Backend, data: DataSplits, rule: RuleId, net: CostNet, options: RuleCostOptions = {}): RuleCost {
  const [row] = benchSessions(backend, data, net, [rule], options, () => {});
  if (!row.cost) throw new Error(row.error);
  return row.cost;
}

/** One rule's row: its cost, or why it was not measured. */
export interface RuleCostRow {
  rule: RuleId;
  cost?: RuleCost;
  error?: string;
}

/** The rows of one backend on one net, bp's first. */
export interface RuleCostGroup {
  backend: string;
  net: CostNet;
  rows: RuleCostRow[];
}

/** Every rule of ruleCostPlan on one backend, net by net. */
export function benchRuleCosts(
  backend: Backend, data: DataSplits, options: RuleCostOptions = {}, log: (line: string) => void = () => {}, rules: readonly RuleId[] = RULE_IDS,
): RuleCostGroup[] {
  return ruleCostPlan(rules).map(({ net, rules: ids }) => ({ backend: backend.name, net, rows: benchSessions(backend, data, net, ids, options, log) }));
}
