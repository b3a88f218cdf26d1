#!/usr/bin/env bash
# Every learned system retrained from scratch with the same budget on the same machine and data, then every
# comparison curve remade from those weights: what docs/results.md's comparison comes from.
#   BUDGET=3600 bash scripts/equal_budget.sh        (seconds of training per system; six systems, one after
#                                                    the other, each with the whole machine)
# Same for all: CBR 1/16, SNR uniform in -2..25 dB per sample, a quarter of the steps on Rayleigh block fading
# (64-symbol blocks, CSI), batch 8 of 128x128 crops, the cosine schedule ending with the budget (--time-limit).
# Reconstruction data: ../shared/data/photos and CamVid train frames (each folder drawn equally often);
# segmentation: CamVid train. Kodak and CamVid val are never trained on. The proposed system trains both
# tasks jointly within its one budget (one transmitter serves both); each baseline trains one task.
# Resumable: the budget is each system's training time in all (--time-budget), so a run stopped part-way (kill
# the script: the run saves a checkpoint on SIGTERM or Ctrl-C) continues where it stood when the script is run
# again, with the time it had left; a system that finished (its run folder holds `done`) is skipped.
# The curves go to results/equal-budget (CURVES=DIR elsewhere): the learned systems evaluated from these weights,
# the training-free ones (linear code, SoftCast, JPEG chains, AVIF at capacity) copied from results/curves,
# which they do not depend on. SKIP_CURVES=1 trains only.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SEMCOM_DATA:-../shared/data}
BUDGET=${BUDGET:-3600}
OUT=${OUT:-runs/equal-budget}
mkdir -p "$OUT"
common=(--batch 8 --crop 128 --steps 1000000 --time-budget "$BUDGET" --val-every 1000000 --ckpt-every 100 --resume)
train() {  # NAME TASK DATA...
  local name=$1 task=$2; shift 2
  if [ -f "$OUT/$name/done" ]; then echo "$name: done already"; return; fi
  semcom train --system "$name" --task "$task" "$@" --out "$OUT/$name" "${common[@]}" >> "$OUT/$name.log" 2>&1
  touch "$OUT/$name/done"
}
REC=(--data $D/photos --data $D/camvid/train --val-data $D/kodak)
train proposed joint "${REC[@]}" --seg-data $D/camvid
for s in deepjscc adjscc witt; do train $s reconstruction "${REC[@]}"; done
for s in deeplab-jscc fcn; do train $s segmentation --seg-data $D/camvid; done
mkdir -p "$OUT/baselines"
for s in deepjscc adjscc witt deeplab-jscc fcn; do ln -sfn "../$s" "$OUT/baselines/$s"; done
[ "${SKIP_CURVES:-0}" = 1 ] && exit 0
R=${CURVES:-results/equal-budget}
for sub in crop224 whole seg; do
  mkdir -p "$R/$sub"
  for f in results/curves/$sub/*_{linear,softcast,jpeg-*,capacity-avif}.json; do
    if [ -f "$f" ]; then cp "$f" "$R/$sub/"; fi
  done
done
# the FCN behind the JPEG chains is learned too: its rows are re-evaluated from the equal-budget FCN
SYSTEMS=proposed,deepjscc,adjscc,witt,deeplab-jscc,fcn-jpeg-16qam-1/2,fcn-jpeg-64qam-2/3 \
  WEIGHTS="$OUT/proposed" BASELINES="$OUT/baselines" R="$R" bash scripts/make_curves.sh "${SNRS:-1,4,7,10,13}"
