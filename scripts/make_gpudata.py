"""Shrinks ../shared/data into .gpudata/ so it fits a device upload (64 MiB with the repository).

    python3 scripts/make_gpudata.py [DATA_DIR] [OUT_DIR]     (defaults ../shared/data, .gpudata)

photos/: each photograph at most 1600 px on its long side (ImageFolder's own limit), JPEG q92;
its manifest and copyright files unchanged.
camvid/: train frames as JPEG q85 with the original label PNGs and a matching train.txt;
every tenth val frame (validation only) unchanged. Nothing here is committed: add
/.gpudata/ to .git/info/exclude and name it in the device run's `carry`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image

from semcom.data import IMAGE_SUFFIXES, _load_rgb


def main(src: Path, dst: Path) -> None:
    for f in sorted((src / "photos").rglob("*")):
        if not f.is_file():
            continue
        out = dst / "photos" / f.relative_to(src / "photos")
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix.lower() not in IMAGE_SUFFIXES:  # MANIFEST.tsv, copyright files
            shutil.copy(f, out)
            continue
        _load_rgb(f, max_side=1600).save(out.with_suffix(".jpg"), quality=92)  # the loader's own resize
    cam, out_cam = src / "camvid", dst / "camvid"
    for d in ("train", "trainannot", "val", "valannot"):
        (out_cam / d).mkdir(parents=True, exist_ok=True)
    lines = []
    for line in (cam / "train.txt").read_text().split("\n"):
        if not line.strip():
            continue
        frame, label = (p.lstrip("/") for p in line.split())
        name = Path(frame).stem
        Image.open(cam / frame).convert("RGB").save(out_cam / "train" / f"{name}.jpg", quality=85)
        shutil.copy(cam / label, out_cam / label)
        lines.append(f"train/{name}.jpg {label}")
    (out_cam / "train.txt").write_text("\n".join(lines) + "\n")
    val = [line for line in (cam / "val.txt").read_text().split("\n") if line.strip()][::10]
    for line in val:
        for p in line.split():
            shutil.copy(cam / p.lstrip("/"), out_cam / p.lstrip("/"))
    (out_cam / "val.txt").write_text("\n".join(val) + "\n")
    size = sum(f.stat().st_size for f in dst.rglob("*") if f.is_file())
    print(f"{dst}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data"),
         Path(sys.argv[2] if len(sys.argv) > 2 else ".gpudata"))
