#!/usr/bin/env bash
# Issue 13, experiment 1 (docs/RESULTS.md, "Spikes and noise"): Hinton's claim that backprop "still works very
# well" with 1-bit stochastic activities forward and 2-bit stochastic errors backward. BP and FA on MNIST,
# logistic hidden units, each at full precision, with 1-bit forward, with 2-bit backward, and with both. The last
# 10,000 training images are held out; each variant's learning rate is chosen on them by a screen (SCREEN_EPOCHS
# epochs on SCREEN_TRAIN images at each rate of LRS), then it trains on all 50,000 for EPOCHS epochs; a 2-epoch screen
# favours small rates for a long run, so a variant whose screen chose a smaller rate also trains at the largest of LRS,
# and of the two the run with the lower validation error is reported (docs/RESULTS.md). The test set is read once
# per run, at the end. One run folder per run under OUT, a summary line per run in OUT/summaries.jsonl.
#   bash scripts/reproduce-quantized.sh OUT [EPOCHS [ARCH]]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash scripts/reproduce-quantized.sh OUT [EPOCHS [ARCH]]}
epochs=${2:-20}
arch=${3:-784-1000-10}
SCREEN_TRAIN=10000 SCREEN_EPOCHS=2 LRS=(0.01 0.03 0.1)
mkdir -p "$out"
# shellcheck source=scripts/screen-lib.sh
source scripts/screen-lib.sh

for rule in bp fa; do
  for bits in "0 0" "1 0" "0 2" "1 2"; do
    read -r fwd bwd <<<"$bits"
    name="$rule-$arch-f$fwd-b$bwd"
    common=(--data mnist --arch "$arch" --act sigmoid --rule "$rule" --forward-bits "$fwd" --backward-bits "$bwd")
    lr=$(best_lr "$name" "${common[@]}")
    run "$name" "${common[@]}" --lr "$lr" --epochs "$epochs" >/dev/null
    largest=${LRS[-1]}
    [[ $lr != "$largest" ]] && run "$name-lr$largest" "${common[@]}" --lr "$largest" --epochs "$epochs" >/dev/null
  done
done
