"""Quality of the proposed system over a data set, through the same chain the pipeline runs."""

from __future__ import annotations

from typing import Iterable

import torch

from receiver.model import Receiver
from semcom.pipeline import run_chain
from shared.channel import ChannelSpec
from shared.metrics import ConfusionMatrix, ms_ssim, psnr
from shared.task_kb import RECONSTRUCTION, SEGMENTATION
from transmitter.model import Transmitter


@torch.no_grad()
def reconstruction_quality(tx: Transmitter, rx: Receiver, images: Iterable[torch.Tensor], spec: ChannelSpec,
                           seed: int = 0, steps: int | None = None) -> dict[str, list[float]]:
    """Per-image PSNR and MS-SSIM; `images` yields (3, H, W) in [0, 1]."""
    device = next(tx.parameters()).device
    out: dict[str, list[float]] = {"psnr": [], "ms_ssim": []}
    for i, img in enumerate(images):
        rec, _, _ = run_chain(tx, rx, img[None].to(device), RECONSTRUCTION, spec, seed + i, steps)
        rec = rec.cpu()
        out["psnr"].append(float(psnr(img[None], rec)))
        if min(img.shape[-2:]) > 160:
            out["ms_ssim"].append(float(ms_ssim(img[None], rec)))
    return out


@torch.no_grad()
def segmentation_quality(tx: Transmitter, rx: Receiver, pairs: Iterable[tuple[torch.Tensor, torch.Tensor]],
                         spec: ChannelSpec, seed: int = 0) -> dict[str, object]:
    """mIoU (eq. 3) over all pixels of `pairs` ((3,H,W) image, (H,W) labels), plus per-class IoU."""
    device = next(tx.parameters()).device
    cm = ConfusionMatrix(rx.cfg.seg.num_classes, rx.cfg.seg.ignore_index)
    for i, (img, labels) in enumerate(pairs):
        pred, _, _ = run_chain(tx, rx, img[None].to(device), SEGMENTATION, spec, seed + i)
        cm.update(pred[0].cpu(), labels)
    return {"miou": cm.miou(), "pixel_accuracy": cm.pixel_accuracy(),
            "iou": [None if v != v else round(v, 4) for v in cm.iou().tolist()]}
