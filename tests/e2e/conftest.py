import io
import struct
import time
import urllib.request
import zlib

import pytest
from PIL import Image

from semcom import txclient
from semcom.launcher import ServiceProcesses
from shared.endpoints import free_ports


def start_services(tmp_path_factory, name: str, per_service_args: dict[str, list[str]] | None = None) -> ServiceProcesses:
    names = ("transmitter", "channel", "receiver")
    p = free_ports(6)
    ports, metrics = dict(zip(names, p[:3])), dict(zip(names, p[3:]))
    s = ServiceProcesses(ports, extra_args=["--preset", "test", "--weights", "none", "--device", "cpu"],
                         env={"SEMCOM_DEADLINE_S": "20", "SEMCOM_GRACE_S": "10", "SEMCOM_LOG_FORMAT": "json"},
                         log_dir=tmp_path_factory.mktemp(name),
                         per_service_args={n: ["--metrics-port", str(metrics[n])] + (per_service_args or {}).get(n, [])
                                           for n in names})
    s.metrics_ports = metrics
    return s


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    with start_services(tmp_path_factory, "services") as s:
        yield s


def scrape(services, name: str) -> str:
    """The Prometheus text of one service."""
    with urllib.request.urlopen(f"http://127.0.0.1:{services.metrics_ports[name]}/metrics", timeout=10) as r:
        return r.read().decode()


def metric(services, name: str, sample: str) -> float:
    """One sample, e.g. 'semcom_in_flight{method="Send",service="transmitter"}'; 0 if not exported yet."""
    for line in scrape(services, name).splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return 0.0


def wait_for(cond, what: str, timeout: float = 120.0, poll: float = 0.1) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(poll)


def png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    import numpy as np

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height with almost no data: a decompression-bomb shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def run_client(services, capsys, *args) -> tuple[int, str, str]:
    """txclient against `services`: its exit code, stdout and stderr."""
    rc = txclient.main(["--transmitter", services.addr("transmitter"), "--receiver", services.addr("receiver"),
                        "--timeout", "60", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err
