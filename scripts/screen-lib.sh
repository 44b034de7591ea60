# Shared by the reproduction scripts: one training run per call, and a learning-rate screen on the validation split.
# The caller sets `out` (the output folder), LRS (the rates to screen), SCREEN_TRAIN and SCREEN_EPOCHS.

# run NAME ARGS…: one training run into OUT/NAME, holding out the last 10,000 training images for validation;
# prints its summary line (and appends it to OUT/summaries.jsonl).
run() {
  local name=$1
  shift
  node bin/ngrad.js train --validation 10000 --quiet --json --out "$out/$name" "$@" | tail -1 | tee -a "$out/summaries.jsonl"
}

# best_lr NAME ARGS…: the rate of LRS with the lowest validation error of a short screen (SCREEN_EPOCHS epochs on
# the first SCREEN_TRAIN examples of the training split); the test set plays no part in the choice.
best_lr() {
  local name=$1 best='' best_err=2 lr err
  shift
  for lr in "${LRS[@]}"; do
    err=$(run "screen-$name-lr$lr" --limit-train "$SCREEN_TRAIN" --epochs "$SCREEN_EPOCHS" --lr "$lr" "$@" |
      node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).validation_error))')
    if node -e "process.exit(($err) < ($best_err) ? 0 : 1)"; then best=$lr best_err=$err; fi
  done
  echo "$best"
}
