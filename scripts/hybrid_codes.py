"""Would a digital layer beside the DCT code earn its channel uses? Closed form, no training.

    python scripts/hybrid_codes.py [--images DIR]... [--designs analog,hda,rest,avif,avif-hda,opta] [--gap-db 2]
                                   [--efficiency 1] [--snr 1,4,...] [--out results/hybrid_codes.json]

The shipped reconstruction code (``shared.dct_code.ChunkDCT``: whole-frame DCT, 16x16 chunks, the MMSE allocation,
compact side information) sends the strongest chunks analog and drops the rest; at 10-13 dB it is most of what the
proposed system sends (issue 34, item 2). This asks what two hybrid digital-analog codes would give in its channel
uses, each image choosing its split for the SNR, against the analog code alone and a bound:

* ``analog``: the code alone (``dct-chunk16-mmse-compact`` of scripts/linear_codes.py);
* ``rest``: the K strongest chunks analog, and the channel uses the others would have taken given to a digital
  code describing the chunks after them (every image trying K at 50-100 % of the analog code's count);
* ``hda``: a digital base layer describing every chunk coarsely, and the analog code sending what the base leaves
  (each chunk's quantisation error) in the channel uses the base leaves, its chunks ranked by that error's energy
  (the classic hybrid digital-analog code: the analog layer refines, the digital one carries the coarse image);
* ``avif``: an AVIF file alone (AV1 intra, Pillow), the largest of qualities 0, 5, ..., 100 whose bits fit;
* ``avif-hda``: an AVIF file as the base and the analog code of what it leaves (the residual image) in the uses
  its bits leave, the best quality for the SNR (the system ``hda-avif`` sends this for real);
* ``opta``: the Shannon bound if every chunk's values were Gaussian with the chunk's variance: reverse
  water-filling at the channel's capacity, side information free (real coefficients are not Gaussian and a
  finer model than one variance per chunk knows more, so codes can beat it; it is a scale, not a limit).

The digital layer: one step size for the image (16 bits in the header); a uniform quantiser with a dead zone
(``|x| / step + 1/3`` rounded down, H.264's intra offset; mid-bin reconstruction); its indices entropy-coded under
a discretised Laplacian with each chunk's variance, sent as 8-bit codes as the analog code's; a chunk whose indices
are all zero is left out and the set coded is sent as an enumerative index. The bits go at what a practical channel
code carries at the SNR, ``log2(1 + snr / gap)`` per complex use (`--gap-db`, 2 dB by default: about what 5G LDPC
at a few thousand bits and 1 % block errors needs over capacity), assumed decoded without error (the transmitter
knows the SNR and picks the rate with the gap's margin); `--efficiency F` multiplies the indices' bits by F (0.7:
an entropy model 30 % better than the per-chunk Laplacian, a learned one say). Side information goes at one bit
per use, as ``ChunkDCT`` counts it. The analog layer's error is the LMMSE's in expectation over the noise
(scripts/linear_codes.py), the digital layer's the quantiser's exact error on this image, a dropped chunk's its
energy. Written as the expected PSNR over each folder's whole images.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.linear_codes import expected_mse, load  # noqa: E402
from semcom.data import list_images  # noqa: E402
from semcom.baselines.hybrid import expected_error_of  # noqa: E402
from shared.dct_code import OPPONENT, ChunkDCT, dct_matrix  # noqa: E402

SNRS = (1, 4, 7, 10, 13, 16, 20)  # 16 and 20 dB: where the digital path starts to pay
RATE = 8
DEADZONE = 1 / 3  # the quantiser's rounding offset (H.264's for intra): values within 2/3 of a step of zero go to 0
STEP_BITS = 16  # the step size, in the header


def chunks(a: np.ndarray, chunk: int = 16) -> np.ndarray:
    h, w = a.shape[0] // chunk * chunk, a.shape[1] // chunk * chunk
    planes = (a[:h, :w] @ OPPONENT.double().numpy().T).transpose(2, 0, 1)
    planes = planes - planes.mean(axis=(1, 2), keepdims=True)
    dh, dw = dct_matrix(h).numpy(), dct_matrix(w).numpy()
    coef = np.stack([dh @ p @ dw.T for p in planes])
    return coef.reshape(3, h // chunk, chunk, w // chunk, chunk).transpose(0, 1, 3, 2, 4).reshape(-1, chunk ** 2)


def digital(blocks: np.ndarray, lam_q: np.ndarray, step: float) -> tuple[float, float, np.ndarray]:
    """(bits of the coded chunks' indices under their Laplacians, squared error of all `blocks`, which are coded)
    for one step size. A chunk is coded when any of its indices is non-zero."""
    a = np.floor(np.abs(blocks) / step + DEADZONE)  # magnitude index: 0 below (1 - DEADZONE) steps
    coded = np.any(a > 0, axis=1)
    rec = np.sign(blocks) * np.where(a > 0, (a + 0.5 - DEADZONE) * step, 0.0)  # the bins' midpoints
    err = float(np.where(coded[:, None], (blocks - rec) ** 2, blocks ** 2).sum())
    b = np.sqrt(lam_q[coded] / 2)[:, None]  # the Laplacian with the chunk's (quantised) variance
    ac = a[coded]
    lo = np.where(ac == 0, 0.0, (ac - DEADZONE) * step)
    hi = (ac + 1 - DEADZONE) * step
    p = np.exp(-lo / b) - np.exp(-hi / b)  # P(|x| in the bin)
    p = np.where(ac == 0, p, p / 2)  # and the sign of a non-zero index
    return float(-np.log2(np.maximum(p, 1e-300)).sum()), err, coded


def log2_comb(n: int, k: int) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / math.log(2)


def hybrid(blocks: np.ndarray, snr_db: float, gap_db: float, code: ChunkDCT,
           efficiency: float = 1.0) -> tuple[float, int, float]:
    """The ``rest`` design: best (mse per value, analog chunks, step) over the analog count."""
    n, m = blocks.shape
    uses = n * m // (2 * RATE)
    lam = (blocks ** 2).mean(1)
    order = np.argsort(lam)[::-1]
    lam_q = code.quantised(torch.from_numpy(lam)).numpy()
    total = float((blocks ** 2).sum())
    k_max = code.chunks_sent(n, uses)
    per_use = math.log2(1 + 10 ** (snr_db / 10) / 10 ** (gap_db / 10))
    best = (float("inf"), k_max, 0.0)
    for k in sorted({int(round(k_max * f)) for f in (0.5, 0.7, 0.8, 0.9, 0.95, 1.0)}):
        left = uses - k * m // 2 - code.side_information(n, k) - STEP_BITS
        rest = order[k:]
        analog = np.zeros(n)
        analog[order[:k]] = m
        sent_energy = float((lam[order[:k]] * m).sum())
        a_err = expected_mse(lam, analog, sent_energy, blocks.size, snr_db, "mmse") * blocks.size
        if left <= 0:
            if k == k_max:
                best = min(best, ((a_err + total - sent_energy) / blocks.size, k, 0.0))
            continue
        budget = left * per_use

        def cost(step: float):
            bits, err, coded = digital(blocks[rest], lam_q[rest], step)
            c = int(coded.sum())
            side = log2_comb(len(rest), c) + log2_comb(c + 2 ** code.value_bits - 1, c)
            return efficiency * bits + side * per_use, err  # the side information at one bit per use
        lo, hi = -8.0, 1.0  # log2 of the step: bisection for the smallest step that fits
        if cost(2 ** hi)[0] > budget:
            err = total - sent_energy
        else:
            for _ in range(12):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if cost(2 ** mid)[0] > budget else (lo, mid)
            err = cost(2 ** hi)[1]
        best = min(best, ((a_err + err) / blocks.size, k, 2 ** hi))
    return best


def analog(blocks: np.ndarray, snr_db: float, code: ChunkDCT, uses: int | None = None) -> float:
    """The analog code alone in `uses` channel uses (the CBR's by default): mse per value."""
    return analog_of((blocks ** 2).mean(1), snr_db, code, blocks.size // (2 * RATE) if uses is None else uses)


def analog_of(lam: np.ndarray, snr_db: float, code: ChunkDCT, uses: int) -> float:
    """The same from the chunks' energies per value `lam` (``semcom.baselines.hybrid.expected_error_of``, what
    the system `hda-avif` weighs): mse per value, inf when the uses do not hold a chunk."""
    return expected_error_of(code, torch.from_numpy(lam), uses, snr_db) / (len(lam) * code.chunk ** 2)


STEPS = np.geomspace(0.02, 16.0, 30)  # the digital base layer's step sizes an image chooses from


def hda_layers(blocks: np.ndarray, code: ChunkDCT) -> list[tuple[float, float, int, np.ndarray]]:
    """For each step of STEPS, what the SNR does not change: (the base layer's index bits, its side information's
    bits, chunks coded, the energy per value of each chunk's quantisation error)."""
    n, _ = blocks.shape
    lam_q = code.quantised(torch.from_numpy((blocks ** 2).mean(1))).numpy()
    out = []
    for step in STEPS:
        bits, _, coded = digital(blocks, lam_q, step)
        a = np.floor(np.abs(blocks) / step + DEADZONE)
        rec = np.sign(blocks) * np.where(a > 0, (a + 0.5 - DEADZONE) * step, 0.0) * coded[:, None]
        c = int(coded.sum())
        side = log2_comb(n, c) + log2_comb(c + 2 ** code.value_bits - 1, c) + STEP_BITS
        out.append((bits, side, c, ((blocks - rec) ** 2).mean(1)))
    return out


def hda(blocks: np.ndarray, layers, snr_db: float, gap_db: float, code: ChunkDCT,
        efficiency: float = 1.0) -> tuple[float, float]:
    """Best (mse per value, share of the channel uses the base layer takes) over the base layer's step."""
    n, m = blocks.shape
    uses = n * m // (2 * RATE)
    per_use = math.log2(1 + 10 ** (snr_db / 10) / 10 ** (gap_db / 10))
    best = (analog(blocks, snr_db, code), 0.0)
    for bits, side, _, resid in layers:
        left = uses - math.ceil(efficiency * bits / per_use + side)
        if left > 0:  # the residual's strongest chunks, with their side information, in the uses left
            best = min(best, (analog_of(resid, snr_db, code, left), 1 - left / uses))
    return best


AVIF_QUALITIES = tuple(range(0, 101, 5))


def avif_layers(a: np.ndarray) -> list[tuple[int, np.ndarray, float]]:
    """For each of AVIF_QUALITIES: (the file's bits, the energy per value of each DCT chunk of what the decoded file
    leaves (the residual, as ``chunks`` cuts an image), that residual's energy per value)."""
    from PIL import Image

    from semcom.baselines.capacity import avif_bytes
    from shared.imageio import open_rgb

    pil = Image.fromarray(np.round(a * 255).astype(np.uint8))
    out = []
    for q in AVIF_QUALITIES:
        data = avif_bytes(pil, q)
        base = np.asarray(open_rgb(data), dtype=np.float64) / 255.0
        resid = a - base
        h, w = a.shape[0] // 16 * 16, a.shape[1] // 16 * 16
        out.append((len(data) * 8, (chunks(resid + 0.5) ** 2).mean(1), float((resid[:h, :w] ** 2).mean())))
    return out


def avif(layers, uses: int, snr_db: float, gap_db: float, hybrid_code: ChunkDCT | None) -> tuple[float, int]:
    """(mse per value, AVIF quality) of the best AVIF file that fits the channel uses at the gap's rate; with
    `hybrid_code`, the channel uses the file leaves carry its residual with that analog code (best quality over
    AVIF_QUALITIES, each file's own residual)."""
    per_use = math.log2(1 + 10 ** (snr_db / 10) / 10 ** (gap_db / 10))
    best = (float("inf"), -1)
    for q, (bits, resid_lam, base_mse) in zip(AVIF_QUALITIES, layers):
        left = uses - math.ceil(bits / per_use)
        if left < 0:
            continue
        mse = analog_of(resid_lam, snr_db, hybrid_code, left) if hybrid_code is not None and left > 0 else math.inf
        best = min(best, (mse if math.isfinite(mse) else base_mse, q))  # no room for a chunk: the file alone
    return best


def opta(blocks: np.ndarray, snr_db: float) -> float:
    """Reverse water-filling over Gaussian chunks at the channel's capacity: mse per value."""
    n, m = blocks.shape
    budget = n * m // (2 * RATE) * math.log2(1 + 10 ** (snr_db / 10))
    lam = np.maximum((blocks ** 2).mean(1), 1e-30)
    lo, hi = -60.0, 10.0  # log2 of the water level
    for _ in range(80):
        mid = (lo + hi) / 2
        bits = float((m * np.maximum(0.0, 0.5 * np.log2(lam / 2 ** mid))).sum())
        lo, hi = (mid, hi) if bits > budget else (lo, mid)
    return float((m * np.minimum(lam, 2 ** hi)).sum()) / blocks.size


DESIGNS = ("analog", "hda", "rest", "avif", "avif-hda", "opta")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", action="append", help="a folder of images (repeat); default Kodak")
    ap.add_argument("--designs", type=lambda v: v.split(","), default=list(DESIGNS),
                    help=f"comma-separated, of {','.join(DESIGNS)} (rest is the slow one)")
    ap.add_argument("--gap-db", type=float, default=2.0)
    ap.add_argument("--efficiency", type=float, default=1.0,
                    help="the digital layer's index bits times this: 0.7 asks what an entropy model 30%% better "
                         "than the per-chunk Laplacian would give (a learned one, say)")
    ap.add_argument("--snr", type=lambda v: [float(x) for x in v.split(",")], default=list(SNRS),
                    help="comma-separated SNRs in dB (default 1,4,7,10,13,16,20)")
    ap.add_argument("--limit", type=int, default=0, help="the first N images of each folder")
    ap.add_argument("--out", default="results/hybrid_codes.json")
    a = ap.parse_args()
    if set(a.designs) - set(DESIGNS):
        ap.error(f"unknown design(s) {', '.join(sorted(set(a.designs) - set(DESIGNS)))}: {', '.join(DESIGNS)}")
    code = ChunkDCT(16, 8, allocation="mmse", side_info="compact")
    out = {"what": __doc__.split("\n")[0], "gap_db": a.gap_db, "efficiency": a.efficiency, "deadzone": DEADZONE,
           "folders": {}}
    for folder in a.images or ["../shared/data/kodak"]:
        files = list_images(folder)[: a.limit or None]
        imgs = [chunks(load(f)) for f in files]  # (chunks, 256) each
        layers = [hda_layers(b, code) for b in imgs] if "hda" in a.designs else []
        files_avif = [avif_layers(load(f)) for f in files] if {"avif", "avif-hda"} & set(a.designs) else []
        rows: dict[str, dict[str, float]] = {d: {} for d in a.designs}
        if "hda" in a.designs:
            rows["hda: base layer's share of the channel uses"] = {}
        if "rest" in a.designs:
            rows["rest: analog chunks against the analog code's"] = {}
        for snr in a.snr:
            key = f"{snr:g} dB"
            got: dict[str, list[float]] = {}
            for i, blocks in enumerate(imgs):
                mse = {}
                if "analog" in a.designs:
                    mse["analog"] = analog(blocks, snr, code)
                if "hda" in a.designs:
                    mse["hda"], share = hda(blocks, layers[i], snr, a.gap_db, code, a.efficiency)
                    got.setdefault("hda: base layer's share of the channel uses", []).append(share)
                if "rest" in a.designs:
                    mse["rest"], k, _ = hybrid(blocks, snr, a.gap_db, code, a.efficiency)
                    k_analog = code.chunks_sent(len(blocks), blocks.size // (2 * RATE))
                    got.setdefault("rest: analog chunks against the analog code's", []).append(k / k_analog)
                for d in ("avif", "avif-hda"):
                    if d in a.designs:
                        mse[d], _ = avif(files_avif[i], blocks.size // (2 * RATE), snr, a.gap_db,
                                         code if d == "avif-hda" else None)
                if "opta" in a.designs:
                    mse["opta"] = opta(blocks, snr)
                for d, v in mse.items():
                    got.setdefault(d, []).append(10 * np.log10(1 / v))
            for d, v in got.items():
                rows[d][key] = round(float(np.mean(v)), 2)
            print(folder, key, {d: rows[d][key] for d in rows}, flush=True)
        out["folders"][folder] = {"images": len(files), "psnr_db": rows}
    out["command"] = "python " + " ".join(sys.argv)
    out["commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
