"""Receiver source KB (paper Sec. III-C, Fig. 3).

Feature generation: a 3x3 conv lifts the received signal to `hidden` channels,
then two residual blocks (two 3x3 convs each) give r1 and r2.
Feature selection: reconstruction combines all features, concat(r1, r2);
segmentation uses the first block's output r1 only.

Input: the receiver's view of y laid out on the symbol grid, (B, 3c, h, w) =
[Re(y) (c), Im(y) (c), per-symbol SNR dB / 20 (c)] (see ``receiver.received.received_grid``).
"""

from __future__ import annotations

import torch
from torch import nn

from shared.config import ReceiverKBConfig
from shared.layers import ResidualBlock
from shared.task_kb import RECONSTRUCTION, SEGMENTATION


class ReceiverSourceKB(nn.Module):
    def __init__(self, cfg: ReceiverKBConfig, in_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Conv2d(in_channels, cfg.hidden, 3, padding=1)
        self.block1 = ResidualBlock(cfg.hidden)
        self.block2 = ResidualBlock(cfg.hidden)

    def out_channels(self, task: str) -> int:
        return {RECONSTRUCTION: 2 * self.cfg.hidden, SEGMENTATION: self.cfg.hidden}[task]

    def forward(self, y_grid: torch.Tensor, task: str) -> torch.Tensor:
        """y_grid (B, 3c, h, w) -> task features (B, out_channels(task), h, w)."""
        r1 = self.block1(self.stem(y_grid))  # (B, hidden, h, w)
        if task == SEGMENTATION:
            return r1
        if task != RECONSTRUCTION:
            raise ValueError(f"unknown task {task!r}")
        r2 = self.block2(r1)  # (B, hidden, h, w)
        return torch.cat([r1, r2], dim=1)  # (B, 2*hidden, h, w)
