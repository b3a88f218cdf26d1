"""`semcom bench models`: parameters per part, peak memory and seconds per image for each preset.

Each preset runs in its own subprocess so its peak resident memory is its own.
Results are JSON (stdout and --out).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

SIZES = ((224, 224), (512, 768))


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def measure(preset: str, repeats: int, device: str, weights: str | None, warmup: bool = True) -> dict:
    from semcom.pipeline import load_models
    from shared.weights import resolve_weights

    torch.manual_seed(0)
    cfg, path = resolve_weights(preset, weights)
    cfg, tx, rx = load_models(cfg, path, device)
    from semcom.pipeline import Pipeline
    from shared.channel import ChannelSpec

    kb = _NoKB()
    pipe = Pipeline(cfg, tx, rx, kb, kb)
    out = {
        "preset": preset,
        "device": device,
        "threads": torch.get_num_threads(),
        "parameters": {
            "transmitter_source_kb": _params(tx.source_kb),
            "jscc_encoder": _params(tx.encoder),
            "receiver_source_kb": _params(rx.source_kb),
            "reconstruction_decoder_dit": _params(rx.reconstruction.dit),
            "reconstruction_decoder_upsampler": _params(rx.reconstruction.synthesis),
            "segmentation_decoder": _params(rx.segmentation),
        },
        "diffusion_steps": cfg.diffusion.sample_steps,
        "seconds_per_image": {},
    }
    out["parameters"]["total"] = sum(out["parameters"].values())
    for h, w in SIZES:
        img = torch.rand(3, h, w, generator=torch.Generator().manual_seed(0))
        for task in ("reconstruction", "segmentation"):
            if warmup:
                pipe.run(img, task, ChannelSpec("awgn", 10.0), seed=0)
            times = []
            for i in range(repeats):
                t0 = time.perf_counter()
                r = pipe.run(img, task, ChannelSpec("awgn", 10.0), seed=i)
                times.append(time.perf_counter() - t0)
            out["seconds_per_image"][f"{task}_{h}x{w}"] = {
                "median": sorted(times)[len(times) // 2], "min": min(times),
                "stages": {k: round(v, 4) for k, v in r.timings.items()},
            }
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


class _NoKB:
    """Benchmarks time the models, not Sentence-BERT: the task name is the request."""

    fingerprint = "bench"

    def match(self, request):
        from shared.task_kb import TaskMatch

        return TaskMatch(task=request, score=1.0, scores={request: 1.0}, instruction=request)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom bench models", description=__doc__)
    p.add_argument("--preset", action="append", choices=["cpu", "paper", "test"],
                   help="preset(s) to measure (default: cpu and paper)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--weights", default="default", help="'default' (shipped, if any), 'none', or a directory")
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed first run (large presets)")
    p.add_argument("--out", help="write the JSON here too")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    weights = None if args.weights == "none" else args.weights
    if args._child:
        print(json.dumps(measure(args._child, args.repeats, args.device, weights, not args.no_warmup)))
        return 0
    results = []
    for preset in args.preset or ["cpu", "paper"]:
        print(f"measuring {preset} ...", file=sys.stderr)
        cmd = [sys.executable, "-m", "semcom.bench_models", "--_child", preset, "--repeats", str(args.repeats),
               "--device", args.device, "--weights", args.weights] + (["--no-warmup"] if args.no_warmup else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    doc = {"benchmark": "models", "command": " ".join(["semcom", "bench", "models", *(argv or [])]),
           "machine": {"cpu_count": torch.get_num_threads(), "platform": platform.platform(),
                       "torch": torch.__version__}, "results": results}
    text = json.dumps(doc, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
