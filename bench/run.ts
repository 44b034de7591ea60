import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend } from '../node/backends.js';
import { loadDataset } from '../node/datasets.js';
import { writeFileAtomic } from '../node/files.js';
import type { Backend } from '../src/tensor/backend.js';
import { createJsBackend } from '../src/tensor/js-backend.js';
import { benchGemm, MNIST_MLP_GEMM_SHAPES, type GemmBenchResult } from './gemm.js';
import { benchEpoch, LENET_EPOCH_RUN, profileEpoch, type EpochBench } from './epoch.js';
import { benchConvLayers, CONV_BENCH_ARCHS } from './conv.js';
import { convMarkdown, convTargetLines, convTotals, profileLine, type ConvReport } from './conv-report.js';
import type { Profile } from './profile.js';
import { benchRuleCosts, ruleCostPlan, type RuleCostOptions } from './rule-costs.js';
import { ruleCostJson, ruleCostMarkdown, ruleCostTable, ruleCostTargetLines, spliceRuleCosts, type RuleCostTable } from './rule-report.js';

// npm run bench [-- --json] [-- --quick] [-- --only rules]: GEMM rates per backend, the time of one BP epoch on
// MNIST, the conv layers of LeNet-5 and the LC net, one LeNet-5 epoch on Fashion-MNIST, and the cost of every
// learning rule against BP's, written to docs/BENCHMARKS.md. All ratios are taken within this one run.
// --only rules: the GEMM rates (for the peak) and the rule costs alone, on wasm and native; they replace their
// section and target lines in docs/BENCHMARKS.md and the rest of it is kept.
const { values } = parseArgs({
  options: { json: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const log = (line: string) => { if (!values.json) process.stderr.write(`${line}\n`); };
if (values.only !== undefined && values.only !== 'rules') {
  process.stderr.write(`bench: --only takes 'rules' (the rule-cost section), got '${values.only}'\n`);
  process.exit(2);
}
const onlyRules = values.only === 'rules';

const backends: Backend[] = onlyRules ? [] : [createJsBackend()];
for (const name of ['wasm', 'native'] as const) {
  try {
    backends.push(createBackend(name).backend);
  } catch (err) {
    log(`${name} backend unavailable: ${(err as Error).message}`);
  }
}

const gemm: Record<string, GemmBenchResult[]> = {};
for (const be of backends) {
  log(`GEMM on ${be.name} (${be.getThreads()} thread${be.getThreads() > 1 ? 's' : ''})…`);
  const slow = be.name === 'js';
  gemm[be.name] = await benchGemm(be, MNIST_MLP_GEMM_SHAPES, { minSeconds: slow || values.quick ? 0.2 : 0.5, rounds: slow ? 2 : 3 });
}

const data = loadDataset('mnist', {});
const epochs: EpochBench[] = [];
if (!onlyRules) log('BP epochs on MNIST 784-1000-10 tanh, batch 100…');
for (const be of onlyRules ? [] : backends) {
  // The js backend needs minutes per epoch: time 20 batches and scale to the epoch; wasm (≈ 10 s an epoch)
  // is timed on 100 batches (a sixth of an epoch) per round.
  if (be.name === 'js') epochs.push(benchEpoch(be, data, 1, 20));
  else if (be.name === 'wasm') epochs.push(benchEpoch(be, data, values.quick ? 1 : 3, 100));
  else epochs.push(benchEpoch(be, data, values.quick ? 1 : 3));
}

const peak = Math.max(...Object.values(gemm).flat().map((r) => r.gflops));

// Conv layers on the fast backends (the js one takes seconds a layer and is the reference, not a contender).
const conv: ConvReport[] = [];
for (const be of onlyRules ? [] : backends.filter((b) => b.name !== 'js')) {
  log(`conv layers on ${be.name}…`);
  const layers = Object.entries(CONV_BENCH_ARCHS).flatMap(([net, arch]) => benchConvLayers(be, net, arch, { minSeconds: values.quick ? 0.1 : 0.2, rounds: values.quick ? 3 : 7 }));
  conv.push({ backend: be.name, ownPeakGflops: Math.max(...gemm[be.name].map((r) => r.gflops)), peakGflops: peak, layers });
}

// One LeNet-5 epoch on Fashion-MNIST (when the data set is installed), and where native spends it.
let lenet: { epochs: EpochBench[]; profile?: { backend: string; batches: number; seconds: number; profile: Profile } } | { missing: string };
if (onlyRules) lenet = { missing: 'not run (--only rules)' };
else try {
  const fashion = loadDataset('fashion-mnist', {});
  log('LeNet-5 epochs on Fashion-MNIST, batch 100…');
  const lenetEpochs = backends.map((be) => be.name === 'js' ? benchEpoch(be, fashion, 1, 5, LENET_EPOCH_RUN)
    : be.name === 'wasm' ? benchEpoch(be, fashion, values.quick ? 1 : 2, 100, LENET_EPOCH_RUN)
      : benchEpoch(be, fashion, values.quick ? 1 : 3, undefined, LENET_EPOCH_RUN));
  const native = backends.find((be) => be.name === 'native');
  const batches = 100;
  lenet = { epochs: lenetEpochs, profile: native ? { backend: 'native', batches, ...profileEpoch(native, fashion, batches, LENET_EPOCH_RUN) } : undefined };
} catch (err) {
  lenet = { missing: (err as Error).message.split('\n')[0] };
  log(`LeNet-5 epoch skipped: ${lenet.missing}`);
}

// Every registered rule's update against BP's on the same net, on the fast backends (js would take hours).
const ruleSettings: Record<string, Required<RuleCostOptions>> = {};
const ruleTables: RuleCostTable[] = [];
for (const be of backends.filter((b) => b.name !== 'js')) {
  const native = be.name === 'native';
  ruleSettings[be.name] = values.quick
    ? { warmup: 1, rounds: 2, minSeconds: native ? 0.15 : 0.1, minBatches: 2, maxBatches: 600, profileShare: 0.25 }
    : { warmup: 2, rounds: 2, minSeconds: native ? 1.5 : 0.5, minBatches: 3, maxBatches: 600, profileShare: 0.2 };
  log(`rule costs on ${be.name}…`);
  const ownPeak = Math.max(...gemm[be.name].map((r) => r.gflops));
  ruleTables.push(...benchRuleCosts(be, data, ruleSettings[be.name], log).map((g) => ruleCostTable(g, peak, ownPeak)));
}
const ruleNets = ruleCostPlan().map(({ net }) => ({ title: net.title, spec: net.run.spec, batch: net.run.train.batchSize }));
const ruleSection = ruleCostMarkdown(ruleTables, ruleSettings, ruleNets);
const ruleTargets = ruleTables.length ? ruleCostTargetLines(ruleTables) : ['- every rule\'s update within 1.3× of its FLOPs\' time at BP\'s rate: not measured (no wasm or native backend).'];
const docPath = join(fileURLToPath(new URL('../../docs/', import.meta.url)), 'BENCHMARKS.md');

if (onlyRules) {
  const head = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version },
    threads: Object.fromEntries(backends.map((be) => [be.name, be.getThreads()])),
    gemm_peak_gflops: round(peak),
    rule_costs: ruleCostJson(ruleTables),
  };
  let doc = '';
  try {
    doc = readFileSync(docPath, 'utf8');
  } catch {
    doc = '# Benchmarks\n';
  }
  writeFileAtomic(docPath, spliceRuleCosts(doc, ruleSection, ruleTargets));
  log(`updated the rule costs in ${docPath}`);
  if (values.json) process.stdout.write(`${JSON.stringify(head)}\n`);
  else process.stdout.write(`${[...ruleSection, '## Targets (rule costs)', '', ...ruleTargets, ''].join('\n')}`);
} else {
  const report = fullReport();
  writeFileAtomic(docPath, markdown(report, gemm));
  log(`wrote ${docPath}`);
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else process.stdout.write(markdown(report, gemm));
}

function fullReport() {
  const fastest = epochs.reduce((a, b) => (a.epochSeconds < b.epochSeconds ? a : b));
  return {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version },
    threads: Object.fromEntries(backends.map((be) => [be.name, be.getThreads()])),
    gemm_gflops: Object.fromEntries(Object.entries(gemm).map(([name, rs]) => [name, Object.fromEntries(rs.map((r) => [r.shape, round(r.gflops)]))])),
    gemm_peak_gflops: round(peak),
    epoch: epochs.map((e) => ({
      backend: e.backend, seconds: round(e.epochSeconds), epochs_timed: round(e.epochsTimed), gflop: round(e.gflopPerEpoch),
      gflops: round(e.gflops), fraction_of_peak: round(e.gflops / peak),
    })),
    epoch_seconds: round(fastest.epochSeconds),
    fraction_of_peak: round(fastest.gflops / peak),
    conv: conv.map((c) => ({
      backend: c.backend,
      layers: c.layers.map((l) => ({
        net: l.net, layer: l.layer, forward_gflop: round(l.forwardGflop),
        forward_ms: round(1e3 * l.forward.seconds), forward_gflops: round(l.forward.gflops), backward_ms: round(1e3 * l.backward.seconds), backward_gflops: round(l.backward.gflops),
      })),
      totals: Object.fromEntries(Object.keys(CONV_BENCH_ARCHS).map((net) => {
        const t = convTotals(c.layers, net);
        return [net, { gflops: round(t.gflops), fraction_of_peak: round(t.gflops / peak) }];
      })),
    })),
    lenet_epoch: 'missing' in lenet ? { missing: lenet.missing } : lenet.epochs.map((e) => ({
      backend: e.backend, seconds: round(e.epochSeconds), epochs_timed: round(e.epochsTimed), gflop: round(e.gflopPerEpoch),
      gflops: round(e.gflops), fraction_of_peak: round(e.gflops / peak),
    })),
    rule_costs: ruleCostJson(ruleTables),
  };
}

type Report = ReturnType<typeof fullReport>;

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function targetLines(r: Report): string[] {
  const mnistShape = 'A[100,784]·B[784,1000] → C[100,1000]';
  const native = r.gemm_gflops.native?.[mnistShape];
  const wasm = r.gemm_gflops.wasm?.[mnistShape];
  const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');
  return [
    native === undefined
      ? '- native GEMM ≥ 100 GFLOP/s at 100×784·784×1000: not measured (native backend unavailable).'
      : `- native GEMM ≥ 100 GFLOP/s at 100×784·784×1000 on ${r.threads.native} threads: ${native.toFixed(1)} GFLOP/s, ${verdict(native >= 100)}.`,
    wasm === undefined
      ? '- wasm GEMM ≥ 10 GFLOP/s at 100×784·784×1000: not measured (wasm backend unavailable).'
      : `- wasm GEMM ≥ 10 GFLOP/s at 100×784·784×1000 (1 thread): ${wasm.toFixed(1)} GFLOP/s, ${verdict(wasm >= 10)}.`,
    `- BP epoch at ≥ 60 % of the run's best GEMM rate: ${(100 * r.fraction_of_peak).toFixed(1)} % (${r.epoch_seconds.toFixed(2)} s), ${verdict(r.fraction_of_peak >= 0.6)}.`,
  ];
}

function epochRow(e: { backend: string; seconds: number; epochs_timed: number; gflop: number; gflops: number; fraction_of_peak: number }): string {
  const scaled = e.epochs_timed < 1 ? ` (scaled from ${Math.round(e.epochs_timed * 600)} batches)` : '';
  return `| ${e.backend}${scaled} | ${e.seconds.toFixed(2)} | ${e.gflop.toFixed(1)} | ${e.gflops.toFixed(1)} | ${(100 * e.fraction_of_peak).toFixed(1)} % |`;
}

function lenetMarkdown(report: Report): string[] {
  const lines = ['## One BP training epoch: LeNet-5 on Fashion-MNIST, batch 100, SGD + momentum', ''];
  if ('missing' in lenet || !Array.isArray(report.lenet_epoch)) return [...lines, `Not measured: ${'missing' in lenet ? lenet.missing : ''}`, ''];
  lines.push(
    `Architecture ${CONV_BENCH_ARCHS['LeNet-5']}, tanh, softmax cross-entropy. FLOPs counted as above: every layer's`,
    'forward and weight-gradient GEMMs, the error GEMM of every layer but the first.',
    '',
    '| backend | seconds / epoch | GFLOP / epoch | achieved GFLOP/s | fraction of peak |',
    '|---|---:|---:|---:|---:|',
    ...report.lenet_epoch.map(epochRow),
    '',
  );
  if (lenet.profile) {
    const p = lenet.profile;
    lines.push(`Where ${p.backend} spends a training batch (${p.batches} batches through a timing wrapper, ${(1e3 * p.seconds / p.batches).toFixed(2)} ms a batch): ` +
      `${profileLine(p.profile, p.seconds)}.`, '');
  }
  return lines;
}

function markdown(r: Report, results: Record<string, GemmBenchResult[]>): string {
  const lines = [
    '# Benchmarks',
    '',
    'Produced by `npm run bench` (JSON: `npm run bench -- --json`). Every ratio compares numbers measured in',
    'the same run, on the same machine.',
    '',
    `Run: ${r.date}, ${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; threads: ` +
      Object.entries(r.threads).map(([k, v]) => `${k} ${v}`).join(', ') + '.',
    '',
    '## GEMM (GFLOP/s = 2·m·n·k / seconds, best of rounds)',
    '',
    `| product | use in training | ${Object.keys(results).join(' | ')} |`,
    `|---|---|${Object.keys(results).map(() => '---:').join('|')}|`,
  ];
  const names = Object.keys(results);
  results[names[0]].forEach((row, i) => {
    lines.push(`| ${row.shape} | ${row.label} | ${names.map((n) => results[n][i].gflops.toFixed(2)).join(' | ')} |`);
  });
  lines.push(
    '',
    `Best GEMM rate of this run (the "peak" below): **${r.gemm_peak_gflops.toFixed(1)} GFLOP/s**.`,
    ...(results.wasm ? ['', 'wasm rates include copying the operands into wasm memory and C back out, on every call.'] : []),
    '',
    '## One BP training epoch: MNIST 784-1000-10 tanh, batch 100, SGD + momentum',
    '',
    'FLOPs counted: the forward and weight-gradient GEMMs of every layer and the error GEMM of every layer but the first.',
    '',
    '| backend | seconds / epoch | GFLOP / epoch | achieved GFLOP/s | fraction of peak |',
    '|---|---:|---:|---:|---:|',
    ...r.epoch.map(epochRow),
    '',
    ...convMarkdown(conv),
    ...lenetMarkdown(r),
    ...ruleSection,
    '## Targets',
    '',
    ...targetLines(r),
    ...convTargetLines(conv),
    ...ruleTargets,
    '',
  );
  return lines.join('\n');
}
