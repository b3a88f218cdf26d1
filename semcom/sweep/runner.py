"""Runs a sweep's missing cells: in this process, or as Ray tasks on a cluster.

With Ray each shard of each cell is a task that declares its CPUs (and a GPU when the cell asks for CUDA); a task
lost with its node is run again elsewhere (Ray's retries); a task whose code fails is reported with its error and
the others go on. The driver alone writes the store, each cell once, when all its shards are back.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field

from tqdm import tqdm

from semcom.sweep.spec import Cell, Training
from semcom.sweep.store import Store
from semcom.sweep.work import evaluate_shard, merge


@dataclass
class Outcome:
    done: list[Cell] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)  # already in the store
    failed: list[tuple[Cell, str]] = field(default_factory=list)


def run(cells: list[Cell], store: Store, command: str, address: str | None = None, num_cpus: float = 1.0,
        progress: bool = True) -> Outcome:
    outcome = Outcome()
    todo = []
    for cell in cells:
        (outcome.skipped if store.has(cell) else todo).append(cell)
    bar = tqdm(total=len(todo), desc="sweep cells", unit="cell", dynamic_ncols=True, disable=not progress,
               file=sys.stderr)
    if address is None:
        _local(todo, store, command, outcome, bar)
    else:
        _ray(todo, store, command, address, num_cpus, outcome, bar)
    bar.close()
    return outcome


def _local(todo: list[Cell], store: Store, command: str, outcome: Outcome, bar) -> None:
    for cell in todo:
        try:
            parts = [evaluate_shard(cell.as_dict(), s) for s in range(cell.shards)]
            store.write(cell, merge(cell, parts, command))
            outcome.done.append(cell)
        except Exception as exc:  # noqa: BLE001 - a failing cell is reported; the others go on
            outcome.failed.append((cell, _one_line(exc)))
        bar.update(1)


def _ray(todo: list[Cell], store: Store, command: str, address: str, num_cpus: float, outcome: Outcome,
         bar) -> None:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    pending: dict = {}
    parts: dict[str, list[dict]] = {}
    for cell in todo:
        gpus = 1 if cell.device.startswith("cuda") else 0
        task = ray.remote(evaluate_shard).options(num_cpus=num_cpus, num_gpus=gpus, max_retries=3,
                                                  retry_exceptions=False)
        for s in range(cell.shards):
            pending[task.remote(cell.as_dict(), s)] = cell
        parts[cell.key] = []
    failed: set[str] = set()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        ref = ready[0]
        cell = pending.pop(ref)
        if cell.key in failed:
            continue
        try:
            parts[cell.key].append(ray.get(ref))
        except Exception as exc:  # noqa: BLE001 - the cell's error, reported; the other cells go on
            failed.add(cell.key)
            outcome.failed.append((cell, _one_line(exc)))
            bar.update(1)
            continue
        if len(parts[cell.key]) == cell.shards:
            store.write(cell, merge(cell, parts.pop(cell.key), command))
            outcome.done.append(cell)
            bar.update(1)


def train_one(job: Training) -> dict:
    """One system's training for the sweep's budget, in this process's machine: `semcom train ... --time-budget
    T --resume`, so a stopped sweep continues each run where it stood with the time it had left; a run that
    finished (its folder holds `done`) is not started again."""
    import subprocess
    from pathlib import Path

    out = Path(job.out)
    if (out / "done").exists():
        return {"system": job.system, "status": "done already", "out": str(out)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{job.system}.log", "ab") as log:
        rc = subprocess.run(job.command(), stdout=log, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise RuntimeError(f"semcom train --system {job.system} exited with {rc} (log: {out.parent}/{job.system}.log)")
    (out / "done").touch()
    return {"system": job.system, "status": "trained", "out": str(out)}


def train(jobs: list[Training], address: str | None = None) -> list[tuple[Training, str]]:
    """Every [[train]] job: one after another here, or all at once on a cluster, each a Ray task reserving the
    same CPUs (so N like machines train N systems at once, each within the same budget). Returns (job, status)."""
    results = []
    if address is None:
        for job in jobs:
            try:
                results.append((job, train_one(job)["status"]))
            except Exception as exc:  # noqa: BLE001 - one system's failure; the others go on
                results.append((job, f"failed: {_one_line(exc)}"))
        return results
    import ray

    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    refs = {ray.remote(train_one).options(num_cpus=job.num_cpus, max_retries=1).remote(job): job for job in jobs}
    for ref, job in refs.items():
        try:
            results.append((job, ray.get(ref)["status"]))
        except Exception as exc:  # noqa: BLE001
            results.append((job, f"failed: {_one_line(exc)}"))
    return results


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc  # a Ray task error carries the task's own exception
    text = " ".join(str(cause).split()) or type(cause).__name__
    if not str(cause).strip():
        text = "".join(traceback.format_exception_only(type(cause), cause)).strip()
    return f"{type(cause).__name__}: {text}"[:300]
