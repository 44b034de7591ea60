import type { Backend } from '../tensor/backend.js';
import type { Matrix } from '../tensor/matrix.js';
import type { DenseParams } from '../nn/dense.js';
import { zerosLike, type Network } from '../nn/network.js';
import {
  almeidaPineda, computeInputDrive, DEFAULT_SETTLE, scratchRows, settlingNet, settlingScratch, settlingState, stateRows,
  type SettlingScratch, type SettlingState,
} from '../nn/settling.js';
import type { Batch } from '../rules/rule.js';

/** The adjoint relaxation's budget: far more steps than any rule's phases, stopped at this residual. */
const ADJOINT_STEPS = 2000, ADJOINT_TOLERANCE = 1e-5;

/**
 * The true gradient of a settling network's cost, the reference for a settling rule's angles: Almeida–Pineda
 * (nn/settling.ts) at the free fixed point the rule's step reached (StepResult.freeState), so both are taken
 * at the same state; the batch mean of dC/dθ, C = ½‖s_L − y‖².
 */
export class SettlingReference {
  private readonly grads: DenseParams[];
  private scratch: SettlingScratch;
  private state: SettlingState;

  constructor(private readonly net: Network, capacity: number) {
    this.grads = zerosLike(net.layers);
    this.scratch = settlingScratch(net.spec.sizes, capacity);
    this.state = settlingState(net.spec.sizes, capacity);
  }

  /** Returns the gradient and no signals; valid until the next call. */
  compute(be: Backend, batch: Batch, freeState: readonly Matrix[]): { grads: DenseParams[]; signals: readonly Matrix[] } {
    const snet = settlingNet(this.net), rows = batch.x.rows, settle = this.net.spec.settle ?? DEFAULT_SETTLE;
    if (rows > this.scratch.rows) {
      this.scratch = settlingScratch(snet.sizes, rows);
      this.state = settlingState(snet.sizes, rows);
    }
    const scratch = scratchRows(this.scratch, rows), s = stateRows(this.state, rows);
    s.forEach((m, l) => m.data.set(freeState[l].data.subarray(0, m.data.length)));
    computeInputDrive(be, snet, batch.x, scratch);
    almeidaPineda(be, snet, batch.x, s, batch.y, { epsilon: settle.epsilon, steps: ADJOINT_STEPS, tolerance: ADJOINT_TOLERANCE },
      scratch, this.grads, 1 / Math.max(rows, 1));
    return { grads: this.grads, signals: [] };
  }
}
