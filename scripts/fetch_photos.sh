#!/usr/bin/env bash
# More real photographs for reconstruction training, from Debian's archive (the package registry is
# reachable here; model hubs and dataset sites are not): the 16 photographs among lomiri-wallpapers'
# Ubuntu Touch wallpapers (2056x3088 to 6028x3391; CC-BY-4.0 / CC-BY-SA-4.0, per-file in `copyright`).
# Training had 22 photographs (../shared/data/photos, mostly smooth wallpapers) and CamVid's street frames;
# the reconstruction decoder gained +2.1 dB over the linear code on those photos at 13 dB and +0.7 on Kodak.
#   bash scripts/fetch_photos.sh [OUT]      (default data/photos-debian; then semcom train ... --data OUT)
set -euo pipefail
OUT=${1:-data/photos-debian}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 >/dev/null)
mkdir -p "$OUT"
for deb in "$TMP"/*.deb; do dpkg-deb -x "$deb" "$TMP/x"; done
cp "$TMP"/x/usr/share/backgrounds/*_by_*.jpg "$OUT"/ 2>/dev/null || true
find "$TMP/x/usr/share/backgrounds" -name "Kleiber_by_Lukas_Baubkus.jpg" -exec cp {} "$OUT"/ \;
# the 20.04 set's other pictures are drawings (Fossa, Painting-Colors, Infinite-Sea): not photographs
rm -f "$OUT"/Fossa_by_* "$OUT"/Painting-Colors_by_* "$OUT"/Infinite-Sea_by_*
zcat -f "$TMP"/x/usr/share/doc/lomiri-wallpapers-16.04/copyright > "$OUT/copyright"
echo "$(ls "$OUT"/*.jpg | wc -l) photographs in $OUT (licences: $OUT/copyright)"
