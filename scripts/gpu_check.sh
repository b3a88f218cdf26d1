#!/usr/bin/env bash
# Checks on a CUDA machine (the CPU-only CI cannot make them):
#   1. the CUDA paths: `pytest -m gpu` (chain on GPU vs CPU, training steps, the paper preset);
#   2. seconds per image and peak GPU memory of the cpu and paper presets (semcom bench models);
#   3. the paper preset (Table I) trained under torchrun: one rank per GPU with NCCL, then two
#      ranks sharing GPU 0 with gloo so that the DDP path runs on a one-GPU machine too;
#   4. optionally (TRAIN_SECONDS > 0) the shipped cpu-preset weights trained further on the GPU
#      for that long (joint task, same recipe as weights/README.md, bigger batches and crops).
#
# usage: [TRAIN_SECONDS=N] [PAPER_TRAIN=0] scripts/gpu_check.sh OUT_DIR [DATA_DIR]
#   DATA_DIR holds photos/ and camvid/ (default ../shared/data); one log, OUT_DIR/gpu_check.log.
set -uo pipefail
OUT=${1:?usage: scripts/gpu_check.sh OUT_DIR [DATA_DIR]}
DATA=${2:-../shared/data}
TRAIN_SECONDS=${TRAIN_SECONDS:-0}
PAPER_TRAIN=${PAPER_TRAIN:-1}  # 0 skips stage 3
NGPU=$(python3 -c "import torch; print(torch.cuda.device_count())")
mkdir -p "$OUT"
LOG="$OUT/gpu_check.log"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TQDM_MININTERVAL=5
: > "$LOG"

stage() {  # stage NAME CMD...: run, log, report the exit status and time
  local name=$1; shift
  local t0=$SECONDS
  echo "== $name: $*" | tee -a "$LOG"
  "$@" >> "$LOG" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s" | tee -a "$LOG"
}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import sys, torch, timm; print('python', sys.version.split()[0], 'torch', torch.__version__, 'timm', timm.__version__, torch.cuda.get_device_name())"
} 2>&1 | tee -a "$LOG"

stage pytest-gpu python3 -m pytest -m gpu -q -p no:cacheprovider tests/semcom/test_cuda.py
stage bench-models python3 -m semcom.cli bench models --device cuda --preset cpu --preset paper --repeats 5 \
  --out "$OUT/bench_models_cuda.json"
if [ "$PAPER_TRAIN" = 1 ]; then
stage paper-train-nccl torchrun --standalone --nproc_per_node="$NGPU" -m semcom.train --preset paper \
  --task reconstruction --data "$DATA/photos" --out "$OUT/_paper_run" --steps 40 --batch 16 --crop 224 \
  --val-every 100000 --ckpt-every 100000 --workers 6
stage paper-ddp-gloo torchrun --standalone --nproc_per_node=2 -m semcom.train --preset paper \
  --task reconstruction --data "$DATA/photos" --out "$OUT/_paper_ddp" --steps 4 --batch 4 --crop 224 \
  --val-every 100000 --ckpt-every 100000 --dist-backend gloo --time-limit 600
python3 - "$OUT" >> "$LOG" 2>&1 <<'EOF'
import json, sys
from pathlib import Path
for run in ("_paper_run", "_paper_ddp"):
    state = Path(sys.argv[1]) / run / "train_state.json"
    print(run, "steps saved:", json.loads(state.read_text())["step"] if state.exists() else "none")
EOF
rm -rf "$OUT/_paper_run" "$OUT/_paper_ddp"
fi

if [ "$TRAIN_SECONDS" -gt 0 ]; then
  stage cpu-preset-train python3 -m semcom.train --preset cpu --task joint --data "$DATA/photos" \
    --data "$DATA/camvid/train" --seg-data "$DATA/camvid" --init weights/cpu --out "$OUT/cpu-gpu" \
    --steps 100000 --time-limit "$TRAIN_SECONDS" --batch 16 --crop 256 --lr 3e-4 --seg-weight 0.01 \
    --val-every 100000 --ckpt-every 500 --workers 12
  rm -f "$OUT/cpu-gpu/optimizer.safetensors" "$OUT/cpu-gpu/optimizer_groups.json"
fi
echo "== done" | tee -a "$LOG"
