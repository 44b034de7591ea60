#!/usr/bin/env bash
# Issue 10's first reproduction (docs/RESULTS.md, "Target propagation"): Bartunov et al. 2018, Table 1(a),
# MNIST 784-256×5-10 tanh, Adam, constant rates, each method at the paper's best hyper-parameters (Table 5;
# AO-SDTP has none there and takes SDTP-alternating's). Every run holds out the last 10,000 training
# images as a validation split and reads the test set at the end. Alternating runs spend every other pass
# over the data on the inverses only, so PASSES passes are PASSES/2 forward epochs for them.
# SET picks the runs: bartunov (the default, above); lee (Lee et al. 2015's own net, 784-240×7-10, DTP against
# BP at the same settings as bartunov's DTP-alternating and BP rows); fashion (Fashion-MNIST 5×256, every TP
# rule but tp, and BP: drl and ddtp at Meulemans et al.'s MNIST configs, their lr/λ as the forward rate;
# ldrl untuned at β 0.7, σ 0.08, one feedback iteration).
#   bash scripts/reproduce-tp.sh OUT [PASSES [THREADS [SET]]]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash scripts/reproduce-tp.sh OUT [PASSES [THREADS [SET]]]}
passes=${2:-20}
threads=${3:-2}
set=${4:-bartunov}
mkdir -p "$out"
data=mnist arch=784-256-256-256-256-256-10
[ "$set" = lee ] && arch=784-240-240-240-240-240-240-240-10
[ "$set" = fashion ] && data=fashion-mnist
common=(--data "$data" --validation 10000 --arch "$arch" --act tanh --optimizer adam --schedule constant
  --epochs "$passes" --threads "$threads" --quiet --json)
run() {
  local name=$1
  shift
  node bin/ngrad.js train "${common[@]}" --out "$out/$name" "$@" | tail -1 >> "$out/summaries.jsonl"
}
if [ "$set" = lee ]; then
  run dtp-alternating --rule dtp --rule-opt schedule=alternating --rule-opt alpha=0.231758 --rule-opt sigma=0.220444 --lr 3.08e-4 --group-opt inverse.lr=4.593e-3
  run bp --rule bp --lr 1.52e-4
  exit 0
fi
if [ "$set" = fashion ]; then
  run dtp-parallel --rule dtp --rule-opt schedule=parallel --rule-opt alpha=0.15008 --rule-opt sigma=0.36133 --lr 7.57e-4 --group-opt inverse.lr=7.68e-4
  run sdtp-parallel --rule sdtp --rule-opt schedule=parallel --rule-opt sigma=0.213995 --lr 4.02e-4 --group-opt inverse.lr=1.101e-3
  run aosdtp-parallel --rule aosdtp --rule-opt schedule=parallel --rule-opt sigma=0.213995 --lr 4.02e-4 --group-opt inverse.lr=1.101e-3
  run drl --rule drl --rule-opt sigma=0.0569 --lr 4.33e-4 --group-opt inverse.lr=2.012e-5
  run ddtp --rule ddtp --rule-opt sigma=0.0908 --lr 3.34e-4 --group-opt feedback.lr=1.638e-4
  run ldrl --rule ldrl --lr 3e-4
  run bp --rule bp --lr 1.52e-4
  exit 0
fi
run dtp-parallel --rule dtp --rule-opt schedule=parallel --rule-opt alpha=0.15008 --rule-opt sigma=0.36133 --lr 7.57e-4 --group-opt inverse.lr=7.68e-4
run dtp-alternating --rule dtp --rule-opt schedule=alternating --rule-opt alpha=0.231758 --rule-opt sigma=0.220444 --lr 3.08e-4 --group-opt inverse.lr=4.593e-3
run sdtp-parallel --rule sdtp --rule-opt schedule=parallel --rule-opt sigma=0.213995 --lr 4.02e-4 --group-opt inverse.lr=1.101e-3
run sdtp-alternating --rule sdtp --rule-opt schedule=alternating --rule-opt sigma=0.118267 --lr 3.01e-4 --group-opt inverse.lr=9.572e-3
run aosdtp-alternating --rule aosdtp --rule-opt schedule=alternating --rule-opt sigma=0.118267 --lr 3.01e-4 --group-opt inverse.lr=9.572e-3
run bp --rule bp --lr 1.52e-4
