#!/usr/bin/env bash
# The neural reaction baselines on one GPU machine (RDKit not needed there): the Molecular
# Transformer, and optionally WLDN and its budgeted-mixture ablation (k = 0, 4, 16), every seed.
#   bash recipes/reactions/run_gpu.sh BUILD_DIR AUGMENTED [minutes] ["seeds"] ["transfer seeds"]
# BUILD_DIR: the reactions build (uspto_15k, plus uspto_mit validation/test for transfers);
# AUGMENTED: `molbench augment reactions --config uspto_15k --copies 10 --seed 0 --out FILE`.
# Each run saves its model under runs/reactions/ and, with no RDKit, writes its network
# outputs there; the `molbench eval --model … --outputs …` commands it prints (collected in
# runs/score_reactions.sh) score and record them on a CPU machine. Transformer and global
# WLDN runs of the transfer seeds also write outputs on uspto_mit test. GPU WLDN runs stop
# at --max-minutes, unlike run_leaderboard.sh's fixed-step CPU runs, and record under the
# same result names: score one set or the other.
# Environment: METHODS (default "transformer"; add "wldn budget"), JOBS runs at once (default
# 3: on an H200, 15 processes sharing the GPU ran 4x slower per step than 3 did), RUN_LIMIT_S
# stops a run still going after that many seconds (a machine held for a fixed time returns
# what finished), DEVICE=cpu tries the script where there is no GPU, MOLBENCH_GIT_COMMIT
# names the commit of a copied tree.
set -uo pipefail
data=$(realpath "${1:?build directory}")
augmented=$(realpath "${2:?augmented Parquet file}")
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # a copy of the tree need not be installed
minutes=${3:-60}
seeds=${4:-"0 1 2"}
transfer_seeds=${5:-"0"}
export PY=${PYTHON:-python3} LIMIT=${RUN_LIMIT_S:-0} DEVICE=${DEVICE:-cuda} DATA=$data
export MINUTES=$minutes OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 PYTHONUNBUFFERED=1
methods=${METHODS:-transformer}
mkdir -p runs
# the recorded GPU transformer: Molecular Transformer's width and heads, 3+3 layers
transformer="transformer.py --d-model=256 --heads=8 --encoder-layers=3 --decoder-layers=3 \
--d-ff=512 --dropout=0.1 --batch-size=128 --lr=1e-3 --warmup-steps=200 --steps=40000 \
--augmented=$augmented"
wldn="wldn.py --batch-size=64 --rank-batch-size=16 --center-steps=8000 --rank-steps=6000"

jobs_list() {  # one line per run: name seed recipe-and-arguments
  for seed in $seeds; do
    local transfer=""
    [[ " $transfer_seeds " == *" $seed "* ]] && transfer=" --transfer-config=uspto_mit"
    [[ " $methods " == *" transformer "* ]] &&
      echo "molecular_transformer_separated $seed $transformer$transfer"
    [[ " $methods " == *" wldn "* ]] && echo "wldn $seed $wldn --context=global$transfer"
    if [[ " $methods " == *" budget "* ]]; then
      for k in 0 4 16; do echo "wldn_budget_k$k $seed $wldn --context=budget --k=$k"; done
    fi
  done
}

# shellcheck disable=SC2016  # expanded by the inner bash
jobs_list | xargs -P "${JOBS:-3}" -L 1 bash -c '
  name=$0 seed=$1 recipe=$2; shift 2
  log=runs/log-reactions-$name-seed$seed.txt
  echo "start $name seed $seed (log $log)"
  timeout --signal=TERM "$LIMIT" "$PY" "recipes/reactions/$recipe" "$@" "--seed=$seed" \
    "--device=$DEVICE" "--data=$DATA" "--max-minutes=$MINUTES" --record=true > "$log" 2>&1 ||
    echo "FAILED or stopped: $name seed $seed (see $log)"'
grep -h "molbench eval --model" runs/log-reactions-*.txt | sort -u > runs/score_reactions.sh
echo "scoring commands for a CPU machine: runs/score_reactions.sh"
