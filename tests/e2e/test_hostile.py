"""What a hostile or careless client tried, against real processes, answered cleanly."""

import json
import shutil
import socket
import subprocess
import sys
import threading

import grpc
import numpy as np
import pytest

from semcom.launcher import health_status
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from tests.e2e.conftest import free_ports, metric, png_bytes, start_services, wait_for

pytestmark = pytest.mark.e2e  # starts the real services as processes

UNICODE_ID = "\U0001d400" * 64  # 64 letters, 256 bytes: what once took the receiver's decoder down


def _rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        call()
    assert "Traceback" not in (exc.value.details() or "")
    return exc.value


def _header(tid: str, fingerprint: str) -> pb.TransmissionHeader:
    return pb.TransmissionHeader(transmission_id=tid, task="segmentation", grid_c=48, grid_h=2, grid_w=2,
                                 image_height=32, image_width=32, kb_fingerprint=fingerprint, power_scale=1.0,
                                 channel=pb.ChannelSettings(model="awgn", snr_db=10))


@pytest.mark.parametrize("tid", [UNICODE_ID, "a/../../escape", "x" * 65, "..", "ok id"],
                         ids=["unicode", "path", "long", "dotdot", "space"])
def test_one_id_rule_at_every_entry(services, tid):
    tx = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter")))
    err = _rpc_error(lambda: tx.Send(pb.SendRequest(image=png_bytes(32, 32), task="segment this image",
                                                    transmission_id=tid), timeout=60))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "1-64 characters of A-Z a-z 0-9" in err.details()
    fingerprint = tx.ListTasks(pb.ListTasksRequest(), timeout=30).kb_fingerprint
    block = pb.SymbolBlock(offset=0, values=b"\x00" * 8 * 192)
    chan = rpc.ChannelStub(grpc.insecure_channel(services.addr("channel")))
    err = _rpc_error(lambda: chan.Transmit(iter([pb.TransmitChunk(header=_header(tid, fingerprint)),
                                                 pb.TransmitChunk(symbols=block)]), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "transmission id" in err.details()
    rx = rpc.ReceiverStub(grpc.insecure_channel(services.addr("receiver")))
    err = _rpc_error(lambda: rx.Deliver(iter([pb.DeliverChunk(header=_header(tid, fingerprint), noise_var=0.1),
                                              pb.DeliverChunk(y=block)]), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "transmission id" in err.details()
    err = _rpc_error(lambda: rx.GetResult(pb.GetResultRequest(transmission_id=tid), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT  # at once, not after a 600 s wait
    assert health_status(services.addr("receiver")) == "SERVING"


def test_a_decoder_that_cannot_keep_results_says_so(tmp_path_factory, tmp_path):
    """The result store fails (its folder vanished): the result still reaches its reader, the receiver
    logs it, turns NOT_SERVING and refuses new work with a reason, instead of silently losing work."""
    results = tmp_path / "results"
    with start_services(tmp_path_factory, "broken-store", {"receiver": ["--results-dir", str(results)]}) as s:
        tx = rpc.TransmitterStub(grpc.insecure_channel(s.addr("transmitter")))
        rx = rpc.ReceiverStub(grpc.insecure_channel(s.addr("receiver")))
        tx.Send(pb.SendRequest(image=png_bytes(32, 32), task="segment this image", transmission_id="kept"),
                timeout=60)
        assert rx.GetResult(pb.GetResultRequest(transmission_id="kept"), timeout=60).labels_png
        shutil.rmtree(results)
        tx.Send(pb.SendRequest(image=png_bytes(32, 32), task="segment this image", transmission_id="unkept"),
                timeout=60)
        result = rx.GetResult(pb.GetResultRequest(transmission_id="unkept"), timeout=60)
        assert result.labels_png  # published to readers all the same
        wait_for(lambda: health_status(s.addr("receiver")) == "NOT_SERVING", "the receiver to say NOT_SERVING",
                 timeout=30)
        err = _rpc_error(lambda: tx.Send(pb.SendRequest(image=png_bytes(32, 32), task="segment this image"),
                                         timeout=60))
        assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.FAILED_PRECONDITION)
        assert "takes no new work" in err.details() and "not written to" in err.details()
        assert "not written to" in (s.log_dir / "receiver.log").read_text()


@pytest.mark.parametrize("content", ["", "  \n"], ids=["empty", "blank"])
def test_an_empty_token_file_stops_the_service_with_one_line(tmp_path, content):
    token = tmp_path / "token"
    token.write_text(content)
    port = free_ports(1)[0]
    proc = subprocess.run([sys.executable, "-m", "channel", "--port", str(port), "--token-file", str(token)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and f"token file {token} is empty" in proc.stderr
    missing = subprocess.run([sys.executable, "-m", "channel", "--port", str(port), "--token-file",
                              str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_a_port_in_use_is_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "channel", "--port", str(port)], capture_output=True, text=True,
                              timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and proc.stderr.strip().count("\n") == 0


def _floats(values) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


@pytest.mark.parametrize("case", ["nan-x", "inf-y", "nan-noise", "negative-noise", "h0-noiseless", "nan-h"])
def test_numbers_a_decoder_cannot_use_are_refused(services, case):
    fingerprint = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter"))).ListTasks(
        pb.ListTasksRequest(), timeout=30).kb_fingerprint
    header = _header(f"num-{case}", fingerprint)
    good = np.full((192, 2), 0.5, dtype="<f4")
    poisoned = good.copy()
    poisoned[7, 1] = {"nan-x": np.nan, "inf-y": np.inf}.get(case, 0.5)
    if case == "nan-x":
        chan = rpc.ChannelStub(grpc.insecure_channel(services.addr("channel")))
        err = _rpc_error(lambda: chan.Transmit(iter([
            pb.TransmitChunk(header=header), pb.TransmitChunk(symbols=pb.SymbolBlock(values=poisoned.tobytes()))]),
            timeout=30))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "NaN or infinite" in err.details()
        return
    noise = {"nan-noise": float("nan"), "negative-noise": -0.1, "h0-noiseless": 0.0}.get(case, 0.1)
    h = np.tile(np.asarray([[1.0, 0.0]], dtype="<f4"), (192, 1))
    if case == "h0-noiseless":
        h[3] = 0.0
    if case == "nan-h":
        h[3, 0] = np.nan
    rx = rpc.ReceiverStub(grpc.insecure_channel(services.addr("receiver")))
    err = _rpc_error(lambda: rx.Deliver(iter([
        pb.DeliverChunk(header=header, noise_var=noise, realised_snr_db=10.0),
        pb.DeliverChunk(y=pb.SymbolBlock(values=poisoned.tobytes())),
        pb.DeliverChunk(h=pb.SymbolBlock(values=h.tobytes()))]), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"inf-y": "NaN or infinite", "nan-noise": "noise variance nan", "negative-noise": "noise variance -0.1",
            "h0-noiseless": "(0/0)", "nan-h": "h: 1 value(s) are NaN"}[case] in err.details()


def test_long_lived_calls_are_capped_and_health_and_sends_keep_room(tmp_path_factory, tmp_path):
    """16 watchers / waiting GetResults / silent streams once took every RPC thread; now each long-lived method
    has a cap (RESOURCE_EXHAUSTED beyond it) and threads of its own, and silent client streams are cancelled."""
    args = ["--max-streams", "2", "--idle-timeout", "3", "--workers", "2"]
    with start_services(tmp_path_factory, "capped", {"receiver": args, "channel": args}) as s:
        rx = rpc.ReceiverStub(grpc.insecure_channel(s.addr("receiver")))
        watchers = [rx.Subscribe(pb.SubscribeRequest(), timeout=120) for _ in range(2)]
        waiting = [rx.GetResult.future(pb.GetResultRequest(transmission_id=f"nobody{i}"), timeout=120)
                   for i in range(2)]
        wait_for(lambda: metric(s, "receiver", 'semcom_subscribers{service="receiver"}') == 2, "two watchers",
                 timeout=60)
        third = rx.Subscribe(pb.SubscribeRequest(), timeout=60)
        err = _rpc_error(lambda: next(third))
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "2 Subscribe calls open" in err.details()
        wait_for(lambda: metric(s, "receiver", 'semcom_in_flight{method="GetResult",service="receiver"}') == 2,
                 "two waiting GetResults", timeout=60)
        err = _rpc_error(lambda: rx.GetResult(pb.GetResultRequest(transmission_id="nobody9"), timeout=60))
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "GetResult" in err.details()
        for name in ("transmitter", "channel", "receiver"):
            assert health_status(s.addr(name)) == "SERVING"
        # the data path has its own slots: a send goes through while watchers and waiters hold theirs
        tx = rpc.TransmitterStub(grpc.insecure_channel(s.addr("transmitter")))
        tx.Send(pb.SendRequest(image=png_bytes(32, 32), task="segment this image", transmission_id="through"),
                timeout=60)
        # a stream that sends its header and then nothing is cancelled after the idle timeout
        fingerprint = tx.ListTasks(pb.ListTasksRequest(), timeout=30).kb_fingerprint
        release = threading.Event()

        def silent():
            yield pb.TransmitChunk(header=_header("silent", fingerprint))
            release.wait(60)

        chan = rpc.ChannelStub(grpc.insecure_channel(s.addr("channel")))
        err = _rpc_error(lambda: chan.Transmit(silent(), timeout=60))
        release.set()
        assert err.code() == grpc.StatusCode.CANCELLED
        for call in watchers:
            call.cancel()
        for f in waiting:
            f.cancel()


def test_replay_of_more_than_a_queue_reaches_a_reader_that_keeps_up(services, capsys, tmp_path):
    from semcom import txclient

    tx = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter")))
    for i in range(70):  # more than a subscriber's live queue (64)
        tx.Send(pb.SendRequest(image=png_bytes(16, 16, seed=i), task="segment this image",
                               transmission_id=f"replay{i}"), timeout=60)
    capsys.readouterr()
    rc = txclient.main(["--receiver", services.addr("receiver"), "watch", "--after", "1", "--epoch", "another",
                        "--max", "70"])
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and len(lines) == 70 and "RESOURCE_EXHAUSTED" not in err
    assert len({d["sequence"] for d in lines}) == 70


class _HostileReceiver(rpc.ReceiverServicer):
    """A receiver that answers with an id aimed outside the client's output folder."""

    def Subscribe(self, request, context):
        yield pb.Result(transmission_id="x/../../escape4", sequence=1, epoch="e", task="reconstruction",
                        image_png=png_bytes(8, 8))
        yield pb.Result(transmission_id="fine", sequence=2, epoch="e", task="reconstruction", image_png=png_bytes(8, 8))


def test_the_client_never_writes_where_a_server_id_points(tmp_path, capsys):
    from concurrent import futures

    from semcom import txclient

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    rpc.add_ReceiverServicer_to_server(_HostileReceiver(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        out = tmp_path / "a" / "b" / "out"
        (tmp_path / "a" / "b" / "out" / "watch_x").mkdir(parents=True)  # the folder the attack needs
        rc = txclient.main(["--receiver", f"127.0.0.1:{port}", "watch", "--out", str(out), "--max", "2"])
    finally:
        server.stop(0)
    printed, err = capsys.readouterr()
    assert rc == 0 and "not writing its files" in err and "Traceback" not in err
    assert not list(tmp_path.rglob("*escape4*"))
    assert [p.name for p in out.glob("*.png")] == ["watch_fine_reconstruction.png"]
    assert len(printed.splitlines()) == 2  # both results reported, one without files


@pytest.mark.parametrize("size", [2_000, 100_000, 5_000_000])
def test_an_oversized_task_request_is_refused_before_any_work(services, size):
    tx = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter")))
    err = _rpc_error(lambda: tx.Send(pb.SendRequest(image=png_bytes(16, 16), task="zq " * (size // 3)), timeout=60))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "over the 1000-character cap" in err.details() and len(err.details()) < 300


class _RestartedReceiver(rpc.ReceiverServicer):
    """Back after a kill -9 without its results: loading at first, then it has nothing for the id."""

    def __init__(self) -> None:
        self.calls = 0

    def GetResult(self, request, context):
        self.calls += 1
        if self.calls <= 5:
            context.abort(grpc.StatusCode.UNAVAILABLE, "receiver is still loading its models")
        context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"no result for transmission {request.transmission_id!r} yet")


def test_a_result_lost_to_a_receiver_restart_is_said_in_one_line(capsys):
    import time
    from concurrent import futures

    from semcom import txclient

    fake = _RestartedReceiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    rpc.add_ReceiverServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with pytest.raises(txclient.ClientError, match="is lost .* send it again"):
            txclient.fetch_result(grpc.insecure_channel(f"127.0.0.1:{port}"), "t1", time.perf_counter() + 60)
    finally:
        server.stop(0)
    err = capsys.readouterr().err
    assert err.count("still loading") == 1 and fake.calls == 6


@pytest.mark.parametrize("size,grid,match", [((4096, 4096), (48, 256, 256), "outside the cap"),
                                             ((16, 16), (48, 64, 64), "CBR > 1")])
def test_the_channel_applies_the_send_caps_to_a_header(services, size, grid, match):
    """A header straight to the channel meets Send's image caps before a symbol is buffered."""
    fingerprint = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter"))).ListTasks(
        pb.ListTasksRequest(), timeout=30).kb_fingerprint
    header = _header("big", fingerprint)
    header.image_height, header.image_width = size
    header.grid_c, header.grid_h, header.grid_w = grid
    chan = rpc.ChannelStub(grpc.insecure_channel(services.addr("channel")))
    err = _rpc_error(lambda: chan.Transmit(iter([pb.TransmitChunk(header=header)]), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and match in err.details()
