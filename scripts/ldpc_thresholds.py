"""The SNR each 5G LDPC + QAM configuration needs over AWGN: the table behind link adaptation.

    python scripts/ldpc_thresholds.py [--blocks 100] [--bler 0.01] [--out results/ldpc_thresholds.json]

For every modulation (QPSK, 16-, 64-, 256-QAM) and code rate of ``semcom.baselines.classical.MCS_RATES``, the
lowest SNR on a 0.25 dB grid (from the configuration's Shannon limit up) at which `--blocks` codewords of 6144
coded bits (Sionna's 5G LDPC encoder, 20 BP iterations, the APP demapper; ``LDPCQAM.lost_blocks``) sent through
the project's AWGN channel lose at most `--bler` of them (none at all when blocks * bler < 1). Seeded: the same
table every run. The ``MCS_TABLE`` of ``semcom.baselines.classical`` holds its output; `avif-ldpc` and `hda-avif`
pick from it the configuration with the most information bits per channel use whose threshold, plus
``LINK_MARGIN_DB``, is at most the SNR it sends at.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from semcom.baselines.classical import MCS_RATES, LDPCQAM  # noqa: E402
from shared.channel import ChannelSpec  # noqa: E402


def bler(chain: LDPCQAM, snr_db: float, blocks: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    payload = rng.integers(0, 2, blocks * chain.k).astype(np.float32)
    return chain.lost_blocks(payload, ChannelSpec("awgn", snr_db), seed) / blocks


def threshold(chain: LDPCQAM, blocks: int, target: float) -> float:
    """The lowest SNR on the 0.25 dB grid whose block error rate is at most `target` (bisection), searched from the
    Shannon limit of the configuration's information bits per use to 4 dB above it (higher if none passes)."""
    limit = 10 * math.log10(2 ** (chain.m * chain.k / chain.n) - 1)
    lo = math.floor(limit * 4) / 4
    grid = np.arange(lo, lo + 4 + 1e-9, 0.25)
    while bler(chain, float(grid[-1]), blocks) > target:
        grid = grid + 4
    a, b = 0, len(grid) - 1
    while a < b:
        mid = (a + b) // 2
        if bler(chain, float(grid[mid]), blocks) <= target:
            b = mid
        else:
            a = mid + 1
    return float(grid[a])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocks", type=int, default=100)
    ap.add_argument("--bler", type=float, default=0.01)
    ap.add_argument("--out", default="results/ldpc_thresholds.json")
    a = ap.parse_args()
    rows = []
    for bits, rates in MCS_RATES.items():
        for rate in rates:
            chain = LDPCQAM(bits, rate)
            snr = threshold(chain, a.blocks, a.bler)
            rows.append({"bits_per_symbol": bits, "rate": rate, "info_bits_per_use": round(bits * float(chain.k)
                                                                                           / chain.n, 4),
                         "snr_db": snr})
            print(rows[-1], flush=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"what": __doc__.split("\n")[0], "channel": "awgn", "codeword_bits": 6144, "ldpc_iterations": 20,
           "blocks": a.blocks, "target_bler": a.bler, "table": rows, "command": "python " + " ".join(sys.argv),
           "commit": commit}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
