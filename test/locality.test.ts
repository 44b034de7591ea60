import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../src/tensor/backend.js';
import { matrix, type Matrix } from '../src/tensor/matrix.js';
import { createNetwork, createWorkspace, zerosLike, type Network, type NetworkSpec } from '../src/nn/network.js';
import { Rng } from '../src/random.js';
import { RULE_IDS, RULES, createRule, specForRule } from '../src/rules/registry.js';
import type { Batch, LearningRule } from '../src/rules/rule.js';
import { kolenPollack, type KolenPollackState } from '../src/rules/kolen-pollack.js';
import { burstprop } from '../src/rules/burstprop.js';
import { availableBackends } from './helpers.js';

/*
 * Locality as a property (shared/STYLE.md): a rule that declares `weightTransport: false` must produce the
 * same updates when its error path is fed a poisoned copy of the forward weights. The rule sees a network
 * whose W tensors hold random garbage; a backend wrapper hands it the real W only where a rule may read it:
 *   - as the weight operand of a forward product X·Wᵀ (any forward pass of the layer: data, noise, a
 *     perturbed copy);
 *   - inside the layer's own update (axpby of W into that layer's update buffer: weight decay);
 *   - as a copy of the layer's own weights (axpby with coefficient 1), which may then only be used as the
 *     weight operand of forward products or be changed in place (perturbation, online steps); reading the
 *     copy in any other product throws.
 * Any other read — W in the backward product δ·W, W in the update of B, W read in a JavaScript loop —
 * sees the poison, and the updates differ. Several steps run, the loop applying forward and group updates,
 * so that W leaking into B's update shows up in the next step's error. Rules that declare weight transport
 * must fail the check (the test has teeth).
 * NOTE: a rule's initial state may scale its random B to ‖W‖ once (fa, dfa, wm, kp): init is outside this test.
 */

// Two square hidden layers, so that tp (exact inverses) runs too.
const spec: NetworkSpec = { sizes: [5, 7, 7, 3], hidden: 'tanh', output: 'linear', leakySlope: 0.01, loss: 'softmax_xent', init: { kind: 'glorot' } };
const be = availableBackends()[0];
const STEPS = 3, LR = 0.1;

class LocalityViolation extends Error {}

/** The backend a poisoned rule runs on: real W where a local rule may read it, poison elsewhere. */
function poisoningBackend(inner: Backend, realOf: Map<Float32Array, Float32Array>, ownUpdate: Map<Float32Array, Float32Array>): Backend {
  const copies = new Set<Float32Array>();
  const real = (m: Matrix): Matrix => ({ rows: m.rows, cols: m.cols, data: realOf.get(m.data) as Float32Array });
  const gemm: Backend['gemm'] = (transA, transB, alpha, a, b, beta, c) => {
    const forwardProduct = !transA && transB;
    if (forwardProduct && realOf.has(b.data)) return inner.gemm(transA, transB, alpha, a, real(b), beta, c);
    if (copies.has(a.data) || (copies.has(b.data) && !forwardProduct)) {
      throw new LocalityViolation('a copy of the forward weights was read outside a forward product');
    }
    return inner.gemm(transA, transB, alpha, a, b, beta, c);
  };
  const axpby: Backend['axpby'] = (alpha, x, beta, y) => {
    const w = realOf.get(x);
    if (w && ownUpdate.get(y) === w) return inner.axpby(alpha, w, beta, y); // the layer's own update
    if (w && alpha === 1) {
      copies.add(y); // a copy of the layer's own weights
      return inner.axpby(alpha, w, beta, y);
    }
    if (copies.has(x)) copies.add(y);
    return inner.axpby(alpha, x, beta, y);
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'gemm') return gemm;
      if (prop === 'axpby') return axpby;
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function makeBatch(rng: Rng): Batch {
  const rows = 8, x = matrix(rows, spec.sizes[0]), y = matrix(rows, 3), labels = new Int32Array(rows);
  rng.fillNormal(x.data, 0, 1);
  for (let i = 0; i < rows; i++) {
    labels[i] = rng.int(3);
    y.data[i * 3 + labels[i]] = 1;
  }
  return { x, y, labels };
}

/** Every number a rule proposes over STEPS steps of a plain SGD loop, with the error path poisoned or not. */
function proposals<S>(rule: LearningRule<S>, poisoned: boolean): number[][] {
  const rng = Rng.fromSeed(7), netSpec = specForRule(rule.id, spec);
  const net = createNetwork(netSpec, rng.split());
  let state = rule.init(net, rng.split(), { trainExamples: 8 });
  rule.prepareParams?.(net.layers, state);
  const stepRng = rng.split(), dataRng = rng.split(), poisonRng = Rng.fromSeed(99);
  const grads = zerosLike(net.layers);
  const ws = createWorkspace(netSpec, 8);
  const seen: number[][] = [];
  for (let s = 0; s < STEPS; s++) {
    const batch = makeBatch(dataRng);
    let view: Network = net, backend = be;
    if (poisoned) {
      const realOf = new Map<Float32Array, Float32Array>(), ownUpdate = new Map<Float32Array, Float32Array>();
      const layers = net.layers.map((p, l) => {
        const poison = poisonRng.fillNormal(new Float32Array(p.W.data.length), 0, 3);
        realOf.set(poison, p.W.data);
        ownUpdate.set(grads[l].W.data, p.W.data);
        return { W: { rows: p.W.rows, cols: p.W.cols, data: poison }, b: p.b };
      });
      view = { spec: netSpec, layers };
      backend = poisoningBackend(be, realOf, ownUpdate);
    }
    const result = rule.step({ backend, net: view, ws, rng: stepRng, grads }, state, batch);
    state = result.state;
    const groupUpdates = Object.values(result.groupGrads ?? {}).flat();
    seen.push([result.loss, ...result.grads.flatMap((g) => [...g.W.data, ...g.b]), ...groupUpdates.flatMap((u) => [...u])]);
    // The loop's part, on the real parameters: plain SGD on W, b and every group.
    result.grads.forEach((g, l) => {
      be.axpby(-LR, g.W.data, 1, net.layers[l].W.data);
      be.axpby(-LR, g.b, 1, net.layers[l].b);
    });
    for (const group of rule.groups?.(state) ?? []) {
      const updates = result.groupGrads?.[group.name];
      const lr = group.lr === 'run' ? LR : group.lr;
      updates?.forEach((u, i) => be.axpby(-lr, u, 1, group.params[i].value));
    }
  }
  return seen;
}

function dependsOnW<S>(rule: () => LearningRule<S>): boolean {
  let poisoned: number[][];
  try {
    poisoned = proposals(rule(), true);
  } catch (err) {
    if (err instanceof LocalityViolation) return true;
    throw err;
  }
  return JSON.stringify(poisoned) !== JSON.stringify(proposals(rule(), false));
}

for (const id of RULE_IDS) {
  const declared = createRule(id).locality;
  test(`locality: ${id} declares weightTransport ${declared.weightTransport}, and its updates ${declared.weightTransport ? 'do' : 'do not'} depend on W in its error path`, () => {
    assert.ok(declared.note.length > 0, 'the declaration says what the error path reads');
    assert.equal(dependsOnW(() => RULES[id].create({})), declared.weightTransport);
  });
}

test('locality: the test catches Kolen–Pollack as it was (B decays towards W)', () => {
  // Before engine v2, kp decayed B towards W: B ← B − η u − ηλ (B − W). Written as a group update:
  // g_B = u + λ (B − W), which reads W in B's update — weight transport.
  const transporting = (): LearningRule<KolenPollackState> => {
    const kp = kolenPollack({ decay: 0.1 });
    return {
      ...kp,
      id: 'kp-old',
      step(ctx, state, batch) {
        const result = kp.step(ctx, state, batch);
        const updates = result.groupGrads?.feedback ?? [];
        let k = 0;
        ctx.net.layers.forEach((p, l) => {
          if (!state.B[l]) return;
          ctx.backend.axpby(-0.1, p.W.data, 1, updates[k++] as Float32Array); // − λ W
        });
        return result;
      },
    };
  };
  assert.equal(dependsOnW(transporting), true, 'B decaying towards W is weight transport');
  assert.equal(dependsOnW(() => kolenPollack({ decay: 0.1 })), false, 'Kolen–Pollack as published is local');
});

test('locality: burstprop declares its options honestly: tied feedback (Y = W) is caught, learned feedback is local', () => {
  for (const feedback of ['tied', 'learned'] as const) {
    const rule = () => burstprop({ feedback });
    assert.equal(dependsOnW(rule), rule().locality.weightTransport, feedback);
  }
  assert.equal(burstprop({ feedback: 'tied' }).locality.weightTransport, true);
});

test('locality: a rule that copies W into its feedback path is caught', () => {
  const fa = createRule('fa');
  const copying: LearningRule = {
    ...fa,
    id: 'copier',
    step(ctx, _state, batch) {
      // Copy W_l with coefficient 1 (allowed: a copy of the layer's own weights), then use it as feedback.
      const feedback = ctx.net.layers.map((p) => {
        const m = matrix(p.W.rows, p.W.cols);
        ctx.backend.axpby(1, p.W.data, 0, m.data);
        return m;
      });
      const bp = createRule('bp');
      return bp.step({ ...ctx, net: { ...ctx.net, layers: ctx.net.layers.map((p, l) => ({ W: feedback[l], b: p.b })) } }, {}, batch);
    },
  };
  assert.equal(dependsOnW(() => copying), true);
});
