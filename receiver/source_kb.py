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

from shared import tasks
from shared.config import ReceiverKBConfig
from shared.layers import ResidualBlock


class ReceiverSourceKB(nn.Module):
    def __init__(self, cfg: ReceiverKBConfig, in_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.stem = nn.Conv2d(in_channels, cfg.hidden, 3, padding=1)
        self.block1 = ResidualBlock(cfg.hidden)
        self.block2 = ResidualBlock(cfg.hidden)

    def out_channels(self, task: str) -> int:
        return tasks.get(task).receiver_blocks * self.cfg.hidden

    def forward(self, y_grid: torch.Tensor, task: str) -> torch.Tensor:
        """y_grid (B, 3c, h, w) -> task features (B, out_channels(task), h, w): r1 for a task taking one block
        (segmentation), r1 || r2 for one taking two (reconstruction), as the task table says."""
        blocks = tasks.get(task).receiver_blocks
        r = [self.block1(self.stem(y_grid))]  # (B, hidden, h, w)
        if blocks > 1:
            r.append(self.block2(r[0]))
        return torch.cat(r, dim=1) if len(r) > 1 else r[0]
