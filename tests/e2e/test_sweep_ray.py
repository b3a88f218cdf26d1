"""`semcom sweep` on a real Ray cluster of two nodes on loopback (`ray start --head`, then `ray start --address`):
the same numbers as in one process, reruns that compute nothing, and a node lost mid-sweep costing nothing."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from semcom.sweep import runner, spec
from semcom.sweep.store import Store
from tests.e2e.conftest import free_ports, png_bytes, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a Ray cluster starts; a node is killed and its loss detected

RAY = shutil.which("ray")


def _cmdlines() -> dict[int, str]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                pass
    return out


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids.append(int(entry.name))
    return kids


def _kill_tree(pid: int) -> None:
    for kid in _children(pid):
        _kill_tree(kid)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Cluster:
    """Two Ray nodes of one CPU each on 127.0.0.1; stops only its own processes."""

    def __init__(self) -> None:
        self.temp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # Ray's socket paths must stay short
        (self.gcs, self.head_nm, self.worker_nm, self.client, self.agent1, self.agent2, self.worker_lo) = \
            free_ports(7)
        self.address = f"127.0.0.1:{self.gcs}"
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--disable-usage-stats"]
        subprocess.run([RAY, "start", "--head", "--port", str(self.gcs), "--temp-dir", self.temp,
                        "--include-dashboard", "false", "--ray-client-server-port", str(self.client),
                        "--node-manager-port", str(self.head_nm), "--dashboard-agent-listen-port", str(self.agent1),
                        *common], check=True, capture_output=True, env=env, timeout=180)
        subprocess.run([RAY, "start", "--address", self.address, "--node-manager-port", str(self.worker_nm),
                        "--dashboard-agent-listen-port", str(self.agent2), *common], check=True,
                       capture_output=True, env=env, timeout=180)

    def kill_second_node(self) -> None:
        """SIGKILL the second node's raylet and everything under it (its workers), as a machine lost."""
        for pid, cmd in _cmdlines().items():
            if "raylet" in cmd and f"--node_manager_port={self.worker_nm}" in cmd:
                _kill_tree(pid)

    def stop(self) -> None:
        for pid, cmd in _cmdlines().items():
            if self.temp in cmd or f":{self.gcs}" in cmd:
                _kill_tree(pid)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    if RAY is None:
        pytest.fail("the ray command is missing: pip install ray (a dependency of the project)")
    c = Cluster()
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
        cluster.kill_second_node()
        _, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"{len(cells)} cell(s) computed" in err and "0 failed" in err
    files = list(store.glob("*/*.json"))
    assert len(files) == len(cells) and {json.loads(f.read_text())["key"] for f in files} == {c.key for c in cells}
    assert not list(store.glob("*/*.tmp*"))  # nothing half-written
