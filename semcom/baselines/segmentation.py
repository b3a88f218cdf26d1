"""Segmentation baselines of the paper's Fig. 7.

* **Deeplab-JSCC**: a JSCC encoder/decoder built from DeepLab's atrous convolutions. The
  encoder downsamples to stride 16, an ASPP module (parallel 3x3 convolutions at dilation
  1, 2, 4, 6 and an image-pooling branch) gathers context, a 1x1 conv makes the complex
  symbols; the decoder applies ASPP to the received symbols and upsamples (x4, then to full
  size) to class logits. Trained end to end through the channel with cross-entropy, the
  SNR given to both sides.
* **JPEG + 5G LDPC + QAM + FCN**: the classical chain of ``semcom.baselines.classical``
  carries the image; at the receiver an FCN (conv stages to stride 16, score maps fused
  from strides 4, 8 and 16 as in FCN-8s) segments the decoded JPEG, or the mean image when a
  block failed. The FCN trains on JPEG-compressed crops (quality drawn per sample), so it
  sees the artefacts it meets at the receiver.

Same interface as the reconstruction baselines: ``encode(image, snr)``, ``decode(y, snr)``
(here logits (B, K, H, W)); the FCN has ``logits(image)`` instead (no analog symbols).
"""

from __future__ import annotations

import io
import random

import torch
from torch import nn
from torch.nn import functional as F

from shared.symbols import encode_symbols, snr_feature, symbol_channels, to_real
from shared.imageio import open_rgb, to_pil, to_tensor


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: dilations (1, 2, 4, 6) and global pooling, concatenated, 1x1 conv."""

    def __init__(self, cin: int, cout: int, rates: tuple[int, ...] = (1, 2, 4, 6)) -> None:
        super().__init__()
        self.branches = nn.ModuleList(_conv(cin, cout, dilation=r) for r in rates)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1), nn.ReLU(inplace=True))
        self.project = nn.Sequential(nn.Conv2d(cout * (len(rates) + 1), cout, 1), nn.BatchNorm2d(cout),
                                     nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.pool(x).expand(-1, -1, *x.shape[-2:])
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))


class _SNRScale(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(1, channels), nn.Sigmoid())

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        return x * 2 * self.fc(snr_feature(snr_db[:, None]))[:, :, None, None]


class DeeplabJSCC(nn.Module):
    name = "deeplab-jscc"
    task = "segmentation"
    stride = 16

    def __init__(self, cbr: str = "1/16", width: int = 32, num_classes: int = 11) -> None:
        super().__init__()
        self.c, self.cbr, self.num_classes = symbol_channels(cbr, self.stride), cbr, num_classes
        w = width
        self.enc = nn.Sequential(_conv(3, w, 2), _conv(w, w), _conv(w, 2 * w, 2), _conv(2 * w, 2 * w),
                                 _conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w, 2))  # stride 16
        self.enc_aspp = ASPP(4 * w, 4 * w)
        self.enc_snr = _SNRScale(4 * w)
        self.to_symbols = nn.Conv2d(4 * w, 2 * self.c, 1)
        self.dec_in = nn.Sequential(nn.Conv2d(2 * self.c, 4 * w, 1), nn.ReLU(inplace=True))
        self.dec_snr = _SNRScale(4 * w)
        self.dec_aspp = ASPP(4 * w, 4 * w)
        self.dec_up = nn.Sequential(_conv(4 * w, 2 * w), nn.Upsample(scale_factor=4, mode="bilinear"),
                                    _conv(2 * w, w))
        self.classifier = nn.Conv2d(w, num_classes, 1)

    def encode(self, image: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """image (B, 3, H, W), H and W multiples of 16 -> x (B, c, H/16, W/16) complex, unit power."""
        return encode_symbols(self.to_symbols(self.enc_snr(self.enc_aspp(self.enc(image * 2 - 1)), snr_db)))

    def decode(self, y: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """y (B, c, h, w) complex -> logits (B, K, 16h, 16w)."""
        z = self.dec_in(to_real(y).float())
        z = self.dec_up(self.dec_aspp(self.dec_snr(z, snr_db)))  # (B, w, 4h, 4w)
        logits = self.classifier(z)
        return F.interpolate(logits, scale_factor=4, mode="bilinear", align_corners=False)


class FCN(nn.Module):
    """A small FCN-8s-style segmenter for the classical chain's decoded images."""

    name = "fcn"
    task = "segmentation"
    stride = 16

    def __init__(self, cbr: str = "1/16", width: int = 32, num_classes: int = 11,
                 jpeg_quality: tuple[int, int] = (5, 75)) -> None:
        super().__init__()
        self.cbr, self.num_classes, self.jpeg_quality = cbr, num_classes, jpeg_quality
        w = width
        self.s4 = nn.Sequential(_conv(3, w, 2), _conv(w, w), _conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.s8 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.s16 = nn.Sequential(_conv(4 * w, 4 * w, 2), _conv(4 * w, 4 * w, dilation=2), _conv(4 * w, 4 * w))
        self.score4, self.score8, self.score16 = (nn.Conv2d(ch, num_classes, 1) for ch in (2 * w, 4 * w, 4 * w))

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """image (B, 3, H, W), H and W multiples of 16 -> logits (B, K, H, W)."""
        f4 = self.s4(image * 2 - 1)
        f8 = self.s8(f4)
        f16 = self.s16(f8)
        s = self.score16(f16)
        s = F.interpolate(s, size=f8.shape[-2:], mode="bilinear", align_corners=False) + self.score8(f8)
        s = F.interpolate(s, size=f4.shape[-2:], mode="bilinear", align_corners=False) + self.score4(f4)
        return F.interpolate(s, size=image.shape[-2:], mode="bilinear", align_corners=False)

    def degrade(self, images: torch.Tensor, rng: random.Random) -> torch.Tensor:
        """JPEG-compress each image at a quality drawn from `jpeg_quality` (training augmentation)."""
        out = []
        for img in images:
            buf = io.BytesIO()
            to_pil(img).save(buf, format="JPEG", quality=rng.randint(*self.jpeg_quality))
            out.append(to_tensor(open_rgb(buf.getvalue())))
        return torch.stack(out).to(images.device)
