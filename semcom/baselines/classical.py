"""Separate source and channel coding: JPEG or AVIF + 5G LDPC + M-QAM, over the project's own channel.

::

    image --JPEG or AVIF (largest quality whose file fits the bit budget)--> bits --5G LDPC (rate R, n coded bits
    per block)--> QAM mapper (Sionna) --> y = h x + n (shared.channel) --> [MMSE-equalise with CSI]
    --> APP demapper (LLRs) --> LDPC BP decoding (20 iterations) --> bits --> JPEG decoder

Budget: the same complex channel uses as the proposed system, H*W*3*CBR; each carries
log2(M) coded bits, i.e. H*W*3*CBR*log2(M)*R information bits. If any codeword fails to
decode (checked against the sent bits, standing in for the transport-block CRC) or the
file does not decode, the image is lost and the receiver shows the data set's mean image
(the cliff effect, counted as the field does).

The JPEG chains use one modulation and code rate at every SNR, as the field's comparisons do. The AVIF chain
(``AVIFLinkAdapted``, the system `avif-ldpc`) adapts them to the SNR it is sent at, as a real link does: of
``MCS_TABLE`` (each configuration's threshold over AWGN, measured by scripts/ldpc_thresholds.py) the one with
the most information bits per channel use whose threshold plus ``LINK_MARGIN_DB`` the SNR reaches. It is told
the channel's nominal SNR, as the proposed system's power allocation is; the table is AWGN's, so on a fading
channel without retransmissions its choice fails whenever a codeword meets a deep fade.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
from PIL import Image

from semcom.baselines.capacity import avif_at_budget
from shared.channel import Channel, ChannelSpec, receive
from shared.imageio import open_rgb, to_pil, to_tensor
from shared.seeding import derive_seed

CODEWORD_BITS = 6144  # per LDPC block, as in the ANCHORS measurements


@dataclass
class ClassicalResult:
    image: torch.Tensor  # (3, H, W) received image (the mean image when lost)
    lost: bool
    quality: int | None  # the codec's quality setting (None: nothing fitted)
    payload_bits: int  # the file's size in bits (0 if nothing fitted)
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


class LDPCQAM:
    """The channel-coding half of a digital chain: 5G LDPC at `rate` over M-QAM through the project's channel.

    Bits go in codewords of n coded bits (k information bits each); a codeword counts as lost when BP decoding
    does not return the bits sent (standing in for the transport block's CRC)."""

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
    def mcs(self) -> str:
        return f"LDPC{self.rate.numerator}/{self.rate.denominator}+{2 ** self.m}QAM"

    def blocks_for(self, channel_uses: int) -> int:
        return (channel_uses * self.m) // self.n

    def budget_bits(self, channel_uses: int) -> int:
        return self.blocks_for(channel_uses) * self.k

    @torch.no_grad()
    def modulate(self, payload: np.ndarray, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """payload: 0/1 bits, padded with random filler to whole codewords (as real systems scramble) ->
        (the QAM symbols (blocks * n / m,) complex at unit average power, the information bits (blocks, k))."""
        blocks = max(1, math.ceil(payload.size / self.k))
        bits = np.zeros(blocks * self.k, dtype=np.float32)
        bits[: payload.size] = payload
        rng = np.random.default_rng(derive_seed(seed, "padding"))
        bits[payload.size:] = rng.integers(0, 2, bits.size - payload.size)
        u = torch.from_numpy(bits).view(blocks, self.k)
        return self.mapper(self.encoder(u)).reshape(-1).to(torch.complex64), u

    @torch.no_grad()
    def lost(self, y: torch.Tensor, noise_per_real: torch.Tensor, u: torch.Tensor) -> int:
        """The received symbols as unit-gain estimates and their noise per real value (``Reception.unbiased``),
        and the bits sent -> how many codewords did not decode to them."""
        llr = self.demapper(y.reshape(-1), (2.0 * noise_per_real).reshape(-1).float())  # (blocks*n,)
        u_hat = self.decoder(llr.view(len(u), self.n))  # (blocks, k) hard bits
        return int((u_hat.round().to(torch.uint8) != u.to(torch.uint8)).any(dim=1).sum())

    @torch.no_grad()
    def lost_blocks(self, payload: np.ndarray, spec: ChannelSpec, seed: int) -> int:
        """payload: 0/1 bits through the chain alone -> how many codewords did not decode to the bits sent."""
        x, u = self.modulate(payload, seed)
        gen = torch.Generator().manual_seed(derive_seed(seed, "channel"))
        out = Channel.of(spec)(x[None], spec.snr_db, gen)
        # the demapper takes unit-gain symbols and their effective noise: y / h_known and (no + e) / |h_known|^2
        # with channel knowledge (e the estimate's error variance), y and no without
        y, noise_per_real = receive(out.y, out.known, out.noise_var, spec.snr_db, out.err_var).unbiased()
        return self.lost(y, noise_per_real, u)


def deliver(chain: LDPCQAM, data: bytes, quality: int, spec: ChannelSpec, seed: int, fallback: torch.Tensor,
            budget: int, uses: int) -> ClassicalResult:
    """A codec's file through `chain`: the decoded image, or `fallback` when a codeword is lost or the file does
    not decode."""
    if not chain.lost_blocks(np.unpackbits(np.frombuffer(data, dtype=np.uint8)), spec, seed):
        try:
            return ClassicalResult(to_tensor(open_rgb(data)), False, quality, len(data) * 8, budget, uses)
        except OSError:
            pass
    return ClassicalResult(fallback, True, quality, len(data) * 8, budget, uses)


class JPEGLDPCQAM(LDPCQAM):
    """One configuration of the classical chain, e.g. 16-QAM with rate-1/2 LDPC."""

    @property
    def name(self) -> str:
        return f"JPEG+{self.mcs}"

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
        return deliver(self, *fitted, spec, seed, fallback, budget, uses)


# the modulations (bits per symbol) and 5G LDPC code rates link adaptation chooses among
# (0.13-0.67 information bits per channel use apart; 5G's MCS tables step more finely: the rate between two steps
# is what a link loses to the table)
MCS_RATES: dict[int, tuple[str, ...]] = {2: ("1/3", "2/5", "1/2", "3/5", "2/3", "3/4", "5/6"),
                                         4: ("1/2", "3/5", "2/3", "3/4", "5/6"),
                                         6: ("1/2", "3/5", "2/3", "3/4", "5/6"),
                                         8: ("2/3", "3/4", "5/6")}

# (bits per symbol, code rate, SNR in dB at which at most 1 % of 6144-bit codewords are lost over AWGN): the output
# of `python scripts/ldpc_thresholds.py` (results/ldpc_thresholds.json), 100 codewords per point, 0.25 dB grid
MCS_TABLE: tuple[tuple[int, str, float], ...] = (
    (2, "1/3", -0.75),
    (2, "2/5", 0.25),
    (2, "1/2", 1.5),
    (2, "3/5", 2.75),
    (2, "2/3", 3.5),
    (2, "3/4", 4.5),
    (2, "5/6", 5.5),
    (4, "1/2", 6.75),
    (4, "3/5", 8.25),
    (4, "2/3", 9.25),
    (4, "3/4", 10.5),
    (4, "5/6", 12.0),
    (6, "1/2", 11.0),
    (6, "3/5", 13.0),
    (6, "2/3", 14.25),
    (6, "3/4", 15.75),
    (6, "5/6", 17.5),
    (8, "2/3", 18.5),
    (8, "3/4", 20.75),
    (8, "5/6", 22.5),
)
LINK_MARGIN_DB = 0.5  # kept between a chosen configuration's threshold and the SNR: an image is many codewords


def link_adapted(snr_db: float) -> tuple[int, str] | None:
    """The configuration of MCS_TABLE with the most information bits per channel use whose threshold plus
    LINK_MARGIN_DB is at most `snr_db`; None below every threshold."""
    fits = [(bits * Fraction(rate), bits, rate) for bits, rate, need in MCS_TABLE if need + LINK_MARGIN_DB <= snr_db]
    return max(fits)[1:] if fits else None


class AVIFLinkAdapted:
    """AVIF (AV1 intra, Pillow) at the largest quality the channel uses carry, over 5G LDPC + QAM chosen for the
    SNR (``link_adapted``); the mean image when no configuration suits the SNR or a codeword is lost."""

    def __init__(self, num_iter: int = 20, codeword_bits: int = CODEWORD_BITS) -> None:
        self.num_iter, self.codeword_bits = num_iter, codeword_bits
        self._chains: dict[tuple[int, str], LDPCQAM] = {}

    def chain(self, bits: int, rate: str) -> LDPCQAM:
        if (bits, rate) not in self._chains:
            self._chains[bits, rate] = LDPCQAM(bits, rate, self.num_iter, self.codeword_bits)
        return self._chains[bits, rate]

    @torch.no_grad()
    def transmit(self, image: torch.Tensor, cbr: float, spec: ChannelSpec, seed: int,
                 mean_image: torch.Tensor | None = None) -> tuple[ClassicalResult, str | None]:
        """image (3, H, W) in [0, 1] -> (what arrives, the configuration used: e.g. "LDPC2/3+64QAM")."""
        h, w = image.shape[-2:]
        uses = math.floor(h * w * 3 * cbr)
        fallback = mean_image if mean_image is not None else torch.full_like(image, 0.5)
        choice = link_adapted(spec.snr_db)
        if choice is None:
            return ClassicalResult(fallback, True, None, 0, 0, uses), None
        chain = self.chain(*choice)
        budget = chain.budget_bits(uses)
        fitted = avif_at_budget(to_pil(image), budget) if budget > 0 else None
        if fitted is None:
            return ClassicalResult(fallback, True, None, 0, budget, uses), chain.mcs
        return deliver(chain, *fitted, spec, seed, fallback, budget, uses), chain.mcs
