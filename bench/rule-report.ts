import type { RuleId } from '../src/rules/registry.js';
import type { NetworkSpec } from '../src/nn/network.js';
import type { Profile } from './profile.js';
import type { RuleCostGroup, RuleCostOptions } from './rule-costs.js';

/** Issue 15's target: every rule's update within this factor of the time its FLOPs take at BP's rate. */
export const RULE_COST_TARGET = 1.3;

/** The Backend methods whose work is counted as FLOPs. */
const GEMM_METHODS = ['gemm', 'gemmBatched', 'conv2d'];

/** Work a rule does outside the backend's GEMMs that is large enough to name (FLOPs per update, not counted). */
const UNCOUNTED: Partial<Record<RuleId, (spec: NetworkSpec, batch: number) => { flops: number; what: string }>> = {
  // One LU factorisation, (2/3)n³, and a forward and a back substitution per example, 2n², per square layer.
  tp: (spec, batch) => {
    const n = spec.sizes.slice(2, -1);
    return {
      flops: n.reduce((s, w) => s + (2 / 3) * w ** 3 + 2 * batch * w * w, 0),
      what: 'float64 LU factorisations of its square layers and their solves (in JavaScript)',
    };
  },
};

/** One measured rule relative to bp on the same net and backend. */
export interface RuleCostLine {
  rule: RuleId;
  error?: string;
  batches?: number;
  stepsPerUpdate?: number;
  gflopPerUpdate?: number;
  flopRatio?: number;
  msPerUpdate?: number;
  timeRatio?: number;
  epochSeconds?: number;
  gflops?: number;
  fractionOfPeak?: number;
  fractionOfOwnPeak?: number;
  /** seconds / (FLOPs / BP's achieved rate): 1 for BP itself. */
  flopTimeRatio?: number;
  targetMet?: boolean;
  /** Fractions of the profiled updates' time: in GEMM-type kernels, in the backend's other kernels, outside. */
  timeIn?: { gemm: number; otherKernels: number; outside: number; top: string };
  meanLoss?: number;
}

export interface RuleCostTable {
  backend: string;
  net: string;
  title: string;
  peakGflops: number;
  ownPeakGflops: number;
  bp?: { msPerUpdate: number; gflops: number };
  lines: RuleCostLine[];
}

function shares(profile: { seconds: number; methods: Profile }): NonNullable<RuleCostLine['timeIn']> {
  const { seconds, methods } = profile;
  const sum = (names: string[]) => names.reduce((s, k) => s + (methods[k] ?? 0), 0);
  const gemm = sum(GEMM_METHODS) / seconds;
  const inside = sum(Object.keys(methods)) / seconds;
  const top = Object.entries(methods).filter(([k]) => !GEMM_METHODS.includes(k)).sort((a, b) => b[1] - a[1])[0];
  return {
    gemm, otherKernels: inside - gemm, outside: Math.max(0, 1 - inside),
    top: top && top[1] / seconds >= 0.005 ? `${top[0]} ${pct(top[1] / seconds, 0)}` : '',
  };
}

/** Ratios of every row of a group to the group's bp row. */
export function ruleCostTable(group: RuleCostGroup, peakGflops: number, ownPeakGflops: number): RuleCostTable {
  const bpCost = group.rows.find((r) => r.rule === 'bp')?.cost;
  const bpRate = bpCost ? bpCost.flopsPerUpdate / bpCost.secondsPerUpdate : NaN;
  const lines = group.rows.map(({ rule, cost, error }): RuleCostLine => {
    if (!cost) return { rule, error };
    const gflops = cost.flopsPerUpdate / cost.secondsPerUpdate / 1e9;
    const flopTimeRatio = cost.flopsPerUpdate > 0 ? cost.secondsPerUpdate / (cost.flopsPerUpdate / bpRate) : NaN;
    return {
      rule, batches: cost.batches, stepsPerUpdate: cost.steps / cost.batches,
      gflopPerUpdate: cost.flopsPerUpdate / 1e9,
      flopRatio: bpCost ? cost.flopsPerUpdate / bpCost.flopsPerUpdate : NaN,
      msPerUpdate: 1e3 * cost.secondsPerUpdate,
      timeRatio: bpCost ? cost.secondsPerUpdate / bpCost.secondsPerUpdate : NaN,
      epochSeconds: cost.epochSeconds, gflops,
      fractionOfPeak: gflops / peakGflops, fractionOfOwnPeak: gflops / ownPeakGflops,
      flopTimeRatio, targetMet: flopTimeRatio <= RULE_COST_TARGET,
      timeIn: cost.profile && shares(cost.profile),
      meanLoss: cost.meanLoss,
    };
  });
  return {
    backend: group.backend, net: group.net.key, title: group.net.title, peakGflops, ownPeakGflops,
    bp: bpCost && { msPerUpdate: 1e3 * bpCost.secondsPerUpdate, gflops: bpRate / 1e9 }, lines,
  };
}

const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)} %`;
const num = (x: number | undefined, digits: number) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

/** 'met' or '**missed** by 1.6×' (how far over RULE_COST_TARGET). */
export function ruleCostVerdict(flopTimeRatio: number | undefined): string {
  if (flopTimeRatio === undefined || !Number.isFinite(flopTimeRatio)) return '–';
  return flopTimeRatio <= RULE_COST_TARGET ? 'met' : `**missed** by ${(flopTimeRatio / RULE_COST_TARGET).toFixed(2)}×`;
}

/** Rows of --json's rule_costs. */
export function ruleCostJson(tables: readonly RuleCostTable[]) {
  const r = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000);
  return tables.map((t) => ({
    backend: t.backend, net: t.net, arch: t.title,
    bp_ms_per_update: r(t.bp?.msPerUpdate), bp_gflops: r(t.bp?.gflops),
    rules: t.lines.map((l) => l.error !== undefined ? { rule: l.rule, error: l.error } : {
      rule: l.rule, updates_timed: l.batches, steps_per_update: r(l.stepsPerUpdate),
      gflop_per_update: r(l.gflopPerUpdate), flop_ratio_to_bp: r(l.flopRatio),
      ms_per_update: r(l.msPerUpdate), time_ratio_to_bp: r(l.timeRatio), epoch_seconds: r(l.epochSeconds),
      gflops: r(l.gflops), fraction_of_peak: r(l.fractionOfPeak), fraction_of_own_peak: r(l.fractionOfOwnPeak),
      time_over_flop_time: r(l.flopTimeRatio), target_met: l.targetMet ?? null,
      ...(l.timeIn && { time_in: { gemm: r(l.timeIn.gemm), other_kernels: r(l.timeIn.otherKernels), outside_backend: r(l.timeIn.outside) } }),
      mean_loss: r(l.meanLoss),
    }),
  }));
}

/** The heading of the section, which `--only rules` finds and replaces in docs/BENCHMARKS.md. */
export const RULE_COST_HEADING = '## Cost of each learning rule against BP on the same net';

export function ruleCostMarkdown(
  tables: readonly RuleCostTable[], settings: Readonly<Record<string, Required<RuleCostOptions>>>, nets: readonly { title: string; spec: NetworkSpec; batch: number }[],
): string[] {
  const uncounted = (Object.entries(UNCOUNTED) as [RuleId, NonNullable<(typeof UNCOUNTED)[RuleId]>][]).flatMap(([rule, f]) => {
    const table = tables.find((t) => t.lines.some((l) => l.rule === rule && l.error === undefined));
    const net = table && nets.find((n) => n.title === table.title);
    if (!net) return [];
    const { flops, what } = f(net.spec, net.batch);
    return [`${rule}'s ${what}, about ${(flops / 1e9).toFixed(3)} GFLOP an update on ${net.spec.sizes.join('-')}`];
  });
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const timing = Object.entries(settings).map(([be, o]) => `- ${be}: ${plural(o.warmup, 'warm-up update')} a rule, then ${plural(o.rounds, 'round')}, each rule ` +
    `in turn, of updates timed one by one for ${o.minSeconds} s (at least ${o.minBatches}, at most ${o.maxBatches}); the best round is kept` +
    (o.profileShare > 0 ? `; then ${pct(o.profileShare, 0)} as many updates again (at least 2) through a timing wrapper, for "time in".` : '.'));
  const lines = [
    RULE_COST_HEADING,
    '',
    'Every registered rule with its default options, trained through the CLI\'s Trainer on consecutive MNIST',
    'batches of 100 (SGD + momentum, lr 0.01). An update is one batch: the rule\'s step (all of its steps where it',
    'iterates on a batch, e.g. ldrl\'s feedback iterations), the optimizers and the parameter update; no evaluation,',
    'no alignment measurements. "s / epoch" is ms / update × 600 updates. Feed-forward rules run on MNIST',
    '784-1000-10 tanh; the target-propagation family on Bartunov et al. (2018)\'s 784-256×5-10 tanh, whose hidden',
    'layers above the first are square (256 → 256), as tp\'s exact inverses need; bp runs on both nets, and every',
    'ratio is to bp on the same net and backend, in this run. Timing:',
    '',
    ...timing,
    '',
    'FLOPs counted, not estimated: a wrapper round the backend adds 2·m·n·k for every gemm, count·2·m·n·k for',
    'every gemmBatched and 2·B·out·P·K for every conv2d an update calls (the rule\'s forward pass included).',
    'Element-wise kernels (activations, noise, axpby, the optimizer), copies and code outside the backend are',
    `not counted${uncounted.length ? `; nor are ${uncounted.join('; ')}` : ''}.`,
    '"time ÷ FLOP-time" is the update\'s seconds over the seconds its FLOPs take at BP\'s achieved GFLOP/s on',
    `the same net: 1 for BP; the target is ≤ ${RULE_COST_TARGET}. "% of peak" is of the run's best GEMM rate, "own" of the`,
    'backend\'s best. "time in": the share of the profiled updates\' time in GEMM kernels, in the backend\'s other',
    'kernels (the largest named) and in JavaScript outside the backend.',
    '',
  ];
  for (const t of tables) {
    lines.push(
      `### ${t.backend}, ${t.title}` + (t.bp ? ` (BP: ${t.bp.msPerUpdate.toFixed(2)} ms an update, ${t.bp.gflops.toFixed(1)} GFLOP/s)` : ''),
      '',
      '| rule | updates timed | GFLOP / update | FLOPs × BP | ms / update | time × BP | s / epoch | GFLOP/s | % of peak (own) | time ÷ FLOP-time | target | time in |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
    );
    for (const l of t.lines) {
      if (l.error !== undefined) {
        lines.push(`| ${l.rule} | – | not measured: ${l.error.replace(/\|/g, '\\|')} | | | | | | | | | |`);
        continue;
      }
      const steps = l.stepsPerUpdate !== undefined && l.stepsPerUpdate !== 1 ? ` (${num(l.stepsPerUpdate, 0)} steps)` : '';
      const timeIn = l.timeIn ? `GEMM ${pct(l.timeIn.gemm, 0)}, other kernels ${pct(l.timeIn.otherKernels, 0)}${l.timeIn.top ? ` (${l.timeIn.top})` : ''}, JS ${pct(l.timeIn.outside, 0)}` : '';
      lines.push(`| ${l.rule}${steps} | ${l.batches} | ${num(l.gflopPerUpdate, 3)} | ${num(l.flopRatio, 2)} | ${num(l.msPerUpdate, 2)} | ${num(l.timeRatio, 2)} | ` +
        `${num(l.epochSeconds, 1)} | ${num(l.gflops, 1)} | ${pct(l.fractionOfPeak ?? NaN)} (${pct(l.fractionOfOwnPeak ?? NaN)}) | ` +
        `${num(l.flopTimeRatio, 2)} | ${ruleCostVerdict(l.flopTimeRatio)} | ${timeIn} |`);
    }
    lines.push('');
  }
  return lines;
}

/** One line per backend: how many rules (bp, 1 by definition, aside) meet the target, and by how much the others miss it. */
export function ruleCostTargetLines(tables: readonly RuleCostTable[]): string[] {
  const backends = [...new Set(tables.map((t) => t.backend))];
  return backends.map((be) => {
    const lines = tables.filter((t) => t.backend === be).flatMap((t) => t.lines)
      .filter((l) => l.rule !== 'bp' && l.flopTimeRatio !== undefined && Number.isFinite(l.flopTimeRatio));
    const missed = lines.filter((l) => !l.targetMet).sort((a, b) => b.flopTimeRatio! - a.flopTimeRatio!);
    return `- every rule's update within ${RULE_COST_TARGET}× of the time its FLOPs take at BP's rate on the same net (${be}): ` +
      `${lines.length - missed.length} of ${lines.length} met` +
      (missed.length ? `; missed: ${missed.map((l) => `${l.rule} ${l.flopTimeRatio!.toFixed(2)}× (by ${(l.flopTimeRatio! / RULE_COST_TARGET).toFixed(2)}×)`).join(', ')}.` : '.');
  });
}

const TARGET_LINE_START = "- every rule's update within";

/** A BENCHMARKS.md with its rule-cost section and rule target lines replaced by new ones (for `--only rules`);
 * where it has none, the section goes before '## Targets' and the lines at the end of that section. */
export function spliceRuleCosts(doc: string, section: readonly string[], targets: readonly string[]): string {
  let lines = doc.split('\n').filter((l) => !l.startsWith(TARGET_LINE_START));
  const nextHeading = (from: number) => {
    const i = lines.findIndex((l, j) => j > from && l.startsWith('## '));
    return i < 0 ? lines.length : i;
  };
  const start = lines.indexOf(RULE_COST_HEADING);
  if (start >= 0) lines.splice(start, nextHeading(start) - start, ...section);
  else {
    const at = lines.indexOf('## Targets');
    lines.splice(at < 0 ? lines.length : at, 0, ...section);
  }
  let at = lines.indexOf('## Targets');
  if (at < 0) {
    lines.push('## Targets', '');
    at = lines.length - 2;
  }
  let end = nextHeading(at);
  while (end > at + 2 && lines[end - 1] === '') end--;
  lines = [...lines.slice(0, end), ...targets, ...lines.slice(end)];
  return lines.join('\n').replace(/\n*$/, '\n');
}
