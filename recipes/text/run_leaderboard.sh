#!/usr/bin/env bash
# Every leaderboard run for the text dataset's hydrocarbon configs, then the regenerated page.
#   bash recipes/text/run_leaderboard.sh [cpu|cuda] [seeds] [parallel jobs]
# Each run records its test result in leaderboards/results/text/. ChEBI-20 rows need its
# train file (see README); they are not part of this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
device=${1:-cpu}
seeds=${2:-"0 1 2"}
jobs=${3:-2}
py=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1  # one core per run; runs go in parallel instead

mkdir -p runs
$py -m molbench.cli build text -q
for config in hydrocarbon_names hydrocarbon_names_size_ood; do
  $py recipes/text/references.py --config="$config" --record=true
done
for config in hydrocarbon_names hydrocarbon_names_size_ood; do
  for seed in $seeds; do
    echo "contrastive $config $seed"
    echo "name_seq2seq $config $seed --direction=name2smiles"
    echo "name_seq2seq $config $seed --direction=smiles2name"
  done
done | xargs -P "$jobs" -L 1 bash -c \
  "$py recipes/text/\$0.py --config=\$1 --seed=\$2 \${3:-} --device=$device --record=true \
    > runs/log-text-\$0-\$1-\$2\${3#--direction=}.txt 2>&1 && echo done \$0 \$1 \$2 \${3:-}"
# retrieve + re-rank: each seed's contrastive model and name2smiles model, composed
for config in hydrocarbon_names hydrocarbon_names_size_ood; do
  for seed in $seeds; do
    $py recipes/text/rerank.py --config="$config" --seed="$seed" --device="$device" \
      --record=true > "runs/log-text-rerank-$config-$seed.txt" 2>&1
  done
done
$py -m molbench.cli leaderboard --dataset text --html leaderboards/site
