"""Quality metrics: PSNR (paper eq. 2), MS-SSIM, per-class IoU and mIoU (eq. 3)."""

from __future__ import annotations

import torch
from pytorch_msssim import ms_ssim as _ms_ssim


def psnr(original: torch.Tensor, reconstructed: torch.Tensor, max_val: float = 1.0) -> torch.Tensor:
    """10 log10(MAX^2 / MSE) per image; inputs (B, 3, H, W) or (3, H, W) in [0, max_val]."""
    if original.dim() == 3:
        original, reconstructed = original[None], reconstructed[None]
    mse = (original.float() - reconstructed.float()).pow(2).flatten(1).mean(dim=1)  # (B,)
    return 10.0 * torch.log10(max_val**2 / mse.clamp_min(1e-12))


def ms_ssim(original: torch.Tensor, reconstructed: torch.Tensor, max_val: float = 1.0) -> torch.Tensor:
    """MS-SSIM per image (pytorch-msssim, 5 scales); both sides of the image must exceed 160 px."""
    if original.dim() == 3:
        original, reconstructed = original[None], reconstructed[None]
    if min(original.shape[-2:]) <= 160:
        raise ValueError(f"MS-SSIM needs images larger than 160x160, got {tuple(original.shape[-2:])}")
    return _ms_ssim(original.float(), reconstructed.float(), data_range=max_val, size_average=False)


class ConfusionMatrix:
    """Accumulates a C x C confusion matrix (rows: ground truth, cols: prediction) over images."""

    def __init__(self, num_classes: int, ignore_index: int) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """pred, target: integer label maps of the same shape."""
        pred, target = pred.flatten().long().cpu(), target.flatten().long().cpu()
        keep = (target != self.ignore_index) & (target >= 0) & (target < self.num_classes)
        idx = target[keep] * self.num_classes + pred[keep].clamp(0, self.num_classes - 1)
        self.matrix += torch.bincount(idx, minlength=self.num_classes**2).view(self.num_classes, self.num_classes)

    def iou(self) -> torch.Tensor:
        """Per-class |A n B| / |A u B| (eq. 3); NaN for classes absent from both prediction and truth."""
        m = self.matrix.double()
        inter = m.diag()
        union = m.sum(0) + m.sum(1) - inter
        return torch.where(union > 0, inter / union.clamp_min(1), torch.full_like(inter, float("nan")))

    def miou(self) -> float:
        """Mean IoU over classes present in prediction or ground truth."""
        iou = self.iou()
        valid = ~torch.isnan(iou)
        return float(iou[valid].mean()) if valid.any() else float("nan")

    def pixel_accuracy(self) -> float:
        total = self.matrix.sum()
        return float(self.matrix.diag().sum() / total) if total > 0 else float("nan")


def miou(pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int) -> float:
    cm = ConfusionMatrix(num_classes, ignore_index)
    cm.update(pred, target)
    return cm.miou()
