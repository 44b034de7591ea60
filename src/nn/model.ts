import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import { createWorkspace, forward, workspaceRows, type Network, type Workspace } from './network.js';
import { computeInputDrive, DEFAULT_SETTLE, relax, scratchRows, settlingNet, settlingScratch, settlingState, stateRows } from './settling.js';

/**
 * How a network turns inputs into outputs. Evaluation, the lab and the diagnostics ask the model, never
 * a hard-wired forward pass: a feed-forward net computes its output in one pass; a settling network will
 * predict from its free-phase fixed point, a spiking network from spike counts over T time steps.
 */
export interface Model {
  readonly kind: string;
  /** Buffers for predicting batches of up to `capacity` rows (made once, reused). */
  createPredictor(net: Network, capacity: number): Predictor;
}

/** Predicts with the parameters it is given; holds the buffers, not the parameters. */
export interface Predictor {
  readonly capacity: number;
  /** The network's output for x [rows ≤ capacity, inputs]; a view into the predictor's buffers, valid until
   * the next call. The loss is computed on it. */
  predict(be: Backend, net: Network, x: Matrix): Matrix;
}

/** The feed-forward model: h_l = f_l(W_l h_{l−1} + b_l), the output is h_L. */
export const feedForwardModel: Model = {
  kind: 'feedforward',
  createPredictor(net, capacity) {
    const ws: Workspace = createWorkspace(net.spec, capacity);
    return { capacity, predict: (be, params, x) => forward(be, params, x, workspaceRows(ws, x.rows)) };
  },
};

/** The settling model (nn/settling.ts): every example's state relaxes from zero through the free phase of
 * the spec's `settle` (ε, steps, tolerance) with the input clamped; the output is the output layer's state. */
export const settlingModel: Model = {
  kind: 'settling',
  createPredictor(net, capacity) {
    const sizes = net.spec.sizes, states = settlingState(sizes, capacity), scratch = settlingScratch(sizes, capacity);
    return {
      capacity,
      predict(be, params, x) {
        const snet = settlingNet(params), s = stateRows(states, x.rows), sc = scratchRows(scratch, x.rows);
        for (const m of s) m.data.fill(0);
        computeInputDrive(be, snet, x, sc);
        relax(be, snet, s, params.spec.settle ?? DEFAULT_SETTLE, sc);
        return s[s.length - 1];
      },
    };
  },
};

/** The spiking model (nn/spiking.ts): the hidden layers spike for T steps, and the output layer reads the last
 * hidden layer's spike counts out; `forward` runs the simulation, from the spec's fixed evaluation stream here. */
export const spikingModel: Model = {
  kind: 'spiking',
  createPredictor: feedForwardModel.createPredictor,
};

/** Every model kind by name; a spec's `model` field picks one (feed-forward when absent). */
export const MODELS = { feedforward: feedForwardModel, settling: settlingModel, spiking: spikingModel } satisfies Record<string, Model>;
export type ModelKind = keyof typeof MODELS;

export function modelFor(net: Network): Model {
  return MODELS[net.spec.model ?? 'feedforward'];
}
