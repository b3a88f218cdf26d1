"""Faults with real processes on loopback: a killed service, then a restarted one."""

import json
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from semcom import txclient
from semcom.launcher import health_status
from shared.endpoints import client_channel
from tests.e2e.conftest import metric, png_bytes, start_services, wait_for

pytestmark = pytest.mark.e2e  # starts the real services as processes


def _send(s, capsys, tmp_path, timeout="30", tid=None):
    img = tmp_path / "x.png"
    img.write_bytes(png_bytes(64, 64))
    t0 = time.monotonic()
    rc = txclient.main(["--transmitter", s.addr("transmitter"), "--receiver", s.addr("receiver"), "--timeout", timeout,
                        "send", str(img), "--task", "segment this image", "--out", str(tmp_path)]
                       + (["--id", tid] if tid else []))
    return rc, capsys.readouterr().err, time.monotonic() - t0


def test_channel_killed_then_restarted(tmp_path_factory, capsys, tmp_path):
    with start_services(tmp_path_factory, "faults-kill") as s:
        assert _send(s, capsys, tmp_path)[0] == 0
        s.kill("channel")  # SIGKILL: no goodbye
        rc, err, took = _send(s, capsys, tmp_path)
        assert rc == 1 and err.startswith("UNAVAILABLE: ") and "channel service" in err
        assert took < 90  # no hang: the 30 s deadline bounds the answer (slack for a loaded machine)
        assert health_status(s.addr("transmitter")) == "SERVING"
        assert health_status(s.addr("receiver")) == "SERVING"
        s.start("channel")
        s.wait_serving(["channel"], timeout=120)
        rc, err, _ = _send(s, capsys, tmp_path)
        assert rc == 0, err


class Watcher:
    """`txclient watch` as its own process; its JSON lines collected by a reader thread."""

    def __init__(self, s, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "semcom.txclient", "--receiver", s.addr("receiver"),
                                      "watch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.err.append), daemon=True).start()

    @staticmethod
    def _read(stream, put):
        for line in stream:
            put(line)

    def take(self, n: int, timeout: float = 120.0) -> list[dict]:
        return [json.loads(self.lines.get(timeout=timeout)) for _ in range(n)]

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def _subscribers(s) -> float:
    return metric(s, "receiver", 'semcom_subscribers{service="receiver"}')


@pytest.mark.parametrize("persist", [False, True], ids=["memory", "results-dir"])
def test_receiver_restart_subscriber_resumes_without_loss_or_duplicates(tmp_path_factory, capsys, tmp_path, persist):
    extra = {"receiver": ["--results-dir", str(tmp_path / "results")]} if persist else {}
    with start_services(tmp_path_factory, "faults-rx-restart", per_service_args=extra) as s:
        watcher = Watcher(s, "--max", "4")
        try:
            wait_for(lambda: _subscribers(s) == 1, "the watcher to subscribe")
            for tid in ("before-1", "before-2"):
                assert _send(s, capsys, tmp_path, tid=tid)[0] == 0
            first = watcher.take(2)
            s.kill("receiver")  # SIGKILL: subscribers see the stream break
            wait_for(lambda: any("UNAVAILABLE" in e for e in watcher.err), "the watcher to see UNAVAILABLE")
            s.start("receiver")
            s.wait_serving(["receiver"], timeout=120)
            for tid in ("after-1", "after-2"):
                assert _send(s, capsys, tmp_path, tid=tid)[0] == 0
            second = watcher.take(2)
            assert watcher.proc.wait(timeout=60) == 0  # --max 4 reached: exactly four results, no more
            if persist:  # a result from before the restart can still be fetched by its id
                kept = txclient.fetch_result(client_channel(s.addr("receiver")), "before-1", time.perf_counter() + 30)
                assert kept.sequence == 1 and kept.epoch == first[0]["epoch"]
        finally:
            watcher.close()
    ids = [r["transmission_id"] for r in first + second]
    assert ids == ["before-1", "before-2", "after-1", "after-2"]  # none lost, none twice, in order
    keys = {(r["epoch"], r["sequence"]) for r in first + second}
    assert len(keys) == 4
    if persist:  # the store keeps the epoch and the numbering goes on
        assert [r["sequence"] for r in first + second] == [1, 2, 3, 4] and len({e for e, _ in keys}) == 1
    else:  # a new epoch, numbering restarted
        assert [r["sequence"] for r in second] == [1, 2] and first[0]["epoch"] != second[0]["epoch"]


def test_sigterm_under_load_drains_then_exits_zero(tmp_path_factory, tmp_path):
    """SIGTERM to the receiver with four transmissions accepted and their clients waiting for results."""
    with start_services(tmp_path_factory, "faults-sigterm") as s:
        img = tmp_path / "big.png"
        img.write_bytes(png_bytes(512, 512))  # at 60 steps: 15.7 M pixel-steps, under the test preset's 16.8 M cap

        def send(tid):
            return subprocess.run([sys.executable, "-m", "semcom.txclient", "--transmitter", s.addr("transmitter"),
                                   "--receiver", s.addr("receiver"), "--timeout", "120", "send", str(img),
                                   "--task", "reconstruct the image", "--steps", "60", "--id", tid, "--json",
                                   "--out", str(tmp_path / tid)], capture_output=True, text=True)

        clients = {}
        for i in range(4):
            tid = f"load-{i}"
            t = threading.Thread(target=lambda tid=tid: clients.__setitem__(tid, send(tid)))
            t.start()
            clients[tid + "/thread"] = t
        get = 'semcom_in_flight{method="GetResult",service="receiver"}'
        done = 'semcom_requests_total{code="OK",method="GetResult",service="receiver"}'
        # every client's transmission accepted and its GetResult called (waiting or, if decoding was quick, done)
        wait_for(lambda: metric(s, "receiver", get) + metric(s, "receiver", done) >= 4,
                  "four clients waiting for their results")
        rx = s.procs["receiver"]
        rx.send_signal(signal.SIGTERM)
        status = health_status(s.addr("receiver"))
        assert status in ("NOT_SERVING", "UNAVAILABLE")  # draining, or already gone: never SERVING again
        late = send("late")  # new work is refused while draining or after the exit
        error = json.loads(late.stdout)["error"]  # --json: the error is one JSON object too
        assert late.returncode == 1 and error["code"] == "UNAVAILABLE" and "receiver" in error["message"], late.stdout
        assert rx.wait(timeout=60) == 0
        for i in range(4):
            clients[f"load-{i}/thread"].join(timeout=120)
            r = clients[f"load-{i}"]
            assert r.returncode == 0, r.stderr  # accepted before SIGTERM -> result delivered
            doc = json.loads(r.stdout)
            assert doc["transmission_id"] == f"load-{i}" and doc["diffusion_steps"] == 60
        log = (s.log_dir / "receiver.log").read_text()
        assert "draining" in log and "stopped" in log and "still queued" not in log
