"""`semcom bench diffusion`: does the diffusion decoder earn its place?

For one checkpoint and one channel, on a folder of images (whole, or centre crops), the same received
symbols decoded with:

* DDIM with each step count of --steps (1 = the DiT's one-shot prediction from pure noise: the
  regression estimate);
* several starting noises z_T (--noise-seeds) at each step count: how much the output depends on them;
* the DiT bypassed (its correction set to zero: the LMMSE estimate of the linear code goes straight to
  the refiner) and the linear code alone (the training-free floor: SoftCast when the model fits the code's
  allocation to each image, ``per_image_gains``, softcast-dct when it sends the DCT code, ``dct_tasks``);

each with PSNR, MS-SSIM (images over 160 px), the radially averaged power spectrum distance to the
original (dB; lower = texture statistics closer to the original's: a realism measure) and seconds per
image. JSON on stdout and in --out, with the provenance of `semcom eval`.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from channel.step import transmit
from semcom.baselines.linear import LinearAnalog, SoftCastDCT
from semcom.bench import emit
from semcom.data import Kodak, center_crop
from semcom.pipeline import load_models
from shared.channel import ChannelSpec, receive
from shared.channel_flags import add_channel_flags, params_of
from shared.flags import add_model_flags
from shared.metrics import ms_ssim, psnr, spectral_distance_db
from shared.provenance import provenance, weights_provenance
from shared.seeding import derive_seed
from shared.tasks import RECONSTRUCTION
from shared.weights import resolve_weights


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[3:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="semcom bench diffusion", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="a folder of PNG/JPEG images (e.g. Kodak)")
    add_model_flags(p, device=False)
    p.add_argument("--snr", type=float, default=10.0)
    add_channel_flags(p, noisy=True)
    p.add_argument("--steps", default="1,2,4,8,50", help="comma-separated DDIM step counts")
    p.add_argument("--noise-seeds", type=int, default=2, help="starting noises per step count")
    p.add_argument("--crop", type=int, default=0)
    p.add_argument("--limit", type=int, default=10**9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="JSON file")
    args = p.parse_args(argv)

    torch.manual_seed(0)
    cfg, path = resolve_weights(args.preset, args.weights)
    cfg, tx, rx = load_models(cfg, path, "cpu")
    ds = Kodak(args.data)
    images = [center_crop(ds[i], args.crop) if args.crop else ds[i] for i in range(min(len(ds), args.limit))]
    spec = ChannelSpec.of(args.channel, args.snr, args.block_len, args.csi, **params_of(args)).validate()
    steps_list = [int(v) for v in args.steps.split(",")]
    dit = rx.reconstruction.dit
    real_forward = dit.forward

    def decode(received, snr, size, steps, noise_seed, bypass=False):
        dit.forward = (lambda z, t, c, s: torch.zeros_like(z)) if bypass else real_forward
        try:
            gen = torch.Generator().manual_seed(derive_seed(noise_seed, "sampler"))
            return rx.decode(received, snr, RECONSTRUCTION, size, steps, gen)[0]
        finally:
            dit.forward = real_forward

    rows: dict[str, dict[str, list[float]]] = {}

    def record(key: str, img: torch.Tensor, out: torch.Tensor, seconds: float) -> None:
        r = rows.setdefault(key, {"psnr": [], "ms_ssim": [], "spectral_distance_db": [], "seconds": []})
        r["psnr"].append(float(psnr(img, out)))
        if min(img.shape[-2:]) > 160:
            r["ms_ssim"].append(float(ms_ssim(img, out)))
        r["spectral_distance_db"].append(spectral_distance_db(img, out))
        r["seconds"].append(seconds)

    linear = (SoftCastDCT.of(cfg.encoder)  # the model's own code
              if RECONSTRUCTION in cfg.encoder.dct_tasks
              else LinearAnalog.load(adaptive=RECONSTRUCTION in cfg.encoder.per_image_gains))
    with torch.no_grad():
        for i, img in enumerate(images):
            seed = args.seed + i
            packet = tx(img[None], RECONSTRUCTION, spec.snr_db)
            rxd = transmit(packet.symbols, spec, seed)
            reception = receive(rxd.y, rxd.h, rxd.noise_var, spec.snr_db, rxd.err_var)
            received = rx.view(reception, packet.grid, packet.scale, packet.allocation, packet.dct)
            snr = torch.tensor([spec.snr_db])
            size = tuple(img.shape[-2:])
            for steps in steps_list:
                for k in range(args.noise_seeds):
                    t = time.perf_counter()
                    out = decode(received, snr, size, steps, seed * 1000 + k)
                    record(f"steps={steps}" + (f" noise={k}" if k else ""), img, out, time.perf_counter() - t)
            t = time.perf_counter()
            record("dit bypassed", img, decode(received, snr, size, 1, seed, bypass=True), time.perf_counter() - t)
            t = time.perf_counter()
            record("linear code alone", img, linear.reconstruct(img, spec, seed), time.perf_counter() - t)
            print(f"image {i + 1}/{len(images)}", file=sys.stderr, flush=True)
    mean = {k: {m: round(sum(v) / len(v), 4) for m, v in r.items() if v} for k, r in rows.items()}
    spread = {}
    for steps in steps_list:  # the output's dependence on the starting noise, per image
        keys = [f"steps={steps}"] + [f"steps={steps} noise={k}" for k in range(1, args.noise_seeds)]
        if len(keys) > 1:
            per_image = zip(*(rows[k]["psnr"] for k in keys))
            spread[str(steps)] = round(max(max(v) - min(v) for v in per_image), 4)
    doc = {**weights_provenance(args.preset, args.weights),
           "preset": cfg.name, "data": args.data, "images": len(images), "crop": args.crop,
           "channel": args.channel, "block_len": args.block_len, "csi": args.csi, "snr_db": args.snr,
           "noise_seeds": args.noise_seeds, "results": mean,
           "max_psnr_spread_over_noise_db": spread,
           **provenance("semcom bench diffusion " + " ".join(argv), args.seed)}
    return emit(doc, args.out, indent=1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
