#!/usr/bin/env bash
# More real photographs for reconstruction training, from Debian's archive (the package registry is
# reachable here; model hubs and dataset sites are not): 18 photographs that ../shared/data/photos lacks
#   - the 16 among lomiri-wallpapers' Ubuntu Touch wallpapers (2056x3088 to 6028x3391; CC-BY-4.0 / CC-BY-SA-4.0)
#   - plasma-workspace-wallpapers' Kite and Volna (2560x1600, 5120x2880; LGPL-3): its other photographs and
#     mate-backgrounds' are ../shared/data/photos already, the rest of both are drawings or renders
#   (ukui-wallpapers, gnome-backgrounds, sway-backgrounds and lomiri-wallpapers hold no photographs)
# Licences: one file per package in OUT/copyright-*.
# Training had 22 photographs (../shared/data/photos, mostly smooth wallpapers) and CamVid's street frames;
# the reconstruction decoder gained +2.1 dB over the linear code on those photos at 13 dB and +0.7 on Kodak.
#   bash scripts/fetch_photos.sh [OUT]      (default data/photos-debian; then semcom train ... --data OUT)
set -euo pipefail
OUT=${1:-data/photos-debian}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers \
  >/dev/null)
mkdir -p "$OUT"
for deb in "$TMP"/*.deb; do dpkg-deb -x "$deb" "$TMP/x"; done
BG="$TMP/x/usr/share/backgrounds"
cp "$BG"/*_by_*.jpg "$OUT"/ 2>/dev/null || true
find "$BG" -name "Kleiber_by_Lukas_Baubkus.jpg" -exec cp {} "$OUT"/ \;
# the 20.04 set's other pictures are drawings (Fossa, Painting-Colors, Infinite-Sea): not photographs
rm -f "$OUT"/Fossa_by_* "$OUT"/Painting-Colors_by_* "$OUT"/Infinite-Sea_by_*
KDE="$TMP/x/usr/share/wallpapers"
cp "$KDE/Kite/contents/images/2560x1600.jpg" "$OUT/plasma_Kite_2560x1600.jpg"
cp "$KDE/Volna/contents/images/5120x2880.jpg" "$OUT/plasma_Volna_5120x2880.jpg"
zcat -f "$TMP"/x/usr/share/doc/lomiri-wallpapers-16.04/copyright > "$OUT/copyright-lomiri-wallpapers"
zcat -f "$TMP"/x/usr/share/doc/plasma-workspace-wallpapers/copyright > "$OUT/copyright-plasma-workspace-wallpapers"
echo "$(ls "$OUT"/*.jpg | wc -l) photographs in $OUT (licences: $OUT/copyright-*)"
