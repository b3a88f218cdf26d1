"""Class lists of the segmentation data sets, in each data set's own index order, and their colours."""

import numpy as np

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # 255 = void

CAMVID_CLASSES: tuple[str, ...] = (
    "sky", "building", "pole", "road", "pavement", "tree", "signsymbol", "fence", "car", "pedestrian", "bicyclist",
)  # 11 = void


def class_colours(num_classes: int) -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour map (bit-interleaved), one distinct RGB colour per class index."""
    colours = []
    for i in range(num_classes):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colours.append((r, g, b))
    return colours


def colourise(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(H, W) class indices -> (H, W, 3) uint8 in the class colours; void and out-of-range take the colour
    after the last class."""
    palette = np.array(class_colours(max(num_classes, 1) + 1), dtype=np.uint8)
    return palette[np.clip(labels, 0, num_classes)]
