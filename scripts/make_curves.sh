#!/usr/bin/env bash
# The comparison curves of the paper's Figs. 4, 5 and 7 from the shipped weights and weights/baselines/: the cells
# of sweeps/curves.toml in the sweep store (default results/sweep; a rerun computes only the cells it lacks, and
# the store keys each cell by the weights' digest, so new weights get new cells), their plots and tables
# (results/sweep/report/curves/), then a Fig. 6-style example grid that may be committed: matplotlib's sample
# photograph of Grace Hopper (US Navy, public domain) through every reconstruction system at 7 dB AWGN
# (results/curves/public/), and the Kodak and CamVid example grids of Figs. 6 and 7 (made here, not committed).
#   bash scripts/make_curves.sh [--ray-address auto|HOST:PORT]     (other options: semcom sweep --help)
#   STORE=DIR bash scripts/make_curves.sh
set -euo pipefail
cd "$(dirname "$0")/.."
semcom sweep sweeps/curves.toml --store "${STORE:-results/sweep}" "$@"
P=$(python3 -c "import matplotlib.cbook as c; print(c.get_sample_data('grace_hopper.jpg', asfileobj=False))")
PUBLIC=$(mktemp -d); trap 'rm -rf "$PUBLIC"' EXIT
mkdir "$PUBLIC/semcom-public" && cp "$P" "$PUBLIC/semcom-public/"  # the folder's name tags the results
semcom eval --task reconstruction --systems proposed,deepjscc,adjscc,witt,linear,jpeg-16qam-1/2,capacity-avif \
  --data "$PUBLIC/semcom-public" --snr 1,4,7,10,13 --examples 1 --example-snr 7 --out results/curves/public
  # the same SNRs as the curves, so its noiseless point is decoded at the highest one like every other table's
# Figs. 6 and 7's example grids from Kodak and CamVid at 7 dB, made here and never committed (their licences)
D=${SEMCOM_DATA:-../shared/data}
semcom eval --task reconstruction --systems proposed,deepjscc,adjscc,witt,linear,softcast,jpeg-16qam-1/2,capacity-avif \
  --data "$D/kodak" --crop 224 --limit 3 --snr 7 --examples 3 --out results/curves/examples
semcom eval --task segmentation --systems proposed,deeplab-jscc,fcn-jpeg-16qam-1/2 \
  --data "$D/camvid" --crop 224 --limit 3 --snr 7 --examples 3 --out results/curves/examples
