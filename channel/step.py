"""The channel's step of the chain: one transmission's symbols through y = h*x + n.

The service (and the in-process pipeline) calls this; the maths lives in
``shared.channel`` so training uses exactly the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shared.channel import Channel, ChannelSpec
from shared.seeding import derive_seed


@dataclass
class ChannelResult:
    y: torch.Tensor  # (B, n) complex received symbols
    h: torch.Tensor | None  # (B, n) complex: what the receiver knows of the gains (exact or estimated), or None
    noise_var: torch.Tensor  # (B,)
    realised_snr_db: torch.Tensor  # (B,)
    spec: ChannelSpec
    err_var: torch.Tensor | None = None  # (B, n) the estimate's error variance when h is estimated
    pilot_uses: int = 0  # channel uses the pilots took beside the data symbols


def transmit(symbols: torch.Tensor, spec: ChannelSpec, seed: int) -> ChannelResult:
    """symbols (B, n) complex -> ChannelResult; the realisation depends only on the request's `seed`."""
    spec.validate()
    generator = torch.Generator(device=symbols.device).manual_seed(derive_seed(seed, "channel"))
    out = Channel.of(spec)(symbols, spec.snr_db, generator)
    return ChannelResult(y=out.y, h=out.known, noise_var=out.noise_var, realised_snr_db=out.realised_snr_db,
                         spec=spec, err_var=out.err_var, pilot_uses=out.pilot_uses)
