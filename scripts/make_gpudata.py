"""Shrinks the training data into .gpudata/ so that it fits a device upload (64 MiB with the repository).

    python3 scripts/make_gpudata.py [--data ../shared/data] [--out .gpudata] [--photos DIR ...]
        [--max-side 1600] [--quality 92] [--camvid-every 1] [--camvid-val 10] [--kodak 0]

photos/NAME/: each --photos folder (default DATA/photos), every photograph at most --max-side px on its long
side (the loader's own limit is 1600) as JPEG of --quality; manifest and copyright files unchanged.
camvid/: every --camvid-every-th train frame as JPEG q85 with its original label PNG and a matching
train.txt; every --camvid-val-th val frame (validation only; 0: none) unchanged.
kodak/: the first --kodak Kodak PNGs, unchanged (reconstruction validation on the device).
Nothing here is committed: add /.gpudata/ to .git/info/exclude and name it in the device run's `carry`.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

from semcom.data import IMAGE_SUFFIXES, _load_rgb


def shrink_photos(src: Path, dst: Path, max_side: int, quality: int) -> None:
    for f in sorted(src.rglob("*")):
        if not f.is_file():
            continue
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix.lower() not in IMAGE_SUFFIXES:  # MANIFEST.tsv, copyright files
            shutil.copy(f, out)
            continue
        _load_rgb(f, max_side=max_side).save(out.with_suffix(".jpg"), quality=quality)  # the loader's own resize


def _listing(path: Path) -> list[str]:
    """The "image label" lines of a SegNet CamVid listing (train.txt, val.txt)."""
    return [line for line in path.read_text().splitlines() if line.strip()]


def shrink_camvid(cam: Path, out_cam: Path, every: int, val_every: int) -> None:
    for d in ("train", "trainannot", "val", "valannot"):
        (out_cam / d).mkdir(parents=True, exist_ok=True)
    lines = []
    for line in _listing(cam / "train.txt")[::every]:
        frame, label = (p.lstrip("/") for p in line.split())
        name = Path(frame).stem
        Image.open(cam / frame).convert("RGB").save(out_cam / "train" / f"{name}.jpg", quality=85)
        shutil.copy(cam / label, out_cam / label)
        lines.append(f"train/{name}.jpg {label}")
    (out_cam / "train.txt").write_text("\n".join(lines) + "\n")
    val = _listing(cam / "val.txt")[::val_every] if val_every else []
    for line in val:
        for p in line.split():
            shutil.copy(cam / p.lstrip("/"), out_cam / p.lstrip("/"))
    (out_cam / "val.txt").write_text("\n".join(val) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path(".gpudata"))
    p.add_argument("--photos", type=Path, action="append", help="photo folder(s) (default DATA/photos)")
    p.add_argument("--max-side", type=int, default=1600)
    p.add_argument("--quality", type=int, default=92)
    p.add_argument("--camvid-every", type=int, default=1)
    p.add_argument("--camvid-val", type=int, default=10)
    p.add_argument("--kodak", type=int, default=0)
    a = p.parse_args()
    for folder in a.photos or [a.data / "photos"]:
        shrink_photos(folder, a.out / "photos" / folder.name, a.max_side, a.quality)
    shrink_camvid(a.data / "camvid", a.out / "camvid", a.camvid_every, a.camvid_val)
    if a.kodak:
        (a.out / "kodak").mkdir(parents=True, exist_ok=True)
        for f in sorted((a.data / "kodak").glob("*.png"))[: a.kodak]:
            shutil.copy(f, a.out / "kodak" / f.name)
    size = sum(f.stat().st_size for f in a.out.rglob("*") if f.is_file())
    print(f"{a.out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
