#!/usr/bin/env bash
# More real photographs for reconstruction training, from Debian's archive (the package registry is
# reachable here; model hubs and dataset sites are not): 40 photographs in all
#   - the 16 among lomiri-wallpapers' Ubuntu Touch wallpapers (2056x3088 to 6028x3391; CC-BY-4.0 / CC-BY-SA-4.0)
#   - the 12 of mate-backgrounds' "nature" set (1280x1024 to 2560x1920; flowers, leaves, grass, dune, storm)
#   - 12 of plasma-workspace-wallpapers' (2560x1600 or 5120x2880; boats, dock, forest path, cups, architecture,
#     kite, lake, leaves, beach); its other pictures are drawings or renders, left out
# Licences: one file per package in OUT/copyright-*.
# Training had 22 photographs (../shared/data/photos, mostly smooth wallpapers) and CamVid's street frames;
# the reconstruction decoder gained +2.1 dB over the linear code on those photos at 13 dB and +0.7 on Kodak.
#   bash scripts/fetch_photos.sh [OUT]      (default data/photos-debian; then semcom train ... --data OUT)
set -euo pipefail
OUT=${1:-data/photos-debian}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && apt-get download lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds \
  plasma-workspace-wallpapers >/dev/null)
mkdir -p "$OUT"
for deb in "$TMP"/*.deb; do dpkg-deb -x "$deb" "$TMP/x"; done
BG="$TMP/x/usr/share/backgrounds"
cp "$BG"/*_by_*.jpg "$OUT"/ 2>/dev/null || true
find "$BG" -name "Kleiber_by_Lukas_Baubkus.jpg" -exec cp {} "$OUT"/ \;
# the 20.04 set's other pictures are drawings (Fossa, Painting-Colors, Infinite-Sea): not photographs
rm -f "$OUT"/Fossa_by_* "$OUT"/Painting-Colors_by_* "$OUT"/Infinite-Sea_by_*
for f in "$BG"/mate/nature/*.jpg; do cp "$f" "$OUT/mate_$(basename "$f")"; done
KDE="$TMP/x/usr/share/wallpapers"
for w in BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite OneStandsOut Path \
  summer_1am; do
  cp "$KDE/$w/contents/images/2560x1600.jpg" "$OUT/kde_$w.jpg"
done
cp "$KDE/Volna/contents/images/5120x2880.jpg" "$OUT/kde_Volna.jpg"
zcat -f "$TMP"/x/usr/share/doc/lomiri-wallpapers-16.04/copyright > "$OUT/copyright-lomiri-wallpapers"
zcat -f "$TMP"/x/usr/share/doc/mate-backgrounds/copyright > "$OUT/copyright-mate-backgrounds"
zcat -f "$TMP"/x/usr/share/doc/plasma-workspace-wallpapers/copyright > "$OUT/copyright-plasma-workspace-wallpapers"
echo "$(ls "$OUT"/*.jpg | wc -l) photographs in $OUT (licences: $OUT/copyright-*)"
