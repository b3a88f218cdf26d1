"""The committed stubs in shared/rpc must be what scripts/gen_protos.sh makes from protos/."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_protos(tmp_path):
    """The script itself, run in a copy of the tree, so the test checks what a contributor runs."""
    pytest.importorskip("grpc_tools")
    shutil.copytree(ROOT / "protos", tmp_path / "protos")
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "gen_protos.sh", tmp_path / "scripts" / "gen_protos.sh")
    subprocess.run(["bash", str(tmp_path / "scripts" / "gen_protos.sh")], check=True,
                   env={**os.environ, "PYTHON": sys.executable})
    for name in ("semcom_pb2.py", "semcom_pb2.pyi", "semcom_pb2_grpc.py"):
        fresh = (tmp_path / "shared" / "rpc" / name).read_text()
        committed = (ROOT / "shared" / "rpc" / name).read_text()
        assert fresh == committed, f"shared/rpc/{name} is stale: run scripts/gen_protos.sh"


def test_every_proto_field_is_commented():
    lines = (ROOT / "protos" / "shared" / "rpc" / "semcom.proto").read_text().splitlines()
    for i, line in enumerate(lines):
        s = line.strip()
        is_field = s.endswith(";") and "=" in s and not s.startswith(("//", "syntax", "package", "option"))
        if is_field:
            prev = lines[i - 1].strip()
            assert prev.startswith("//") or "//" in s, f"line {i + 1} lacks a comment: {s}"
