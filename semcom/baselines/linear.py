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
from shared.config import EncoderConfig
from shared.dct_code import ChunkDCT
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


class SoftCastDCT:
    """reconstruct(image, spec, seed): SoftCast (Jakubczak & Katabi, MobiCom 2011) as published, for one image:
    ``shared.dct_code.ChunkDCT`` (the whole frame's DCT in `chunk` x `chunk` chunks, the chunks with the most
    energy sent, the planes' means apart, LMMSE per chunk) through the project's channel, its side information
    counted in the CBR: with 16 x 16 chunks a 768 x 512 image spends 8712 of its 73 728 channel uses on it (and
    sends 507 of its 4608 chunks). Sending the means apart is worth 0.8 dB at 10 dB on whole Kodak (28.61 ->
    29.42 dB)."""

    task = "reconstruction"

    def __init__(self, cbr: str = "1/16", chunk: int = 16, value_bits: int = 8, allocation: str = "softcast",
                 spread: int = 1, side_info: str = "plain") -> None:
        """`allocation` "mmse" chooses the chunks' power for the SNR (``shared.dct_code.mmse_gains``), `spread`
        mixes groups of that many chunks before sending them, `side_info` "compact" codes the side information
        as enumerative indices (``ChunkDCT``); the system ``softcast-dct`` keeps SoftCast's allocation and side
        information and sends each chunk on its own symbols."""
        self.cbr, self.code = cbr, ChunkDCT(chunk, value_bits, allocation, spread, side_info)

    @classmethod
    def of(cls, encoder: EncoderConfig) -> SoftCastDCT:
        """The DCT code a model's encoder settings name (``ChunkDCT.of``) at the model's CBR, alone: what the
        model sends before its networks add anything."""
        system = cls(encoder.cbr)
        system.code = ChunkDCT.of(encoder)
        return system

    @torch.no_grad()
    def reconstruct(self, image: torch.Tensor, spec: ChannelSpec, seed: int) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (3, H, W): padded to whole chunks, sent, decoded, cropped back."""
        h, w = image.shape[-2:]
        padded, _ = pad_to_multiple(image[None].float(), self.code.chunk)
        uses = int(Fraction(self.cbr) * padded[0].numel())
        t, header = self.code.encode(padded[0], uses, spec.snr_db)
        x, alpha = unit_power(torch.complex(t[0::2], t[1::2])[None])
        rx = transmit(x, spec, seed)
        symbols, noise = receive(rx.y, rx.h, rx.noise_var, spec.snr_db, rx.err_var).unbiased()
        received = torch.stack([symbols[0].real, symbols[0].imag], 1).flatten()
        out = self.code.decode(received, noise[0].repeat_interleave(2), alpha, header)
        return out[:, :h, :w].clamp(0.0, 1.0)


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
