import { topRows, type Matrix } from '../tensor/matrix.js';
import { checkDenseNetwork, forward, layerActivation, layerInput, type Network } from '../nn/network.js';
import { positiveInteger, positiveNumber } from './perturbation.js';
import { matrixScratch } from './target-propagation.js';
import { checkRuleOptions, type LearningRule, type Picture, type PictureContext, type RuleOptions } from './rule.js';

export interface BcmState {
  /** The layer (0-based) whose weights W [units, inputs] the rule trains. */
  layer: number;
  /** θ_j per unit: the running average of y_j²/y₀ (the sliding threshold), or the fixed threshold. [units] */
  theta: Float64Array;
  /** Steps taken; the sliding θ starts at the first batch's ⟨y²⟩. */
  steps: number;
}

/** The activities BCM is stated for: firing rates (rectified or logistic units) and the linear units of the
 * theory's analyses (Intrator & Cooper 1992; Dayan & Abbott 2001). */
export const BCM_ACTIVATIONS = ['relu', 'sigmoid', 'linear'] as const;

/**
 * The BCM rule (Bienenstock, Cooper & Munro 1982, J. Neurosci. 2:32–48): ṁ_j = φ(c, θ_M)·d_j − ε·m_j, where c is the
 * unit's output, d_j its j-th input, and φ changes sign at a modification threshold θ_M that slides with the unit's
 * time-averaged activity (in the paper θ_M = (c̄/c₀)^p·c̄). This rule takes the quadratic form that the later
 * analyses made standard (Intrator & Cooper 1992, Neural Networks 5:3–17; Law & Cooper 1994, PNAS 91:7797; Dayan &
 * Abbott 2001, Theoretical Neuroscience §8.2): φ(y, θ) = y·(y − θ) and θ a running average of y², per unit:
 *   ΔW_jk ∝ ⟨x_k·y_j·(y_j − θ_j)⟩_batch,   θ_j ← θ_j + (⟨y_j²⟩_batch/y₀ − θ_j)/τ   (θ starts at the first batch's),
 * with y = f(W·x + b) the layer's activity and x its input (the layers below run forward). Above θ a synapse that
 * is active potentiates, below it depresses; because θ grows as ⟨y²⟩, faster than ⟨y⟩, a unit that fires more raises
 * its own threshold, which bounds its activity without any normalisation of the weights and makes the input patterns
 * compete: the stable fixed points respond to one pattern (or a few) and not to the others (selectivity).
 *
 * θ is updated before the weights and includes this batch, so with τ = 1 it is the batch's ⟨y²⟩, and for linear
 * units the update is then exactly −∇ of Intrator & Cooper's projection-pursuit risk R = −⅓⟨y³⟩ + ¼⟨y²⟩²/y₀ (per unit,
 * summed; theirs has y₀ = 1), which the rule reports as its loss. The paper's uniform decay −ε·m_j is the run's weight decay
 * (--weight-decay, on weights only); the standard treatments set it to 0, and so does the default: the sliding
 * threshold alone keeps the weights bounded. The biases are left alone (the paper's unit has none: c = m·d).
 * Returned in gradient sign: grads W = −⟨y(y − θ) xᵀ⟩.
 *
 * Options: layer (1-based; default: the one layer the stage trains, else layer 1); tau (τ ≥ 1, in steps: θ's
 * time constant; default 10, so θ follows ⟨y²⟩ faster than the weights move, which stability needs); y0 (the
 * paper's scale c₀: θ tracks ⟨y²⟩/y₀; default 1. The selective fixed point for K equiprobable independent patterns
 * is a response K·y₀ to one and 0 to the rest, so logistic units, which cannot exceed 1, need y0 < 1/K and a small
 * rate; rectified or linear units are the natural choice); fixedTheta (a number ≥ 0: a fixed threshold instead of
 * the sliding one, for comparison: activity then runs away or dies).
 * Metrics: theta (mean θ over units), y2 (mean over units of the batch's ⟨y²⟩), selectivity (BCM 1982's index
 * 1 − mean response / maximum response over the batch, averaged over the units that respond at all).
 */
export function bcm(options: RuleOptions = {}): LearningRule<BcmState> {
  checkRuleOptions('bcm', options, ['layer', 'tau', 'y0', 'fixedTheta']);
  const layerOption = options.layer === undefined ? null : positiveInteger('bcm', 'layer', options.layer) - 1;
  const tau = positiveNumber('bcm', 'tau', options.tau ?? 10);
  if (tau < 1) throw new Error(`bcm option tau must be ≥ 1 step (θ moves a fraction 1/τ of the way to ⟨y²⟩ each step), got ${tau}`);
  const y0 = positiveNumber('bcm', 'y0', options.y0 ?? 1);
  const fixedTheta = options.fixedTheta === undefined ? null : nonNegative(options.fixedTheta);
  const phiBuffer = matrixScratch();
  return {
    id: 'bcm',
    locality: { weightTransport: false, note: 'no error path: each synapse reads its input, its unit\'s output and that unit\'s own running ⟨y²⟩' },
    init(net, _rng, info) {
      const trains = info?.trains;
      const layer = layerOption ?? (trains && trains.length === 1 ? trains[0] : trains && trains.length > 1 ? -1 : 0);
      if (layer < 0) throw new Error(`bcm trains one layer, but its stage trains layers ${trains?.map((l) => l + 1).join(', ')}: give one layer (--stage bcm:EPOCHS:LAYER or --rule-opt layer=L)`);
      checkBcmLayer(net, layer);
      const theta = new Float64Array(net.spec.sizes[layer + 1]);
      if (fixedTheta !== null) theta.fill(fixedTheta);
      return { layer, theta, steps: 0 };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws, grads } = ctx;
      const l = state.layer, rows = batch.x.rows;
      forward(be, net, batch.x, ws);
      const y = ws.h[l], x = layerInput(batch.x, ws, l), units = y.cols;
      const stats = unitStatistics(y);
      const { theta } = state;
      if (fixedTheta === null) {
        for (let j = 0; j < units; j++) {
          const target = stats.y2[j] / y0;
          theta[j] = state.steps === 0 ? target : theta[j] + (target - theta[j]) / tau;
        }
      }
      // φ = y·(y − θ), [rows, units]; BCM: ΔW ∝ ⟨φ xᵀ⟩, so in gradient sign g_W = −φᵀx / rows.
      const phi = phiBuffer(rows, units);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < units; j++) {
          const v = y.data[r * units + j];
          phi.data[r * units + j] = v * (v - theta[j]);
        }
      }
      grads.forEach((g, i) => { if (i !== l) g.W.data.fill(0); g.b.fill(0); });
      be.gemm(true, false, -1 / rows, phi, x, 0, grads[l].W);
      let risk = 0, thetaSum = 0, y2Sum = 0;
      for (let j = 0; j < units; j++) {
        risk += -stats.y3[j] / 3 + (stats.y2[j] * stats.y2[j]) / (4 * y0); // Intrator & Cooper 1992's risk of unit j (y₀ = 1)
        thetaSum += theta[j];
        y2Sum += stats.y2[j];
      }
      const metrics: Record<string, number> = { theta: thetaSum / units, y2: y2Sum / units };
      if (Number.isFinite(stats.selectivity)) metrics.selectivity = stats.selectivity; // absent while no unit responds
      return { loss: risk, grads, state: { ...state, steps: state.steps + 1 }, metrics };
    },
    layersTrained: (state) => [state.layer],
    pictures: (ctx, state) => bcmPictures(ctx, state),
  };
}

function nonNegative(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new Error(`bcm option fixedTheta must be a number ≥ 0, got '${String(value)}'`);
  return value;
}

/** Refuses a layer whose units are not rates BCM is stated for, with the fix. */
function checkBcmLayer(net: Network, layer: number): void {
  if (layer >= net.layers.length) throw new Error(`bcm option layer ${layer + 1} is beyond the network's ${net.layers.length} layers`);
  checkDenseNetwork('bcm', net.spec);
  const act = layerActivation(net.spec, layer);
  if (!(BCM_ACTIVATIONS as readonly string[]).includes(act)) {
    const flagName = layer === net.layers.length - 1 ? '--out-act' : '--act';
    throw new Error(`bcm's units are firing rates y = f(w·x) (rectified, logistic or linear), but layer ${layer + 1} has ${act} units: use ${flagName} relu, sigmoid or linear`);
  }
}

/** Per unit over the batch: ⟨y²⟩, ⟨y³⟩; and the mean over responding units of 1 − mean(y)/max(y) (BCM 1982). */
export function unitStatistics(y: Matrix): { y2: Float64Array; y3: Float64Array; selectivity: number } {
  const { rows, cols: units } = y;
  const y2 = new Float64Array(units), y3 = new Float64Array(units), sum = new Float64Array(units), max = new Float64Array(units).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < units; j++) {
      const v = y.data[r * units + j];
      y2[j] += v * v;
      y3[j] += v * v * v;
      sum[j] += v;
      if (v > max[j]) max[j] = v;
    }
  }
  let selectivity = 0, responding = 0;
  for (let j = 0; j < units; j++) {
    y2[j] /= rows;
    y3[j] /= rows;
    if (max[j] > 0) { selectivity += 1 - sum[j] / rows / max[j]; responding++; }
  }
  return { y2, y3, selectivity: responding ? selectivity / responding : NaN };
}

/** The first layer's receptive fields: each unit's incoming weights drawn as an image. */
function bcmPictures(ctx: PictureContext, state: BcmState): Picture[] {
  const { net, imageShape } = ctx;
  if (state.layer !== 0 || !imageShape || net.spec.sizes[0] !== imageShape[0] * imageShape[1]) return [];
  const count = Math.min(64, net.layers[0].W.rows);
  return [{
    name: 'features', title: `BCM: the incoming weights of the first ${count} units of layer 1`,
    images: topRows(net.layers[0].W, count), height: imageShape[0], width: imageShape[1], scale: 'symmetric',
  }];
}
