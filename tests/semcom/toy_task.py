"""A toy third task, as a user would add one: "preview", a coarse image straight from the received grid.

Its decoder is this module alone: a 1x1 convolution of the receiver's view and the source KB's first block to
stride x stride pixels per symbol position, pixel-shuffled to the image. tests/semcom/test_task_table.py
registers it in the task table and runs it through the in-process chain, `semcom eval` and `semcom train`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from shared.tasks import IMAGE, Task

TASK = Task("preview", phrasings=("a quick low resolution preview of the picture", "show me a rough thumbnail first",
                                  "just a coarse preview please"),
            output=IMAGE, source_levels=(2,), receiver_blocks=1, decoder="tests.semcom.toy_task:build",
            description="a coarse image, one 1x1 convolution from the received grid")


class PreviewDecoder(nn.Module):
    def __init__(self, in_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.to_pixels = nn.Conv2d(in_channels, 3 * stride * stride, 1)

    def forward(self, grid: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(F.pixel_shuffle(self.to_pixels(torch.cat([grid, feats], dim=1)), self.stride))

    def decode(self, received, feats, snr_db, steps=None, generator=None, on_step=None, analog=None) -> torch.Tensor:
        return self(received.grid, feats)  # (B, 3, h*stride, w*stride) in [0, 1]

    def train_loss(self, batch, received, feats, x, scale, generator=None, analog=None) -> dict[str, torch.Tensor]:
        image = self(received.grid, feats)
        return {"loss": F.mse_loss(image, batch.images), "image": image}


def build(cfg, y_channels: int, feature_channels: int) -> PreviewDecoder:
    return PreviewDecoder(y_channels + feature_channels, cfg.encoder.stride)
