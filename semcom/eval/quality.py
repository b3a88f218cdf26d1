"""Quality over a data set of any system given as a function (image, channel, seed) -> output: the proposed
system through the pipeline's chain (``semcom.pipeline.chain_runner``), any baseline alike."""

from __future__ import annotations

from typing import Callable, Iterable

import torch

from shared.channel import ChannelSpec
from shared.metrics import ConfusionMatrix, ms_ssim, psnr


Reconstructor = Callable[[torch.Tensor, ChannelSpec, int], torch.Tensor]  # (image, channel, seed) -> image


@torch.no_grad()
def reconstruction_quality(reconstruct: Reconstructor, images: Iterable[torch.Tensor], spec: ChannelSpec,
                           seed: int = 0, first: int = 0) -> dict[str, list[float]]:
    """Per-image PSNR and MS-SSIM of any system; `images` yields (3, H, W) in [0, 1], the data set's images
    first, first + 1, ..., and image i uses seed + i (so a shard of a data set draws what the whole run does)."""
    out: dict[str, list[float]] = {"psnr": [], "ms_ssim": []}
    for i, img in enumerate(images, start=first):
        rec = reconstruct(img, spec, seed + i)[None]
        out["psnr"].append(float(psnr(img[None], rec)))
        if min(img.shape[-2:]) > 160:
            out["ms_ssim"].append(float(ms_ssim(img[None], rec)))
    return out


Segmenter = Callable[[torch.Tensor, ChannelSpec, int], torch.Tensor]  # (image, channel, seed) -> (H, W) labels


@torch.no_grad()
def segmentation_quality(segment: Segmenter, pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], spec: ChannelSpec,
                         num_classes: int, ignore_index: int, seed: int = 0, first: int = 0) -> dict[str, object]:
    """mIoU (eq. 3) of any system over all pixels of `pairs` ((3,H,W) image, (H,W) labels), the data set's pairs
    first, first + 1, ...; image i uses seed + i. The confusion matrix of shards sums to the whole run's."""
    cm = ConfusionMatrix(num_classes, ignore_index)
    for i, (img, labels) in enumerate(pairs, start=first):
        cm.update(segment(img, spec, seed + i), labels)
    return {"miou": cm.miou(), "pixel_accuracy": cm.pixel_accuracy(),
            "iou": [None if v != v else round(v, 4) for v in cm.iou().tolist()],
            "confusion": cm.matrix.tolist()}
