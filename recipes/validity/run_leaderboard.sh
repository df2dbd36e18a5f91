#!/usr/bin/env bash
# Every leaderboard run for the validity dataset, then the regenerated leaderboard.
#   bash recipes/validity/run_leaderboard.sh [cpu|cuda] [seeds] [parallel jobs]
# Each run records its test result in leaderboards/results/validity/.
set -euo pipefail
cd "$(dirname "$0")/../.."
device=${1:-cpu}
seeds=${2:-"0 1 2 3 4"}
jobs=${3:-2}
py=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1  # one core per run; runs go in parallel instead

mkdir -p runs
$py -m molbench.cli build validity -q
for config in random size_ood; do
  $py recipes/validity/shortcuts.py --config="$config" --record=true
done
for method in gin char_transformer; do
  for config in random size_ood; do
    for seed in $seeds; do
      echo "$method $config $seed"
    done
  done
done | xargs -P "$jobs" -L 1 bash -c \
  "$py recipes/validity/\$0.py --config=\$1 --seed=\$2 --device=$device --record=true > runs/log-\$0-\$1-\$2.txt 2>&1 && echo done \$0 \$1 \$2"
$py -m molbench.cli leaderboard --dataset validity --html leaderboards/site
