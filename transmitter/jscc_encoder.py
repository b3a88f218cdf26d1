"""JSCC encoder (paper Sec. IV-A): one encoder for both tasks.

::

    image I (B,3,H,W) --space-to-depth x4--> (B,48,H/4,W/4) --+
                                                              concat -> conv3x3 -> residual block
    feature f (B,Cf,H/4,W/4) ---------------------------------+        -> [strided conv3x3] x n_down
                                                                       -> (B, 2c, H/s, W/s) -> complex x (B, c*H/s*W/s)
                                                                       -> unit average power per complex symbol

The symbol channels c follow from the CBR: c = CBR * 3 * s^2 for total stride s.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from shared.channel import normalize_power
from shared.config import EncoderConfig
from shared.layers import ResidualBlock


class JSCCEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, feature_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.symbol_channels = cfg.symbol_channels
        self.stem = nn.Conv2d(3 * 16 + feature_channels, cfg.hidden, 3, padding=1)
        self.res = ResidualBlock(cfg.hidden)
        down: list[nn.Module] = []
        for i in range(cfg.n_down):
            last = i == cfg.n_down - 1
            out = 2 * self.symbol_channels if last else cfg.hidden
            down.append(nn.Conv2d(cfg.hidden, out, 3, stride=2, padding=1))
            if not last:
                down += [nn.GELU(), ResidualBlock(cfg.hidden)]
        self.down = nn.Sequential(*down)

    def forward(self, image: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
        """image (B,3,H,W), feature (B,Cf,H/4,W/4); H, W multiples of the stride -> x (B, c, H/s, W/s) complex."""
        z = torch.cat([F.pixel_unshuffle(image * 2.0 - 1.0, 4), feature], dim=1)  # (B, 48+Cf, H/4, W/4)
        z = self.res(self.stem(z))  # (B, hidden, H/4, W/4)
        z = self.down(z)  # (B, 2c, H/s, W/s)
        b, _, h, w = z.shape
        c = self.symbol_channels
        x = torch.complex(z[:, :c], z[:, c:]).reshape(b, c * h * w)  # (B, n)
        return normalize_power(x).reshape(b, c, h, w)  # (B, c, h, w) complex
