import { checkRuleOptions, type LearningRule, type RuleOptions } from './rule.js';
import { AOSDTP_DEFAULT_AUX, simplifiedTargetPropagation, type SimplifiedDtpState } from './simplified-dtp.js';

/**
 * Auxiliary-output simplified DTP (Bartunov et al. 2018, §2.1.2, eq. 3, Algorithm 2): sdtp whose output
 * layer also carries z, `aux` untrained random features of the penultimate layer, z = tanh(R h_{L−1}).
 * The penultimate target is ĥ_{L−1} = h_{L−1} − g_L(o, z) + g_L(ô, z): the label replaces the output o
 * and z stays, so the target moves the penultimate layer in a space of more than `classes` dimensions.
 * Options: aux (default AOSDTP_DEFAULT_AUX), sigma, inverseLoss, schedule (as for sdtp).
 */
export function auxiliaryOutputSdtp(options: RuleOptions = {}): LearningRule<SimplifiedDtpState> {
  checkRuleOptions('aosdtp', options, ['aux', 'sigma', 'inverseLoss', 'schedule']);
  const aux = options.aux ?? AOSDTP_DEFAULT_AUX;
  if (typeof aux !== 'number' || !Number.isInteger(aux) || aux < 1) throw new Error(`aosdtp option aux must be a whole number ≥ 1, got '${String(aux)}'`);
  const { aux: _, ...rest } = options;
  return simplifiedTargetPropagation('aosdtp', rest, aux);
}
