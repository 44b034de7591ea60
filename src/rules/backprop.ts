import { lossAndGrad } from '../nn/losses.js';
import { backward, forward } from '../nn/network.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

/** Backprop needs no state of its own. */
export type BackpropState = Record<string, never>;

/**
 * Backpropagation (Rumelhart, Hinton & Williams 1986): the exact gradient of the mean batch loss.
 * δ_L = ∂L/∂h_L ⊙ f'(z_L);  δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ f'(z_l);  ∂L/∂W_l = δ_l h_{l−1}ᵀ.
 * The reference every other rule is measured against.
 */
export function backprop(options: RuleOptions = {}): LearningRule<BackpropState> {
  checkRuleOptions('bp', options, []);
  return {
    id: 'bp',
    init: () => ({}),
    step(ctx, state, batch) {
      const { backend: be, net, ws } = ctx;
      const out = forward(be, net, batch.x, ws);
      const L = net.layers.length;
      const loss = lossAndGrad(net.spec.loss, out, batch.y, ws.dh[L - 1]);
      // Weight transport: the backward pass reuses each forward matrix W_l.
      backward(be, net, batch.x, ws, (l) => net.layers[l].W, ctx.grads);
      return { loss, grads: ctx.grads, state, signals: ws.dh.slice(0, L - 1) };
    },
  };
}
