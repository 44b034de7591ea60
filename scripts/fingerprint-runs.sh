#!/usr/bin/env bash
# Fingerprints of short runs of every rule and option path, one JSON line each (summary without timings):
# run it before and after a change that must not move any number, on the same machine, and diff the files.
#   bash scripts/fingerprint-runs.sh OUT.jsonl
# (issue 8 used it to show the engine-v2 refactor bit-identical; issue 15 needs the same for speed work.)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash scripts/fingerprint-runs.sh OUT.jsonl}
: > "$out"
common=(--limit-train 3000 --limit-test 1000 --epochs 2 --arch 784-64-32-10 --align-every 10 --quiet --json)
run() {
  local dir
  dir=$(mktemp -d)
  node bin/ngrad.js train "${common[@]}" --out "$dir/r" "$@" | tail -1 |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);for(const k of ["out","epoch_seconds_median","seconds_total"])delete r[k];console.log(JSON.stringify({args:process.argv.slice(1),...r}))})' -- "$@" >> "$out"
  rm -rf "$dir"
}
for r in bp fa dfa sign wm kp delta np wp; do run --rule $r; done
run --rule fa --rule-opt sparsity=0.5
run --rule sign --rule-opt magnitude=fixed
run --rule sign --rule-opt magnitude=batch
run --rule sign --rule-opt magnitude=unit
run --rule wm --rule-opt mirrorSteps=2 --rule-opt mirrorBatch=10
run --rule wp --rule-opt mode=serial
run --rule np --rule-opt samples=2 --rule-opt central=true
run --rule wp --rule-opt samples=2 --rule-opt central=true
run --rule delta --rule-opt mode=online --rule-opt caseLr=0.01 --optimizer sgd --lr 0.01
run --rule bp --optimizer adam --lr 0.001
run --rule fa --optimizer nesterov --weight-decay 0.001
run --rule dfa --optimizer sgd --schedule step:1:0.5
run --rule bp --act relu --data fashion-mnist
run --rule bp --data xor --arch 2-8-2 --batch 4 --lr 0.1 --epochs 20
run --rule fa --stage bp:1:3 --stage fa:1
run --rule kp --group-opt feedback.lr=0.05
echo "$(wc -l < "$out") runs → $out"
