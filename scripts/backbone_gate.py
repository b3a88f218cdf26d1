"""What a segmentation decoder's SNR gate learnt: the factor on its backbone's three additions against the SNR.

    python scripts/backbone_gate.py [--weights weights/cpu] [--snr -2,0,1,4,7,10,13,20,25]

(``SegConfig.backbone_gate``, ``semcom train --seg-backbone-gate``: 1 everywhere at the start; below 1 where the
decoder learnt to trust the noisy image estimate less.) Prints a table and the same as JSON."""

from __future__ import annotations

import argparse
import json

import torch

from receiver.model import Receiver
from shared.weights import load_side


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", default="weights/cpu")
    p.add_argument("--snr", default="-2,0,1,4,7,10,13,20,25", help="comma list, dB")
    a = p.parse_args()
    try:
        snr = torch.tensor([float(x) for x in a.snr.split(",")])
    except ValueError:
        p.error(f"--snr takes a comma list of numbers in dB, e.g. 0,10,20 (not {a.snr!r})")
    try:
        receiver = load_side(Receiver, "receiver", "cpu", a.weights, "cpu")
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f"backbone_gate.py: {e}") from None
    try:
        gate = receiver.segmentation.backbone_gate_at(snr)
    except ValueError as e:
        raise SystemExit(f"{a.weights}: {e} (trained without --seg-backbone-gate)") from None
    print("SNR dB   stride/4  stride/2  grid")
    for s, g in zip(snr.tolist(), gate.tolist()):
        print(f"{s:6.1f}   " + "  ".join(f"{x:8.3f}" for x in g))
    print(json.dumps({"weights": a.weights, "snr_db": snr.tolist(), "gate": [[round(x, 4) for x in g]
                                                                            for g in gate.tolist()]}))


if __name__ == "__main__":
    main()
