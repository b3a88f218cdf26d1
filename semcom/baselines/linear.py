"""The training-free floor: linear analog codes (the SoftCast family), through the project's channel.

    python -m semcom.baselines.linear --data ../shared/data/photos --out weights/linear

fits the principal components of 16 x 16 x 3 patches (no gradient training: one covariance and
its eigenvectors) and writes ``weights/linear/pca.safetensors``. ``semcom eval --systems linear``
then sends images with it: the code of ``shared.analog`` (power allocation g ~ lambda^(-1/4),
unit power per transmission, the scale as side information, per-component LMMSE), the channel
of ``channel.step``, the receiver view of ``shared.channel``. ``SoftCastDCT`` (system ``softcast-dct``) is
SoftCast as published: the whole frame's 2-D DCT cut into chunks, the chunks with the most energy sent, their
variances as side information whose channel uses are taken from the code's own.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import torch

from channel.step import transmit
from semcom.data import _load_rgb, list_images
from shared.analog import (PCA_FILE, AnalogDecoder, AnalogEncoder, PatchPCA, fit_pca, keep_for, per_image_allocation,
                           softcast_gains, unbiased_view)
from shared.channel import ChannelSpec, receive
from shared.imageio import to_tensor
from shared.layers import pad_to_multiple
from shared.symbols import to_complex, unit_power
from shared.weights import REPO_WEIGHTS

SHIPPED = REPO_WEIGHTS / "linear"


class LinearAnalog:
    """reconstruct(image, spec, seed): one image through encoder, channel and LMMSE decoder, nothing learned.

    ``adaptive=False`` (system ``linear``): gains and LMMSE priors from the fitted variances; the
    only side information is the image's power scale (one number). ``adaptive=True`` (system
    ``softcast``): as SoftCast, each component's variance over this image's patches sets its gain
    and is sent as metadata for the LMMSE (k numbers per image, not counted in the CBR).
    """

    task = "reconstruction"

    def __init__(self, pca: PatchPCA, cbr: str = "1/16", adaptive: bool = False) -> None:
        self.cbr = cbr
        self.patch = pca.patch
        self.adaptive = adaptive
        keep = keep_for(float(Fraction(cbr)), pca.patch)
        self.encoder = AnalogEncoder(pca.patch, keep, pca).eval()
        self.decoder = AnalogDecoder(pca.patch, keep, pca).eval()
        self.gains = softcast_gains(pca.truncate(keep).variances)  # what the encoder's projection applies

    @classmethod
    def load(cls, path: str | Path = SHIPPED, cbr: str = "1/16", adaptive: bool = False) -> "LinearAnalog":
        path = Path(path)
        if not (path / PCA_FILE).exists() and not path.is_file():
            raise FileNotFoundError(f"no {PCA_FILE} in {path}: fit one with "
                                    f"`python -m semcom.baselines.linear --data PHOTOS --out {path}`")
        return cls(PatchPCA.load(path), cbr, adaptive)

    @torch.no_grad()
    def reconstruct(self, image: torch.Tensor, spec: ChannelSpec, seed: int) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (3, H, W): padded to whole patches, sent, decoded, cropped back."""
        h, w = image.shape[-2:]
        padded, _ = pad_to_multiple(image[None].float(), self.patch)
        t = self.encoder(padded)  # (1, k, gh, gw): g * coefficients
        allocation = per_image_allocation(t, self.gains) if self.adaptive else None  # (1, 2, k)
        if allocation is not None:
            t = t * allocation[:, 0, :, None, None]
        x, alpha = unit_power(to_complex(t))  # (1, c, gh, gw), (1,)
        grid = x.shape
        rx = transmit(x.reshape(1, -1), spec, seed)
        received, noise = unbiased_view(receive(rx.y, rx.h, rx.noise_var, spec.snr_db, rx.err_var), grid[1:])
        t_hat = self.decoder.estimate(received, noise, alpha, allocation)
        return self.decoder.synthesise(t_hat)[0, :, :h, :w].clamp(0.0, 1.0)


# an orthonormal colour rotation (luminance and two opponent colours), fixed: SoftCast codes luminance and
# chrominance planes apart, and an orthonormal one keeps the DCT domain's squared error the image's
OPPONENT = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]])
OPPONENT = OPPONENT / OPPONENT.norm(dim=1, keepdim=True)


MEAN_BITS = 3 * 16  # the three planes' means, sent as float16 (SoftCast's DC: a huge symbol otherwise)


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II of length n as a matrix (rows are the basis functions)."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    m = torch.cos(torch.pi * (2 * torch.arange(n, dtype=torch.float64)[None, :] + 1) * k / (2 * n)) * (2 / n) ** 0.5
    m[0] /= 2 ** 0.5
    return m


class SoftCastDCT:
    """reconstruct(image, spec, seed): SoftCast (Jakubczak & Katabi, MobiCom 2011) as published, for one image.

    The image's three opponent-colour planes, each less its mean, go through the whole frame's orthonormal 2-D
    DCT; the coefficients are cut into `chunk` x `chunk` chunks; the chunks with the most energy in this image are
    sent, each scaled by SoftCast's g ~ lambda^(-1/4) (unit power per complex symbol), the rest dropped; the
    receiver estimates each by LMMSE with its chunk's variance. The side information (the planes' means as
    float16; which chunks: one bit per chunk; each sent chunk's variance in `value_bits` bits, log-scale, which both
    ends use) is counted: its bits, at one bit per channel use (a robust digital code, QPSK rate 1/2, assumed
    delivered), are taken from the CBR's channel uses before the analog code gets the rest, so the system spends at
    most the CBR. With 16 x 16 chunks a 768 x 512 image spends 8712 of its 73 728 channel uses on it (and sends 507
    of its 4608 chunks). Sent with the image, the mean would be one huge DC coefficient taking a large share of
    the power (and, with an estimated channel, of the estimation error): removing it is worth 0.7 dB at 10 dB on
    AWGN. ``python scripts/linear_codes.py`` gives the expected PSNR of this code and its relatives in closed form.
    """

    task = "reconstruction"

    def __init__(self, cbr: str = "1/16", chunk: int = 16, value_bits: int = 8) -> None:
        if chunk < 2:
            raise ValueError(f"chunks of {chunk}x{chunk} coefficients: use at least 2")
        self.cbr, self.chunk, self.value_bits = cbr, chunk, value_bits

    def side_information(self, n_chunks: int, sent: int) -> int:
        """Bits of side information: the planes' means (float16), the chunk mask and the sent chunks' variances."""
        return MEAN_BITS + n_chunks + sent * self.value_bits

    def chunks_sent(self, n_chunks: int, uses: int) -> int:
        """How many chunks fit in `uses` complex channel uses beside their own side information."""
        m = self.chunk * self.chunk
        sent = (2 * uses - 2 * (n_chunks + MEAN_BITS)) // (m + 2 * self.value_bits)
        if sent < 1:
            raise ValueError(f"CBR {self.cbr} leaves no channel uses for a chunk after the side information "
                             f"({n_chunks} chunks of {self.chunk}x{self.chunk}): use smaller chunks or a larger CBR")
        return min(sent, n_chunks)

    def quantised(self, variances: torch.Tensor) -> torch.Tensor:
        """The variances as the receiver gets them: log2 in steps of 1/4, value_bits bits (both ends use these)."""
        half = 2 ** (self.value_bits - 1)
        q = torch.round(torch.log2(variances.clamp_min(1e-30)) * 4).clamp(-half, half - 1)
        return torch.pow(2.0, q / 4)

    @torch.no_grad()
    def reconstruct(self, image: torch.Tensor, spec: ChannelSpec, seed: int) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (3, H, W): padded to whole chunks, sent, decoded, cropped back."""
        h, w = image.shape[-2:]
        c = self.chunk
        padded, _ = pad_to_multiple(image[None].float(), c)
        hp, wp = padded.shape[-2:]
        dh, dw = dct_matrix(hp), dct_matrix(wp)
        planes = torch.einsum("pc,chw->phw", OPPONENT.double(), padded[0].double())
        means = planes.mean(dim=(1, 2), keepdim=True).half().double()  # side information, as float16
        coef = dh @ (planes - means) @ dw.T  # (3, hp, wp)
        blocks = coef.reshape(3, hp // c, c, wp // c, c).permute(0, 1, 3, 2, 4).reshape(-1, c * c)
        uses = int(Fraction(self.cbr) * 3 * hp * wp)
        sent = self.chunks_sent(len(blocks), uses)
        energy = blocks.pow(2).mean(1)
        order = torch.sort(energy, descending=True, stable=True).indices[:sent]
        lam = self.quantised(energy[order])  # (sent,)
        g = softcast_gains(lam)  # unit power per complex symbol over the sent values on average
        t = (blocks[order] * g[:, None]).flatten().float()
        x, alpha = unit_power(torch.complex(t[0::2], t[1::2])[None])
        rx = transmit(x, spec, seed)
        symbols, noise = receive(rx.y, rx.h, rx.noise_var, spec.snr_db, rx.err_var).unbiased()
        r = torch.stack([symbols[0].real, symbols[0].imag], 1).flatten().double().view(sent, -1)
        nv = torch.stack([noise[0], noise[0]], 1).flatten().double().view(sent, -1)
        a = alpha.double() * g[:, None]  # each chunk arrived at scale alpha * g
        v = lam[:, None] * a.pow(2)
        estimate = torch.zeros_like(blocks)
        estimate[order] = v / (v + nv) * r / a
        coef_hat = estimate.view(3, hp // c, wp // c, c, c).permute(0, 1, 3, 2, 4).reshape(3, hp, wp)
        planes_hat = dh.T @ coef_hat @ dw + means
        out = torch.einsum("pc,phw->chw", OPPONENT.double(), planes_hat)
        return out[:, :h, :w].float().clamp(0.0, 1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m semcom.baselines.linear", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", action="append", required=True, help="folder(s) of photographs (repeatable)")
    p.add_argument("--out", default=str(SHIPPED))
    p.add_argument("--patch", type=int, default=16)
    p.add_argument("--keep", type=int, default=384, help="components kept in the file (96 are used at CBR 1/16)")
    a = p.parse_args(argv)
    files = [f for d in a.data for f in list_images(d)]
    pca = fit_pca((to_tensor(_load_rgb(f)) for f in files), a.patch, a.keep)
    out = pca.save(a.out, {"data": a.data, "images": len(files), "patch": a.patch})
    print(f"{out}: {pca.keep} components of {a.patch}x{a.patch}x3 patches from {len(files)} images; "
          f"variance kept at 96: {float(pca.variances[:96].sum() / pca.variances.sum()):.4f} of the {a.keep} kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
