import type { Matrix } from '../tensor/matrix.js';
import { lossAndGrad } from '../nn/losses.js';
import { backward, forward } from '../nn/network.js';
import type { Batch, RuleContext } from './rule.js';

/**
 * The step shared by backprop and the feedback family: a forward pass, the loss gradient at the output,
 * and a layer-by-layer backward pass in which layer l sends its error down through feedback(l)
 * (W_l for backprop, B_l for feedback alignment and its relatives). Fills ctx.grads.
 */
export function stepThroughFeedback(ctx: RuleContext, batch: Batch, feedback: (l: number) => Matrix) {
  const { backend: be, net, ws } = ctx;
  const out = forward(be, net, batch.x, ws);
  const L = net.layers.length;
  const loss = lossAndGrad(net.spec.loss, out, batch.y, ws.dh[L - 1]);
  backward(be, net, batch.x, ws, feedback, ctx.grads);
  return { loss, grads: ctx.grads, signals: ws.dh.slice(0, L - 1) };
}
