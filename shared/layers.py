"""Building blocks used on both sides of the link."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection: x + conv(act(conv(x)))."""

    def __init__(self, channels: int, groups: int = 8) -> None:
        super().__init__()
        g = _groups(channels, groups)
        self.body = nn.Sequential(
            nn.GroupNorm(g, channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(g, channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)  # (B, C, H, W)

    @torch.no_grad()
    def start_as_identity(self) -> "ResidualBlock":
        """Zeroes the last convolution: the block passes its input through until training moves it (for
        blocks added to a trained network)."""
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)
        return self


def _groups(channels: int, groups: int) -> int:
    while channels % groups:
        groups //= 2
    return max(groups, 1)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (B, C, H, W) on the bottom/right to multiples of `multiple`; returns the original (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)
