#!/usr/bin/env bash
# Issue 13, experiment 2 (docs/RESULTS.md, "Spikes and noise"): a spiking network on MNIST trained by feedback
# alignment (errors through fixed random B, Lillicrap et al. 2016, Fig. 4) and, as the reference, by backprop
# through its rates; stochastic binary (Bernoulli) and leaky integrate-and-fire neurons, STEPS time steps per input,
# rate-coded input spikes. The last 10,000 training images are held out; each run's learning rate is chosen on them
# by a screen (SCREEN_EPOCHS epochs on SCREEN_TRAIN images at each rate of LRS), then it trains on all 50,000 for
# EPOCHS epochs; the test set is read once, at the end. One folder per run under OUT, summaries in
# OUT/summaries.jsonl (spikes per neuron per input: metrics.jsonl's spikesPerNeuron).
#   bash scripts/reproduce-spiking.sh OUT [EPOCHS [ARCH [STEPS [NEURONS]]]]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash scripts/reproduce-spiking.sh OUT [EPOCHS [ARCH [STEPS [NEURONS]]]]}
epochs=${2:-3}
arch=${3:-784-500-500-10}
steps=${4:-50}
neurons=${5:-bernoulli lif}
SCREEN_TRAIN=10000 SCREEN_EPOCHS=2 LRS=(0.03 0.1 0.3)
mkdir -p "$out"
# shellcheck source=scripts/screen-lib.sh
source scripts/screen-lib.sh

for neuron in $neurons; do
  for rule in bp fa; do
    name="$rule-$neuron-$arch-T$steps"
    common=(--data mnist --arch "$arch" --model spiking --neuron "$neuron" --time-steps "$steps" --rule "$rule")
    lr=$(best_lr "$name" "${common[@]}")
    run "$name" "${common[@]}" --lr "$lr" --epochs "$epochs" >/dev/null
  done
done
