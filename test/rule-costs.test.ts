// The rule-cost benchmark's FLOP counter (issue 15, bench/flop-count.ts): counted GEMM FLOPs against sizes
// worked out by hand, and every registered rule running one update on the net the benchmark gives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { architectureSpec, type NetworkSpec } from '../src/nn/network.js';
import { Rng } from '../src/random.js';
import { classificationSet } from '../src/data/one-hot.js';
import type { DataSplits } from '../src/data/dataset.js';
import { matrix } from '../src/tensor/matrix.js';
import { createJsBackend } from '../src/tensor/js-backend.js';
import type { RuleId } from '../src/rules/registry.js';
import { counted, flopCount } from '../bench/flop-count.js';
import { benchRuleCost, ruleCostPlan, RULE_COST_NET_OF, FEED_FORWARD_NET, type CostNet } from '../bench/rule-costs.js';
import { ruleCostTable, ruleCostVerdict, spliceRuleCosts, RULE_COST_HEADING } from '../bench/rule-report.js';
import { bpFlopsPerExample, EPOCH_RUN } from '../bench/epoch.js';
import { availableBackends, fastBackend, randomMatrix } from './helpers.js';
import { RULE_IDS } from '../src/rules/registry.js';

const be = availableBackends()[0];

function randomData(inputs: number, classes: number, rows: number, seed = 1): DataSplits {
  const rng = Rng.fromSeed(seed);
  const labels = Int32Array.from({ length: rows }, (_, i) => i % classes);
  const train = classificationSet('random', randomMatrix(rows, inputs, rng), labels, classes);
  return { train, test: train };
}

function costNet(spec: Partial<NetworkSpec>, batchSize: number): CostNet {
  return { key: 'test', title: 'test net', run: { ...EPOCH_RUN, spec: { ...EPOCH_RUN.spec, ...spec }, train: { ...EPOCH_RUN.train, batchSize } } };
}

/** FLOPs of one update of `rule` on `net`, counted over two updates. */
function flopsPerUpdate(rule: RuleId, net: CostNet, data: DataSplits) {
  return benchRuleCost(be, data, rule, net, { warmup: 0, minSeconds: 0, minBatches: 2, maxBatches: 2 });
}

test('the counter adds 2·m·n·k per gemm and count times that per gemmBatched, whatever the transposes', () => {
  const count = flopCount();
  const c = counted(createJsBackend(), count);
  const rng = Rng.fromSeed(2);
  // op(A) [3, 4]·op(B) [4, 5] through each pair of transposes: 2·3·5·4 = 120 each.
  c.gemm(false, false, 1, randomMatrix(3, 4, rng), randomMatrix(4, 5, rng), 0, matrix(3, 5));
  c.gemm(true, true, 1, randomMatrix(4, 3, rng), randomMatrix(5, 4, rng), 0, matrix(3, 5));
  assert.equal(count.flops, 240);
  // Three products [3, 4]·[4, 5] (one B for all) into three C blocks.
  const a = { rows: 3, cols: 4, data: rng.fillNormal(new Float32Array(3 * 12), 0, 1) };
  c.gemmBatched({ count: 3, strideA: 12, strideB: 0, strideC: 15 }, false, false, 1, a, randomMatrix(4, 5, rng), 0, { rows: 3, cols: 5, data: new Float32Array(45) });
  assert.equal(count.flops, 240 + 3 * 120);
  assert.deepEqual(count.byMethod, { gemm: 240, gemmBatched: 360 });
});

test('bp on a small dense net: counted FLOPs = 2·B·(forward + weight gradients + the error of every layer but the first)', () => {
  const sizes = [5, 4, 3], B = 7;
  const net = costNet({ sizes }, B);
  const cost = flopsPerUpdate('bp', net, randomData(5, 3, 2 * B));
  // Layers 5→4 and 4→3: forward 20 + 12 multiply-adds an example, the weight gradients as many, and the error
  // sent below layer 2 (12); the input layer gets none.
  const byHand = 2 * B * ((20 + 12) + (20 + 12) + 12);
  assert.equal(cost.flopsPerUpdate, byHand);
  assert.equal(cost.flopsPerUpdate, B * bpFlopsPerExample(net.run.spec));
  assert.deepEqual(Object.keys(cost.flopsByMethod), ['gemm']);
  assert.equal(cost.batches, 2);
  assert.equal(cost.steps, 2);
});

test('bp on a conv + locally connected net: conv2d, local2d and gemmBatched counted as bpFlopsPerExample counts them, and the conv bias gradient\'s GEMM', () => {
  const B = 3;
  const net = costNet(architectureSpec('1x6x6-c2k3-lc2k3-3'), B);
  const data = randomData(36, 3, 2 * B);
  data.train = { ...data.train, shape: [1, 6, 6] };
  const cost = flopsPerUpdate('bp', net, data);
  // conv 1x6x6 → 2x4x4 (K = 9, P = 16): 2·16·9 = 288 an example forward, as many for dW, no input error;
  // local2d 2x4x4 → 2x2x2 (K = 18, P = 4, one [2, 18] bank a position): 144, three times; dense 8 → 3: 24, three times.
  // And one more GEMM that bpFlopsPerExample leaves out: the conv's bias gradient, each image's dz [2, 16] times
  // a column of ones (32 multiply-adds an example).
  const convBias = 2 * 16;
  assert.equal(cost.flopsPerUpdate, 2 * B * (2 * 288 + 3 * 144 + 3 * 24 + convBias));
  assert.equal(cost.flopsPerUpdate, B * (bpFlopsPerExample(net.run.spec) + 2 * convBias));
  assert.equal(cost.flopsByMethod.conv2d, 2 * B * 2 * 288);
  assert.equal(cost.flopsByMethod.local2d, 2 * B * 3 * 144);
  assert.equal(cost.flopsByMethod.gemmBatched, 2 * B * convBias);
  assert.equal(cost.flopsByMethod.gemm, 2 * B * 3 * 24);
});

test('dtp counts more FLOPs than bp on the same net (its inverses\' forward passes and training), tp fewer (LU is not a GEMM)', () => {
  const net = costNet({ sizes: [6, 5, 5, 5, 3] }, 4), data = randomData(6, 3, 8);
  const bp = flopsPerUpdate('bp', net, data).flopsPerUpdate;
  const dtp = flopsPerUpdate('dtp', net, data).flopsPerUpdate;
  assert.ok(dtp > 1.5 * bp, `dtp ${dtp} vs bp ${bp}`);
  // tp: the forward pass, the output layer's gradient and first target, and one forward + weight gradient per
  // hidden layer for its local loss; the targets below come from LU solves outside the backend.
  const tp = flopsPerUpdate('tp', net, data).flopsPerUpdate;
  const B = 4, fwd = 6 * 5 + 5 * 5 + 5 * 5 + 5 * 3;
  assert.equal(tp, 2 * B * (fwd + 5 * 3 + 5 * 3 + (6 * 5 + 5 * 5 + 5 * 5)));
  const table = ruleCostTable({ backend: be.name, net, rows: [{ rule: 'bp', cost: flopsPerUpdate('bp', net, data) }, { rule: 'dtp', cost: flopsPerUpdate('dtp', net, data) }] }, 100, 100);
  assert.equal(table.lines[0].flopRatio, 1);
  assert.equal(table.lines[1].flopRatio, dtp / bp);
});

test('the verdict: met up to 1.3×, beyond it missed by the factor over 1.3', () => {
  assert.equal(ruleCostVerdict(1.3), 'met');
  assert.equal(ruleCostVerdict(2.6), '**missed** by 2.00×');
  assert.equal(ruleCostVerdict(NaN), '–');
});

test('--only rules replaces the rule section and its target lines and keeps the rest', () => {
  const doc = ['# Benchmarks', '', '## GEMM', 'g', '', RULE_COST_HEADING, 'old', '', '## Targets', '', '- gemm met.', "- every rule's update within 1.3× old", ''].join('\n');
  const out = spliceRuleCosts(doc, [RULE_COST_HEADING, 'new', ''], ["- every rule's update within 1.3× new"]);
  assert.equal(out, ['# Benchmarks', '', '## GEMM', 'g', '', RULE_COST_HEADING, 'new', '', '## Targets', '', '- gemm met.', "- every rule's update within 1.3× new", ''].join('\n'));
  const fresh = spliceRuleCosts(['# B', '', '## Targets', '', '- a', ''].join('\n'), [RULE_COST_HEADING, 'x', ''], ['- r']);
  assert.equal(fresh, ['# B', '', RULE_COST_HEADING, 'x', '', '## Targets', '', '- a', '- r', ''].join('\n'));
});

test('every registered rule has a net in the plan and runs an update on it, with GEMM FLOPs counted', () => {
  const plan = ruleCostPlan();
  const planned = plan.flatMap((g) => g.rules);
  for (const rule of RULE_IDS) assert.ok(planned.includes(rule), `${rule} is not in the plan`);
  for (const g of plan) assert.equal(g.rules[0], 'bp', 'each net is led by its bp reference');
  assert.equal(RULE_COST_NET_OF.bp, undefined);
  const fast = fastBackend();
  for (const { net, rules } of plan) {
    const data = randomData(net.run.spec.sizes[0], net.run.spec.sizes.at(-1)!, 4);
    const small: CostNet = { ...net, run: { ...net.run, train: { ...net.run.train, batchSize: 2 } } };
    for (const rule of rules) {
      const cost = benchRuleCost(fast, data, rule, small, { warmup: 0, minSeconds: 0, minBatches: 1, maxBatches: 1 });
      assert.ok(cost.flopsPerUpdate > 0 && Number.isFinite(cost.secondsPerUpdate), `${rule}: ${JSON.stringify(cost)}`);
      assert.ok(Number.isFinite(cost.meanLoss), `${rule} on ${net.title}: loss ${cost.meanLoss}`);
    }
  }
  assert.equal(plan.find((g) => g.net === FEED_FORWARD_NET)?.net.run.spec.sizes.join('-'), '784-1000-10');
});
