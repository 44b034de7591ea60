import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  architectureSpec, createJsBackend, createNetwork, createTrainer, createWorkspace, DEFAULT_OPTIMIZER, DEFAULT_SPIKING, DEFAULT_TRAIN, forward,
  Rng, spikeRaster, subset, syntheticTask, type NetworkSpec, type RunConfig, type SpikingSpec,
} from '../src/index.js';
import { Race } from '../lab/src/session/race.js';
import { labNetwork } from '../lab/src/session/network-kind.js';
import { loadTask } from '../lab/src/session/tasks.js';
import { defaultSettings, parseSettings, serializeSettings, type Settings } from '../lab/src/state.js';
import { drawnWithTargets, metricLabel, metricOrder } from '../lab/src/views/metric-labels.js';

/*
 * Issue 13 in the lab, without a browser: the network-kind and signals settings, the refusals they bring, the spike
 * raster of one example of a spiking net, and the labels of the rules' diagnostics.
 */

const noFetch = async (path: string): Promise<Uint8Array> => {
  throw new Error(`no server in this test (asked for ${path})`);
};

async function race(patch: Partial<Settings>): Promise<Race> {
  const settings = { ...defaultSettings(), ...patch };
  return new Race(settings, await loadTask(settings.task, settings.seed, noFetch), createJsBackend());
}

const be = createJsBackend();

function spikingNet(sizes: number[], spiking: Partial<SpikingSpec>, seed = 1) {
  const spec: NetworkSpec = {
    sizes, hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' },
    model: 'spiking', spiking: { ...DEFAULT_SPIKING, ...spiking },
  };
  return createNetwork(spec, Rng.fromSeed(seed));
}

test('lab state: the network kind, its time steps and the signals round-trip through the address; defaults stay out of it', () => {
  for (const patch of [{ net: 'lif', steps: 12 }, { net: 'bernoulli' }, { signals: 'fwd1', act: 'sigmoid' }, { signals: 'bwd2' }, { signals: 'fwd1-bwd2' }] as Partial<Settings>[]) {
    const s = { ...defaultSettings(), ...patch };
    const query = serializeSettings(s);
    assert.deepEqual(parseSettings(query), { settings: s, notices: [] }, query);
  }
  assert.equal(serializeSettings({ ...defaultSettings(), steps: 20 }), '', 'T 20 is the default');
  assert.equal(serializeSettings({ ...defaultSettings(), net: 'lif' }), 'net=lif');
  assert.equal(serializeSettings({ ...defaultSettings(), signals: 'fwd1-bwd2' }), 'signals=fwd1-bwd2');
});

test('lab: rules that cannot train a spiking net or carry 2-bit errors are refused with their one-line reasons; the others train', async () => {
  const spiking = await race({ task: 'xor', hidden: '8', net: 'lif', rules: ['bp', 'ep', 'np', 'fa'], lr: 0.5, batch: 4, speed: 5 });
  assert.deepEqual(spiking.info.refusals.map((r) => r.rule), ['ep', 'np']);
  for (const r of spiking.info.refusals) assert.match(r.message, new RegExp(`^a spiking network is trained through its rates by a rule that sends error signals \\(bp, fa, .*\\), not by '${r.rule}'$`));
  const report = spiking.tick();
  for (const r of report.rules) {
    if (r.rule === 'ep' || r.rule === 'np') assert.ok(r.refused && r.trainLoss === null && r.spikes === null, r.rule);
    else assert.ok(r.refused === null && Number.isFinite(r.trainLoss) && r.spikes !== null, r.rule);
  }
  const quantised = await race({ task: 'xor', hidden: '8', act: 'sigmoid', signals: 'bwd2', rules: ['bp', 'np', 'dfa', 'rbm'], speed: 2 });
  assert.deepEqual(quantised.info.refusals.map((r) => r.rule), ['np', 'rbm']);
  assert.match(quantised.info.refusals[0].message, /^rule 'np' sends no error signals to its hidden layers, so there is nothing for --backward-bits to quantise: use one of bp, fa, /);
  const q = quantised.tick();
  for (const r of q.rules.filter((x) => !x.refused)) assert.ok(Number.isFinite(r.trainLoss) && r.spikes === null, r.rule);
  // Only refused rules: the race itself is refused, with the reason said once.
  await assert.rejects(race({ task: 'xor', net: 'bernoulli', rules: ['ep'] }), (err: Error) => /not by 'ep'$/.test(err.message) && !err.message.includes(';'));
});

test('lab: 1-bit forward signals need sigmoid units — the race refuses them with another activation and says so; a spiking net already spikes', async () => {
  await assert.rejects(race({ task: 'xor', act: 'tanh', signals: 'fwd1', rules: ['bp'] }), /^Error: 1-bit forward signals are samples of logistic units: choose the sigmoid activation, not tanh$/);
  await assert.rejects(race({ task: 'xor', act: 'relu', signals: 'fwd1-bwd2', rules: ['bp'] }), /not relu$/);
  await assert.rejects(race({ task: 'xor', act: 'sigmoid', net: 'lif', signals: 'fwd1', rules: ['bp'] }), /a spiking net already sends spikes forward/);
  // 2-bit errors alone need no particular units.
  assert.deepEqual((await race({ task: 'xor', act: 'tanh', signals: 'bwd2', rules: ['bp'] })).info.refusals, []);
  // The race's spec carries exactly the settings' bits and neurons, seeded by the run's seed.
  const inputs = [syntheticTask('xor', Rng.fromSeed(1)).train.x];
  assert.deepEqual(labNetwork({ ...defaultSettings(), act: 'sigmoid', signals: 'fwd1-bwd2' }, inputs).spec, { quantize: { forwardBits: 1, backwardBits: 2 } });
  assert.deepEqual(labNetwork({ ...defaultSettings(), signals: 'full' }, inputs).spec, {});
  assert.deepEqual(labNetwork({ ...defaultSettings(), net: 'bernoulli', steps: 7, seed: 42, signals: 'bwd2' }, inputs).spec, {
    model: 'spiking', spiking: { ...DEFAULT_SPIKING, neuron: 'bernoulli', steps: 7, input: 'spikes', seed: 42 }, quantize: { forwardBits: 0, backwardBits: 2 },
  });
  // Inputs outside [0, 1] (the spirals' coordinates) go in as currents.
  const spirals = syntheticTask('spirals', Rng.fromSeed(1));
  assert.equal(labNetwork({ ...defaultSettings(), net: 'lif' }, [spirals.train.x]).spec.spiking?.input, 'current');
});

test('lab: the Compare panel\'s line names the signals and neurons every rule trains with', async () => {
  assert.equal((await race({ task: 'xor', rules: ['bp'] })).info.network, 'tanh units, full-precision signals');
  assert.equal((await race({ task: 'xor', act: 'sigmoid', signals: 'fwd1-bwd2', rules: ['bp'] })).info.network,
    'sigmoid units, 1-bit forward, 2-bit backward signals (stochastic, unbiased)');
  assert.equal((await race({ task: 'xor', net: 'lif', rules: ['bp'] })).info.network, 'LIF spiking (τ 10, θ 0.25), T 20, inputs as spikes');
  assert.equal((await race({ task: 'spirals', net: 'bernoulli', steps: 5, signals: 'bwd2', rules: ['bp'] })).info.network,
    'Bernoulli spiking (P(spike) = σ(I) a step), T 5, inputs as currents, 2-bit backward errors');
});

test('spike raster: 0/1 spikes of a few units of each layer over T steps; counts are the row sums and the rates the prediction sees', () => {
  const T = 25, net = spikingNet([30, 40, 12, 3], { steps: T, input: 'spikes', neuron: 'lif' });
  for (const p of net.layers.slice(0, 2)) p.b.fill(0.3); // above θ = 0.25: every hidden layer fires
  const rng = Rng.fromSeed(7), data = new Float32Array(2 * 30).map(() => rng.uniform());
  data[30 + 3] = 0; // an input that never fires
  const batch = { rows: 2, cols: 30, data };
  const raster = spikeRaster(be, net, batch, { units: 16, inputs: 6, example: 1 });
  assert.equal(raster.steps, T);
  assert.deepEqual(raster.layers.map((l) => [l.layer, l.width, l.units.length, l.spikes.length]), [[-1, 30, 6, 6 * T], [0, 40, 16, 16 * T], [1, 12, 12, 12 * T]]);
  const one = { rows: 1, cols: 30, data: data.subarray(30) };
  const byValue = Array.from(one.data.keys()).sort((a, b) => one.data[b] - one.data[a]).slice(0, 6).sort((a, b) => a - b);
  assert.deepEqual(Array.from(raster.layers[0].units), byValue, 'the example\'s six most active inputs');
  assert.deepEqual(Array.from(raster.layers[1].units), Array.from({ length: 16 }, (_, i) => i), 'the first hidden units');
  const ws = createWorkspace(net.spec, 1);
  forward(be, net, one, ws); // the prediction's own pass: the spec's evaluation stream
  for (const layer of raster.layers) {
    assert.ok(layer.spikes.every((v) => v === 0 || v === 1), 'only 0 and 1');
    layer.units.forEach((u, i) => {
      const row = layer.spikes.subarray(i * T, (i + 1) * T).reduce((a, b) => a + b, 0);
      assert.equal(layer.counts[i], row, `layer ${layer.layer}, unit ${u}: count = row sum`);
      const rate = layer.layer < 0 ? ws.spikes!.inputRate.data[u] : ws.h[layer.layer].data[u];
      assert.ok(Math.abs(rate - row / T) < 1e-6, `layer ${layer.layer}, unit ${u}: rate ${rate}, count ${row}`);
    });
  }
  const total = (r: typeof raster) => r.layers.map((l) => l.counts.reduce((a, b) => a + b, 0));
  assert.ok(total(raster).every((n) => n > 0), `every layer spikes: ${total(raster)}`);
  assert.deepEqual(spikeRaster(be, net, batch, { units: 16, inputs: 6, example: 1 }), raster, 'same parameters, same raster');
  // New parameters: the hidden spikes change; the inputs' (drawn from the same stream before any weight acts) do not.
  for (const p of net.layers) p.W.data.forEach((v, i) => (p.W.data[i] = 1.5 * v + 0.05 * Math.sin(i)));
  const moved = spikeRaster(be, net, batch, { units: 16, inputs: 6, example: 1 });
  assert.deepEqual(moved.layers[0], raster.layers[0]);
  assert.notDeepEqual(Array.from(moved.layers[1].spikes), Array.from(raster.layers[1].spikes), 'the hidden spikes change with the weights');
  // Current inputs have no spikes to show; Bernoulli neurons spike too.
  const current = spikeRaster(be, spikingNet([30, 8, 3], { steps: T, input: 'current', neuron: 'bernoulli' }), batch);
  assert.deepEqual(current.layers.map((l) => l.layer), [0]);
  assert.equal(current.neuron, 'bernoulli');
  assert.throws(() => spikeRaster(be, createNetwork({ ...net.spec, model: undefined, spiking: undefined }, Rng.fromSeed(1)), batch), /spiking network/);
});

test('spike raster: drawing it between updates moves none of the training\'s numbers', () => {
  const data = syntheticTask('xor', Rng.fromSeed(1));
  const run: RunConfig = {
    rule: 'fa', ruleOptions: {}, seed: 3,
    spec: { ...architectureSpec('2-8-2'), hidden: 'sigmoid', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' }, model: 'spiking', spiking: { ...DEFAULT_SPIKING, neuron: 'bernoulli', steps: 10 } },
    optimizer: DEFAULT_OPTIMIZER, train: { ...DEFAULT_TRAIN, epochs: 1, lr: 0.5, batchSize: 2, stepEventEvery: 0, evalEvery: 0, alignEvery: 0 },
  };
  const a = createTrainer(run, be, data), b = createTrainer(run, be, data);
  for (let epoch = 0; epoch < 5; epoch++) {
    a.trainEpoch(() => {});
    spikeRaster(be, a.state.net, subset(data.train, 2).x);
    b.trainEpoch(() => {});
  }
  assert.deepEqual(a.state.net.layers, b.state.net.layers);
});

test('lab: a spiking race reports a raster of the last batch\'s first example and spikes per neuron; it changes as the weights learn', async () => {
  const r = await race({ task: 'xor', hidden: '8', net: 'lif', steps: 10, rules: ['bp', 'fa'], lr: 0.5, batch: 4, speed: 5 });
  const first = r.tick();
  let last = first;
  for (let t = 0; t < 20; t++) last = r.tick();
  for (const rr of last.rules) {
    const spikes = rr.spikes!;
    assert.ok(spikes, rr.rule);
    assert.equal(spikes.raster.steps, 10);
    assert.deepEqual(spikes.raster.layers.map((l) => [l.layer, l.units.length]), [[-1, 2], [0, 8]], 'XOR\'s two inputs spike (0/1 rates), and all eight hidden units are shown');
    assert.ok(spikes.label === 0 || spikes.label === 1);
    assert.ok(Number.isFinite(rr.metrics?.spikesPerNeuron) && rr.metrics!.spikesPerNeuron > 0, `${rr.rule}: ${JSON.stringify(rr.metrics)}`);
    assert.ok(rr.metrics!.spikesPerNeuron <= 10);
    assert.ok(rr.surface?.every(Number.isFinite), 'the decision surface over the plane (clipped to rates in [0, 1])');
  }
  assert.ok(last.rules.every((rr) => (rr.trainLoss as number) < first.rules[0].trainLoss!), `loss falls: ${first.rules.map((x) => x.trainLoss)} → ${last.rules.map((x) => x.trainLoss)}`);
});

test('lab: a quantised race learns XOR with 1-bit forward and 2-bit backward signals', async () => {
  // The noise of the samples calls for a larger step than full precision does on XOR (0.5 learns within 1,200 updates).
  const r = await race({ task: 'xor', hidden: '16', act: 'sigmoid', signals: 'fwd1-bwd2', rules: ['bp', 'fa'], lr: 2, batch: 4, speed: 20 });
  let last = r.tick();
  for (let t = 0; t < 40; t++) last = r.tick();
  for (const rr of last.rules) {
    assert.equal(rr.diverged, null);
    assert.ok((rr.testLoss as number) < 0.35, `${rr.rule}: test loss ${rr.testLoss} (ln 2 = 0.69 at chance)`);
    assert.equal(rr.testError, 0, `${rr.rule} classifies all four points`);
  }
});

test('lab: the rules\' diagnostics get readable chart titles; target propagation\'s stay in their own section', () => {
  assert.equal(metricLabel('burstProb2').title, 'Hidden layer 2: mean burst probability');
  assert.equal(metricLabel('spikesPerNeuron').title, 'Spikes per hidden neuron per input (training batches)');
  assert.equal(metricLabel('free_residual').title, 'Free residual');
  assert.equal(metricLabel('logLikelihood').title, 'Log likelihood');
  assert.equal(metricLabel('reconstruction1').title, 'Reconstruction 1');
  assert.deepEqual(['reconstruction', 'burstProb10', 'burstProb2', 'spikesPerNeuron', 'burstProb1'].sort(metricOrder),
    ['spikesPerNeuron', 'burstProb1', 'burstProb2', 'burstProb10', 'reconstruction']);
  for (const name of ['target_loss_2', 'reconstruction_3', 'jacobian_mismatch_2']) assert.ok(drawnWithTargets(name), name);
  for (const name of ['reconstruction', 'reconstruction1', 'burstProb1', 'feedback_loss_2']) assert.ok(!drawnWithTargets(name), name);
});
