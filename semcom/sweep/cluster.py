"""A Ray cluster of a few nodes on this machine's loopback, started with the `ray` command as a real cluster is
(`ray start --head`, then `ray start --address` per further node), and stopped by killing only its own processes:
for tests and for measuring a sweep's speed-up here."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from shared.endpoints import free_ports


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


def kill_tree(pid: int) -> None:
    for kid in _children(pid):
        kill_tree(kid)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class LocalCluster:
    """`nodes` Ray nodes of `cpus` CPUs each on 127.0.0.1 (Linux: processes are found through /proc)."""

    def __init__(self, nodes: int = 2, cpus: int = 1) -> None:
        ray = shutil.which("ray")
        if ray is None:
            raise RuntimeError("the ray command is missing: pip install ray (a dependency of the project)")
        self.temp = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # Ray's socket paths must stay short
        self.gcs, client, *rest = free_ports(2 + 2 * nodes)
        self.manager_ports, agents = rest[:nodes], rest[nodes:]
        self.address = f"127.0.0.1:{self.gcs}"
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", str(cpus), "--disable-usage-stats"]
        try:
            subprocess.run([ray, "start", "--head", "--port", str(self.gcs), "--temp-dir", self.temp,
                            "--include-dashboard", "false", "--ray-client-server-port", str(client),
                            "--node-manager-port", str(self.manager_ports[0]), "--dashboard-agent-listen-port",
                            str(agents[0]), *common], check=True, capture_output=True, env=env, timeout=180)
            for port, agent in zip(self.manager_ports[1:], agents[1:]):
                subprocess.run([ray, "start", "--address", self.address, "--node-manager-port", str(port),
                                "--dashboard-agent-listen-port", str(agent), *common], check=True,
                               capture_output=True, env=env, timeout=180)
        except BaseException:
            self.stop()
            raise

    def kill_node(self, index: int) -> None:
        """SIGKILL node `index`'s raylet and everything under it (its workers), as a machine lost."""
        for pid, cmd in _cmdlines().items():
            if "raylet" in cmd and f"--node_manager_port={self.manager_ports[index]}" in cmd:
                kill_tree(pid)

    def stop(self) -> None:
        """Stops this cluster's processes, and no other Ray's on the machine."""
        for pid, cmd in _cmdlines().items():
            if self.temp in cmd or f":{self.gcs} " in cmd + " " or f"={self.address}" in cmd:
                kill_tree(pid)
        shutil.rmtree(self.temp, ignore_errors=True)

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
