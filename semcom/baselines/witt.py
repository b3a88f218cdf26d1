"""WITT (Yang, Xu, Gündüz, Zhang 2022): a wireless image transmission transformer.

Swin Transformer stages (timm's ``SwinTransformerStage``, shifted windows, patch merging)
encode the image to stride 16; an SNR-driven channel modulation module scales the features
before the last projection to the complex symbols, and again at the start of the decoder,
which mirrors the encoder with "patch reverse merging" (a linear layer to 4x the channels
and a 2x pixel shuffle) instead of merging::

    image -> conv 2x2/2 -> [Swin stage, merge] x 4 -> SNR modulation -> linear -> x (B, c, H/16, W/16)
    y -> linear -> SNR modulation -> [Swin stage, reverse merge] x 4 -> sigmoid -> image

c = CBR * 3 * 16^2 complex channels per token (48 at CBR 1/16, as in the proposed system).
Same interface as the other learned baselines (``encode(image, snr)``, ``decode(y, snr)``).
"""

from __future__ import annotations


import torch
from timm.models.swin_transformer import SwinTransformerStage
from torch import nn
from torch.nn import functional as F

from shared.symbols import encode_symbols, snr_feature, symbol_channels, to_real

STRIDE = 16


class SNRModulation(nn.Module):
    """WITT's channel ModNet in short: per-channel sigmoid scales from (mean feature, SNR)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim + 1, dim), nn.ReLU(), nn.Linear(dim, dim), nn.Sigmoid())

    def forward(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """x (B, H, W, C) channels-last."""
        ctx = torch.cat([x.mean(dim=(1, 2)), snr_feature(snr_db[:, None])], dim=1)  # (B, C+1)
        return x * self.mlp(ctx)[:, None, None, :]


class ReverseMerging(nn.Module):
    """x2 upsampling of a channels-last map: linear to 4*out, pixel shuffle."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, 4 * out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.norm(x)).permute(0, 3, 1, 2)  # (B, 4*out, H, W)
        return F.pixel_shuffle(x, 2).permute(0, 2, 3, 1)  # (B, 2H, 2W, out)


class WITT(nn.Module):
    name = "witt"
    stride = STRIDE

    def __init__(self, cbr: str = "1/16", width: int = 32, depths: tuple[int, ...] = (1, 1, 2, 1),
                 window: int = 8) -> None:
        super().__init__()
        self.cbr = cbr
        self.c = symbol_channels(cbr, STRIDE)
        dims = [width, int(width * 1.5), width * 2, width * 3]
        heads = [max(1, d // 16) for d in dims]
        self.embed = nn.Conv2d(3, dims[0], 2, stride=2)
        self.enc = nn.ModuleList(
            SwinTransformerStage(dims[max(0, i - 1)], dims[i], (64, 64), depth=depths[i], downsample=i > 0,
                                 num_heads=heads[i], window_size=window, dynamic_mask=True)
            for i in range(4))
        self.enc_mod = SNRModulation(dims[-1])
        self.to_symbols = nn.Linear(dims[-1], 2 * self.c)
        self.from_symbols = nn.Linear(2 * self.c, dims[-1])
        self.dec_mod = SNRModulation(dims[-1])
        self.dec = nn.ModuleList(
            SwinTransformerStage(dims[3 - i], dims[3 - i], (64, 64), depth=depths[3 - i], downsample=False,
                                 num_heads=heads[3 - i], window_size=window, dynamic_mask=True)
            for i in range(4))
        self.up = nn.ModuleList(ReverseMerging(dims[3 - i], dims[2 - i] if i < 3 else 3) for i in range(4))

    def encode(self, image: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """image (B, 3, H, W), H and W multiples of 16 -> x (B, c, H/16, W/16) complex, unit power."""
        z = self.embed(image * 2 - 1).permute(0, 2, 3, 1)  # (B, H/2, W/2, d0)
        for stage in self.enc:
            z = stage(z)  # ends at (B, H/16, W/16, d3)
        z = self.to_symbols(self.enc_mod(z, snr_db)).permute(0, 3, 1, 2)  # (B, 2c, h, w)
        return encode_symbols(z)

    def decode(self, y: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """y (B, c, h, w) complex -> image (B, 3, 16h, 16w) in [0, 1]."""
        z = to_real(y).float().permute(0, 2, 3, 1)  # (B, h, w, 2c)
        z = self.dec_mod(self.from_symbols(z), snr_db)
        for stage, up in zip(self.dec, self.up):
            z = up(stage(z))  # x2 per stage, last one to 3 channels
        return torch.sigmoid(z.permute(0, 3, 1, 2))
