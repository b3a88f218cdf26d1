"""What the receiver's networks take from the channel: the received symbol grid and the LMMSE estimate of the
linear analog code (``shared.analog``), or of the DCT code's image (``shared.dct_code``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shared.symbols import snr_feature



def received_grid(symbols: torch.Tensor, snr_map_db: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
    """Receiver's view on the symbol grid: (B, n) complex + (B, n) SNR dB -> (B, 3c, h, w) real."""
    c, h, w = grid
    b = symbols.shape[0]
    s = symbols.reshape(b, c, h, w)
    snr = snr_feature(snr_map_db.reshape(b, c, h, w))
    return torch.cat([s.real, s.imag, snr], dim=1).float()


@dataclass
class Received:
    grid: torch.Tensor  # (B, 3c, h, w): [Re y, Im y, SNR dB / 20] as the receiver sees them
    linear: torch.Tensor  # (B, 2c, h, w): LMMSE estimate of the code's values t
    # (B, 3, Hp, Wp): for a task sent with the DCT code (``EncoderConfig.dct_tasks``) its LMMSE image; `linear` is
    # then that image in the patch code's terms (``AnalogDecoder.analyse``), `grid` [linear, SNR dB / 20]
    base: torch.Tensor | None = None

    @property
    def snr(self) -> torch.Tensor:
        """(B, 1, h, w): the SNR feature (dB / 20) at each grid position, averaged over its symbol channels (the
        grid's last c channels in either layout)."""
        c = self.linear.shape[1] // 2
        return self.grid[:, -c:].mean(dim=1, keepdim=True)
