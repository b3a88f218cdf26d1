#!/usr/bin/env bash
# Trains the learned baselines with the proposed system's data, CBR (1/16), channel and SNR range
# (0-20 dB per sample, a quarter of the steps on Rayleigh block fading), batch 8 of 128x128 crops,
# into weights/baselines/<name>. Two lanes run side by side, one CPU thread each.
#   bash scripts/train_baselines.sh [STEPS]      (default 2000 steps per baseline)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SEMCOM_DATA:-../shared/data}
STEPS=${1:-2000}
OUT=weights/baselines
mkdir -p runs "$OUT"
rec() {  # reconstruction baselines: photographs and CamVid frames, each folder drawn equally often
  OMP_NUM_THREADS=1 semcom train --system "$1" --task reconstruction --data $D/photos --data $D/camvid/train \
    --val-data $D/kodak --out "$OUT/$1" --steps "$STEPS" --batch 8 --crop 128 --val-every 1000 --ckpt-every 250 \
    > "runs/$1.log" 2>&1
}
seg() {  # segmentation baselines: CamVid train
  OMP_NUM_THREADS=1 semcom train --system "$1" --task segmentation --seg-data $D/camvid \
    --out "$OUT/$1" --steps "$STEPS" --batch 8 --crop 128 --val-every 1000 --ckpt-every 250 > "runs/$1.log" 2>&1
}
(rec deepjscc; rec adjscc; seg fcn) &
(rec witt; seg deeplab-jscc) &
wait
for d in "$OUT"/*/; do rm -f "$d/optimizer.safetensors" "$d/optimizer_groups.json"; done  # keep the repo small
