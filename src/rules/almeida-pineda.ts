import { almeidaPineda as adjointGradient, DEFAULT_SETTLE, settlingNet } from '../nn/settling.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';
import { flag } from './perturbation.js';
import {
  freePhase, layerScales, phaseBuffers, phaseRows, rateFactor, settlingRuleState, stepsOption,
  type PhaseBuffers, type SettlingRuleState,
} from './settling-phases.js';

/**
 * Almeida–Pineda recurrent backpropagation (Almeida 1987; Pineda 1987) on the settling network: the exact
 * gradient of C = ½‖s_L − y‖² at the free fixed point. After the free phase, an adjoint state v relaxes through
 * the transposed and forward weights to H v = −∂C/∂s (H = ∂²E/∂s², symmetric), and dC/dθ = (∂²E/∂θ∂s)·v
 * has the outer-product form of Pineda's adaptive equation (nn/settling.ts almeidaPineda, tested against
 * finite differences). The reference the contrastive rules approach; it needs a second kind of signal (v)
 * in every unit.
 */
export function almeidaPinedaRule(options: RuleOptions = {}): LearningRule<SettlingRuleState> {
  checkRuleOptions('ap', options, ['adjointSteps', 'persistent', 'layerScale']);
  const persistent = options.persistent === undefined ? true : flag('ap', 'persistent', options.persistent);
  const scales = layerScales('ap', options.layerScale);
  const adjointStepsOption = options.adjointSteps === undefined ? null : stepsOption('ap', 'adjointSteps', options.adjointSteps, 0); // absent: the free phase's
  let buffers: PhaseBuffers | null = null;
  return {
    id: 'ap',
    locality: {
      weightTransport: true,
      note: 'the adjoint relaxation sends its signal down through W_lᵀ and up through W_l: a second, error-carrying state in every unit, and symmetric weights',
    },
    init: (net, _rng, info) => settlingRuleState('ap', net, persistent, scales, info),
    step(ctx, state, batch) {
      const { backend: be, net } = ctx, snet = settlingNet(net), settle = net.spec.settle ?? DEFAULT_SETTLE, rows = batch.x.rows;
      const adjointSteps = adjointStepsOption ?? settle.steps;
      buffers = phaseBuffers(buffers, snet.sizes, rows);
      const { free, scratch } = phaseRows(buffers, rows);
      const { result: freeResult, loss } = freePhase(be, snet, settle, state, batch, free, scratch);
      // dC/dθ as a batch mean, times each layer's factor.
      const alphas = ctx.grads.map((_, l) => rateFactor(scales, l) / Math.max(rows, 1));
      const adjoint = adjointGradient(be, snet, batch.x, free, batch.y,
        { epsilon: settle.epsilon, steps: adjointSteps, tolerance: settle.tolerance }, scratch, ctx.grads, alphas);
      return {
        loss, grads: ctx.grads, state, freeState: free,
        metrics: { free_steps: freeResult.steps, free_residual: freeResult.residual, adjoint_steps: adjoint.steps, adjoint_residual: adjoint.residual },
      };
    },
  };
}
