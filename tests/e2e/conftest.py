import io
import socket
import struct
import zlib

import pytest
from PIL import Image

from semcom.launcher import ServiceProcesses


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


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
