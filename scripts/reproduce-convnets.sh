#!/usr/bin/env bash
# Issue 9's reproductions (docs/RESULTS.md, "Convolutional and locally connected nets"):
#   1. LeNet-5 on Fashion-MNIST, the feedback family (bp fa dfa sign wm kp), as biotorch's table;
#   2. Bartunov et al. 2018's MNIST locally connected net (bp fa dfa) and their BP convnet.
# Every run holds out the last 10,000 training images as a validation split. The learning rate of each rule
# is chosen on that split by a short screen (SCREEN_EPOCHS epochs on the first SCREEN_TRAIN examples of the
# remaining training set, each rate of LRS); the full run then trains on all 50,000 with the chosen rate, and
# the test set is read once, at the end. Writes one run folder per run under OUT and a summary line per run
# to OUT/summaries.jsonl.
#   bash scripts/reproduce-convnets.sh OUT [FASHION_EPOCHS [MNIST_EPOCHS [SETS]]]
# SETS: all (the default), fashion (1. alone) or mnist (2. alone).
set -euo pipefail
cd "$(dirname "$0")/.."
usage='usage: bash scripts/reproduce-convnets.sh OUT [FASHION_EPOCHS [MNIST_EPOCHS [all|fashion|mnist]]]'
out=${1:?$usage}
fashion_epochs=${2:-20}
mnist_epochs=${3:-15}
sets=${4:-all}
case $sets in all | fashion | mnist) ;; *) echo "reproduce-convnets: unknown set '$sets'. Fix: $usage" >&2; exit 2 ;; esac
SCREEN_TRAIN=10000 SCREEN_EPOCHS=2 LRS=(0.005 0.02 0.05)
LENET=1x28x28-c6k5p2-pool2-c16k5-pool2-120-84-10
LC=1x28x28-lc32k3s2p1-lc64k3s2p1-1024-10
CONV=1x28x28-c32k3s2p1-c64k3s2p1-1024-10
mkdir -p "$out"

# shellcheck source=scripts/screen-lib.sh
source scripts/screen-lib.sh

if [[ $sets != mnist ]]; then
for rule in bp fa dfa sign wm kp; do
  lr=$(best_lr "fashion-lenet-$rule" --data fashion-mnist --arch $LENET --rule $rule)
  run "fashion-lenet-$rule" --data fashion-mnist --arch $LENET --rule $rule --lr "$lr" --epochs "$fashion_epochs" >/dev/null
done
fi
[[ $sets == fashion ]] && exit 0
for rule in bp fa dfa; do
  lr=$(best_lr "mnist-lc-$rule" --data mnist --arch $LC --rule $rule)
  run "mnist-lc-$rule" --data mnist --arch $LC --rule $rule --lr "$lr" --epochs "$mnist_epochs" >/dev/null
done
lr=$(best_lr mnist-conv-bp --data mnist --arch $CONV --rule bp)
run mnist-conv-bp --data mnist --arch $CONV --rule bp --lr "$lr" --epochs "$mnist_epochs" >/dev/null
