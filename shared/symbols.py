"""Symbol maths every system shares: how many complex channels a CBR buys, real <-> complex layout, unit
power, and the scale at which SNRs enter networks. One place, used by the proposed system and every baseline.

Layout: a real tensor (B, 2c, h, w) carries c complex channels, the first c as real parts and the last c as
imaginary parts; the channel sees them flattened in (c, h, w) order.
"""

from __future__ import annotations

from fractions import Fraction

from shared.lazy import LazyTorch

torch = LazyTorch(globals())  # presets (shared.config) need symbol_channels, not torch

SNR_SCALE_DB = 20.0  # SNRs enter networks as dB / 20


def symbol_channels(cbr: str | float | Fraction, stride: int) -> int:
    """Complex channels per position of a stride-`stride` grid at a CBR: c = CBR * 3 * stride^2."""
    c = Fraction(cbr) * 3 * stride**2
    if c.denominator != 1 or c < 1:
        raise ValueError(f"CBR {cbr} with stride {stride} gives {c} complex channels per position; choose a CBR "
                         f"k/(3*{stride}^2) with integer k >= 1 (for example 1/16, 1/32, 1/64)")
    return int(c)


def cbr_of(grid: tuple[int, int, int], image_size: tuple[int, int]) -> float:
    """Channel uses of a (c, h, w) symbol grid per image value: c*h*w / (H*W*3)."""
    c, h, w = grid
    return c * h * w / (image_size[0] * image_size[1] * 3)


class GridMeasures:
    """What a symbol grid costs, for any record with ``grid`` (c, h, w) and ``image_size`` (H, W) fields."""

    @property
    def channel_uses(self) -> int:
        """Complex channel uses per image."""
        c, h, w = self.grid
        return c * h * w

    @property
    def cbr(self) -> float:
        """Channel bandwidth ratio: channel uses / (H * W * 3)."""
        return cbr_of(self.grid, self.image_size)


def to_complex(t: torch.Tensor) -> torch.Tensor:
    """(B, 2c, h, w) real -> (B, c, h, w) complex: the first c channels are real parts, the rest imaginary."""
    c = t.shape[1] // 2
    return torch.complex(t[:, :c].float(), t[:, c:].float())


def to_real(x: torch.Tensor) -> torch.Tensor:
    """(B, c, h, w) complex -> (B, 2c, h, w) real, the inverse of ``to_complex``."""
    return torch.cat([x.real, x.imag], dim=1)


def unit_power(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale each transmission (row of a (B, ...) complex tensor) to unit average power per complex symbol:
    (x * alpha, alpha (B,))."""
    power = x.abs().pow(2).flatten(1).mean(1)  # (B,)
    alpha = power.clamp_min(1e-12).rsqrt()
    return x * alpha.view(-1, *([1] * (x.dim() - 1))), alpha


def encode_symbols(z: torch.Tensor) -> torch.Tensor:
    """A network's real output (B, 2c, h, w) -> the transmitted grid (B, c, h, w) complex at unit power."""
    return unit_power(to_complex(z))[0]


def snr_feature(snr_db: torch.Tensor) -> torch.Tensor:
    """An SNR in dB as networks take it."""
    return snr_db / SNR_SCALE_DB


def complex_normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device | str = "cpu",
                   var: torch.Tensor | float = 1.0) -> torch.Tensor:
    """CN(0, var) samples: real and imaginary parts each N(0, var/2)."""
    re = torch.randn(shape, generator=generator, device=device)
    im = torch.randn(shape, generator=generator, device=device)
    std = torch.sqrt(torch.as_tensor(var, dtype=torch.float32, device=device) / 2.0)
    return torch.complex(re * std, im * std)
