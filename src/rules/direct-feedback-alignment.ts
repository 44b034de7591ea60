import { matrix, type Matrix } from '../tensor/matrix.js';
import { layerActivation, networkLayers } from '../nn/network.js';
import { denseInputError } from '../nn/dense.js';
import { lossAndGrad } from '../nn/losses.js';
import { forward, layerDerivative, layerInput, quantizeSentError } from '../nn/network.js';
import { norm } from '../tensor/vector.js';
import { fillRandom, readFeedbackInit, scaleToNorm } from './feedback-matrices.js';
import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';

export interface DirectFeedbackState {
  /** D[l]: [outputs, width_l], carries the output error e straight to hidden layer l (l = 0 … L−2). Fixed. */
  D: Matrix[];
}

/**
 * Direct feedback alignment (Nøkland 2016, NeurIPS, eq. 3): every hidden layer receives the output
 * error through its own fixed random matrix, δh_l = e·D_l with e = δz_L the error at the output
 * pre-activation, then δz_l = δh_l ⊙ f'(z_l); the output layer learns from e as in backprop.
 * Options: dist and scale of D (scale 0 = each D_l scaled to ‖W_L‖·√(width_l / width_{L−1}), so the
 * signals have backprop's order of magnitude at the start).
 * With one hidden layer and D_0 := W_1 (the output weights) it is exactly backprop (tested).
 */
export function directFeedbackAlignment(options: RuleOptions = {}): LearningRule<DirectFeedbackState> {
  checkRuleOptions('dfa', options, ['dist', 'scale']);
  const init = readFeedbackInit(options);
  return {
    id: 'dfa',
    locality: { weightTransport: false, note: 'each hidden layer receives the output error through its own fixed random D_l' },
    init(net, rng) {
      const L = net.layers.length;
      const outputs = net.spec.sizes[L];
      const top = net.layers[L - 1].W;
      const D = net.spec.sizes.slice(1, L).map((width) => {
        const d = matrix(outputs, width);
        fillRandom(d.data, init, rng);
        if (init.scale === 0) scaleToNorm(d.data, norm(top.data) * Math.sqrt(width / top.cols));
        return d;
      });
      return { D };
    },
    step(ctx, state, batch) {
      const { backend: be, net, ws } = ctx;
      const { spec } = net;
      const out = forward(be, net, batch.x, ws);
      const L = net.layers.length;
      const loss = lossAndGrad(spec.loss, out, batch.y, ws.dh[L - 1]);
      const e = ws.dz[L - 1];
      be.activateBackward(layerActivation(spec, L - 1), ws.z[L - 1].data, ws.h[L - 1].data, ws.dh[L - 1].data, e.data, spec.leakySlope);
      const kinds = networkLayers(spec);
      kinds[L - 1].paramGrads(be, e, layerInput(batch.x, ws, L - 1), ctx.grads[L - 1]);
      for (let l = 0; l < L - 1; l++) {
        denseInputError(be, e, state.D[l], ws.dh[l]); // δh_l = e·D_l
        quantizeSentError(spec, ws, ws.dh[l]);
        layerDerivative(be, spec, l, ws, ws.dh[l].data, ws.dz[l].data);
        kinds[l].paramGrads(be, ws.dz[l], layerInput(batch.x, ws, l), ctx.grads[l]);
      }
      return { loss, grads: ctx.grads, state, signals: ws.dh.slice(0, L - 1) };
    },
  };
}
