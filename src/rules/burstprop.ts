import { matrix, type Matrix } from '../tensor/matrix.js';
import { lossAndGrad } from '../nn/losses.js';
import { checkDenseNetwork, forward, layerInput, type Network, type Param } from '../nn/network.js';
import { denseParamGrads } from '../nn/dense.js';
import { activationChange } from '../nn/activations.js';
import { DEFAULT_OPTIMIZER } from '../optim/optimizer.js';
import { fillRandom, readFeedbackInit, scaleToNorm } from './feedback-matrices.js';
import { norm } from '../tensor/vector.js';
import { choiceOption, flag, positiveNumber } from './perturbation.js';
import { layerBuffers } from './target-propagation.js';
import { checkRuleOptions, type LearningRule, type RuleOptions, type TrainableGroup } from './rule.js';

export interface BurstpropState {
  /** Y[l] in W_l's shape [n_l, n_{l−1}]: carries layer l's burst rate down to layer l − 1 (row form b_l·Y_l, the
   * official code's `weight_fa`); null for layer 0, and for every layer when tied (Y_l = W_l). Fixed random, or the
   * trainable group 'feedback' when learned. */
  Y: (Matrix | null)[];
  /** R[l]: [n_l, n_l], the recurrent inhibition of hidden layer l (l = 0 … L−2); null when recurrent input is off.
   * The trainable group 'recurrent'. */
  R: (Matrix | null)[];
}

/** Defaults of the official MNIST script (jordan-g/Burstprop `train_mnist.py`), converted where our conventions
 * differ: our updates are batch means, theirs batch sums, so their recurrent rate 1e-4 on batches of 32 is 3.2e-3. */
export const BURSTPROP_DEFAULTS = {
  pBaseline: 0.2,
  /** Standard deviation of the normal draw of the feedback weights Y. */
  feedbackScale: 1,
  recurrent: true,
  /** Half-width of the uniform draw of R. */
  recurrentInit: 0.01,
  recurrentLr: 1e-4 * 32,
  /** The hidden layers' rate as a multiple of the output layer's: hidden_lr 0.1 / output_lr 0.01. */
  hiddenRate: 10,
} as const;

/**
 * Burstprop, rate form (Payeur, Guerguiev, Zenke, Richards & Naud 2021, Nat. Neurosci. 24:1010; equations of the
 * official code, jordan-g/Burstprop `layers.py`). Every unit is logistic; its event rate is its forward activity
 * e_l = σ(W_l e_{l−1} + b_l), and a burst probability p_l set by its apical (top-down) input multiplexes an error
 * onto the same units: the burst rate b = p ⊙ e travels down, and each synapse learns from the change of the
 * post-synaptic burst rate between a baseline pass and a teaching pass (~), times the pre-synaptic event rate:
 *   output:  p_L = p̄,  p̃_L = p̄ [(y − e_L) ⊙ (1 − e_L) + 1];
 *   hidden:  u_l = (b_{l+1}·Y_{l+1}) ⊙ (1 − e_l) − b_l^pre·R_lᵀ,  p_l = σ(u_l),
 *            p̃_l = σ((b̃_{l+1}·Y_{l+1}) ⊙ (1 − e_l) − b_l^pre·R_lᵀ),  b_l^pre = σ(b_{l+1}·Y_{l+1}) ⊙ e_l;
 *   every layer:  ΔW_l = η (b̃_l − b_l)ᵀ e_{l−1},  Δb_l = η Σ (b̃_l − b_l);  ΔR_l = η_R u_lᵀ b_l^pre.
 * Returned as the batch mean −(b̃_l − b_l)ᵀ e_{l−1} / rows (gradient sign). At the output b̃ − b = p̄ (y − e) e (1 − e),
 * so the output layer's update is exactly p̄ times the gradient of ½‖y − e‖² (tested). In a hidden layer
 * b̃ − b ≈ e (1 − e) σ'(u) ⊙ ((b̃ − b)_{l+1}·Y): with Y = W (tied) and a small apical drive (σ'(u) ≈ ¼) backprop's δ up
 * to a factor per layer (tested). R learns to cancel the apical drive, a gradient step on ½‖u‖², which keeps p
 * near ½, where that approximation holds.
 * NOTE: the teaching pass is computed as the baseline plus its difference, carried down by linearity
 * ((b̃ − b)·Y for b̃·Y − b·Y) and σ(ũ) − σ(u) taken without cancellation (activationChange): the same numbers as two
 * separate passes, but exact to float32 rounding even when the teaching signal is a millionth of the rates.
 * Options:
 *   pBaseline p̄ in (0, ½] (default 0.2; ≤ ½ keeps p̃_L in (0, 1) for targets in [0, 1]);
 *   feedback: random (fixed Y, default), learned (Y gets W's update: group 'feedback', the official
 *     `weight_fa_learning`; with weight decay on both this is Kolen–Pollack), or tied (Y_l = W_l, weight transport:
 *     the limit case of the paper's theorem); dist (normal, default; or uniform) and scale (default 1, the official
 *     std; 0 = ‖W_l‖) of the random Y;
 *   recurrent: recurrent inhibition R on (default, as in the official script: it holds the burst probabilities near ½,
 *     where the updates follow the gradient) or off; recurrentInit: R's start, U[−r, r] (default 0.01). R is stepped
 *     by plain SGD at 3.2e-3 (the official 1e-4 on batch sums of 32; --group-opt recurrent.lr=… changes it);
 *   hiddenRate: the hidden layers' updates are multiplied by this (default 10): the official code's separate hidden
 *     and output learning rates (0.1 / 0.01 in `train_mnist.py`; 1.0 / 0.01 in its demo), which our loop has no
 *     place for. It makes up for the factor σ'(u) ≈ ¼ per layer by which hidden updates are smaller than the
 *     gradient's; angles per layer do not see it.
 */
export function burstprop(options: RuleOptions = {}): LearningRule<BurstpropState> {
  checkRuleOptions('burstprop', options, ['pBaseline', 'feedback', 'dist', 'scale', 'recurrent', 'recurrentInit', 'hiddenRate']);
  const pBaseline = positiveNumber('burstprop', 'pBaseline', options.pBaseline ?? BURSTPROP_DEFAULTS.pBaseline);
  if (pBaseline > 0.5) throw new Error(`burstprop option pBaseline must be in (0, 0.5] so that the teaching burst probability stays below 1, got ${pBaseline}`);
  const feedback = choiceOption('burstprop', 'feedback', options.feedback ?? 'random', ['random', 'learned', 'tied']);
  const tied = feedback === 'tied', learned = feedback === 'learned';
  if (tied && (options.dist !== undefined || options.scale !== undefined)) throw new Error('burstprop options dist and scale are for random or learned feedback (tied feedback is W itself)');
  const random = readFeedbackInit({ dist: options.dist ?? 'normal', scale: options.scale ?? BURSTPROP_DEFAULTS.feedbackScale });
  const recurrent = flag('burstprop', 'recurrent', options.recurrent ?? BURSTPROP_DEFAULTS.recurrent);
  const recurrentInit = options.recurrentInit ?? BURSTPROP_DEFAULTS.recurrentInit;
  if (typeof recurrentInit !== 'number' || !(recurrentInit >= 0) || !Number.isFinite(recurrentInit)) {
    throw new Error(`burstprop option recurrentInit must be a number ≥ 0, got '${String(recurrentInit)}'`);
  }
  if (!recurrent && options.recurrentInit !== undefined) throw new Error('burstprop option recurrentInit is for recurrent=true');
  const hiddenRate = positiveNumber('burstprop', 'hiddenRate', options.hiddenRate ?? BURSTPROP_DEFAULTS.hiddenRate);
  // Per-layer buffers, [rows, n_l] each: burst rate b, its teaching change b̃ − b, the apical drive and its change.
  const rate = layerBuffers(), change = layerBuffers(), apical = layerBuffers(), apicalChange = layerBuffers();
  const drive = layerBuffers(), before = layerBuffers(), delta = layerBuffers();
  const feedbackGrads: Float32Array[] = [], recurrentGrads: Float32Array[] = [];
  return {
    id: 'burstprop',
    locality: tied
      ? { weightTransport: true, note: 'tied: burst rates travel down through the forward weights themselves (Y = W), the limit case of the theorem' }
      : { weightTransport: false, note: 'burst rates travel down through feedback weights Y (fixed random, or learned from the same pre- and post-synaptic rates as W); W is read by the forward pass only' },
    init(net, rng) {
      checkNet(net);
      const Y = net.layers.map((p, l) => {
        if (tied || l === 0) return null;
        const y = matrix(p.W.rows, p.W.cols);
        fillRandom(y.data, random, rng);
        if (random.scale === 0) scaleToNorm(y.data, norm(p.W.data));
        return y;
      });
      const R = net.layers.slice(0, -1).map((p) => {
        if (!recurrent) return null;
        const r = matrix(p.W.rows, p.W.rows);
        rng.fillUniform(r.data, -recurrentInit, recurrentInit);
        return r;
      });
      return { Y, R };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws, grads } = ctx;
      const L = net.layers.length, rows = batch.x.rows, { sizes } = net.spec;
      const out = forward(be, net, batch.x, ws);
      const loss = lossAndGrad(net.spec.loss, out, batch.y, null);
      const metrics: Record<string, number> = {};
      const signals: Matrix[] = [];
      const gY: Float32Array[] = [], gR: Float32Array[] = [];
      for (let l = L - 1; l >= 0; l--) {
        const width = sizes[l + 1], e = ws.h[l].data;
        const b = rate(l, rows, width), db = change(l, rows, width);
        if (l === L - 1) {
          // b = p̄ e;  b̃ − b = (p̃ − p̄) e = p̄ (y − e)(1 − e) e.
          const y = batch.y.data;
          for (let i = 0; i < e.length; i++) {
            b.data[i] = pBaseline * e[i];
            db.data[i] = pBaseline * (y[i] - e[i]) * (1 - e[i]) * e[i];
          }
        } else {
          const Y = tied ? net.layers[l + 1].W : (state.Y[l + 1] as Matrix);
          // The apical input: b_{l+1}·Y_{l+1} and its teaching change (b̃ − b)_{l+1}·Y_{l+1}, [rows, n_l].
          const a = apical(l, rows, width), da = apicalChange(l, rows, width);
          be.gemm(false, false, 1, rate(l + 1, rows, sizes[l + 2]), Y, 0, a);
          be.gemm(false, false, 1, change(l + 1, rows, sizes[l + 2]), Y, 0, da);
          // u = a ⊙ (1 − e) − b^pre·Rᵀ, with b^pre = σ(a) ⊙ e (the official backward_pre); du = da ⊙ (1 − e).
          const u = drive(l, rows, width);
          const R = state.R[l];
          if (R) {
            const pre = before(l, rows, width);
            for (let i = 0; i < e.length; i++) pre.data[i] = e[i] / (1 + Math.exp(-a.data[i]));
            be.gemm(false, true, 1, pre, R, 0, u);
            for (let i = 0; i < e.length; i++) u.data[i] = a.data[i] * (1 - e[i]) - u.data[i];
          } else {
            for (let i = 0; i < e.length; i++) u.data[i] = a.data[i] * (1 - e[i]);
          }
          for (let i = 0; i < e.length; i++) db.data[i] = da.data[i] * (1 - e[i]);
          // p = σ(u), p̃ − p = σ(u + du) − σ(u) (without cancellation, in place of du); b = p e, b̃ − b = (p̃ − p) e.
          activationChange('sigmoid', u.data, db.data, db.data, 0);
          let sum = 0, squares = 0;
          for (let i = 0; i < e.length; i++) {
            const p = 1 / (1 + Math.exp(-u.data[i]));
            sum += p;
            squares += (p - 0.5) * (p - 0.5);
            b.data[i] = p * e[i];
            db.data[i] *= e[i];
          }
          // The mean burst probability, and how far from ½ the units' probabilities spread (RMS of p − ½): the
          // updates follow the gradient where σ'(u) is nearly the same for every unit, i.e. p near ½.
          metrics[`burstProb${l + 1}`] = sum / e.length;
          metrics[`burstSpread${l + 1}`] = Math.sqrt(squares / e.length);
          if (R) {
            // ΔR = η_R uᵀ b^pre, a descent step on ½‖u‖²: in gradient sign −uᵀ b^pre / rows.
            const g = groupBuffer(recurrentGrads, gR, R.data.length);
            be.gemm(true, false, -1 / rows, u, before(l, rows, width), 0, { rows: R.rows, cols: R.cols, data: g });
          }
          // The error this layer receives, in backprop's sign and batch-mean units: −(b̃ − b)_{l+1}·Y / rows.
          be.axpby(-1 / rows, da.data, 0, da.data);
          signals[l] = da;
        }
        // ΔW_l ∝ (b̃ − b)ᵀ e_{l−1}: the update −(b̃ − b)/rows stands where backprop's δ stands.
        const d = delta(l, rows, width);
        be.axpby(-(l === L - 1 ? 1 : hiddenRate) / rows, db.data, 0, d.data);
        denseParamGrads(be, d, layerInput(batch.x, ws, l), grads[l]);
        if (learned && l > 0) groupBuffer(feedbackGrads, gY, grads[l].W.data.length).set(grads[l].W.data); // Y_l learns as W_l
      }
      // Proposed in the order the groups list their tensors: bottom layer first.
      gY.reverse();
      gR.reverse();
      const groupGrads: Record<string, Float32Array[]> = {};
      if (gY.length) groupGrads.feedback = gY;
      if (gR.length) groupGrads.recurrent = gR;
      return { loss, grads, state, signals, metrics, groupGrads };
    },
    groups(state): TrainableGroup[] {
      const groups: TrainableGroup[] = [];
      const Y = tensors(state.Y, 'Y');
      if (learned && Y.length) groups.push({ name: 'feedback', params: Y, lr: 'run', optimizer: 'run' });
      const R = tensors(state.R, 'R');
      if (R.length) groups.push({ name: 'recurrent', params: R, lr: BURSTPROP_DEFAULTS.recurrentLr, optimizer: { ...DEFAULT_OPTIMIZER, name: 'sgd' } });
      return groups;
    },
    feedbackMatrices: (state) => state.Y,
  };
}

/** A group's update buffer for the next tensor, reused from the last step's list when the size matches. */
function groupBuffer(previous: Float32Array[], updates: Float32Array[], length: number): Float32Array {
  const i = updates.length;
  const buffer = previous[i]?.length === length ? previous[i] : new Float32Array(length);
  previous[i] = buffer;
  updates.push(buffer);
  return buffer;
}

/** The non-null matrices as group tensors, bottom layer first, named `${prefix}${l + 1}`: Y2 has W2's shape, R1 belongs
 * to hidden layer 1. */
function tensors(ms: readonly (Matrix | null)[], prefix: string): Param[] {
  return ms.flatMap((m, l) => (m ? [{ name: `${prefix}${l + 1}`, value: m.data, isBias: false }] : []));
}

function checkNet(net: Network): void {
  const { spec } = net;
  checkDenseNetwork('burstprop', spec);
  if (spec.model === 'settling') throw new Error('burstprop trains a feed-forward net: use --model feedforward');
  const wrong = spec.hidden !== 'sigmoid' && spec.sizes.length > 2 ? `hidden units are ${spec.hidden}` : spec.output !== 'sigmoid' ? `output units are ${spec.output}` : spec.loss !== 'mse' ? `loss is ${spec.loss}` : null;
  if (wrong) {
    throw new Error(`rule 'burstprop' needs logistic units trained on squared error (event rates e = σ(Wx + b), teaching p̃ = p̄[(y − e)(1 − e) + 1]), but the ${wrong}: use --act sigmoid --out-act sigmoid --loss mse`);
  }
}
