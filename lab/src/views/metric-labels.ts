/* Readable names for the rules' named diagnostics (StepResult.metrics), for chart titles. No DOM: Node tests import it. */

/** The metrics the target-propagation section draws already (per layer k): layer-local losses, inverses' errors. */
const TARGET_METRIC = /^(target_loss_|reconstruction_|jacobian_mismatch_)\d+$/;

export function drawnWithTargets(name: string): boolean {
  return TARGET_METRIC.test(name);
}

/** A chart's title and y label for a metric: burstprop's burstProbK, the trainer's spikesPerNeuron, and any other
 * name in words (camelCase and snake_case split: 'free_residual' → 'free residual'). */
export function metricLabel(name: string): { title: string; yLabel: string } {
  if (name === 'spikesPerNeuron') return { title: 'Spikes per hidden neuron per input (training batches)', yLabel: 'spikes' };
  const burst = /^burstProb(\d+)$/.exec(name);
  if (burst) return { title: `Hidden layer ${burst[1]}: mean burst probability`, yLabel: 'P(burst)' };
  const words = name.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/([A-Za-z])(\d)/g, '$1 $2').replace(/_+/g, ' ').toLowerCase().trim();
  return { title: words ? words[0].toUpperCase() + words.slice(1) : name, yLabel: 'value' };
}

/** The order the charts appear in: spikes first, then burst probabilities by layer, then the rest by name. */
export function metricOrder(a: string, b: string): number {
  const rank = (n: string) => (n === 'spikesPerNeuron' ? 0 : /^burstProb\d+$/.test(n) ? 1 : 2);
  return rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true });
}
