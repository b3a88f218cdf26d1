"""The page's examples: a public-domain photograph from matplotlib's sample data, scenes drawn here from a seed
(no photograph's licence involved), and the photographs of any folder given with ``semcom web --examples DIR``.

Each bundled one is a small scene with the structure the two tasks care about: edges, textures, smooth
gradients, and for the street scene regions a segmenter can name (sky, buildings, road, cars). The street scene
is a drawing, because no photograph of a street with a public-domain or CC0 licence is at hand; a user with
street frames of their own (CamVid's, say, whose licence forbids bundling them) adds them with ``--examples``.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

from shared.imageio import ALLOWED_FORMATS, IMAGE_SUFFIXES, open_rgb


def _street(rng: np.random.Generator, w: int = 480, h: int = 360) -> Image.Image:
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    for y in range(h // 2):  # sky: a vertical gradient
        t = y / (h / 2)
        d.line([(0, y), (w, y)], fill=(int(120 + 80 * t), int(160 + 60 * t), int(230 - 20 * t)))
    x = 0
    while x < w:  # buildings with windows
        bw, bh = int(rng.integers(50, 110)), int(rng.integers(90, 200))
        top = h // 2 + 30 - bh
        base = tuple(int(c) for c in rng.integers(90, 200, 3))
        d.rectangle([x, top, x + bw, h // 2 + 40], fill=base)
        for wy in range(top + 10, h // 2 + 20, 22):
            for wx in range(x + 8, x + bw - 12, 18):
                d.rectangle([wx, wy, wx + 9, wy + 12], fill=(40, 50, 70) if rng.random() < 0.7 else (240, 220, 140))
        x += bw + int(rng.integers(0, 12))
    d.polygon([(0, h), (w, h), (w, h // 2 + 40), (0, h // 2 + 40)], fill=(80, 78, 84))  # road
    d.rectangle([0, h // 2 + 40, w, h // 2 + 52], fill=(170, 165, 160))  # pavement
    for lx in range(10, w, 70):
        d.rectangle([lx, h - 70, lx + 35, h - 64], fill=(235, 235, 225))
    for cx in (60, 250, 390):  # cars
        col = tuple(int(c) for c in rng.integers(30, 230, 3))
        d.rounded_rectangle([cx, h // 2 + 70, cx + 80, h // 2 + 110], radius=8, fill=col)
        d.rectangle([cx + 15, h // 2 + 55, cx + 65, h // 2 + 75], fill=tuple(int(c * 0.8) for c in col))
        for wx in (cx + 12, cx + 58):
            d.ellipse([wx, h // 2 + 100, wx + 16, h // 2 + 116], fill=(20, 20, 20))
    d.rectangle([200, h // 2 - 60, 204, h // 2 + 60], fill=(60, 60, 60))  # a pole
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    arr += rng.normal(0, 4, arr.shape)  # sensor-like grain
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _shapes(rng: np.random.Generator, w: int = 384, h: int = 256) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    arr = np.stack([0.5 + 0.4 * np.sin(3 * xx + 1), 0.4 + 0.3 * yy, 0.6 - 0.3 * xx], -1) * 255
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(14):
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(10, 50))
        col = tuple(int(c) for c in rng.integers(0, 255, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x - r, y - r, x + r, y + r], fill=col,
                                                           outline=(0, 0, 0), width=2)
    return img


def _texture(rng: np.random.Generator, w: int = 320, h: int = 320) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    waves = sum(np.sin(xx * f1 / 9 + yy * f2 / 11 + p) for f1, f2, p in rng.uniform(0.2, 2.0, (5, 3)))
    noise = np.asarray(Image.fromarray((rng.random((h // 8, w // 8)) * 255).astype(np.uint8)).resize(
        (w, h), Image.BICUBIC), dtype=np.float32) / 255
    base = (waves - waves.min()) / (np.ptp(waves) + 1e-6)
    arr = np.stack([base, 0.6 * base + 0.4 * noise, noise], -1) * 255
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _portrait(rng: np.random.Generator) -> Image.Image:
    """A real photograph: Grace Hopper's official portrait (US Navy, public domain), the sample photograph
    matplotlib (a dependency) ships, so nothing is copied into this repository."""
    import matplotlib.cbook

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        return img.convert("RGB")


# the first is what the page shows first: a photograph. No photograph of a street with a clear licence is at hand
# (CamVid's frames may not be redistributed), so the street scene is drawn; the CamVid-trained segmenter reads
# a drawing less well than a photograph
EXAMPLES = {"portrait": (_portrait, 0), "street": (_street, 7), "shapes": (_shapes, 3), "texture": (_texture, 5)}


MAX_FOLDER_EXAMPLES = 64  # photographs taken from --examples folders: the first by name, the rest left out
MAX_EXAMPLE_SIDE = 4096  # the largest side any preset's transmitter takes (the cpu preset's own cap, 2048, it
# enforces when the example is sent, with its own message)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class ExampleError(ValueError):
    """A folder or file given with --examples that cannot serve as an example (one line, naming it)."""


def _photo(path: Path, _rng: np.random.Generator) -> Image.Image:
    return open_rgb(path)  # the one conversion every reader uses (EXIF orientation, 16-bit, ...)


def _photo_paths(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise ExampleError(f"--examples {source}: no such file or folder")
    found = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise ExampleError(f"--examples {source}: the folder has no PNG or JPEG files ({', '.join(IMAGE_SUFFIXES)})")
    return found


def add_examples(sources: list[str | Path], limit: int = MAX_FOLDER_EXAMPLES) -> tuple[list[str], int]:
    """Adds the PNG and JPEG photographs of `sources` (folders, read in name order, or single files) as examples
    named by their file names without the suffix. Each is opened now, so a file the page could not send is
    refused here, naming it (ExampleError), not when someone picks it. Returns the names added and how many
    files were left out by `limit`."""
    paths = [p for source in sources for p in _photo_paths(Path(source))]
    added: dict[str, tuple] = {}  # all of them checked before any joins the list
    for path in paths[:limit]:
        name = path.stem
        if not _NAME.fullmatch(name):
            raise ExampleError(f"--examples {path}: name the file with letters, digits, '.', '_' or '-' (at most "
                               "64, starting with a letter or digit): the page addresses an example by its name")
        if name in EXAMPLES or name in added:
            raise ExampleError(f"--examples {path}: an example called {name!r} already exists; rename the file")
        try:
            with Image.open(path, formats=list(ALLOWED_FORMATS)) as img:  # what the transmitter takes
                width, height = img.size
                img.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ExampleError(f"--examples {path}: not a readable PNG or JPEG ({exc})") from None
        if max(width, height) > MAX_EXAMPLE_SIDE:
            raise ExampleError(f"--examples {path}: {width}x{height} pixels, over the transmitter's "
                               f"{MAX_EXAMPLE_SIDE} px per side; resize it")
        added[name] = (functools.partial(_photo, path), 0)
    EXAMPLES.update(added)
    return list(added), max(0, len(paths) - limit)


@functools.lru_cache(maxsize=None)
def example_png(name: str) -> bytes:
    """The PNG bytes of a bundled example (the same bytes on every machine for a given NumPy)."""
    draw, seed = EXAMPLES[name]
    buf = io.BytesIO()
    draw(np.random.default_rng(seed)).save(buf, format="PNG")
    return buf.getvalue()
