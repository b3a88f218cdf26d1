"""The speed-up of one sweep on two Ray worker processes against one, on this machine (docs/sweeps.md's figure).

    python scripts/sweep_speedup.py [--data ../shared/data/kodak] [--out results/sweep_speedup.json]

Starts a one-node Ray cluster on loopback with 1 CPU, runs the sweep below into a fresh store, stops it; then
the same with 2 CPUs (two tasks at once, one torch thread each); writes both wall times and their ratio."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from semcom.sweep.cluster import LocalCluster
from shared.provenance import provenance

SPEC = """[[sweep]]
task = "reconstruction"
systems = ["proposed", "softcast"]
data = "{data}"
limit = 12
crop = 224
channels = ["awgn", "rayleigh"]
block_len = 64
snr_db = [1, 4, 7, 10, 13]
"""


def timed_sweep(spec: Path, cpus: int) -> tuple[float, int]:
    with LocalCluster(nodes=1, cpus=cpus) as cluster, tempfile.TemporaryDirectory() as store:
        started = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "semcom.cli", "sweep", str(spec), "--store", store,
                            "--ray-address", cluster.address, "--no-progress"], capture_output=True, text=True)
        wall = time.perf_counter() - started
        if r.returncode != 0:
            raise SystemExit(f"sweep failed on {cpus} CPU(s): {r.stderr[-2000:]}")
        return wall, len(list(Path(store).glob("*/*.json")))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/kodak")
    p.add_argument("--out", default="results/sweep_speedup.json")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "speedup.toml"
        spec.write_text(SPEC.format(data=Path(a.data).resolve()))
        one, cells = timed_sweep(spec, 1)
        two, _ = timed_sweep(spec, 2)
    doc = {"benchmark": "sweep speed-up", "cells": cells, "spec": SPEC.format(data=a.data),
           "one_worker_s": round(one, 2), "two_workers_s": round(two, 2), "speedup": round(one / two, 3),
           **provenance("python scripts/sweep_speedup.py " + " ".join(argv or sys.argv[1:]), 0)}
    Path(a.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({k: doc[k] for k in ("cells", "one_worker_s", "two_workers_s", "speedup")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
