"""Wire codec: complex symbol tensors <-> chunked SymbolBlock messages, and the header fields.

Symbols travel as little-endian float32 (re, im) pairs, at most ``CHUNK_SYMBOLS`` per
message (2 MiB), so no message nears gRPC's 4 MiB default whatever the image size.
"""

from __future__ import annotations

from typing import Iterator

import grpc
import numpy as np
import torch

from shared.channel import ChannelSpec
from shared.ids import check_id
from shared.rpc import semcom_pb2 as pb
from shared.transmission import Transmission

CHUNK_SYMBOLS = 1 << 18  # 262 144 complex symbols = 2 MiB per message
# The largest |re| or |im| a symbol (or gain) on the wire may have: transmissions have unit average power, so real
# ones stay orders of magnitude below; beyond it squares overflow float32 and a decoder returns black or NaN.
MAX_ABS_VALUE = 1e6


class WireError(ValueError):
    """A malformed stream: missing header, wrong sizes, overlapping or missing symbols."""


def symbol_blocks(x: torch.Tensor, chunk: int = CHUNK_SYMBOLS) -> Iterator[pb.SymbolBlock]:
    """(n,) complex tensor -> SymbolBlock messages in order."""
    # float32 pairs as they lie in memory (no copy on a little-endian host); each block's bytes are one copy
    arr = np.ascontiguousarray(torch.view_as_real(x.detach().to(torch.complex64).cpu()).numpy(), dtype="<f4")
    for start in range(0, arr.shape[0], chunk):
        yield pb.SymbolBlock(offset=start, values=arr[start:start + chunk].tobytes())


class SymbolAssembler:
    """Collects SymbolBlocks of a known length n; checks they tile [0, n) exactly once."""

    def __init__(self, n: int, name: str = "symbols") -> None:
        if n <= 0:
            raise WireError(f"{name}: empty transmission")
        self.n = n
        self.name = name
        self.buf = np.zeros((n, 2), dtype="<f4")
        self.filled = 0
        self._mask = np.zeros(n, dtype=bool)

    def add(self, block: pb.SymbolBlock) -> None:
        if len(block.values) % 8:
            raise WireError(f"{self.name}: block of {len(block.values)} bytes is not whole float32 pairs")
        k = len(block.values) // 8
        start = block.offset
        if start + k > self.n:
            raise WireError(f"{self.name}: block [{start}, {start + k}) runs past the {self.n} symbols announced")
        if self._mask[start:start + k].any():
            raise WireError(f"{self.name}: block at {start} overlaps symbols already received")
        self.buf[start:start + k] = np.frombuffer(block.values, dtype="<f4").reshape(k, 2)
        self._mask[start:start + k] = True
        self.filled += k

    def tensor(self) -> torch.Tensor:
        if self.filled != self.n:
            raise WireError(f"{self.name}: received {self.filled} of {self.n} symbols")
        bad = int(np.count_nonzero(~np.isfinite(self.buf)))
        if bad:
            raise WireError(f"{self.name}: {bad} value(s) are NaN or infinite; symbols must be finite numbers")
        big = float(np.abs(self.buf).max())
        if big > MAX_ABS_VALUE:
            raise WireError(f"{self.name}: a value of magnitude {big:.3g} is over {MAX_ABS_VALUE:g}; a unit-power "
                            "transmission's symbols stay far below it")
        return torch.view_as_complex(torch.from_numpy(self.buf))  # (n,) complex64 over the buffer, no copy


def spec_from_proto(c: pb.ChannelSettings) -> ChannelSpec:
    """ChannelSettings -> ChannelSpec (validated by the caller): csi_mode when given, else the csi flag."""
    csi = c.csi_mode or ("perfect" if (c.csi if c.HasField("csi") else True) else "none")
    return ChannelSpec(model=c.model or "awgn", snr_db=c.snr_db, block_len=c.block_len, csi=csi,
                       params=tuple(sorted(c.params.items())))


def spec_to_proto(spec: ChannelSpec, seed: int) -> pb.ChannelSettings:
    return pb.ChannelSettings(model=spec.model, snr_db=spec.snr_db, block_len=spec.block_len, csi=spec.knows_h,
                              csi_mode=spec.csi, seed=seed, params=dict(spec.params))


def header_of(t: Transmission, timings: dict[str, float] | None = None) -> pb.TransmissionHeader:
    """A transmission as the header the channel and the receiver are sent."""
    c, h, w = t.grid
    return pb.TransmissionHeader(transmission_id=t.id, task=t.task, grid_c=c, grid_h=h, grid_w=w,
                                 image_height=t.image_size[0], image_width=t.image_size[1],
                                 channel=spec_to_proto(t.channel, t.seed), diffusion_steps=t.steps,
                                 kb_fingerprint=t.kb_fingerprint, score=t.score, timings_s=timings or {},
                                 power_scale=t.scale, linear_allocation=t.allocation, dct_means=t.dct_means,
                                 dct_chunks=t.dct_chunks, dct_variance_codes=t.dct_codes)


def transmission_of(h: pb.TransmissionHeader) -> Transmission:
    """A received header as a Transmission; ValueError (a message a person can act on) for bad channel settings."""
    return Transmission(id=check_id(h.transmission_id), task=h.task, channel=spec_from_proto(h.channel).validate(),
                        seed=h.channel.seed,
                        grid=(h.grid_c, h.grid_h, h.grid_w), image_size=(h.image_height, h.image_width),
                        steps=h.diffusion_steps, scale=h.power_scale, allocation=tuple(h.linear_allocation),
                        dct_means=tuple(h.dct_means), dct_chunks=tuple(h.dct_chunks),
                        dct_codes=tuple(h.dct_variance_codes),
                        score=h.score, kb_fingerprint=h.kb_fingerprint)


def opening(request_iterator, context, method: str):
    """The first message of a symbol stream (Transmit, Deliver), which must carry the header; INVALID_ARGUMENT
    otherwise."""
    first = next(request_iterator, None)
    if first is None or first.WhichOneof("part") != "header":
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"the first message of {method} must be the header")
    return first
