"""Which part of the proposed reconstruction path earns what: parts switched off, same symbols.

    python scripts/ablate_parts.py [--weights default] [--snr 13,25] [--every 4 --limit 6] [--pca-reset]
                                   [--per-image-gains on|off]

On whole Kodak images (every `--every`-th, at most `--limit`), AWGN, the mean PSNR of the shipped chain
(``semcom.pipeline.run_chain``) with: everything on; the DiT's correction at zero (``dit0``); the refiner's
gates at zero (``ref0``: the linear synthesis of the DiT's estimate); the encoder's learned path gated off
(``enc0``: the transmitter sends its linear code alone); and their combinations. ``enc0+dit0+ref0`` is the
model's own linear code end to end. With an SNR-gated encoder, ``snr1`` holds the SNR gate at its
identity start (the plain gate at every SNR): what conditioning on the SNR earns. `--pca-reset` first
puts the linear encoder and decoder back to the patch PCA (weights/linear): what the training moved in
the linear code itself. `--weights none` is the untrained model, i.e. the training-free linear code.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from pathlib import Path

import torch

from semcom.pipeline import Pipeline, run_chain
from shared.channel import ChannelSpec
from shared.imageio import open_rgb, to_tensor
from shared.metrics import psnr
from shared.weights import starting_pca

VARIANTS = ("full", "dit0", "ref0", "dit0+ref0", "enc0", "enc0+dit0+ref0", "snr1")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="default")
    p.add_argument("--data", default="../shared/data/kodak")
    p.add_argument("--snr", default="13,25")
    p.add_argument("--every", type=int, default=4)
    p.add_argument("--limit", type=int, default=6)
    p.add_argument("--pca-reset", action="store_true")
    p.add_argument("--per-image-gains", choices=["on", "off"])
    a = p.parse_args()

    pipe = Pipeline.load(weights=a.weights)
    tx, rx = pipe.transmitter, pipe.receiver
    if tx.encoder.analog is None:
        raise SystemExit("these weights have no linear path to switch parts of")
    if a.pca_reset:
        pca = starting_pca(pipe.cfg)
        tx.encoder.analog.init_from(pca)
        rx.analog.init_from(pca)
    if a.per_image_gains:
        gains = ("reconstruction",) if a.per_image_gains == "on" else ()
        tx.encoder.cfg = dataclasses.replace(tx.encoder.cfg, per_image_gains=gains)
    images = [to_tensor(open_rgb(f)) for f in sorted(Path(a.data).glob("*.png"))[::a.every][:a.limit]]
    dit = rx.reconstruction.dit

    snr_gate = tx.encoder.snr_gate["reconstruction"].net[-1] if tx.encoder.snr_gate is not None else None
    variants = [v for v in VARIANTS if v != "snr1" or snr_gate is not None]

    @contextlib.contextmanager
    def switched_off(variant: str):
        gate, gates = tx.encoder.gate.detach().clone(), rx.reconstruction.synthesis.gates.detach().clone()
        kept = {k: v.clone() for k, v in snr_gate.state_dict().items()} if snr_gate is not None else None
        with torch.no_grad():
            if variant == "snr1":
                snr_gate.weight.zero_()
                snr_gate.bias.zero_()
            if "enc0" in variant:
                tx.encoder.gate.zero_()
            if "ref0" in variant:
                rx.reconstruction.synthesis.gates.zero_()
        if "dit0" in variant:
            dit.forward = lambda z, t, cond, snr: torch.zeros_like(z)
        try:
            yield
        finally:
            with torch.no_grad():
                tx.encoder.gate.copy_(gate)
                rx.reconstruction.synthesis.gates.copy_(gates)
            if kept is not None:
                snr_gate.load_state_dict(kept)
            vars(dit).pop("forward", None)

    print(f"{len(images)} images, weights {a.weights}{' (linear code reset to the PCA)' if a.pca_reset else ''}")
    for snr in (float(v) for v in a.snr.split(",")):
        for variant in variants:
            with switched_off(variant):
                vals = [float(psnr(run_chain(tx, rx, im, "reconstruction", ChannelSpec(snr_db=snr), 0)[0], im))
                        for im in images]
            print(f"{snr:5.1f} dB  {variant:15s} {sum(vals) / len(vals):6.2f} dB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
