#!/usr/bin/env bash
# Re-makes the committed results: quality tables of the shipped weights and the benchmarks.
#   bash scripts/make_results.sh            (about 25 minutes on two CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SEMCOM_DATA:-../shared/data}
R=results
mkdir -p $R/eval
semcom eval --task reconstruction --data $D/kodak --channel awgn --snr 0:20:5 --out $R/eval
semcom eval --task segmentation --data $D/camvid --channel awgn --snr 0:20:5 --out $R/eval
semcom bench models --preset cpu --scaling --out $R/bench_models_cpu.json > /dev/null
# what the services add: one client, 20 + 20 paired transmissions per task, two runs back to back per size
for size in 224x224 512x768; do
  name=${size#*x}; [ "$name" = 224 ] || name=768
  semcom bench services --size $size --image $D/kodak/kodim23.png --out $R/bench_services_$name.json > /dev/null
  semcom bench services --size $size --image $D/kodak/kodim23.png --out $R/bench_services_${name}_run2.json > /dev/null
done
# the soak: 8 clients for 60 s, both tasks interleaved, delivery audited
semcom bench services --clients 8 --duration 60 --mixed --image $D/kodak/kodim23.png --out $R/bench_soak.json > /dev/null
semcom bench taskkb --out $R/bench_taskkb.json > /dev/null
semcom bench models --preset paper --repeats 1 --no-warmup --weights none --out $R/bench_models_paper.json > /dev/null
python3 scripts/results_table.py
