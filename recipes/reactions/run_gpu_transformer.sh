#!/usr/bin/env bash
# One Molecular Transformer on USPTO-15K in one <= 9-minute run on a single GPU (H200-sized):
# one process using the whole GPU (bf16 autocast, token batches, EMA of the weights,
# augmented SMILES), not several processes sharing it. RDKit is not needed there.
#   bash recipes/reactions/run_gpu_transformer.sh BUILD_DIR AUGMENTED [seed] [train minutes] \
#     [more recipe flags, which override the ones below]
# BUILD_DIR: the reactions build with uspto_15k; AUGMENTED: made on a CPU machine by
#   molbench augment reactions --config uspto_15k --copies 10 --seed 0 --out FILE
# Training stops at [train minutes] (default 7: beam search of validation + test and the
# save take the rest of the 9). The network outputs and model are written under runs/; the
# one command that scores and records them on a CPU machine (RDKit) is printed at the end
# and kept in runs/score_transformer.sh. DEVICE=cpu RECORD=false tries it where there is no GPU.
set -euo pipefail
data=$(realpath "${1:?build directory}")
augmented=$(realpath "${2:?augmented Parquet file}")
seed=${3:-0}
minutes=${4:-7}
shift $(($# < 4 ? $# : 4))
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # a copy of the tree need not be installed
export PYTHONUNBUFFERED=1
mkdir -p runs
log=runs/log-gpu-transformer-seed$seed.txt
# Molecular Transformer's shape (256 wide, 8 heads, 4+4 layers, 2048 feed-forward); ~64k
# tokens a step fill an H200 in bf16; --eval-every records the greedy curve with the result
"${PYTHON:-python3}" recipes/reactions/transformer.py --device="${DEVICE:-cuda}" --data="$data" \
  --augmented="$augmented" --seed="$seed" --max-minutes="$minutes" \
  --d-model=256 --heads=8 --encoder-layers=4 --decoder-layers=4 --d-ff=2048 --dropout=0.1 \
  --label-smoothing=0.1 --batch-tokens=65536 --lr=1e-3 --warmup-steps=400 --steps=100000 \
  --ema-decay=0.999 --eval-every=250 --eval-rows=500 --record="${RECORD:-true}" "$@" 2>&1 |
  tee "$log"
grep -h "molbench eval --model" "$log" | sort -u > runs/score_transformer.sh
echo "scoring commands for a CPU machine: runs/score_transformer.sh"
