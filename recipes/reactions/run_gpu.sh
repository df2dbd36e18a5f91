#!/usr/bin/env bash
# The neural reaction baselines, every run at once on one GPU machine (RDKit not needed there):
# WLDN with global attention, the budgeted-mixture ablation (k = 0, 4, 16) and the Molecular
# Transformer, each for every seed, one process (and one CPU core) per run sharing the GPU.
#   bash recipes/reactions/run_gpu.sh BUILD_DIR AUGMENTED [minutes] [seeds] [transfer seeds]
# BUILD_DIR: the reactions build (uspto_15k, plus uspto_mit validation/test for transfers);
# AUGMENTED: `molbench augment reactions --config uspto_15k --copies 10 --seed 0 --out FILE`.
# Each run saves its model under runs/reactions/ and, with no RDKit, writes its network
# outputs there; the `molbench eval --model … --outputs …` commands it prints score and record
# them on a CPU machine. Runs of the transfer seeds of TRANSFER_METHODS (default: wldn and the
# transformer) also write outputs on uspto_mit test.
# RUN_LIMIT_S (optional) stops any run still going after that many seconds, so a machine held
# for a fixed time returns what finished. DEVICE=cpu tries the script where there is no GPU.
set -uo pipefail
cd "$(dirname "$0")/../.."
data=${1:?build directory}
augmented=${2:?augmented Parquet file}
minutes=${3:-60}
seeds=${4:-"0 1 2"}
transfer_seeds=${5:-"0"}
py=${PYTHON:-python3}
limit=${RUN_LIMIT_S:-0}
transfer_methods=${TRANSFER_METHODS:-"wldn molecular_transformer_separated"}
device=${DEVICE:-cuda}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p runs
# the GPU settings of the transformer: Molecular Transformer's width, 3+3 layers
transformer=(--d-model=256 --heads=8 --encoder-layers=3 --decoder-layers=3 --d-ff=768
  --dropout=0.1 --batch-size=128 --lr=1e-3 --warmup-steps=400 --steps=40000
  "--augmented=$augmented")

# the GPU settings of the graph model: twice the CPU batches; the time budget ends each stage
wldn=(--batch-size=64 --rank-batch-size=16 --center-steps=8000 --rank-steps=6000)

launch() {  # name seed args...: one run in the background, its log in runs/
  local name=$1 seed=$2
  shift 2
  local transfer=()
  [[ " $transfer_seeds " == *" $seed "* && " $transfer_methods " == *" $name "* ]] &&
    transfer=(--transfer-config=uspto_mit)
  local log="runs/log-reactions-$name-seed$seed.txt"
  timeout --signal=TERM "$limit" "$py" "recipes/reactions/$@" "--seed=$seed" "--device=$device" \
    "--data=$data" "--max-minutes=$minutes" "${transfer[@]}" > "$log" 2>&1 &
  echo "started $name seed $seed (pid $!, log $log)"
}

for seed in $seeds; do
  launch wldn "$seed" wldn.py "${wldn[@]}"
  for k in 0 4 16; do
    launch "wldn_budget_k$k" "$seed" wldn.py --context=budget "--k=$k" \
      "${wldn[@]}"
  done
  launch molecular_transformer_separated "$seed" transformer.py "${transformer[@]}"
done
failed=0
for job in $(jobs -p); do wait "$job" || failed=$((failed + 1)); done
echo "all runs ended; $failed failed or were stopped (see runs/log-reactions-*.txt)"
grep -h "molbench eval --model" runs/log-reactions-*.txt | sort -u > runs/score_reactions.sh || true
echo "scoring commands for a CPU machine: runs/score_reactions.sh"
