"""The results store of `semcom sweep`: one JSON file per cell, named by the cell's key, written once."""

from __future__ import annotations

import json
import os
from pathlib import Path

from semcom.eval.cli import system_tag
from semcom.sweep.spec import Cell


class Store:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, cell: Cell) -> Path:
        return self.file(cell.task, cell.system, cell.key)

    def file(self, task: str, system: str, key: str) -> Path:
        """Where the cell of that task, system and key is kept."""
        return self.root / task / f"{system_tag(system)}_{key[:20]}.json"

    def has(self, cell: Cell) -> bool:
        return self.path(cell).exists()

    def write(self, cell: Cell, doc: dict) -> Path:
        """Atomically (a reader never sees half a file; a crash leaves no file, so the cell runs again)."""
        path = self.path(cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, path)
        return path

    def read(self, cell: Cell) -> dict | None:
        """The cell's result, or None while the store lacks it."""
        path = self.path(cell)
        return json.loads(path.read_text()) if path.exists() else None

    def docs(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.root.glob("*/*.json"))]
