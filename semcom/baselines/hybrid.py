"""Hybrid digital-analog: an AVIF base over link-adapted 5G LDPC + QAM, SoftCast's DCT code of what it leaves.

The system `hda-avif` (issue 34, item 2; the closed form behind it is scripts/hybrid_codes.py's `avif-hda`)::

    image --AVIF at quality q--> bits --LDPC + QAM (the configuration link_adapted() picks for the SNR)--> symbols
    image - AVIF decode = residual --ChunkDCT (MMSE allocation, spread 64, compact side information)--> symbols
    [digital symbols | analog symbols] --> y = h x + n (one transmission, shared.channel) -->
    base (decoded, or lost) + LMMSE residual

The transmitter knows the image and the SNR it sends at, so it chooses q (or no base at all) by the error the
analog layer leaves in expectation over AWGN at that SNR (``expected_error``, closed form) in the channel uses
the base's whole codewords leave; the base is assumed delivered in that choice, as link adaptation's margin
intends. The budget is the CBR's channel uses exactly: digital symbols, then the analog code's (its side
information counted in its own uses, as ``ChunkDCT`` does). A lost codeword loses the base: the receiver then
shows the data set's mean image in its place, plus the residual (the cliff that digital layers bring).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

import numpy as np
import torch

from channel.step import transmit
from semcom.baselines.capacity import avif_bytes
from semcom.baselines.classical import AVIFLinkAdapted, link_adapted
from shared.channel import ChannelSpec, receive
from shared.dct_code import OPPONENT, ChunkDCT, dct_matrix, mmse_gains
from shared.imageio import open_rgb, to_pil, to_tensor
from shared.layers import pad_to_multiple
from shared.symbols import unit_power

STEP = 5
QUALITIES = tuple(range(0, 101, STEP))  # the AVIF qualities the transmitter weighs first, then those around the best


def expected_error(code: ChunkDCT, image: torch.Tensor, uses: int, snr_db: float) -> float:
    """The squared error summed over `image` (3, H, W), whole chunks, that `code` (MMSE allocation) leaves in
    `uses` channel uses at `snr_db`, in expectation over AWGN (``expected_error_of`` its chunks' energies)."""
    h, w = image.shape[-2:]
    planes = torch.einsum("pc,chw->phw", OPPONENT.double(), image.double())
    planes = planes - planes.mean(dim=(1, 2), keepdim=True)
    blocks = code._chunks(dct_matrix(h) @ planes @ dct_matrix(w).T)  # (chunks, chunk^2)
    return expected_error_of(code, blocks.pow(2).mean(1), uses, snr_db)


def expected_error_of(code: ChunkDCT, energy: torch.Tensor, uses: int, snr_db: float) -> float:
    """The same from each chunk's energy per value, (chunks,) float64: each sent chunk of variance lambda and gain
    g leaves lambda s / (g^2 lambda + s) per value (s the noise per real value at unit power per complex symbol),
    each dropped chunk its energy. The chunks' own variances, not their 8-bit codes; spreading changes nothing over
    AWGN (``ChunkDCT.decode``). inf when the uses do not hold a chunk."""
    m = code.chunk ** 2
    try:
        sent = code.chunks_sent(len(energy), uses)
    except ValueError:
        return math.inf
    lam = torch.sort(energy, descending=True).values[:sent].clamp_min(1e-30)
    g2 = mmse_gains(lam, snr_db).pow(2)
    g2 = g2 * (0.5 * sent) / (g2 * lam).sum()  # unit power per complex symbol, as the transmission scales it
    s = 0.5 * 10.0 ** (-snr_db / 10.0)
    return float(energy.sum() * m - lam.sum() * m + m * (lam * s / (g2 * lam + s)).sum())


class HybridAVIFDCT:
    """reconstruct(image, spec, seed) -> (3, H, W); `plan` is the transmitter's choice, exposed for tests."""

    task = "reconstruction"

    def __init__(self, cbr: str = "1/16", mean_image: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        """`mean_image(like)`: what stands in for a lost base (the data set's mean colour; grey by default)."""
        self.cbr = cbr
        self.code = ChunkDCT(16, 8, allocation="mmse", spread=64, side_info="compact")
        self.link = AVIFLinkAdapted()
        self.mean_image = mean_image

    def plan(self, image: torch.Tensor, uses: int, snr_db: float) -> tuple[bytes | None, int | None, int]:
        """(the AVIF file or None, its quality, the channel uses its codewords take) with the least expected error
        at `snr_db`: no base, or a base whose codewords leave the analog layer room."""
        best = (expected_error(self.code, image, uses, snr_db), None, None, 0)
        choice = link_adapted(snr_db)
        if choice is None:
            return best[1:]
        chain = self.link.chain(*choice)
        pil = to_pil(image.float())

        def weigh(q: int) -> tuple[float, bytes | None, int | None, int]:
            data = avif_bytes(pil, q)
            digital = math.ceil(math.ceil(len(data) * 8 / chain.k) * chain.n / chain.m)  # whole codewords
            if digital >= uses:
                return math.inf, None, None, 0
            base = to_tensor(open_rgb(data)).double()
            return expected_error(self.code, image.double() - base, uses - digital, snr_db), data, q, digital

        coarse = (math.inf, None, None, 0)
        for q in QUALITIES:  # larger files take more codewords: stop at the first that leaves no room
            c = weigh(q)
            if c[1] is None:
                break
            coarse = min(coarse, c, key=lambda weighed: weighed[0])
        # then every quality around the best
        fine = [weigh(q) for q in range(max(0, coarse[2] - STEP + 1), min(100, coarse[2] + STEP - 1) + 1)
                if q != coarse[2]] if coarse[2] is not None else []
        return min([best, coarse, *fine], key=lambda weighed: weighed[0])[1:]

    @torch.no_grad()
    def reconstruct(self, image: torch.Tensor, spec: ChannelSpec, seed: int) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (3, H, W): padded to whole chunks, sent, decoded, cropped back."""
        h, w = image.shape[-2:]
        padded, _ = pad_to_multiple(image[None].float(), self.code.chunk)
        padded = padded[0]
        uses = int(Fraction(self.cbr) * padded.numel())
        data, _, digital = self.plan(padded, uses, spec.snr_db)
        base = torch.zeros_like(padded) if data is None else to_tensor(open_rgb(data))
        t, header = self.code.encode(padded - base, uses - digital, spec.snr_db)
        x_analog, alpha = unit_power(torch.complex(t[0::2], t[1::2])[None])
        parts = [x_analog[0]]
        if data is not None:
            chain = self.link.chain(*link_adapted(spec.snr_db))
            x_digital, u = chain.modulate(np.unpackbits(np.frombuffer(data, dtype=np.uint8)), seed)
            parts.insert(0, x_digital)
        x = torch.cat(parts)[None]  # (1, uses sent): the digital symbols first, then the analog ones
        rx = transmit(x, spec, seed)
        symbols, noise = receive(rx.y, rx.h, rx.noise_var, spec.snr_db, rx.err_var).unbiased()
        n_digital = x.shape[1] - x_analog.shape[1]
        if data is not None and chain.lost(symbols[0, :n_digital], noise[0, :n_digital], u):
            base = self.mean_image(padded) if self.mean_image is not None else torch.full_like(padded, 0.5)
        a = symbols[0, n_digital:]
        received = torch.stack([a.real, a.imag], 1).flatten()
        resid = self.code.decode(received, noise[0, n_digital:].repeat_interleave(2), alpha, header)
        return (base + resid)[:, :h, :w].clamp(0.0, 1.0)
