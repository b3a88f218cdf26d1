"""Faults with real processes on loopback: a killed service, then a restarted one."""

import time

from semcom import txclient
from semcom.launcher import health_status
from tests.e2e.conftest import png_bytes, start_services


def _send(s, capsys, tmp_path, timeout="30"):
    img = tmp_path / "x.png"
    img.write_bytes(png_bytes(64, 64))
    t0 = time.monotonic()
    rc = txclient.main(["--transmitter", s.addr("transmitter"), "--receiver", s.addr("receiver"), "--timeout", timeout,
                        "send", str(img), "--task", "segment this image", "--out", str(tmp_path)])
    return rc, capsys.readouterr().err, time.monotonic() - t0


def test_channel_killed_then_restarted(tmp_path_factory, capsys, tmp_path):
    with start_services(tmp_path_factory, "faults-kill") as s:
        assert _send(s, capsys, tmp_path)[0] == 0
        s.kill("channel")  # SIGKILL: no goodbye
        rc, err, took = _send(s, capsys, tmp_path)
        assert rc == 1 and err.startswith("UNAVAILABLE: ") and "channel service" in err
        assert took < 30  # answered within the client's deadline, no hang
        assert health_status(s.addr("transmitter")) == "SERVING"
        assert health_status(s.addr("receiver")) == "SERVING"
        s.start("channel")
        s.wait_serving(["channel"], timeout=120)
        rc, err, _ = _send(s, capsys, tmp_path)
        assert rc == 0, err
