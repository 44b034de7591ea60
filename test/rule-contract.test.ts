import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloneMatrix } from '../src/tensor/matrix.js';
import { cloneLayers, createNetwork, createWorkspace, zerosLike, type NetworkSpec } from '../src/nn/network.js';
import { Rng } from '../src/random.js';
import { RULE_IDS, RULES, createRule, specForRule, type RuleId, type RuleInfo } from '../src/rules/registry.js';
import type { RuleOptions } from '../src/rules/rule.js';
import { xor } from '../src/data/synthetic.js';
import { createTrainer } from '../src/train/run.js';
import { DEFAULT_TRAIN } from '../src/train/trainer.js';
import { DEFAULT_OPTIMIZER } from '../src/optim/optimizer.js';
import { evaluate } from '../src/metrics/classification.js';
import { availableBackends } from './helpers.js';

// Every registered rule, present and future, must pass these.
const spec: NetworkSpec = { sizes: [2, 8, 6, 2], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };
const be = availableBackends()[0];

/**
 * The few per-rule departures from the common settings, each with its reason.
 * - delta trains the output layer only, by definition (hidden layers stay fixed random features), so its
 *   hidden layers must get an exactly zero update; and as a convex problem on those fixed features XOR
 *   needs a larger step to halve its loss in 300 updates (at lr 0.05 it does so for 1 of 8 seeds).
 * - wp and np estimate the gradient from one perturbation by default; on XOR the per-example gradients
 *   nearly cancel in the batch mean, so one sample's estimate is 3–25× the gradient's norm, and with
 *   momentum 0.9 at lr 0.05 the loss fails to halve (mostly it diverges) for 5 (wp) and 7 (np) of the
 *   8 seeds 3–10. Averaging 4 samples halves the noise, and then every one of those seeds learns.
 * - sdtp's first target is the label: with 2 classes it moves the 6-unit penultimate layer along one
 *   direction only, through an inverse that reads 2 numbers, and with Bartunov et al.'s σ = 0.21 that inverse
 *   mostly fits its noise; the loss halves for 2 of the seeds 3–6. With σ = 0.05 it does for 3 of 4, seed 3
 *   among them (measured; a real limit of the rule on tiny outputs, which aosdtp's auxiliary units lift).
 * - aosdtp's default 512 auxiliary units swamp a 6-unit penultimate layer; 16 learn XOR for each of the seeds 3–6.
 * - drl's and ddtp's default target step is Meulemans et al.'s λ/B ≈ 5e-4 per example, tuned with Adam, which
 *   ignores the gradient's scale; under SGD at lr 0.05 it barely moves in 300 updates. With α = 0.3 the
 *   loss halves for 3 (drl) and 4 (ddtp) of the seeds 3–6, seed 3 among them.
 * - recirc's error flows down through reconstructions, and each unit's change is gated by f' at its top-down
 *   drive, which is its forward input only where the layer is a good autoencoder; XOR's 6 units cannot
 *   reconstruct 8, so it follows backprop loosely: at lr 0.05 the loss halves for 2 of the seeds 3–6 (0.68, 0.57,
 *   0.39, 0.07 of the start), at lr 0.1 for 3 of them, seed 3 among them (0.04, 0.60, 0.04, 0.06).
 * - burstprop trains logistic units on squared error (specForRule), whose XOR gradient is small (backprop itself needs
 *   lr ≈ 2 there), and its updates are p̄ = 0.2 times that gradient at the output; at lr 0.05 the loss barely moves
 *   (0.83–0.99 of the start on seeds 3–6). At lr 10 it halves for 3 of the seeds 3–6, seed 3 among them (0.003,
 *   0.63, 0.008, 0.003).
 */
/** tp inverts its hidden-to-hidden layers exactly, so it needs them square; the settling rules (ep) train a settling network
 * (hard-sigmoid units, squared error, as in Scellier & Bengio), here with one hidden layer. */
const SETTLING_SPEC: NetworkSpec = {
  ...spec, sizes: [2, 8, 2], hidden: 'hard_sigmoid', output: 'hard_sigmoid', loss: 'mse', model: 'settling', settle: { epsilon: 0.5, steps: 30, tolerance: 0 },
};
const specFor = (id: string): NetworkSpec => (id === 'tp' ? { ...spec, sizes: [2, 8, 8, 2] }
  : (RULES as Record<string, RuleInfo>)[id]?.model === 'settling' ? SETTLING_SPEC : specForRule(id, spec));
/** Rules that change only some layers, by definition: delta the output layer; an RBM and bcm their one layer (the
 * first when no stage names one); wakesleep the hidden layers (a Helmholtz machine; the readout is a later stage's). Every other layer must get an exactly zero update. */
const LAYERS_CHANGED: Partial<Record<RuleId, (layers: number) => number[]>> = {
  delta: (layers) => [layers - 1],
  rbm: () => [0],
  bcm: () => [0],
  wakesleep: (layers) => Array.from({ length: layers - 1 }, (_, l) => l),
};
const XOR_SETTINGS: Partial<Record<RuleId, { ruleOptions?: RuleOptions; lr?: number }>> = {
  delta: { lr: 0.5 },
  wp: { ruleOptions: { samples: 4 } },
  np: { ruleOptions: { samples: 4 } },
  sdtp: { ruleOptions: { sigma: 0.05 } },
  aosdtp: { ruleOptions: { aux: 16 } },
  drl: { ruleOptions: { alpha: 0.3 } },
  ddtp: { ruleOptions: { alpha: 0.3 } },
  recirc: { lr: 0.1 },
  burstprop: { lr: 10 },
};

/** Rules that XOR's settings cannot show learning, and where their learning is tested instead. */
const XOR_ELSEWHERE: Partial<Record<RuleId, string>> = {
  // A zero input puts every unit of the settling net at the hard sigmoid's bound 0, where the projected fixed
  // point's exact gradient is zero: ap's output units clip and never get a gradient (measured: 0.5 on seeds 3–6).
  ap: 'test/settling-rules.test.ts (ap learns where its units are inside the box)',
  // Unsupervised: an RBM learns a model of its layer's input, not the labels.
  rbm: 'test/rbm.test.ts (its exact log-likelihood rises)',
  // Unsupervised: BCM learns selectivity from its layer's own activity and never reads the labels.
  bcm: 'test/bcm.test.ts (θ tracks ⟨y²⟩, activity stays bounded, units become selective)',
  // Unsupervised: it never reads the labels and leaves the readout to a later stage; its bound falls instead.
  wakesleep: 'test/wake-sleep.test.ts (the exact −log p(v) of the bars problem falls)',
};

function oneStep(id: string, seed: number) {
  const rng = Rng.fromSeed(seed);
  const net = createNetwork(specFor(id), rng);
  const rule = createRule(id);
  const state = rule.init(net, rng.split());
  rule.prepareParams?.(net.layers, state);
  const { train } = xor();
  const batch = { x: cloneMatrix(train.x), y: cloneMatrix(train.y), labels: train.labels?.slice() };
  const paramsBefore = cloneLayers(net.layers);
  const result = rule.step({ backend: be, net, ws: createWorkspace(specFor(id), 4), rng: rng.split(), grads: zerosLike(net.layers) }, state, batch);
  return { net, batch, train, paramsBefore, result };
}

for (const id of RULE_IDS) {
  test(`rule contract: ${id}`, () => {
    const { net, batch, train, paramsBefore, result } = oneStep(id, 1);
    assert.ok(Number.isFinite(result.loss), 'finite loss');
    assert.equal(result.grads.length, net.layers.length);
    result.grads.forEach((g, l) => {
      assert.deepEqual([g.W.rows, g.W.cols, g.b.length], [net.layers[l].W.rows, net.layers[l].W.cols, net.layers[l].b.length], 'update shaped like the parameters');
      assert.ok(g.W.data.every(Number.isFinite) && g.b.every(Number.isFinite), 'finite update');
      const changed = LAYERS_CHANGED[id]?.(net.layers.length);
      if (changed && !changed.includes(l)) {
        assert.ok(g.W.data.every((v) => v === 0) && g.b.every((v) => v === 0), `layer ${l + 1} is left alone`);
      } else {
        assert.ok(g.W.data.some((v) => v !== 0), `layer ${l + 1} gets a non-zero update`);
      }
    });
    assert.deepEqual(net.layers, paramsBefore, 'step leaves the parameters alone');
    assert.deepEqual(batch.x, train.x, 'step leaves the inputs alone');
    assert.deepEqual(batch.y, train.y, 'step leaves the targets alone');
    assert.deepEqual(oneStep(id, 1).result.grads, result.grads, 'same seed, same update');
    assert.notDeepEqual(oneStep(id, 2).result.grads, result.grads, 'different seed, different update');
  });

  test(`rule contract: ${id} lowers the XOR loss`, { skip: XOR_ELSEWHERE[id] && `learning is tested in ${XOR_ELSEWHERE[id]}` }, () => {
    const run = {
      rule: id, ruleOptions: XOR_SETTINGS[id]?.ruleOptions ?? {}, seed: 3, spec: specFor(id),
      optimizer: { ...DEFAULT_OPTIMIZER, name: 'momentum' as const },
      train: { ...DEFAULT_TRAIN, epochs: 300, batchSize: 4, lr: XOR_SETTINGS[id]?.lr ?? 0.05 },
    };
    const data = xor();
    const trainer = createTrainer(run, be, data);
    const before = evaluate(be, trainer.state.net, data.train).loss;
    trainer.run();
    const after = evaluate(be, trainer.state.net, data.train).loss;
    assert.ok(after < 0.5 * before, `XOR loss ${before} → ${after}`);
  });
}
