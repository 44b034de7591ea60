import { join } from 'node:path';
import { writeFileAtomic } from '../node/files.js';
import { runsFigure, type RunCurves } from '../node/plot.js';
import { isRuleId, RULE_IDS, specForRule, type RuleId } from '../src/rules/registry.js';
import { trainWithFiles, unitsLabel, type RunSummary } from './run-files.js';
import { prepareRunFolder } from './run-folder.js';
import { dataLabel, dataSource, fitRunToData, loadData, openBackend, trainerFor } from './train.js';
import { parseTrainArgs, runFolder, splitRuleOptions, TRAIN_USAGE } from './train-options.js';
import { UsageError } from './usage-error.js';

export const COMPARE_DEFAULTS = {
  rules: 'bp,fa,dfa,sign,wm,kp', arch: '784-500-500-10', epochs: '5', alignEvery: '100',
};

export const COMPARE_USAGE = `usage: ngrad compare [--rules ${COMPARE_DEFAULTS.rules}] [train options]
  Trains each rule under one protocol — same seed, same initial forward weights, same data order — and
  prints a table (test error, final angles to the true gradient, time per epoch); writes OUT/compare.svg,
  OUT/compare.json and one folder per rule. Rule options go as --rule-opt RULE.KEY=VALUE. A settling
  rule (ep, chl, generec, ap) trains the settling network of the same widths (hard-sigmoid units, squared
  error, 20 free steps of size 0.5), its angles measured to Almeida–Pineda's gradient.
  Defaults differ from train: --arch ${COMPARE_DEFAULTS.arch} --epochs ${COMPARE_DEFAULTS.epochs} --align-every ${COMPARE_DEFAULTS.alignEvery}
${TRAIN_USAGE.split('\n').slice(1).filter((l) => !/--rule /.test(l)).join('\n')}`;

export async function compareCommand(argv: string[]): Promise<number> {
  const { rules, rest } = takeRules(argv);
  // The comparison's own defaults come first; parseArgs keeps the last value of an option, so the
  // user's flags override them.
  const inv = parseTrainArgs([
    '--arch', COMPARE_DEFAULTS.arch, '--epochs', COMPARE_DEFAULTS.epochs, '--align-every', COMPARE_DEFAULTS.alignEvery, ...rest,
  ]);
  if (inv.run.stages) throw new UsageError('compare trains one stage per rule: --stage is for ngrad train');
  const optionsByRule = splitRuleOptions(inv.run.ruleOptions, rules, 'in compare');
  const out = runFolder(inv, 'compare');
  prepareRunFolder(out, inv.force ? 'force' : 'new');
  for (const rule of rules) prepareRunFolder(join(out, rule), inv.force ? 'force' : 'new');
  const { backend, note } = openBackend(inv.backend, inv.threads);
  if (note && !inv.quiet) process.stderr.write(`${note}\n`);
  const data = loadData(inv);
  const base = fitRunToData(inv.run, inv.lossGiven, data);
  const source = dataSource(inv, data);
  const summaries: RunSummary[] = [];
  const curves: RunCurves[] = [];
  const trainers = rules.map((rule) => {
    // A settling rule trains the settling network of the same widths (hard-sigmoid units, squared error).
    const run = { ...base, spec: specForRule(rule, base.spec), rule, ruleOptions: optionsByRule[rule] };
    return { rule, run, trainer: trainerFor(run, backend, data) }; // every configuration checked before any training
  });
  for (const { rule, run, trainer } of trainers) {
    const saved = { run, data: dataLabel(inv), source, backend: backend.name };
    const { summary, events } = trainWithFiles(trainer, saved, { out: join(out, rule), quiet: inv.quiet }, backend);
    summaries.push(summary);
    curves.push({ label: rule, events });
  }
  const settling = trainers.filter(({ run }) => run.spec.model === 'settling').map(({ rule }) => rule);
  const settlingNote = settling.length ? ` (${settling.join(', ')}: the settling net, hard_sigmoid)` : '';
  const title = `${dataLabel(inv)}, ${base.spec.sizes.join('-')} ${unitsLabel(base.spec)}${settlingNote}, seed ${base.seed}`;
  writeFileAtomic(join(out, 'compare.svg'), await runsFigure(curves, title));
  writeFileAtomic(join(out, 'compare.json'), `${JSON.stringify(summaries, null, 2)}\n`);
  process.stdout.write(formatTable(summaries, title, out));
  if (inv.json) process.stdout.write(`${JSON.stringify(summaries)}\n`);
  // A diverged rule still gets its row; the exit code says that not every rule finished.
  for (const s of summaries) if (s.diverged) process.stderr.write(`ngrad compare: ${s.rule}: ${s.diverged}\n`);
  return summaries.some((s) => s.diverged) ? 1 : 0;
}

function takeRules(argv: string[]): { rules: RuleId[]; rest: string[] } {
  const rest = [...argv];
  let text = COMPARE_DEFAULTS.rules;
  for (let i = rest.indexOf('--rules'); i >= 0; i = rest.indexOf('--rules')) {
    if (i + 1 >= rest.length) throw new UsageError("option '--rules <value>' argument missing");
    text = rest[i + 1];
    rest.splice(i, 2);
  }
  if (rest.includes('--rule')) throw new UsageError('compare takes --rules A,B,… (not --rule)');
  const rules = text.split(',').filter(Boolean);
  for (const r of rules) if (!isRuleId(r)) throw new UsageError(`unknown rule '${r}' in --rules (choose from ${RULE_IDS.join(', ')})`);
  if (!rules.length) throw new UsageError('--rules needs at least one rule id');
  const twice = rules.find((r, i) => rules.indexOf(r) !== i);
  if (twice) throw new UsageError(`--rules lists ${twice} twice: each rule runs once (its runs would share one folder)`);
  return { rules: rules as RuleId[], rest };
}

function formatTable(summaries: readonly RunSummary[], title: string, out: string): string {
  const layers = summaries[0]?.angles.length ?? 0;
  const head = ['rule', 'test error', ...Array.from({ length: layers }, (_, l) => `∠upd L${l + 1}`), '∠(B,Wᵀ) top', 's/epoch'];
  const rows = summaries.map((s) => {
    const top = s.angles.at(-1)?.feedback;
    return [
      s.rule,
      s.diverged ? 'diverged' : s.test_error === null ? `loss ${s.test_loss.toFixed(4)}` : `${(100 * s.test_error).toFixed(2)} %`,
      ...s.angles.map((a) => (Number.isFinite(a.update) ? `${a.update.toFixed(1)}°` : '—')),
      top === null || top === undefined ? '—' : `${top.toFixed(1)}°`,
      s.epoch_seconds_median.toFixed(2),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [
    `Comparison on ${title}`,
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '∠upd: angle between the rule\'s weight update and the true gradient, mean over the last epoch (0° = backprop).',
    `Figure: ${join(out, 'compare.svg')}`,
    '',
  ].join('\n');
}
