"""The sweep's acceptance check on real data: three systems (linear, softcast, proposed with the shipped weights)
over AWGN and Rayleigh at three SNRs on four Kodak images, run alone (in this process) and on a two-node Ray
cluster on loopback; the two stores must hold the same numbers; a second cluster run whose second node is killed
mid-sweep must still leave every cell once; a rerun must compute nothing. Writes results/sweep_check.json.

    python3 scripts/sweep_check.py [--data ../shared/data/kodak]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from semcom.sweep import runner, spec
from semcom.sweep.cluster import LocalCluster
from semcom.sweep.store import Store

SPEC = """[[sweep]]
task = "reconstruction"
systems = ["linear", "softcast", "proposed"]
data = "{data}"
images = ["kodim01.png", "kodim05.png", "kodim14.png", "kodim23.png"]
channels = ["awgn", "rayleigh"]
snr_db = [1, 7, 13]
"""


def numbers(store: Path) -> dict[str, tuple]:
    return {d["key"]: (d["results"], d["per_image"]) for d in Store(store).docs()}


def summary(err: str) -> str:
    """The sweep's own count line ("N cell(s) computed, M already, K failed")."""
    return next((line for line in err.splitlines() if "cell(s) computed" in line), err.strip()[-200:])


def sweep(path: Path, store: Path, address: str) -> tuple[subprocess.Popen, float]:
    return subprocess.Popen([sys.executable, "-m", "semcom.cli", "sweep", str(path), "--store", str(store),
                             "--ray-address", address, "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True), time.perf_counter()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"))
    p.add_argument("--out", default="results/sweep_check.json")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sweep_check_"))
    path = work / "check.toml"
    path.write_text(SPEC.format(data=a.data))
    cells = spec.load(path)
    t0 = time.perf_counter()
    runner.run(cells, Store(work / "alone"), "sweep_check alone", progress=False)
    alone_s = time.perf_counter() - t0
    doc: dict = {"cells": len(cells), "spec": SPEC.format(data=Path(a.data).name), "alone_s": round(alone_s, 1)}
    with LocalCluster(nodes=2, cpus=1) as cluster:
        proc, t = sweep(path, work / "cluster", cluster.address)
        _, err = proc.communicate(timeout=3600)
        doc["cluster"] = {"returncode": proc.returncode, "s": round(time.perf_counter() - t, 1),
                          "summary": summary(err)}
        same = numbers(work / "cluster") == numbers(work / "alone")
        doc["cluster_equals_alone"] = same
        proc, _ = sweep(path, work / "cluster", cluster.address)
        _, err = proc.communicate(timeout=600)
        doc["rerun"] = summary(err)
        proc, t = sweep(path, work / "killed", cluster.address)
        while len(list((work / "killed").glob("*/*.json"))) < 2 and proc.poll() is None:
            time.sleep(0.5)
        killed_mid = proc.poll() is None
        cluster.kill_node(1)
        _, err = proc.communicate(timeout=3600)
        files = list((work / "killed").glob("*/*.json"))
        doc["node_killed"] = {"mid_sweep": killed_mid, "returncode": proc.returncode,
                              "summary": summary(err),
                              "cells_in_store": len(files),
                              "each_once": sorted(json.loads(f.read_text())["key"] for f in files) == sorted(c.key for c in cells),
                              "equals_alone": numbers(work / "killed") == numbers(work / "alone")}
    doc["psnr_alone"] = {f"{d['name']} {d['channel']} {d['snr_db'][0]:g} dB": d["results"]["psnr"][0]
                         for d in Store(work / "alone").docs()}
    Path(a.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "psnr_alone"}, indent=1))
    ok = (same and doc["node_killed"]["each_once"] and doc["node_killed"]["equals_alone"]
          and doc["rerun"].startswith("semcom sweep: 0 cell(s) computed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
