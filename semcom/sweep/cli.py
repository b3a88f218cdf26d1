"""`semcom sweep`'s work (its options and documentation: ``semcom.sweep.options``)."""

from __future__ import annotations

import sys
from pathlib import Path

from semcom.sweep import report, runner, spec
from semcom.sweep.options import parse
from semcom.sweep.store import Store


def _cells(path: str) -> list | None:
    """The spec's cells, or None when it cannot be read (said in one line)."""
    try:
        return spec.load(path)
    except spec.SpecError as exc:
        print(f"semcom sweep: {exc}", file=sys.stderr)
        return None


def _missing(args, store: Store) -> int:
    """Lists the cells of the spec the store lacks; computes nothing."""
    try:
        jobs = spec.trainings(args.spec)
    except spec.SpecError as exc:
        print(f"semcom sweep: {exc}", file=sys.stderr)
        return 2
    untrained = [job for job in jobs if not (Path(job.out) / "done").exists()]
    try:
        cells = spec.load(args.spec)
    except spec.SpecError as exc:
        if not untrained:
            print(f"semcom sweep: {exc}", file=sys.stderr)
            return 2
        print(f"semcom sweep: {len(untrained)} of {len(jobs)} training(s) to run first "
              f"({', '.join(job.system for job in untrained)}); the cells are keyed by the weights they make, "
              "so they are known once those exist", file=sys.stderr)
        return 0
    todo = [cell for cell in cells if not store.has(cell)]
    for cell in todo:
        params = ", ".join(f"{k} {v:g}" for k, v in cell.params)
        print(f"{cell.task} {cell.system} {cell.channel}{f' ({params})' if params else ''} csi {cell.csi} "
              f"{cell.snr_db:g} dB")
    trained = f"; its {len(jobs)} training(s) first" if jobs else ""
    print(f"semcom sweep: {len(todo)} of {len(cells)} cell(s) missing from {store.root}{trained}", file=sys.stderr)
    return 0


def _report(args, store: Store, cells: list) -> None:
    """Plots and tables of the spec's cells the store holds: cells of other specs, or of weights since replaced
    (their keys hold the weights' digest), stay in the store and out of the report."""
    docs = [doc for doc in map(store.read, cells) if doc is not None]
    folder = Path(store.root) / "report" / Path(args.spec).stem  # one folder per spec: specs may share a store
    written = report.write(docs, folder)
    print(f"semcom sweep: report in {folder} ({len(written) - 1} plot(s), TABLES.md; {len(docs)} of {len(cells)} "
          "cell(s))", file=sys.stderr)


def run(args) -> int:
    store = Store(args.store)
    if args.missing:
        return _missing(args, store)
    if args.report:
        cells = _cells(args.spec)
        if cells is None:
            return 2
        _report(args, store, cells)
        return 0
    failed_training = False
    try:
        jobs = spec.trainings(args.spec)
    except spec.SpecError as exc:
        print(f"semcom sweep: {exc}", file=sys.stderr)
        return 2
    # the systems first: the [[sweep]] tables evaluate their weights, which must exist to be keyed
    for job, status in runner.train(jobs, args.ray_address) if jobs else ():
        print(f"semcom sweep: train {job.system}: {status}", file=sys.stderr)
        failed_training |= status.startswith("failed")
    cells = _cells(args.spec)
    if cells is None:
        return 2
    command = "semcom sweep " + " ".join([args.spec] + (["--ray-address", args.ray_address]
                                                         if args.ray_address else []))
    outcome = runner.run(cells, store, command, args.ray_address, args.num_cpus, args.progress)
    print(f"semcom sweep: {len(outcome.done)} cell(s) computed, {len(outcome.skipped)} already in {store.root}, "
          f"{len(outcome.failed)} failed", file=sys.stderr)
    for cell, error in outcome.failed:
        print(f"  failed: {cell.system} {cell.task} {cell.channel} csi {cell.csi} {cell.snr_db:g} dB: {error}",
              file=sys.stderr)
    _report(args, store, cells)
    return 1 if outcome.failed or failed_training else 0


def main(argv: list[str] | None = None) -> int:
    return run(parse(argv))


if __name__ == "__main__":
    sys.exit(main())
