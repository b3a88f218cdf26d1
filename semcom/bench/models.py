"""`semcom bench models`: parameters per part, peak memory and seconds per image for each preset.

Each preset runs in its own subprocess so its peak resident memory is its own.
``--scaling`` adds how time and memory grow: one subprocess per image size (both tasks,
so each size's peak memory is its own) and one sweeping the diffusion steps at the first
size. Results are JSON (stdout and --out).
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

from semcom.bench import emit
from semcom.pipeline import Pipeline, load_models
from shared import tasks
from shared.channel import ChannelSpec
from shared.config import PRESETS
from shared.devices import pick_device
from shared.flags import add_model_flags
from shared.provenance import provenance, weights_provenance
from shared.task_kb import TaskMatch
from shared.weights import resolve_weights

SIZES = ((224, 224), (512, 768))
SCALING_SIZES = "224x224,512x512,512x768,1024x1024"
SCALING_STEPS = "1,2,4,8,16,32"


def parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(tuple(int(v) for v in s.lower().split("x")) for s in text.split(","))  # type: ignore[misc]


def peak_memory_mib(device: str) -> dict:
    out = {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.startswith("cuda"):
        out["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def measure(preset: str, repeats: int, device: str, weights: str | None, warmup: bool = True,
            sizes: tuple[tuple[int, int], ...] = SIZES, steps_sweep: tuple[int, ...] = ()) -> dict:

    torch.manual_seed(0)
    cfg, path = resolve_weights(preset, weights)
    cfg, tx, rx = load_models(cfg, path, device)

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
    def timed(img, task, steps=None):
        if warmup:
            pipe.run(img, task, ChannelSpec("awgn", 10.0), seed=0, steps=steps)
        times = []
        for i in range(repeats):
            t0 = time.perf_counter()
            r = pipe.run(img, task, ChannelSpec("awgn", 10.0), seed=i, steps=steps)
            times.append(time.perf_counter() - t0)
        return {"median": sorted(times)[len(times) // 2], "min": min(times),
                "stages": {k: round(v, 4) for k, v in r.timings.items()}}

    for h, w in sizes:
        img = torch.rand(3, h, w, generator=torch.Generator().manual_seed(0))
        for task in tasks.names():
            out["seconds_per_image"][f"{task}_{h}x{w}"] = timed(img, task)
    if steps_sweep:
        h, w = sizes[0]
        img = torch.rand(3, h, w, generator=torch.Generator().manual_seed(0))
        for task in (t.name for t in tasks.all_tasks() if t.sampled):
            out[f"{task}_seconds_by_steps"] = {str(n): timed(img, task, n) for n in steps_sweep}
    out.update(peak_memory_mib(device))
    return out


class _NoKB:
    """Benchmarks time the models, not Sentence-BERT: the task name is the request."""

    fingerprint = "bench"

    def match(self, request):
        return TaskMatch(task=request, score=1.0, scores={request: 1.0}, instruction=request)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semcom bench models", description=__doc__)
    p.add_argument("--preset", action="append", choices=list(PRESETS),
                   help="preset(s) to measure (default: cpu and paper)")
    p.add_argument("--repeats", type=int, default=3)
    add_model_flags(p.add_argument_group("model"), preset=False)
    p.add_argument("--no-warmup", action="store_true", help="skip the untimed first run (large presets)")
    p.add_argument("--scaling", action="store_true",
                   help=f"also time and memory per image size ({SCALING_SIZES}) and per diffusion step count "
                        f"({SCALING_STEPS}), each size in its own process")
    p.add_argument("--sizes", help=f"image sizes HxW for --scaling (default {SCALING_SIZES})")
    p.add_argument("--steps", help=f"diffusion step counts for --scaling (default {SCALING_STEPS})")
    p.add_argument("--out", help="write the JSON here too")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    p.add_argument("--_sizes", help=argparse.SUPPRESS)
    p.add_argument("--_steps", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.device = str(pick_device(args.device))
    weights = None if args.weights == "none" else args.weights
    if args._child:
        sizes = parse_sizes(args._sizes) if args._sizes else SIZES
        steps = tuple(int(v) for v in args._steps.split(",")) if args._steps else ()
        print(json.dumps(measure(args._child, args.repeats, args.device, weights, not args.no_warmup, sizes, steps)))
        return 0

    def child(preset: str, *extra: str) -> dict | None:
        cmd = [sys.executable, "-m", "semcom.bench.models", "--_child", preset, "--repeats", str(args.repeats),
               "--device", args.device, "--weights", args.weights, *extra] + (["--no-warmup"] if args.no_warmup else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return None
        return json.loads(proc.stdout.strip().splitlines()[-1])

    results, scaling = [], []
    for preset in args.preset or ["cpu", "paper"]:
        print(f"measuring {preset} ...", file=sys.stderr)
        r = child(preset)
        if r is None:
            return 1
        results.append(r)
        if args.scaling:
            rows = []
            for size in (args.sizes or SCALING_SIZES).split(","):
                print(f"  scaling {preset} {size} ...", file=sys.stderr)
                r = child(preset, "--_sizes", size)
                if r is None:
                    return 1
                rows.append({"size": size, **{k.split("_")[0] + "_s": round(v["median"], 4)
                                              for k, v in r["seconds_per_image"].items()},
                             **{k: v for k, v in r.items() if k.startswith("peak_")}})
            print(f"  steps sweep {preset} ...", file=sys.stderr)
            size = (args.sizes or SCALING_SIZES).split(",")[0]
            r = child(preset, "--_sizes", size, "--_steps", args.steps or SCALING_STEPS)
            if r is None:
                return 1
            scaling.append({"preset": preset, "by_size": rows, "steps_at": size,
                            "reconstruction_s_by_steps": {k: round(v["median"], 4)
                                                          for k, v in r["reconstruction_seconds_by_steps"].items()}})

    doc = {"benchmark": "models", **provenance(" ".join(["semcom", "bench", "models", *(argv or [])])),
           "weights_by_preset": {pr: weights_provenance(pr, weights)
                                 for pr in (args.preset or ["cpu", "paper"])},
           "machine": {"cpu_count": torch.get_num_threads(), "platform": platform.platform(),
                       "torch": torch.__version__}, "results": results}
    if scaling:
        doc["scaling"] = scaling
    return emit(doc, args.out)


if __name__ == "__main__":
    sys.exit(main())
