"""Class lists of the segmentation data sets, in each data set's own index order, and their colours."""

import numpy as np

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # 255 = void

CAMVID_CLASSES: tuple[str, ...] = (
    "sky", "building", "pole", "road", "pavement", "tree", "signsymbol", "fence", "car", "pedestrian", "bicyclist",
)  # 11 = void


# SegNet's CamVid colours (Brostow et al.), in CAMVID_CLASSES order; void (11) black.
CAMVID_COLOURS: tuple[tuple[int, int, int], ...] = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)


def voc_colours(n: int) -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour map (bit-interleaved), one distinct RGB colour per class index."""
    colours = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colours.append((r, g, b))
    return colours


def class_colours(num_classes: int) -> list[tuple[int, int, int]]:
    """One RGB colour per class index: the data set's own map (CamVid's for its 11 classes, so sky is grey and
    road purple, as every CamVid figure draws them; PASCAL VOC's otherwise)."""
    if num_classes == len(CAMVID_CLASSES):
        return list(CAMVID_COLOURS)
    return voc_colours(num_classes)


def colourise(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(H, W) class indices -> (H, W, 3) uint8 in the class colours; void and out-of-range are black."""
    palette = np.array(class_colours(max(num_classes, 1)) + [(0, 0, 0)], dtype=np.uint8)
    return palette[np.clip(labels, 0, num_classes)]


def legend(names: list[str] | tuple[str, ...], swatch: int = 18):
    """A legend image: one row per class, its colour swatch and its name."""
    from PIL import Image, ImageDraw

    colours = class_colours(len(names))
    width = swatch * 2 + 8 * max((len(n) for n in names), default=1) + 16
    img = Image.new("RGB", (width, swatch * len(names) + 8), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for i, (name, colour) in enumerate(zip(names, colours)):
        y = 4 + i * swatch
        draw.rectangle([4, y + 2, 4 + swatch - 4, y + swatch - 2], fill=colour, outline=(0, 0, 0))
        draw.text((swatch + 8, y + 3), name, fill=(0, 0, 0))
    return img
