#!/usr/bin/env bash
# The comparison curves of the paper's Figs. 4, 5 and 7, from the shipped weights and
# weights/baselines/: PSNR and MS-SSIM vs SNR on Kodak (224x224 centre crops and whole images,
# AWGN and Rayleigh), mIoU vs SNR on the first 40 CamVid val frames (224x224 centre crops: at CBR 1/16 a 224x224
# image costs 9408 channel uses, 18.8 kbit at 16-QAM rate 1/2, inside the paper's 20 kbit bound).
#   bash scripts/make_curves.sh [SNRS]        (default 1,4,7,10,13)
#   WEIGHTS=DIR BASELINES=DIR R=OUT bash scripts/make_curves.sh   (other weights; scripts/equal_budget.sh uses it)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SEMCOM_DATA:-../shared/data}
SNR=${1:-1,4,7,10,13}
R=${R:-results/curves}
export SEMCOM_EVAL_WEIGHTS=${WEIGHTS:-default} SEMCOM_EVAL_BASELINES=${BASELINES:-weights/baselines}
semcom() { command semcom "$@" --weights "$SEMCOM_EVAL_WEIGHTS" --baseline-weights "$SEMCOM_EVAL_BASELINES"; }
REC=proposed,deepjscc,adjscc,witt,linear,softcast,jpeg-16qam-1/2,jpeg-16qam-2/3,jpeg-64qam-1/2,jpeg-64qam-2/3,capacity-avif
mkdir -p $R/crop224 $R/whole $R/seg
SYSTEMS=${SYSTEMS:-}  # e.g. SYSTEMS=proposed re-makes one system's curves (each system has its own JSON)
[ -n "$SYSTEMS" ] && REC=$(echo "$SYSTEMS" | tr , '\n' | grep -vE '^(deeplab-jscc|fcn-)' | paste -sd, - || true)
for ch in awgn rayleigh; do
  [ -z "$REC" ] && break
  semcom eval --task reconstruction --systems $REC --data $D/kodak --crop 224 --channel $ch --snr $SNR \
    --out $R/crop224 --examples 3
  semcom eval --task reconstruction --systems $REC --data $D/kodak --channel $ch --snr $SNR --out $R/whole
done
SEG=proposed,deeplab-jscc,fcn-jpeg-16qam-1/2,fcn-jpeg-64qam-2/3
[ -n "$SYSTEMS" ] && SEG=$(echo "$SYSTEMS" | tr , '\n' | grep -E '^(proposed|deeplab-jscc|fcn-)' | paste -sd, - || true)
[ -n "$SEG" ] && semcom eval --task segmentation --systems $SEG --examples 3 \
  --data $D/camvid --crop 224 --limit 40 --channel awgn --snr $SNR --out $R/seg
# Fig. 6-style example grid that may be committed: matplotlib's sample photograph of Grace Hopper
# (US Navy, public domain), through every reconstruction system at 7 dB AWGN
P=$(python3 -c "import matplotlib.cbook as c; print(c.get_sample_data('grace_hopper.jpg', asfileobj=False))")
mkdir -p /tmp/semcom-public && cp "$P" /tmp/semcom-public/
semcom eval --task reconstruction --systems proposed,deepjscc,adjscc,witt,linear,jpeg-16qam-1/2,capacity-avif \
  --data /tmp/semcom-public --snr $SNR --examples 1 --example-snr 7 --out $R/public  # the same SNRs, so its
  # noiseless point is decoded at the highest one like every other table's (at 7 dB alone it was told 7 dB)
python3 scripts/results_table.py --curves $R | tee $R/TABLES.md  # last: it reads the public grid's JSON too
