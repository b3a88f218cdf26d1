"""What crosses the link: complex symbols plus the little metadata the receiver needs to lay them out."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shared.symbols import GridMeasures


@dataclass
class SymbolPacket(GridMeasures):
    """One batch of transmissions as the transmitter hands them to the channel.

    symbols: (B, n) complex64, unit average power per complex symbol, n = c*h*w in (c, h, w) order.
    grid: (c, h, w) - complex channels and spatial size of the symbol grid.
    image_size: (H, W) of the original image (the receiver crops its output to it).
    scale: (B,) the factor that brought each transmission to unit power; side information the
        receiver's linear estimate needs (sent digitally in the header, as the image size is).
    allocation: (B, 2, k) the linear code's per-image allocation (ratio, variance per component) for a
        task whose transmitter fits it to the image (``EncoderConfig.per_image_gains``), else None;
        side information in the header like the scale.
    dct: for a task sent with the DCT code (``EncoderConfig.dct_tasks``) each image's
        ``shared.dct_code.DCTHeader`` (its side information, in the header), else None.
    """

    symbols: torch.Tensor
    grid: tuple[int, int, int]
    image_size: tuple[int, int]
    task: str
    scale: torch.Tensor
    allocation: torch.Tensor | None = None
    dct: list | None = None
