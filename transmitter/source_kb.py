"""Transmitter source KB (paper Sec. III-B, Fig. 2).

Feature extraction: a hierarchical Swin Transformer (timm, ``features_only``)
with three stages gives f1 (stride 4), f2 (stride 8) and f3 (stride 16), the
latter two after timm's patch merging. Each is projected by a 1x1 conv to one
channel count and resampled to the stride-4 grid ("brought to one shape").

Feature selection (task instruction from the task KB)::

    reconstruction: f_R = f1 + f2 + f3
    segmentation:   f_S =      f2 + f3

Any image size works: timm with ``strict_img_size=False`` pads each stage to whole
windows and crops back.
"""

from __future__ import annotations

import timm
import torch
from torch import nn
from torch.nn import functional as F

from shared import tasks
from shared.config import SwinConfig


class SwinSourceKB(nn.Module):
    def __init__(self, cfg: SwinConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = timm.create_model(
            "swin_tiny_patch4_window7_224",
            pretrained=False,
            features_only=True,
            out_indices=tuple(range(len(cfg.depths))),
            embed_dim=cfg.embed_dim,
            depths=cfg.depths,
            num_heads=cfg.num_heads,
            window_size=cfg.window_size,
            patch_size=cfg.patch_size,
            strict_img_size=False,  # any input size (older timm knows only this name, not dynamic_img_size)
            drop_path_rate=0.0,
        )
        info = self.backbone.feature_info
        self.reductions: list[int] = info.reduction()
        self.project = nn.ModuleList(nn.Conv2d(c, cfg.feature_dim, 1) for c in info.channels())

    @property
    def out_channels(self) -> int:
        return self.cfg.feature_dim

    def levels(self, image: torch.Tensor) -> list[torch.Tensor]:
        """image (B, 3, H, W) in [0, 1], H and W multiples of 4 -> [f1, f2, f3], each (B, Cf, H/4, W/4)."""
        feats = self.backbone(image * 2.0 - 1.0)  # list of (B, h_i, w_i, C_i), NHWC
        grid = (image.shape[-2] // self.reductions[0], image.shape[-1] // self.reductions[0])
        out = []
        for proj, f in zip(self.project, feats):
            f = proj(f.permute(0, 3, 1, 2))  # (B, Cf, h_i, w_i)
            if f.shape[-2:] != grid:
                f = F.interpolate(f, size=grid, mode="bilinear", align_corners=False)  # (B, Cf, H/4, W/4)
            out.append(f)
        return out

    def forward(self, image: torch.Tensor, task: str) -> torch.Tensor:
        """Feature selection, the task table's ``source_levels``: f_R = f1 + f2 + f3 for reconstruction, f_S = f2 + f3
        for segmentation, (B, Cf, H/4, W/4)."""
        chosen = tasks.get(task).source_levels
        levels = self.levels(image)
        return torch.stack([levels[i] for i in chosen]).sum(0)
