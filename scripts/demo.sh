#!/usr/bin/env bash
# The demo: start the three services on loopback (semcom up), send one image for each task
# through them with txclient, write the results under out/, stop the services.
#   OUT=DIR TX_PORT=N CH_PORT=N RX_PORT=N bash scripts/demo.sh   (defaults: out, 50051, 50052, 50053)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out}
DATA=${SEMCOM_DATA:-../shared/data}
TX_PORT=${TX_PORT:-50051} CH_PORT=${CH_PORT:-50052} RX_PORT=${RX_PORT:-50053}
export SEMCOM_TRANSMITTER_ADDR=localhost:$TX_PORT SEMCOM_RECEIVER_ADDR=localhost:$RX_PORT
mkdir -p "$OUT"

semcom up --transmitter-port "$TX_PORT" --channel-port "$CH_PORT" --receiver-port "$RX_PORT" \
  > "$OUT/services.log" 2>&1 &
UP=$!
trap 'kill -TERM $UP 2>/dev/null || true; wait $UP 2>/dev/null || true' EXIT
echo "starting transmitter, channel and receiver (log: $OUT/services.log) ..."
for addr in localhost:$CH_PORT localhost:$RX_PORT localhost:$TX_PORT; do
  for _ in $(seq 1 600); do
    python3 -m semcom.healthcheck "$addr" >/dev/null 2>&1 && break
    kill -0 $UP 2>/dev/null || { echo "semcom up failed:"; tail -20 "$OUT/services.log"; exit 1; }
    sleep 0.5
  done
done
echo "all three services SERVING"

photo="$DATA/kodak/kodim23.png"
frame=$(ls "$DATA"/camvid/val/*.png 2>/dev/null | head -1 || true)
if [ ! -f "$photo" ] || [ -z "$frame" ]; then  # no shared data: make a test image
  python3 - "$OUT/demo_input.png" <<'PY'
import sys
import numpy as np
from PIL import Image
y, x = np.mgrid[0:224, 0:224]
img = np.stack([x, y, (x + y) // 2], -1).astype(np.uint8)
Image.fromarray(img).save(sys.argv[1])
PY
  photo="$OUT/demo_input.png"; frame="$OUT/demo_input.png"
fi

echo; echo "== reconstruction: $photo"
txclient send "$photo" --task "please reconstruct this picture" --snr 10 --out "$OUT"
echo; echo "== segmentation: $frame"
txclient send "$frame" --task "which pixels are road and which are sky?" --snr 10 --out "$OUT"
echo; echo "results are in $OUT/"
