"""The transmitter's model: source KB + JSCC encoder, image in, complex symbols out.

A task of ``EncoderConfig.dct_tasks`` is sent with SoftCast's whole-frame DCT code instead, on the same symbol grid
(``shared.dct_code.ChunkDCT.encode_grid``): the networks do not act on it."""

from __future__ import annotations

import torch
from torch import nn

from shared.analog import PatchPCA
from shared.config import ModelConfig
from shared.dct_code import ChunkDCT
from shared.layers import pad_to_multiple
from shared.packet import SymbolPacket
from transmitter.jscc_encoder import JSCCEncoder
from transmitter.source_kb import SwinSourceKB


class Transmitter(nn.Module):
    def __init__(self, cfg: ModelConfig, pca: PatchPCA | None = None) -> None:
        """`pca` starts the encoder's linear path from a fit (untrained models); a checkpoint replaces it."""
        super().__init__()
        self.cfg = cfg
        self.source_kb = SwinSourceKB(cfg.swin)
        self.encoder = JSCCEncoder(cfg.encoder, self.source_kb.out_channels, pca)
        self.dct = ChunkDCT.of(cfg.encoder)

    def encode(self, image: torch.Tensor, task: str, snr_db: torch.Tensor | float
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """image (B,3,H,W) in [0,1], sent at `snr_db` ((B,) or one value) -> symbol grid (B, c, h, w)
        complex, h = ceil(H/s), w = ceil(W/s), the power scale alpha (B,) that made each transmission
        unit power, and the linear code's per-image allocation (B, 2, 2c) or None (``JSCCEncoder``)."""
        padded, _ = pad_to_multiple(image, self.cfg.encoder.stride)  # (B, 3, Hp, Wp)
        feature = self.source_kb(padded, task)  # (B, Cf, Hp/4, Wp/4)
        snr = torch.as_tensor(snr_db, dtype=torch.float32, device=image.device).reshape(-1)  # (B,) or (1,)
        return self.encoder(padded, feature, task, snr)

    def forward(self, image: torch.Tensor, task: str, snr_db: torch.Tensor | float) -> SymbolPacket:
        if task in self.cfg.encoder.dct_tasks:
            padded, _ = pad_to_multiple(image, self.cfg.encoder.stride)  # (B, 3, Hp, Wp)
            s, c = self.cfg.encoder.stride, self.cfg.encoder.symbol_channels
            grid = (c, padded.shape[-2] // s, padded.shape[-1] // s)
            x, scale, headers = self.dct.encode_grid(padded, grid[0] * grid[1] * grid[2], snr_db)  # (B, n), (B,), B
            return SymbolPacket(symbols=x, grid=grid, image_size=tuple(image.shape[-2:]), task=task, scale=scale,
                                dct=headers)
        grid, scale, allocation = self.encode(image, task, snr_db)  # (B, c, h, w), (B,), (B, 2, 2c) or None
        b, c, h, w = grid.shape
        return SymbolPacket(symbols=grid.reshape(b, c * h * w), grid=(c, h, w),
                            image_size=tuple(image.shape[-2:]), task=task, scale=scale, allocation=allocation)
