"""`semcom bench`: models, services, task KB and diffusion benchmarks, as JSON."""

from __future__ import annotations

import json
from pathlib import Path


def emit(doc: dict, out: str | None, indent: int = 2) -> int:
    """Prints a benchmark's JSON and, with `out`, writes it there too (its folder made); the command's status."""
    text = json.dumps(doc, indent=indent)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    print(text)
    return 0
