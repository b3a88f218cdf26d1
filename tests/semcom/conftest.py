import numpy as np
import pytest
from PIL import Image


def _rgb(path, w, h, seed):
    rng = np.random.default_rng(seed)
    # smooth images (a few gradients + blocks) so a tiny model can learn something in a few steps
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * (seed + 1)) % 256, (yy * 2) % 256, ((xx + yy) // 2) % 256], -1).astype(np.uint8)
    base[: h // 2, : w // 3] = rng.integers(0, 255, 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(base).save(path)


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "photos"
    for i in range(3):
        _rgb(root / "sub" / f"img{i}.png", 160 + 10 * i, 144, i)
    Image.open(root / "sub" / "img0.png").convert("L").save(root / "grey.jpg")
    return root


@pytest.fixture
def camvid_root(tmp_path):
    root = tmp_path / "camvid"
    for split, n in (("train", 4), ("val", 2)):
        lines = []
        for i in range(n):
            _rgb(root / split / f"f{i}.png", 96, 64, i)
            lab = np.full((64, 96), 3, np.uint8)  # road
            lab[:20] = 0  # sky
            lab[:, :10] = 11  # void
            (root / f"{split}annot").mkdir(parents=True, exist_ok=True)
            Image.fromarray(lab, mode="L").save(root / f"{split}annot" / f"f{i}.png")
            lines.append(f"/{split}/f{i}.png /{split}annot/f{i}.png")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def voc_root(tmp_path):
    root = tmp_path / "VOC2012"
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "SegmentationClass").mkdir()
    ids = ["2007_000001", "2007_000002"]
    for i, name in enumerate(ids):
        Image.new("RGB", (50, 40), (i * 90, 20, 200)).save(root / "JPEGImages" / f"{name}.jpg")
        lab = np.zeros((40, 50), np.uint8)
        lab[10:30, 10:40] = 15  # person
        lab[9, :] = 255  # void boundary
        im = Image.fromarray(lab, mode="P")
        im.putpalette([v for c in range(256) for v in (c, 255 - c, (c * 7) % 256)])
        im.save(root / "SegmentationClass" / f"{name}.png")
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(ids) + "\n")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text(ids[0] + "\n")
    return root
