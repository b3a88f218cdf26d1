"""Data loaders for the real on-disk layouts.

* ``ImageFolder``   a folder of high-resolution images (DIV2K style): random rescale, crop, flips.
* ``Kodak``         a folder of PNGs evaluated whole (kodim01.png ... kodim24.png).
* ``VOCSegmentation`` PASCAL VOC 2012: JPEGImages/, SegmentationClass/ palette PNGs (255 = void),
                    ImageSets/Segmentation/{train,val}.txt; 21 classes.
* ``CamVid``        SegNet's CamVid: train.txt / val.txt listing "image label" pairs; 11 classes, 11 = void.

Images are returned as (3, H, W) float in [0, 1], labels as (H, W) long.
Decoded images are cached in memory (the training sets here are small).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter
from torch.utils.data import Dataset

from shared.classes import CAMVID_CLASSES, VOC_CLASSES
from shared.imageio import IMAGE_SUFFIXES, open_rgb, to_tensor



def _existing_folder(root: str | Path) -> Path:
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"no such folder: {root}")
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is a file, not a folder of images")
    return root


def list_images(root: str | Path) -> list[Path]:
    _existing_folder(root)
    files = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no PNG/JPEG images under {root}")
    return files


def _load_rgb(path: Path, max_side: int | None = None) -> Image.Image:
    img = open_rgb(path)
    if max_side and max(img.size) > max_side:
        s = max_side / max(img.size)
        img = img.resize((round(img.width * s), round(img.height * s)), Image.BICUBIC)
    return img


class EpochDraws:
    """A training set whose random crops, flips and jitter are drawn anew each epoch: the trainer tells it
    the epoch (``set_epoch``) before each pass over the data."""

    epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draws(self, idx: int) -> random.Random:
        """The random draws of item `idx` this epoch: a function of the run's seed (torch's, which a DataLoader
        worker also derives from it), the epoch and the index, so a run is reproducible and no two epochs
        repeat each other's crops."""
        return random.Random(f"{torch.initial_seed()}:{self.epoch}:{idx}")


class ImageFolder(EpochDraws, Dataset):
    """Random crops of a folder of images, for reconstruction training (DIV2K manner).

    Each item: one image rescaled by a random factor in `scale` (never below the crop),
    randomly cropped to `crop` x `crop`, flipped left-right with p = 0.5.

    With several roots, each root is drawn equally often whatever its size, so that a
    large folder of one kind (367 CamVid street frames) does not drown a small folder of
    varied photographs (22 high-resolution ones, which random rescaling multiplies).
    """

    def __init__(self, roots: list[str | Path], crop: int, scale: tuple[float, float] = (0.35, 1.0),
                 samples_per_epoch: int = 10_000, max_side: int = 1600) -> None:
        groups = [list_images(r) for r in roots]
        self.files = [f for g in groups for f in g]
        self.crop = crop
        self.scale = scale
        self.samples_per_epoch = samples_per_epoch
        self._cache = [_load_rgb(f, max_side) for f in self.files]
        starts = [sum(len(g) for g in groups[:i]) for i in range(len(groups))]
        self._groups = [range(st, st + len(g)) for st, g in zip(starts, groups) if g]

    def __len__(self) -> int:
        return self.samples_per_epoch

    def __getitem__(self, idx: int) -> torch.Tensor:
        rng = self.draws(idx)
        group = self._groups[rng.randrange(len(self._groups))]
        img = self._cache[group[rng.randrange(len(group))]]
        lo = max(self.scale[0], self.crop / min(img.size))
        s = rng.uniform(min(lo, 1.0), max(self.scale[1], lo))
        if abs(s - 1.0) > 1e-3:
            img = img.resize((max(self.crop, round(img.width * s)), max(self.crop, round(img.height * s))),
                             Image.BICUBIC)
        x0 = rng.randint(0, img.width - self.crop)
        y0 = rng.randint(0, img.height - self.crop)
        patch = img.crop((x0, y0, x0 + self.crop, y0 + self.crop))
        if rng.random() < 0.5:
            patch = patch.transpose(Image.FLIP_LEFT_RIGHT)
        return to_tensor(patch)


class Kodak(Dataset):
    """A folder of images (PNG or JPEG, not its subfolders) evaluated whole: Kodak, or your own."""

    def __init__(self, root: str | Path) -> None:
        self.files = sorted(p for p in _existing_folder(root).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise FileNotFoundError(f"no PNG or JPEG images in {root}")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, idx: int) -> torch.Tensor:
        return to_tensor(_load_rgb(self.files[idx]))


class SegmentationPairs(EpochDraws, Dataset):
    """Image/label pairs; labels are class indices. For training: a random rescale by a factor in `scale`
    and a crop (a frame rescaled below the crop is padded: grey pixels, void labels), a left-right flip,
    and brightness, contrast and saturation each scaled by a random factor in `photometric` (other cameras,
    other light, other distances: the few hundred training frames come from one camera). ``strong`` adds what
    footage of other drives differs by: a gamma in 0.6-1.6 (dusk, glare), a colour cast (each channel scaled by
    0.85-1.15: white balance, sodium light), and half the time a blur of up to 1.2 px or sensor noise of up to
    8/255. ``paste`` is the probability that a training crop also gets the rare classes' pixels of another
    training frame's crop pasted onto it, where they lie in that crop (ClassMix, Olsson et al. 2021; Simple
    Copy-Paste, Ghiasi et al. 2021, without instance masks): poles, signs, pedestrians in new surroundings, so
    the decoder learns them from their own look rather than from the scenes of the training drives. The rare
    classes are those with under half a uniform share of the labelled pixels (``paste_classes``). Each epoch
    (``set_epoch``) draws new ones."""

    num_classes: int
    ignore_index: int

    def __init__(self, pairs: list[tuple[Path, Path]], crop: int | None = None, train: bool = False,
                 photometric: tuple[float, float] = (0.75, 1.25), scale: tuple[float, float] = (0.6, 1.5),
                 strong: bool = False, paste: float = 0.0) -> None:
        if not pairs:
            raise FileNotFoundError("no image/label pairs found")
        self.pairs = pairs
        self.crop = crop
        self.train = train
        self.photometric = photometric
        self.strong = strong
        self.scale = scale
        self.paste = paste
        self._cache: dict[int, tuple[Image.Image, Image.Image]] = {}
        self._paste_classes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.pairs)

    def _get(self, idx: int) -> tuple[Image.Image, Image.Image]:
        if idx not in self._cache:
            img_path, lab_path = self.pairs[idx]
            img = open_rgb(img_path)
            lab = Image.open(lab_path)
            lab.load()
            if lab.mode not in ("L", "P"):
                raise ValueError(f"{lab_path}: label PNG must be 8-bit class indices (mode L or P), got {lab.mode}")
            if lab.size != img.size:
                raise ValueError(f"{lab_path}: label size {lab.size} differs from image size {img.size}")
            self._cache[idx] = (img, lab)
        return self._cache[idx]

    def _crop_and_flip(self, img: Image.Image, lab: Image.Image,
                       rng: random.Random) -> tuple[Image.Image, Image.Image]:
        """A training crop's geometry: the random rescale, the crop (padded with void where the frame is smaller)
        and the flip."""
        if self.crop:
            s = rng.uniform(*self.scale)
            size = (max(1, round(img.width * s)), max(1, round(img.height * s)))
            img, lab = img.resize(size, Image.BILINEAR), lab.resize(size, Image.NEAREST)
            if min(size) < self.crop:  # pad to the crop: grey image, void labels (no loss there)
                padded = (max(self.crop, size[0]), max(self.crop, size[1]))
                img_pad = Image.new("RGB", padded, (128, 128, 128))
                lab_pad = Image.new(lab.mode, padded, self.ignore_index)  # P or L: raw indices either way
                at = (rng.randint(0, padded[0] - size[0]), rng.randint(0, padded[1] - size[1]))
                img_pad.paste(img, at)
                lab_pad.paste(lab, at)
                img, lab = img_pad, lab_pad
            x0, y0 = rng.randint(0, img.width - self.crop), rng.randint(0, img.height - self.crop)
            box = (x0, y0, x0 + self.crop, y0 + self.crop)
            img, lab = img.crop(box), lab.crop(box)
        if rng.random() < 0.5:
            img, lab = img.transpose(Image.FLIP_LEFT_RIGHT), lab.transpose(Image.FLIP_LEFT_RIGHT)
        return img, lab

    @property
    def paste_classes(self) -> np.ndarray:
        """The classes ``paste`` copies: those with under half a uniform share (1 / 2C) of the labelled pixels."""
        if self._paste_classes is None:
            counts = self.class_pixel_counts().double()
            share = counts / counts.sum().clamp_min(1.0)
            self._paste_classes = np.flatnonzero((share < 0.5 / self.num_classes).numpy())
        return self._paste_classes

    def _paste_from(self, img: Image.Image, lab: Image.Image, rng: random.Random) -> tuple[Image.Image, Image.Image]:
        """`img`, `lab` with another frame's crop (its own rescale, crop and flip) pasted where that crop's rare
        classes are, labels with it."""
        donor_img, donor_lab = self._crop_and_flip(*self._get(rng.randrange(len(self))), rng)
        d_lab = np.array(donor_lab, dtype=np.uint8)
        if d_lab.shape != (img.height, img.width):  # whole frames of other sizes (no crop): nothing to align
            return img, lab
        mask = np.isin(d_lab, self.paste_classes)
        out_img, out_lab = np.array(img, dtype=np.uint8), np.array(lab, dtype=np.uint8)
        out_img[mask] = np.asarray(donor_img, dtype=np.uint8)[mask]
        out_lab[mask] = d_lab[mask]
        return Image.fromarray(out_img), Image.fromarray(out_lab)  # labels as raw indices (mode L)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        img, lab = self._get(idx)
        if self.train:
            rng = self.draws(idx)
            img, lab = self._crop_and_flip(img, lab, rng)
            if self.paste and rng.random() < self.paste:
                img, lab = self._paste_from(img, lab, rng)
            for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
                img = enhance(img).enhance(rng.uniform(*self.photometric))
            if self.strong:
                img = _other_footage(img, rng)
        # palette PNGs (VOC) hold class indices in the raw pixel values: read them without converting
        labels = torch.from_numpy(np.array(lab, dtype=np.uint8).astype(np.int64))
        return to_tensor(img), labels

    def class_pixel_counts(self) -> torch.Tensor:
        """Labelled pixels of each class over every label map, at full size, void excluded: (num_classes,)."""
        counts = np.zeros(256, np.int64)
        for i in range(len(self)):
            counts += np.bincount(np.asarray(self._get(i)[1], dtype=np.uint8).ravel(), minlength=256)
        return torch.from_numpy(counts[: self.num_classes])


def drive_of(path: Path) -> str:
    """CamVid's drive (sequence) of a frame: the file name's part before the first underscore (0001TP, 0006R0,
    0016E5, Seq05VD)."""
    return path.name.split("_", 1)[0]


def _other_footage(img: Image.Image, rng: random.Random) -> Image.Image:
    """What frames of another drive, camera or hour differ by (``SegmentationPairs`` with ``strong``)."""
    arr = np.asarray(img, dtype=np.float32) / 255.0
    arr = arr ** rng.uniform(0.6, 1.6)  # gamma: dusk, glare
    arr = arr * np.array([rng.uniform(0.85, 1.15) for _ in range(3)], dtype=np.float32)  # colour cast
    out = Image.fromarray((arr.clip(0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    if rng.random() < 0.5:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.2)))
    else:
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0.0, rng.uniform(0.0, 8.0), arr.shape)
        out = Image.fromarray((np.asarray(out, dtype=np.float32) + noise).clip(0, 255).astype(np.uint8))
    return out


class SplitFolder(SegmentationPairs):
    """A data set's folder, whose layout lists each split's (image, label) pairs (``listed``); `train` draws
    crops, flips and jitter (default: for the split called train)."""

    def __init__(self, root: str | Path, split: str = "train", crop: int | None = None,
                 train: bool | None = None) -> None:
        pairs = self.listed(Path(root), split)
        if not pairs:
            raise FileNotFoundError(f"split {split!r} of {root} has no frames")
        super().__init__(pairs, crop, split == "train" if train is None else train)

    @staticmethod
    def listed(root: Path, split: str) -> list[tuple[Path, Path]]:
        raise NotImplementedError


class CamVid(SplitFolder):
    """SegNet's CamVid layout: `{split}.txt` lists "image label" relative paths.

    `split` is a listing's name or an expression over listings and drives, so that a drive can be held out of
    training and measured as unseen footage (val is one drive, 0016E5, that train shares):

    * ``train+val``: both listings;
    * ``train-0006R0`` (or ``train-0006R0,0001TP``): without those drives' frames;
    * ``train:0006R0``: only that drive's frames (``train+val:0016E5`` works too).
    """

    num_classes = 11
    ignore_index = 11
    class_names = CAMVID_CLASSES

    @staticmethod
    def listed(root: Path, split: str) -> list[tuple[Path, Path]]:
        """The (image, label) pairs a split expression names (see the class)."""
        head, only, drives = split, None, ""
        for sep in (":", "-"):
            if sep in split:
                head, _, drives = split.partition(sep)
                only = sep == ":"
                break
        wanted = {d.strip() for d in drives.split(",") if d.strip()}
        if only is not None and not wanted:
            raise ValueError(f"split {split!r}: name the drives after {'-' if not only else ':'}, e.g. train-0006R0")
        pairs: list[tuple[Path, Path]] = []
        for name in head.split("+"):
            listing = root / f"{name}.txt"
            if not listing.exists():
                raise FileNotFoundError(f"{listing} not found: expected SegNet's CamVid layout ({name}.txt)")
            for line in listing.read_text().splitlines():
                if line.strip():
                    img, lab = line.split()[:2]
                    pairs.append((root / img.lstrip("/"), root / lab.lstrip("/")))
        if only is None:
            return pairs
        known = {drive_of(img) for img, _ in pairs}
        if wanted - known:
            raise ValueError(f"split {split!r}: no frames of drive(s) {', '.join(sorted(wanted - known))} in "
                             f"{head} (its drives: {', '.join(sorted(known))})")
        return [(img, lab) for img, lab in pairs if (drive_of(img) in wanted) == only]


class VOCSegmentation(SplitFolder):
    """PASCAL VOC 2012 layout; labels are palette indices, 255 = void."""

    num_classes = 21
    ignore_index = 255
    class_names = VOC_CLASSES

    @staticmethod
    def listed(root: Path, split: str) -> list[tuple[Path, Path]]:
        listing = root / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not listing.exists():
            raise FileNotFoundError(f"{listing} not found: expected the VOC 2012 layout")
        ids = [i.strip() for i in listing.read_text().splitlines() if i.strip()]
        return [(root / "JPEGImages" / f"{i}.jpg", root / "SegmentationClass" / f"{i}.png") for i in ids]


def segmentation_dataset(root: str | Path, split: str, crop: int | None = None,
                         train: bool | None = None) -> SegmentationPairs:
    """CamVid or VOC, told apart by the layout; `train` draws crops, flips and jitter (default: for the split
    called train)."""
    root = _existing_folder(root)
    if (root / "ImageSets" / "Segmentation").is_dir():
        return VOCSegmentation(root, split, crop, train)
    return CamVid(root, split, crop, train)


def center_crop(img: torch.Tensor, size: int) -> torch.Tensor:
    """The centre size x size of a (..., H, W) tensor (the whole of a side shorter than size)."""
    h, w = img.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[..., top:top + size, left:left + size]
