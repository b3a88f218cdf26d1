"""Re-keys a `semcom sweep` store's cells of the proposed system from the weights file's sha256 (how cells were
keyed before 2026-12-07) to the digest of what each cell's task uses of the checkpoint
(``shared.weights.task_digest``), so that weights which change one task keep the other task's cells.

    python scripts/rekey_sweep_store.py --store results/sweep --weights weights/cpu --weights OLD_CHECKPOINT ...

Each cell keyed by the file sha256 of one of the --weights checkpoints gets that checkpoint's task digest in its
identity and moves to the file its new key names; its result and provenance (the eval's own `weights_sha256`,
the file it read) are kept as they are. Cells of other weights are left alone. Where two cells land on one key
(the same task and settings under two checkpoints whose parts for the task are identical) their results must
agree, or the script stops and says which.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from semcom.sweep.spec import identity_key
from semcom.sweep.store import Store
from shared.weights import file_sha256, read_checkpoint_doc, task_digest


def rekey(store: Path, checkpoints: list[Path]) -> tuple[int, int]:
    """(cells moved, duplicates dropped)."""
    by_sha = {}
    for d in checkpoints:
        by_sha[read_checkpoint_doc(d).get("sha256") or file_sha256(d / "model.safetensors")] = d
    digests: dict[tuple[str, str], str] = {}
    moved = dropped = 0
    cells = Store(store)
    for path in sorted(cells.root.glob("*/*.json")):
        doc = json.loads(path.read_text())
        cell = doc["cell"]
        if cell["system"] != "proposed" or cell["weights_sha256"] not in by_sha:
            continue
        sha, task = cell["weights_sha256"], cell["task"]
        if (sha, task) not in digests:
            digests[sha, task] = task_digest(by_sha[sha], task)
        cell = dict(cell, weights_sha256=digests[sha, task])
        key = identity_key(cell)
        target = cells.file(task, "proposed", key)
        if target.exists() and target != path:
            there = json.loads(target.read_text())
            if there["cell"] == cell:
                if there["results"] != doc["results"]:
                    raise SystemExit(f"{path} and {target}: the same cell under checkpoints identical for "
                                     f"{task}, with different results ({doc['results']} against {there['results']})")
                path.unlink()
                dropped += 1
                continue
        doc.update(cell=cell, key=key)
        target.write_text(json.dumps(doc, indent=1) + "\n")
        if target != path:
            path.unlink()
        moved += 1
    return moved, dropped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", default="results/sweep", type=Path)
    p.add_argument("--weights", action="append", required=True, type=Path, metavar="DIR",
                   help="a checkpoint whose cells to re-key (repeat for several)")
    a = p.parse_args(argv)
    moved, dropped = rekey(a.store, a.weights)
    print(f"{a.store}: {moved} cell(s) re-keyed, {dropped} duplicate(s) of identical results dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
