"""Quality metrics: PSNR (paper eq. 2), MS-SSIM, per-class IoU and mIoU (eq. 3), and a realism measure:
the distance between radially averaged power spectra."""

from __future__ import annotations

import math

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


def radial_spectrum_db(image: torch.Tensor, bins: int = 32) -> torch.Tensor:
    """Radially averaged power spectrum of the luma of (3, H, W) in [0, 1], in dB, over `bins` log-spaced rings
    from the lowest non-zero frequency to Nyquist (the DC term left out)."""
    luma = (0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]).float()
    luma = luma - luma.mean()
    power = torch.fft.fftshift(torch.fft.fft2(luma)).abs().pow(2) / luma.numel()
    h, w = luma.shape
    fy = (torch.arange(h) - h // 2).float() / h
    fx = (torch.arange(w) - w // 2).float() / w
    radius = (fy[:, None].pow(2) + fx[None, :].pow(2)).sqrt()  # cycles per pixel, 0 .. ~0.71
    edges = torch.logspace(math.log10(1.0 / max(h, w)), math.log10(0.5), bins + 1)
    ring = torch.bucketize(radius.flatten(), edges) - 1  # -1 below the first edge (DC), bins beyond Nyquist
    keep = (ring >= 0) & (ring < bins)
    total = torch.zeros(bins).index_add_(0, ring[keep], power.flatten()[keep])
    count = torch.zeros(bins).index_add_(0, ring[keep], torch.ones(int(keep.sum())))
    return 10.0 * torch.log10(total / count.clamp_min(1) + 1e-12)


def spectral_distance_db(original: torch.Tensor, reconstructed: torch.Tensor) -> float:
    """Mean absolute difference (dB) between the radially averaged power spectra of two (3, H, W) images: 0 when
    the output has the original's texture statistics at every scale; blur shows as a deficit at high frequency."""
    return float((radial_spectrum_db(original) - radial_spectrum_db(reconstructed)).abs().mean())
