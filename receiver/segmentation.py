"""JSCC decoder for image segmentation (paper Sec. IV-B).

::

    concat(y_grid, f~_S) (B,*,h,w) -> conv3x3 -> residual block -> residual block -> [pyramid pooling]
        -> dropout -> [conv3x3, x2 upsample] x 2 -> 1x1 conv -> class logits (B,K,4h,4w) -> bilinear to (B,K,H,W)

``SegConfig.context_bins`` adds PSPNet's pyramid pooling module (Zhao et al. 2017) on the symbol grid: the
features average-pooled to 1x1, 2x2, 3x3, 6x6 bins, each projected, upsampled and concatenated back, so every
position sees the whole frame (the convolutions alone see about 17 positions of the stride-16 grid, a third
of a CamVid frame). Residual, with its last convolution zero: it starts as the identity.

The receiver also has the linear code's image estimate (LMMSE, ``shared.analog``); pixel-unshuffled to the
stride of the last upsampling it is fused there (concat, 3x3 conv), so the classifier sees the image's own
edges, not only the symbol grid; ``SegConfig.image_blocks`` residual blocks then work at that resolution (thin
poles, signs and people span a position or two of the stride-16 grid, and CamVid's whole-frame mIoU was limited
by them).
They start as the identity (last convolution zero), so they can be added to a trained decoder.
``SegConfig.image_encoder`` (a width W) reads that image more deeply, as U-Net's encoder does (Ronneberger et al.
2015): three residual stages at the upsampling path's resolutions (stride/4, stride/2 and the grid's own,
W, 2W and 4W channels) whose outputs join the decoder there (the grid's features, each upsampling's output), so
texture that tells fence from tree reaches the classifier through more than one convolution. Each joins
through a 1x1 convolution that starts at zero: the decoder starts as without it, and it costs no channel use.
``SegConfig.backbone`` (``shared.backbone``) reads the image estimate with a network pretrained on ImageNet
instead: its features at strides 4, 8, 16 and 32 join the same three places (stride 32 upsampled onto the
grid's 16), each through a 1x1 convolution that starts at zero; ``SegConfig.backbone_scale`` resizes the image it
reads first (its features are then resized to those places), so thin objects span more of its positions. At low
SNR, or in a deep fade, that image is noisy and its features mislead; ``SegConfig.backbone_gate`` scales each of
the three additions at each position by 2 sigmoid(f(SNR there)), f a small per-position network starting at zero
(a gate of 1: the decoder as without it), so the decoder can lean on the symbol grid where the image is poor
(FiLM-style conditioning, Perez et al. 2018).

Loss: pixel-wise cross-entropy (eq. 6) with an ignore index for void pixels, optionally weighted per
class (``class_balance_weights``: ENet's 1 / ln(1.02 + p_k), Paszke et al. 2016), as street scenes
are mostly road, sky and buildings and an unweighted loss learns to ignore poles and signs.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from receiver.received import Received
from shared.analog import AnalogDecoder
from shared.backbone import BACKBONES, build_backbone
from shared.config import ModelConfig, SegConfig
from shared.layers import ResidualBlock
from shared.symbols import snr_feature
from shared.tasks import TaskBatch


class PyramidPooling(nn.Module):
    """x + conv3x3(concat(x, up(conv1x1(avgpool_b(x))) for each bin count b)); starts as the identity."""

    def __init__(self, channels: int, bins: tuple[int, ...]) -> None:
        super().__init__()
        branch = max(channels // 4, 1)
        self.branches = nn.ModuleList(nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(channels, branch, 1),
                                                    nn.GELU()) for b in bins)
        self.out = nn.Conv2d(channels + branch * len(bins), channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = [F.interpolate(b(x), size=size, mode="bilinear", align_corners=False) for b in self.branches]
        return x + self.out(torch.cat([x, *pooled], dim=1))


class ImagePyramid(nn.Module):
    """The pixel-unshuffled image estimate (B, C, 4h, 4w) -> additions at stride/4, stride/2 and the grid's
    stride ((B, hid/2, 4h, 4w), (B, hid, 2h, 2w), (B, hid, h, w)), each zero until training moves it."""

    def __init__(self, in_channels: int, width: int, hid: int) -> None:
        super().__init__()
        widths = (width, 2 * width, 4 * width)
        self.stages = nn.ModuleList([nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1),
                                                   ResidualBlock(widths[0]))])
        self.stages.extend(nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), ResidualBlock(b))
                           for a, b in zip(widths, widths[1:]))
        self.out = nn.ModuleList(nn.Conv2d(w, c, 1) for w, c in zip(widths, (hid // 2, hid, hid)))
        for conv in self.out:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        outs, z = [], image
        for stage, out in zip(self.stages, self.out):
            z = stage(z)
            outs.append(out(z))
        return outs  # finest first


class SegmentationDecoder(nn.Module):
    def __init__(self, cfg: SegConfig, in_channels: int, stride: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.stride = stride
        hid = cfg.hidden
        self.stem = nn.Conv2d(in_channels, hid, 3, padding=1)
        self.res = nn.Sequential(ResidualBlock(hid), ResidualBlock(hid))
        self.context = None
        if cfg.context_bins:
            with torch.random.fork_rng(devices=[]):  # its own seed: later layers start as without it
                torch.manual_seed(2)
                self.context = PyramidPooling(hid, tuple(cfg.context_bins))
        self.dropout = nn.Dropout2d(cfg.dropout)
        self.up = nn.Sequential(
            nn.Conv2d(hid, hid, 3, padding=1), nn.GELU(), nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.Conv2d(hid, hid // 2, 3, padding=1), nn.GELU(), nn.Upsample(scale_factor=2, mode="bilinear"),
        )
        self.classifier = nn.Conv2d(hid // 2, cfg.num_classes, 1)
        self.skip_factor = stride // 4  # the image's pixels per position after the two x2 upsamplings
        self.fuse = nn.Sequential(nn.Conv2d(hid // 2 + 3 * self.skip_factor**2, hid // 2, 3, padding=1), nn.GELU())
        self.image_blocks = None
        if cfg.image_blocks:
            # from their own seed, so adding them does not shift the random start of later layers
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(1)
                self.image_blocks = nn.Sequential(*(ResidualBlock(hid // 2).start_as_identity()
                                                    for _ in range(cfg.image_blocks)))
        self.image_encoder = None
        if cfg.image_encoder:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(3)
                self.image_encoder = ImagePyramid(3 * self.skip_factor**2, cfg.image_encoder, hid)
        self.backbone = None
        if cfg.backbone:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(4)
                self.backbone = build_backbone(cfg.backbone)
                c4, c8, c16, c32 = self.backbone.feature_info.channels()
                self.backbone_out = nn.ModuleList(nn.Conv2d(c, o, 1) for c, o in
                                                  ((c4, hid // 2), (c8, hid), (c16 + c32, hid)))
                for conv in self.backbone_out:
                    nn.init.zeros_(conv.weight)
                    nn.init.zeros_(conv.bias)
        self.backbone_gate = None
        if cfg.backbone_gate:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(5)
                self.backbone_gate = nn.Sequential(nn.Conv2d(1, 16, 1), nn.GELU(), nn.Conv2d(16, 3, 1))
                nn.init.zeros_(self.backbone_gate[2].weight)
                nn.init.zeros_(self.backbone_gate[2].bias)

    def _backbone_skips(self, image: torch.Tensor, grid: tuple[int, int],
                        snr: torch.Tensor | None) -> list[torch.Tensor]:
        """The pretrained backbone's features of the image estimate -> additions at stride/4, stride/2 and the
        grid's stride, as ``ImagePyramid``'s (each scaled by the SNR gate where there is one)."""
        spec = BACKBONES[self.cfg.backbone]
        if self.cfg.backbone_scale != 1.0:
            image = F.interpolate(image, scale_factor=self.cfg.backbone_scale, mode="bilinear", align_corners=False)
        f4, f8, f16, f32 = self.backbone((image.clamp(0, 1) - spec.mean) / spec.std)
        h, w = grid
        sizes = ((4 * h, 4 * w), (2 * h, 2 * w), (h, w))

        def at(f: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
            return f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="bilinear", align_corners=False)

        feats = (at(f4, sizes[0]), at(f8, sizes[1]), torch.cat([at(f16, sizes[2]), at(f32, sizes[2])], dim=1))
        skips = [out(f) for out, f in zip(self.backbone_out, feats)]
        if self.backbone_gate is None:
            return skips
        if snr is None:
            raise ValueError("this segmentation decoder gates its backbone by the SNR: pass the SNR map")
        gate = self._gate(snr)  # (B, 3, h, w)
        return [s * at(gate[:, i:i + 1], s.shape[-2:]) for i, s in enumerate(skips)]

    def _gate(self, snr: torch.Tensor) -> torch.Tensor:
        """The SNR feature (B, 1, h, w) -> the factors on the backbone's three additions (B, 3, h, w), 1 at the
        start."""
        return 2 * torch.sigmoid(self.backbone_gate(snr))

    @torch.no_grad()
    def backbone_gate_at(self, snr_db: torch.Tensor) -> torch.Tensor:
        """The gate on the backbone's three additions (stride/4, stride/2, the grid's) at these SNRs (N,) dB ->
        (N, 3), for a decoder that has one."""
        if self.backbone_gate is None:
            raise ValueError("this segmentation decoder has no backbone gate")
        return self._gate(snr_feature(snr_db.float()).view(-1, 1, 1, 1)).flatten(1)

    def forward(self, x: torch.Tensor, image: torch.Tensor, snr: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C, h, w) on the symbol grid, the linear image estimate (B, 3, h*stride, w*stride), the SNR
        feature on the grid (B, 1, h, w; needed with a backbone gate) -> logits (B, K, h*stride, w*stride)."""
        size = (x.shape[-2] * self.stride, x.shape[-1] * self.stride)
        pixels = F.pixel_unshuffle(image - 0.5, self.skip_factor)  # (B, 3 * (stride/4)^2, 4h, 4w)
        skips = self.image_encoder(pixels) if self.image_encoder is not None else [0, 0, 0]
        if self.backbone is not None:
            skips = [a + b for a, b in zip(skips, self._backbone_skips(image, tuple(x.shape[-2:]), snr))]
        z = self.res(self.stem(x)) + skips[2]  # (B, hid, h, w)
        if self.context is not None:
            z = self.context(z)
        z = self.up[:3](self.dropout(z)) + skips[1]  # (B, hid, 2h, 2w)
        z = self.up[3:](z) + skips[0]  # (B, hid/2, 4h, 4w)
        z = self.fuse(torch.cat([z, pixels], dim=1))
        if self.image_blocks is not None:
            z = self.image_blocks(z)
        logits = self.classifier(z)  # (B, K, 4h, 4w)
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)  # (B, K, H, W)

    def logits(self, received: Received, feats: torch.Tensor, analog: AnalogDecoder) -> torch.Tensor:
        """The receiver's view (its grid and the linear code's estimate, which `analog` turns into an image) and
        the source KB's features -> logits (B, K, H, W)."""
        return self(torch.cat([received.grid, feats], dim=1), analog.synthesise(received.linear), received.snr)

    def decode(self, received: Received, feats: torch.Tensor, snr_db: torch.Tensor, steps: int | None,
               generator: torch.Generator | None, on_step, analog: AnalogDecoder) -> torch.Tensor:
        """The task table's decoder call -> label map (B, H, W) long (no steps: one pass)."""
        return self.logits(received, feats, analog).argmax(dim=1)

    def loss(self, logits: torch.Tensor, target: torch.Tensor,
             class_weight: torch.Tensor | None = None) -> torch.Tensor:
        """Cross-entropy (eq. 6), void pixels ignored; target (B, H, W) long; class_weight (K,) or None
        (the mean is then over the weights of the labelled pixels)."""
        return F.cross_entropy(logits, target, weight=class_weight, ignore_index=self.cfg.ignore_index)

    def train_loss(self, batch: TaskBatch, received: Received, feats: torch.Tensor, x: torch.Tensor,
                   scale: torch.Tensor, generator: torch.Generator | None,
                   analog: AnalogDecoder) -> dict[str, torch.Tensor]:
        """The task table's training contract (``shared.tasks``): `loss` on the batch's label maps."""
        logits = self.logits(received, feats, analog)
        return {"loss": self.loss(logits, batch.labels, batch.class_weight), "logits": logits}


def class_balance_weights(pixel_counts: torch.Tensor, c: float = 1.02) -> torch.Tensor:
    """ENet's class weights from each class's labelled pixels (K,): 1 / ln(c + p_k), p_k its share.
    Bounded by 1 / ln(c) (about 50) for a class that never occurs; about 3 for one that fills a third."""
    if pixel_counts.ndim != 1 or pixel_counts.sum() <= 0:
        raise ValueError("class_balance_weights needs one pixel count per class, not all zero")
    p = pixel_counts.double() / pixel_counts.double().sum()
    return (1.0 / torch.log(c + p)).float()


def build(cfg: ModelConfig, y_channels: int, feature_channels: int) -> SegmentationDecoder:
    """The segmentation task's decoder (``shared.tasks``)."""
    return SegmentationDecoder(cfg.seg, y_channels + feature_channels, cfg.encoder.stride)
