#!/usr/bin/env bash
# The CPU runs of the reactions leaderboard (USPTO-15K, transfer rows on USPTO-MIT test),
# as recorded: the floor and the template baseline (deterministic), the learned template
# ranker for every seed (seed 0 builds the candidate cache the others reuse and adds the
# transfer row: ~58 CPU-minutes on one core, 36 of them applying the rules to the 40,000
# USPTO-MIT test reactions; a cached seed takes under 2), WLDN and its
# budgeted-mixture ablation for every seed (the recipe's fixed step counts, so a run does not
# depend on the machine's speed; ~15 CPU-minutes of training each), then the regenerated page.
#   bash recipes/reactions/run_leaderboard.sh [seeds] [parallel jobs] ["k values"]
# Needs the uspto_15k build and the evaluation-only uspto_mit build:
#   molbench build reactions --config uspto_15k --source DIR
#   molbench build reactions --config uspto_mit --splits validation,test --source DIR
# The transformer rows (one CPU run per seed 0, 1, 2, ~45 CPU-minutes each; not part of this
# script) were:
#   molbench augment reactions --config uspto_15k --copies 10 --seed 0 --out runs/aug10.parquet
#   python recipes/reactions/transformer.py --augmented=runs/aug10.parquet --batch-tokens=4096 \
#       --ema-decay=0.999 --steps=6000 --eval-every=1000 --eval-rows=200 --seed=N --record=true
# On a GPU machine: recipes/reactions/run_gpu_transformer.sh, then the
# `molbench eval --model … --outputs … --record …` commands it prints, run here.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds=${1:-"0 1 2"}
jobs=${2:-2}
ks=${3:-"0 4 16"}
py=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1  # one core per run; runs go in parallel instead
transfer=--transfer-config=uspto_mit

mkdir -p runs
$py recipes/reactions/largest_reactant.py --record=true $transfer
$py recipes/reactions/templates.py --workers="$jobs" --record=true $transfer
for seed in $seeds; do
  if [[ $seed == 0 ]]; then extra=$transfer; else extra=; fi
  $py recipes/reactions/template_ranker.py --seed="$seed" --workers="$jobs" --record=true $extra
done
for seed in $seeds; do
  # the graph model's transfer row: seed 0 (40,000 MIT test reactions cost ~40 CPU-minutes)
  if [[ $seed == 0 ]]; then echo "$seed --context=global $transfer"; else
    echo "$seed --context=global"; fi
  for k in $ks; do echo "$seed --context=budget --k=$k"; done
done | xargs -P "$jobs" -L 1 bash -c \
  "$py recipes/reactions/wldn.py --seed=\$0 \$@ --record=true \
    > runs/log-reactions-wldn-seed\$0-\${*//[^a-z0-9]/}.txt 2>&1 && echo done wldn \$0 \$@"
$py -m molbench.cli leaderboard --dataset reactions --html leaderboards/site
