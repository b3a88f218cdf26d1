"""`semcom sweep` on a real Ray cluster of two nodes on loopback (`ray start --head`, then `ray start --address`):
the same numbers as in one process, reruns that compute nothing, and a node lost mid-sweep costing nothing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from semcom.sweep import runner, spec
from semcom.sweep.cluster import LocalCluster
from semcom.sweep.store import Store
from tests.e2e.conftest import png_bytes, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a Ray cluster starts; a node is killed and its loss detected

@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster(nodes=2, cpus=1)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i in range(6):
        (folder / f"img{i}.png").write_bytes(png_bytes(224, 160, seed=i))
    return folder


def _spec(folder: Path, path: Path, snrs: list[float], shards: int = 1) -> Path:
    path.write_text(f"""[[sweep]]
task = "reconstruction"
systems = ["proposed", "softcast"]
data = "{folder}"
channels = ["awgn", "rayleigh"]
snr_db = {json.dumps(snrs)}
preset = "test"
weights = "none"
steps = 2
block_len = 64
shards = {shards}
""")
    return path


def _sweep(spec_path: Path, store: Path, address: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semcom.cli", "sweep", str(spec_path), "--store", str(store),
                           "--ray-address", address, "--no-progress"], capture_output=True, text=True, timeout=900)


def _numbers(store: Path) -> dict[str, tuple]:
    return {d["key"]: (d["results"], d["per_image"]) for d in Store(store).docs()}


def test_a_cluster_computes_what_one_process_does_and_a_rerun_nothing(cluster, photos, tmp_path):
    path = _spec(photos, tmp_path / "sweep.toml", [0, 10], shards=2)
    r = _sweep(path, tmp_path / "cluster", cluster.address)
    assert r.returncode == 0, r.stderr
    assert "10 cell(s) computed, 0 already" in r.stderr
    alone = Store(tmp_path / "alone")
    runner.run(spec.load(path), alone, "test", progress=False)
    assert _numbers(tmp_path / "cluster") == _numbers(tmp_path / "alone")  # number for number
    pids = {s["pid"] for d in Store(tmp_path / "cluster").docs() for s in d["shards"]}
    assert len(pids) >= 2  # both nodes worked
    r = _sweep(path, tmp_path / "cluster", cluster.address)
    assert r.returncode == 0 and "0 cell(s) computed, 10 already" in r.stderr


def test_a_node_lost_mid_sweep_costs_nothing(cluster, photos, tmp_path):
    """The second node's processes are killed once the first cells are in: its tasks run again on the first
    node, and every cell is in the store exactly once."""
    path = _spec(photos, tmp_path / "sweep.toml", [float(s) for s in range(-4, 20, 2)])
    cells = spec.load(path)
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "semcom.cli", "sweep", str(path), "--store", str(store),
                             "--ray-address", cluster.address, "--no-progress"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(list(store.glob("*/*.json"))) >= 2 or proc.poll() is not None,
                 "the first cells in the store", timeout=300)
        assert proc.poll() is None, proc.communicate()[1]  # still sweeping: the loss comes mid-sweep
        cluster.kill_node(1)
        _, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"{len(cells)} cell(s) computed" in err and "0 failed" in err
    files = list(store.glob("*/*.json"))
    assert len(files) == len(cells) and {json.loads(f.read_text())["key"] for f in files} == {c.key for c in cells}
    assert not list(store.glob("*/*.tmp*"))  # nothing half-written
