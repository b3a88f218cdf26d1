#!/usr/bin/env bash
# Checks on a CUDA machine (the CPU-only CI cannot make them), in this order so that the most useful
# result is back first when a short device lease runs out:
#   1. optionally (TRAIN_SECONDS > 0) the shipped cpu-preset weights' reconstruction decoder trained further on
#      the GPU for that long (weights/README.md's dct2 recipe: reconstruction goes by the DCT code, which has
#      no learned part at the transmitter, and everything segmentation uses is frozen, so the result merges
#      with the shipped segmentation path; bigger batches), saved as <= 15 MiB pieces
#      (OUT_DIR/cpu-gpu/model.safetensors.part-*, joined with `cat`) since a device run returns files of at
#      most 16 MiB;
#   2. the CUDA paths: `pytest -m gpu` (chain on GPU vs CPU, training steps, the paper preset);
#   3. optionally (BENCH=1) seconds per image and peak GPU memory of both presets (semcom bench models);
#   4. the paper preset (Table I) trained from scratch under torchrun (one rank per GPU, NCCL) for
#      PAPER_SECONDS, its loss and its PSNR on DATA_DIR/kodak's first two images at 10 dB logged as it
#      goes; DDP_GLOO=1 adds two ranks sharing GPU 0 with gloo, so that the multi-rank path runs on one GPU.
#
# usage: [TRAIN_SECONDS=N] [PAPER_TRAIN=0] [PAPER_SECONDS=150] [BENCH=1] [DDP_GLOO=1]
#        scripts/gpu_check.sh OUT_DIR [DATA_DIR]
#   DATA_DIR (default ../shared/data) holds photos/ (photographs, or folders of them), camvid/ and kodak/,
#   as scripts/make_gpudata.py writes it; one log, OUT_DIR/gpu_check.log.
set -uo pipefail
OUT=${1:?usage: scripts/gpu_check.sh OUT_DIR [DATA_DIR]}
DATA=${2:-../shared/data}
TRAIN_SECONDS=${TRAIN_SECONDS:-0}
PAPER_TRAIN=${PAPER_TRAIN:-1}
PAPER_SECONDS=${PAPER_SECONDS:-150}
BENCH=${BENCH:-0}
DDP_GLOO=${DDP_GLOO:-0}
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

if [ "$TRAIN_SECONDS" -gt 0 ]; then
  PHOTOS=()
  for d in "$DATA"/photos/*/; do PHOTOS+=(--data "$d"); done  # each folder drawn equally often
  [ ${#PHOTOS[@]} -gt 0 ] || PHOTOS=(--data "$DATA/photos")
  stage cpu-preset-train python3 -m semcom.train --preset cpu --task reconstruction \
    --freeze transmitter.source_kb --freeze transmitter.encoder.stem --freeze transmitter.encoder.res \
    --freeze transmitter.encoder.down --freeze transmitter.encoder.analog --freeze transmitter.encoder.gate \
    --freeze transmitter.encoder.snr_gate --freeze receiver.analog \
    --freeze receiver.source_kb.stem --freeze receiver.source_kb.block1 "${PHOTOS[@]}" \
    --data "$DATA/camvid/train" --val-data "$DATA/kodak" --val-images 4 --init weights/cpu --ema 0.998 \
    --out "$OUT/cpu-gpu" --steps 100000 --time-limit "$TRAIN_SECONDS" --batch 32 --crop 256 --lr 3e-4 \
    --val-every 250 --ckpt-every 100000 --warmup 30 --workers 12
  rm -rf "$OUT/cpu-gpu/optimizer.safetensors" "$OUT/cpu-gpu/optimizer_groups.json" "$OUT/cpu-gpu/raw"
  if [ -f "$OUT/cpu-gpu/model.safetensors" ]; then
    (cd "$OUT/cpu-gpu" && sha256sum model.safetensors > model.sha256 \
      && split -b 15M -d model.safetensors model.safetensors.part- && rm model.safetensors && ls -l) 2>&1 | tee -a "$LOG"
  fi
fi

stage pytest-gpu python3 -m pytest -m gpu -q -p no:cacheprovider tests/semcom/test_cuda.py
if [ "$BENCH" = 1 ]; then
  stage bench-models python3 -m semcom.cli bench models --device cuda --preset cpu --preset paper --repeats 5 \
    --out "$OUT/bench_models_cuda.json"
fi

if [ "$PAPER_TRAIN" = 1 ]; then
  stage paper-train-nccl torchrun --standalone --nproc_per_node="$NGPU" -m semcom.train --preset paper \
    --task reconstruction --data "$DATA/photos" --val-data "$DATA/kodak" --val-images 2 --val-every 40 \
    --out "$OUT/_paper_run" --steps 100000 --time-limit "$PAPER_SECONDS" --batch 16 --crop 224 --warmup 20 \
    --ckpt-every 100000 --workers 6
  if [ "$DDP_GLOO" = 1 ]; then
    stage paper-ddp-gloo torchrun --standalone --nproc_per_node=2 -m semcom.train --preset paper \
      --task reconstruction --data "$DATA/photos" --out "$OUT/_paper_ddp" --steps 4 --batch 4 --crop 224 \
      --val-every 100000 --ckpt-every 100000 --dist-backend gloo --time-limit 600
  fi
  python3 - "$OUT" >> "$LOG" 2>&1 <<'EOF'
import json, sys
from pathlib import Path
for run in ("_paper_run", "_paper_ddp"):
    state = Path(sys.argv[1]) / run / "train_state.json"
    if state.exists():
        st = json.loads(state.read_text())
        print(run, "steps saved:", st["step"], "train seconds:", st["train_seconds"])
        for row in st["history"]:
            print(run, json.dumps(row))
EOF
  rm -rf "$OUT/_paper_run" "$OUT/_paper_ddp"
fi
echo "== done" | tee -a "$LOG"
