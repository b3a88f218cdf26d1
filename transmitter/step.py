"""The transmitter's step of the chain: one image and its negotiated task -> the transmission and its symbols.

The service (after decoding the image and negotiating the task) and the in-process pipeline call
this; the model is ``transmitter.model.Transmitter``.
"""

from __future__ import annotations

import torch

from shared.channel import ChannelSpec
from shared.transmission import Transmission
from transmitter.model import Transmitter


@torch.no_grad()
def encode(model: Transmitter, image: torch.Tensor, task: str, channel: ChannelSpec, seed: int, steps: int = 0,
           tid: str = "", score: float = 0.0, kb_fingerprint: str = "") -> tuple[Transmission, torch.Tensor]:
    """image (3, H, W) in [0, 1] -> (its Transmission, symbols x (n,) complex at unit power)."""
    device = next(model.parameters()).device
    packet = model(image[None].to(device), task, channel.snr_db)
    scale = float(packet.scale[0])
    allocation = () if packet.allocation is None else tuple(packet.allocation[0].flatten().tolist())
    means, chunks, codes = ((), (), ()) if packet.dct is None else packet.dct[0].fields()
    t = Transmission(id=tid, task=task, channel=channel, seed=seed, grid=packet.grid, image_size=packet.image_size,
                     steps=steps, scale=scale, allocation=allocation, dct_means=means, dct_chunks=chunks,
                     dct_codes=codes, score=score, kb_fingerprint=kb_fingerprint)
    return t, packet.symbols[0]
