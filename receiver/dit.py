"""DiT-style conditional denoiser (Peebles & Xie 2023, the paper's ref. [17]).

::

    z_t (B,Cz,h,w) --+
                     concat -> patchify (p x p conv) -> tokens (B,T,D) + 2-D sin-cos position
    cond (B,Cc,h,w) -+                                   |
                                  [DiT block: adaLN-Zero(t, SNR) -> MHSA -> MLP] x depth
                                                         |
                                  final adaLN + linear -> unpatchify -> z0_hat (B,Cz,h,w)

`cond` is the received signal y and the receiver source KB's features on the
symbol grid; the time step and the SNR condition every block through adaLN.
The grid is padded to a multiple of the patch size and cropped back.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from shared.config import DiTConfig


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)  # (B, T, D)


def sincos_1d(positions: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """positions (N,) -> (N, dim) sinusoidal embedding."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    args = positions.float()[:, None] * freqs[None]  # (N, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return F.pad(emb, (0, dim - emb.shape[-1]))


def sincos_2d(grid_h: int, grid_w: int, dim: int, device) -> torch.Tensor:
    """(grid_h*grid_w, dim) fixed 2-D position embedding, half the channels per axis."""
    ys, xs = torch.meshgrid(torch.arange(grid_h, device=device), torch.arange(grid_w, device=device), indexing="ij")
    return torch.cat([sincos_1d(ys.flatten(), dim // 2), sincos_1d(xs.flatten(), dim - dim // 2)], dim=-1)


class ScalarEmbedder(nn.Module):
    """Embeds a scalar per sample (diffusion step, SNR) with a sinusoid + MLP."""

    def __init__(self, hidden: int, freq_dim: int = 256) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.mlp(sincos_1d(s, self.freq_dim))  # (B, D)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)  # (3, B, H, T, d/H)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # (B, H, T, d/H)
        return self.proj(out.transpose(1, 2).reshape(b, t, d))  # (B, T, D)


class DiTBlock(nn.Module):
    """Transformer block with adaLN-Zero conditioning."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=1)  # each (B, D)
        x = x + gate1.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift1, scale1))  # (B, T, D)
        return x + gate2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    def __init__(self, dim: int, patch: int, out_channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(dim, patch * patch * out_channels)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm(x), shift, scale))  # (B, T, p*p*C)


class DiT(nn.Module):
    """Predicts the clean state z0 from z_t, the step t, the SNR and the conditioning grid."""

    def __init__(self, cfg: DiTConfig, state_channels: int, cond_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.state_channels = state_channels
        d, p = cfg.hidden, cfg.patch
        self.patch_embed = nn.Conv2d(state_channels + cond_channels, d, kernel_size=p, stride=p)
        self.t_embed = ScalarEmbedder(d)
        self.snr_embed = ScalarEmbedder(d)
        self.blocks = nn.ModuleList(DiTBlock(d, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth))
        self.final = FinalLayer(d, p, state_channels)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """DiT's initialisation: xavier linears, zeroed adaLN modulation and output (adaLN-Zero)."""

        def _basic(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

        self.apply(_basic)
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patch_embed.bias)
        for emb in (self.t_embed, self.snr_embed):
            nn.init.normal_(emb.mlp[0].weight, std=0.02)
            nn.init.normal_(emb.mlp[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
        nn.init.zeros_(self.final.ada[-1].weight)
        nn.init.zeros_(self.final.ada[-1].bias)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """z_t (B,Cz,h,w), t (B,), cond (B,Cc,h,w), snr_db (B,) -> z0_hat (B,Cz,h,w)."""
        p = self.cfg.patch
        h, w = z_t.shape[-2:]
        x = torch.cat([z_t, cond], dim=1)  # (B, Cz+Cc, h, w)
        x = F.pad(x, (0, (-w) % p, 0, (-h) % p))  # (B, Cz+Cc, hp, wp)
        gh, gw = x.shape[-2] // p, x.shape[-1] // p
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, T, D), T = gh*gw
        x = x + sincos_2d(gh, gw, x.shape[-1], x.device)[None]  # (B, T, D)
        c = self.t_embed(t) + self.snr_embed(snr_db)  # (B, D)
        for block in self.blocks:
            x = block(x, c)  # (B, T, D)
        x = self.final(x, c)  # (B, T, p*p*Cz)
        x = x.view(x.shape[0], gh, gw, p, p, self.state_channels)
        x = torch.einsum("bhwpqc->bchpwq", x).reshape(x.shape[0], self.state_channels, gh * p, gw * p)
        return x[..., :h, :w]  # (B, Cz, h, w)
