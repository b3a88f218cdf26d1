"""Separate source and channel coding: JPEG + 5G LDPC + M-QAM, over the project's own channel.

::

    image --JPEG (largest quality whose file fits the bit budget)--> bits --5G LDPC (rate R, n coded bits
    per block)--> QAM mapper (Sionna) --> y = h x + n (shared.channel) --> [MMSE-equalise with CSI]
    --> APP demapper (LLRs) --> LDPC BP decoding (20 iterations) --> bits --> JPEG decoder

Budget: the same complex channel uses as the proposed system, H*W*3*CBR; each carries
log2(M) coded bits, i.e. H*W*3*CBR*log2(M)*R information bits. If any codeword fails to
decode (checked against the sent bits, standing in for the transport-block CRC) or the
JPEG does not decode, the image is lost and the receiver shows the data set's mean image
(the cliff effect, counted as the field does).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from PIL import Image

from shared.channel import Channel, ChannelSpec, receive
from shared.imageio import open_rgb, to_pil, to_tensor
from shared.seeding import derive_seed

CODEWORD_BITS = 6144  # per LDPC block, as in the ANCHORS measurements


@dataclass
class ClassicalResult:
    image: torch.Tensor  # (3, H, W) received image (the mean image when lost)
    lost: bool
    jpeg_quality: int | None
    payload_bits: int  # JPEG file size in bits (0 if nothing fitted)
    budget_bits: int  # information bits the channel uses allow
    channel_uses: int


def jpeg_at_budget(img: Image.Image, budget_bits: int) -> tuple[bytes, int] | None:
    """The largest-quality JPEG (1..95) that fits `budget_bits`; None if even quality 1 is too big."""
    def encode(q: int) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=q, optimize=True)
        return buf.getvalue()

    lo, hi, best = 1, 95, None
    while lo <= hi:
        mid = (lo + hi) // 2
        data = encode(mid)
        if len(data) * 8 <= budget_bits:
            best, lo = (data, mid), mid + 1
        else:
            hi = mid - 1
    return best


class JPEGLDPCQAM:
    """One configuration of the classical chain, e.g. 16-QAM with rate-1/2 LDPC."""

    def __init__(self, bits_per_symbol: int = 4, rate: str = "1/2", num_iter: int = 20,
                 codeword_bits: int = CODEWORD_BITS) -> None:
        from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
        from sionna.phy.mapping import Constellation, Demapper, Mapper

        self.m = bits_per_symbol
        self.rate = Fraction(rate)
        self.n = codeword_bits - codeword_bits % bits_per_symbol
        self.k = int(self.n * self.rate)
        self.encoder = LDPC5GEncoder(self.k, self.n, num_bits_per_symbol=bits_per_symbol)
        self.decoder = LDPC5GDecoder(self.encoder, hard_out=True, num_iter=num_iter)
        const = Constellation("qam", bits_per_symbol)
        self.mapper = Mapper(constellation=const)
        self.demapper = Demapper("app", constellation=const)

    @property
    def name(self) -> str:
        return f"JPEG+LDPC{self.rate.numerator}/{self.rate.denominator}+{2 ** self.m}QAM"

    def blocks_for(self, channel_uses: int) -> int:
        return (channel_uses * self.m) // self.n

    def budget_bits(self, channel_uses: int) -> int:
        return self.blocks_for(channel_uses) * self.k

    @torch.no_grad()
    def transmit(self, image: torch.Tensor, cbr: float, spec: ChannelSpec, seed: int,
                 mean_image: torch.Tensor | None = None) -> ClassicalResult:
        """image (3, H, W) in [0, 1] through the chain at the channel uses H*W*3*cbr."""
        h, w = image.shape[-2:]
        uses = math.floor(h * w * 3 * cbr)
        budget = self.budget_bits(uses)
        fallback = mean_image if mean_image is not None else torch.full_like(image, 0.5)
        fitted = jpeg_at_budget(to_pil(image), budget) if budget > 0 else None
        if fitted is None:
            return ClassicalResult(fallback, True, None, 0, budget, uses)
        data, quality = fitted
        payload = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        blocks = math.ceil(payload.size / self.k)
        bits = np.zeros(blocks * self.k, dtype=np.float32)
        bits[: payload.size] = payload
        rng = np.random.default_rng(derive_seed(seed, "padding"))
        bits[payload.size:] = rng.integers(0, 2, bits.size - payload.size)  # filler, as real systems scramble
        u = torch.from_numpy(bits).view(blocks, self.k)
        c = self.encoder(u)  # (blocks, n)
        x = self.mapper(c).reshape(1, -1)  # (1, blocks*n/m) complex, unit average power
        gen = torch.Generator().manual_seed(derive_seed(seed, "channel"))
        out = Channel.of(spec)(x.to(torch.complex64), spec.snr_db, gen)
        # the demapper takes unit-gain symbols and their effective noise: y / h_known and (no + e) / |h_known|^2
        # with channel knowledge (e the estimate's error variance), y and no without
        y_demap, noise_per_real = receive(out.y, out.known, out.noise_var, spec.snr_db, out.err_var).unbiased()
        no_eff = 2.0 * noise_per_real
        llr = self.demapper(y_demap.reshape(-1), no_eff.reshape(-1).float())  # (blocks*n,)
        u_hat = self.decoder(llr.view(blocks, self.n))  # (blocks, k) hard bits
        if not torch.equal(u_hat.round().to(torch.uint8), u.to(torch.uint8)):
            return ClassicalResult(fallback, True, quality, len(data) * 8, budget, uses)
        try:
            received = to_tensor(open_rgb(data))
        except OSError:
            return ClassicalResult(fallback, True, quality, len(data) * 8, budget, uses)
        return ClassicalResult(received, False, quality, len(data) * 8, budget, uses)
