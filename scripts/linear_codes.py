"""How good can the linear code under the proposed system be: training-free analog codes at CBR 1/16 compared.

    python scripts/linear_codes.py [--photos ../shared/data/photos] [--kodak ../shared/data/kodak]
                                   [--out results/linear_codes.json]

The proposed system carries the image on a linear analog code (16x16 patches, the first 96 principal components
of photo patches, each image's own SoftCast allocation g ~ lambda^-1/4, per-component LMMSE); at 10-13 dB that
code carries most of the image (issue 34, item 2). This asks what a different linear code would give on its own,
with nothing learned, every code at CBR 1/16 (one real value in eight), unit power per image, AWGN, each image's
variances known to the receiver (uncounted side information, as in SoftCast and the `softcast` system):

* ``pca16-fixed``: the shipped design's code (the `softcast` system without its clipping): 16x16x3 patches,
  the 96 components of largest variance over the photos;
* ``pca16-select``: the same patches and basis, each image sending the 96 of all 768 components with the most
  energy in that image (which ones: 768 more bits of side information);
* ``pca16-mean``: ``pca16-fixed`` with each image's mean colour sent apart (three float16 numbers), as the DCT
  codes below send their planes' means;
* ``pca8``, ``pca32``: 8x8 patches keeping 24 of 192 components, 32x32 patches keeping 384 of 3072 (the larger
  patch sees correlations across what are four 16x16 patches);
* ``dct-chunk64`` … ``dct-chunk8``: SoftCast as published: an orthonormal colour rotation, each plane's mean
  removed (sent as side information), the whole frame's 2-D DCT per colour plane, cut into 64x64 … 8x8 chunks of
  coefficients, the chunks with the most energy in this image sent (``softcast-dct`` is ``dct-chunk16``);
* ``dct-chunk16-mmse``: the same with each chunk's power chosen for the SNR (``dct_allocation = "mmse"``,
  ``shared.dct_code.mmse_gains``) instead of SoftCast's lambda^-1/4;
* ``dct-chunk16-mmse-compact``: the same with its side information coded as enumerative indices
  (``dct_side_info = "compact"``): more chunks in the same channel uses.

The PSNR is the expected one over the noise, in closed form: with LMMSE a coefficient of variance lambda sent
with gain g through noise of variance s per real value leaves lambda*s/(g^2*lambda + s), and what is not sent
leaves its energy; no clipping to [0, 1] (which helps every code a little). Kodak's whole images, 1-13 dB and
noiseless; the PCA bases are fitted on the photos, never on Kodak.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from semcom.data import list_images  # noqa: E402
from shared.dct_code import OPPONENT, ChunkDCT, dct_matrix, mmse_gains  # noqa: E402

SNRS = (1, 4, 7, 10, 13)
RATE = 8  # real values per value sent: CBR 1/16 complex is 1/8 real


def load(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def patches(a: np.ndarray, p: int) -> np.ndarray:
    h, w = a.shape[0] // p * p, a.shape[1] // p * p
    return a[:h, :w].reshape(h // p, p, w // p, p, 3).transpose(0, 2, 1, 3, 4).reshape(-1, p * p * 3)


def fit_pca(photos: list[str], p: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean patch and all principal components (columns, by decreasing variance) of p x p x 3 photo patches."""
    n, s, ss = 0, 0.0, 0.0
    for f in photos:
        x = patches(load(f), p)
        n, s, ss = n + len(x), s + x.sum(0), ss + x.T @ x
    mu = s / n
    lam, vec = np.linalg.eigh(ss / n - np.outer(mu, mu))
    return mu, vec[:, np.argsort(lam)[::-1]]


def expected_mse(energy: np.ndarray, sent: np.ndarray, total: float, n_values: int,
                 snr_db: float | None, allocation: str = "softcast") -> float:
    """Mean squared error per value of one image: `energy` holds the variance of each group of coefficients
    (a component, or a chunk) over its `sent` members' count, `total` the image's whole energy; the groups' power
    is SoftCast's or the MMSE allocation for the SNR (``shared.dct_code.mmse_gains``, groups of one size)."""
    lam = energy[sent > 0]
    counts = sent[sent > 0]
    dropped = total - float((lam * counts).sum())
    if snr_db is None:
        return dropped / n_values
    noise = 10 ** (-snr_db / 10) / 2  # per real value, unit-power complex symbols
    if allocation == "mmse":
        g2 = mmse_gains(torch.from_numpy(lam), snr_db).pow(2).numpy()
    else:
        g2 = lam ** -0.5  # SoftCast's g ~ lambda^-1/4, squared
    g2 *= (counts.sum() / 2) / float((g2 * lam * counts).sum())  # unit power per complex symbol
    return (dropped + float((counts * lam * noise / (g2 * lam + noise)).sum())) / n_values


BITS_PER_VALUE = 8  # a variance as side information: 8 bits (a log-scale code), sent at 1 bit per channel use
# (QPSK, rate 1/2); a chunk or component mask costs 1 bit per candidate
MEAN_BITS = 3 * 16  # three means (the DCT codes' planes, pca16-mean's colour), as float16


def pca_code(mu, vec, p: int, select: bool, mean_colour: np.ndarray | None = None):
    """With `mean_colour` (the photos' mean colour) each image's own mean colour is sent as side information and
    the image is coded as if its mean were the photos'."""
    def run(a, counted: bool):
        if mean_colour is not None:
            a = a - a.reshape(-1, 3).mean(0) + mean_colour
        c = (patches(a, p) - mu) @ vec  # (N, D): every component
        n, d = c.shape
        uses = n * d // (2 * RATE)  # complex channel uses at CBR 1/16
        mask = (d if select else 0) + (MEAN_BITS if mean_colour is not None else 0)
        keep = (2 * uses - 2 * mask) // (n + 2 * BITS_PER_VALUE) if counted else 2 * uses // n
        lam = (c ** 2).mean(0)
        order = np.argsort(lam)[::-1][:keep] if select else np.arange(keep)
        sent = np.zeros(d)
        sent[order] = n
        return lam, sent, float((c ** 2).sum()), c.size, keep * BITS_PER_VALUE + mask
    return run


def dct_code(rotation: np.ndarray, chunk: int, compact: bool = False):
    """`compact`: the side information coded as enumerative indices (``ChunkDCT(side_info="compact")``)."""
    coder = ChunkDCT(chunk, BITS_PER_VALUE, side_info="compact") if compact else None

    def run(a, counted: bool):
        h, w = a.shape[0] // chunk * chunk, a.shape[1] // chunk * chunk
        planes = (a[:h, :w] @ rotation).transpose(2, 0, 1)  # orthonormal colour rotation
        planes = planes - planes.mean(axis=(1, 2), keepdims=True)  # the planes' means as side information
        dh, dw = dct_matrix(h).numpy(), dct_matrix(w).numpy()
        coef = np.stack([dh @ plane @ dw.T for plane in planes])  # orthonormal 2-D DCT per plane
        blocks = coef.reshape(3, h // chunk, chunk, w // chunk, chunk).transpose(0, 1, 3, 2, 4).reshape(-1, chunk ** 2)
        n, m = blocks.shape
        uses = n * m // (2 * RATE)
        keep = (2 * uses - 2 * (n + MEAN_BITS)) // (m + 2 * BITS_PER_VALUE) if counted else 2 * uses // m
        if coder is not None and counted:
            keep = coder.chunks_sent(n, uses)
        lam = (blocks ** 2).mean(1)
        sent = np.zeros(n)
        sent[np.argsort(lam)[::-1][:keep]] = m
        bits = coder.side_information(n, keep) if coder is not None else keep * BITS_PER_VALUE + n + MEAN_BITS
        return lam, sent, float((blocks ** 2).sum()), blocks.size, bits
    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default="../shared/data/photos")
    ap.add_argument("--kodak", default="../shared/data/kodak")
    ap.add_argument("--out", default="results/linear_codes.json")
    a = ap.parse_args()
    photos = list_images(a.photos)
    kodak = [load(f) for f in sorted(Path(a.kodak).glob("*.png"))]
    rotation = OPPONENT.double().numpy().T  # softcast-dct's colour rotation (columns: luminance, two opponents)
    codes = {}
    for p in (8, 16, 32):
        mu, vec = fit_pca(photos, p)
        codes[f"pca{p}-fixed"] = pca_code(mu, vec, p, select=False)
        if p == 16:
            codes["pca16-select"] = pca_code(mu, vec, p, select=True)
            colour = np.mean([load(f).reshape(-1, 3).mean(0) for f in photos], axis=0)
            codes["pca16-mean"] = pca_code(mu, vec, p, select=False, mean_colour=colour)
    for chunk in (64, 32, 16, 8):
        codes[f"dct-chunk{chunk}"] = dct_code(rotation, chunk)
    codes["dct-chunk16-mmse"] = dct_code(rotation, 16)  # the MMSE allocation for the SNR (dct_allocation "mmse")
    codes["dct-chunk16-mmse-compact"] = dct_code(rotation, 16, compact=True)  # and dct_side_info "compact"
    table = {"side information uncounted": {}, "side information counted": {}}
    side_uses = {}
    for name, run in codes.items():
        for counted, key in ((False, "side information uncounted"), (True, "side information counted")):
            row, coded = {}, [run(img, counted) for img in kodak]
            for snr in (*SNRS, None):
                allocation = "mmse" if "-mmse" in name else "softcast"
                row["noiseless" if snr is None else f"{snr} dB"] = round(float(np.mean(
                    [10 * np.log10(1 / expected_mse(*c[:4], snr, allocation)) for c in coded])), 2)
            table[key][name] = row
            print(key, name, row, flush=True)
        side_uses[name] = int(np.mean([c[4] for c in coded]))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"what": "expected PSNR (dB) of training-free linear analog codes at CBR 1/16, whole Kodak, AWGN, "
                   "unit power per image, SoftCast allocation (the -mmse row: the MMSE allocation for the SNR) and LMMSE "
                   "with each image's own variances",
           "side_information": f"variances {BITS_PER_VALUE} bits each, masks 1 bit per candidate, at 1 bit per "
                               "channel use; 'counted' takes these channel uses from the code's own",
           "side_information_channel_uses": side_uses, "channel_uses_768x512": 768 * 512 * 3 // (2 * RATE),
           "command": "python " + " ".join(sys.argv), "commit": commit, "images": len(kodak), "psnr_db": table}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
