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
echo "starting transmitter, channel and receiver on ports $TX_PORT, $CH_PORT, $RX_PORT (log: $OUT/services.log) ..."
# semcom up says "all SERVING" only for services it started itself (a health check on a port someone else holds
# proves nothing), and exits when it cannot start them: wait for one or the other
for _ in $(seq 1 1200); do
  grep -q "all SERVING" "$OUT/services.log" 2>/dev/null && break
  kill -0 $UP 2>/dev/null || { echo "semcom up failed:"; tail -20 "$OUT/services.log"; exit 1; }
  sleep 0.5
done
grep -q "all SERVING" "$OUT/services.log" || { echo "services not SERVING after 600 s:"; tail -20 "$OUT/services.log"; exit 1; }
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
