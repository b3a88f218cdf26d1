#!/usr/bin/env bash
# Checks on a CUDA machine (the CPU-only CI cannot make them), in this order so that the most useful
# result is back first when a short device lease runs out:
#   0. optionally (SEG_SECONDS > 0) issue 34's segmentation decoder trained on the GPU for that long under the
#      held-out-drive rule (weights/README.md: CamVid train without drive 0006R0, validated on 0006R0; the
#      transmitter, the receiver KB and reconstruction frozen, so it merges with the shipped weights):
#      SEG_RECIPE=fresh (default) starts the decoder afresh on ImageNet's EfficientNet-Lite0 (lodo10's recipe,
#      batch 32), SEG_RECIPE=finetune fine-tunes the shipped one (lodo14's); the weights come back as in 1
#      (OUT_DIR/seg-gpu/model.safetensors.part-*); evaluate them here on the PNG frames (the upload's are JPEG):
#      semcom eval --task segmentation --data ../shared/data/camvid --split train:0006R0 --snr 10 --weights DIR;
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
# usage: [SEG_SECONDS=N [SEG_RECIPE=fresh|finetune]] [TRAIN_SECONDS=N] [PAPER_TRAIN=0] [PAPER_SECONDS=150] [BENCH=1] [DDP_GLOO=1]
#        scripts/gpu_check.sh OUT_DIR [DATA_DIR]
#   DATA_DIR (default ../shared/data) holds photos/ (photographs, or folders of them), camvid/ and kodak/,
#   as scripts/make_gpudata.py writes it; one log, OUT_DIR/gpu_check.log.
set -uo pipefail
OUT=${1:?usage: scripts/gpu_check.sh OUT_DIR [DATA_DIR]}
DATA=${2:-../shared/data}
TRAIN_SECONDS=${TRAIN_SECONDS:-0}
SEG_SECONDS=${SEG_SECONDS:-0}
SEG_RECIPE=${SEG_RECIPE:-fresh}
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

pieces() {  # pieces DIR: drop what only --resume needs, split the weights into pieces a device run returns
  rm -rf "$1/optimizer.safetensors" "$1/optimizer_groups.json" "$1/raw"
  if [ -f "$1/model.safetensors" ]; then
    (cd "$1" && sha256sum model.safetensors > model.sha256 \
      && split -b 15M -d model.safetensors model.safetensors.part- && rm model.safetensors && ls -l) 2>&1 | tee -a "$LOG"
  fi
}

if [ "$SEG_SECONDS" -gt 0 ]; then
  case "$SEG_RECIPE" in
    fresh) SEG=(--reinit receiver.segmentation --seg-backbone efficientnet_lite0 --lr 5e-4) ;;
    finetune) SEG=(--lr 2e-4) ;;
    *) echo "SEG_RECIPE is fresh or finetune, not $SEG_RECIPE" | tee -a "$LOG"; exit 2 ;;
  esac
  stage seg-train-$SEG_RECIPE python3 -m semcom.train --preset cpu --task segmentation --seg-data "$DATA/camvid" \
    --seg-split train-0006R0 --seg-val-split train:0006R0 --init weights/cpu "${SEG[@]}" \
    --freeze transmitter.source_kb --freeze transmitter.encoder.stem --freeze transmitter.encoder.res \
    --freeze transmitter.encoder.down --freeze transmitter.encoder.analog --freeze transmitter.encoder.gate \
    --freeze transmitter.encoder.snr_gate.reconstruction --freeze receiver.analog --freeze receiver.source_kb \
    --freeze receiver.reconstruction --seg-class-weights enet-soft --seg-augment strong --ema 0.998 \
    --out "$OUT/seg-gpu" --steps 100000 --time-limit "$SEG_SECONDS" --batch 32 --crop 352 --val-every 250 \
    --val-images 16 --ckpt-every 100000 --warmup 50 --workers 12
  pieces "$OUT/seg-gpu"
fi

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
  pieces "$OUT/cpu-gpu"
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
