"""What `txclient send` adds to the services' own time, as a user meets it.

    semcom up &   # then:
    python scripts/txclient_overhead.py IMAGE [--task "reconstruct the image"] [--runs 5] [--out FILE]

Runs `txclient send IMAGE --json` as a new process each time and splits its wall clock into the
services' part (the client's Send call and its wait for the result, `client_s.send + client_s.result`)
and the rest: interpreter and import start-up, reading the image, writing the result files and
measuring PSNR. Prints JSON (median and each run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image")
    p.add_argument("--task", default="reconstruct the image")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out")
    a = p.parse_args()
    rows = []
    for i in range(a.runs + 1):  # the first run warms the services and the page cache; not counted
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            proc = subprocess.run(["txclient", "send", a.image, "--task", a.task, "--seed", str(i), "--json",
                                   "--out", out], capture_output=True, text=True)
            wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        doc = json.loads(proc.stdout.strip().splitlines()[-1])
        services = doc["client_s"]["send"] + doc["client_s"]["result"]
        if i:
            rows.append({"wall_s": round(wall, 3), "services_s": round(services, 3),
                         "client_adds_s": round(wall - services, 3),
                         "files_and_quality_s": doc["client_s"]["files_and_quality"]})
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import semcom.txclient"], check=True)
    imports = time.perf_counter() - t0
    med = {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}
    doc = {"image": a.image, "task": a.task, "runs": rows, "median": med,
           "python_start_and_import_txclient_s": round(imports, 3)}
    text = json.dumps(doc, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
