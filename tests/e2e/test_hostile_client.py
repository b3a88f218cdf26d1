"""What a careless or hostile client still found, each item against real processes on loopback.

The services run with small caps (4 streams, 3 s idle timeout) so that each limit is reached with a handful
of calls; the page (`semcom web`) runs as its own process in front of them."""

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent import futures

import grpc
import numpy as np
import pytest

from semcom.launcher import health_status
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from tests.e2e.conftest import free_ports, metric, png_bytes, scrape, start_services, wait_for

pytestmark = pytest.mark.e2e  # starts the real services as processes

LIMITS = ["--max-streams", "4", "--idle-timeout", "3"]
SUBSCRIBERS = 'semcom_subscribers{service="receiver"}'


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    with start_services(tmp_path_factory, "hostile-client", {"receiver": LIMITS, "channel": LIMITS}) as s:
        yield s


class Page:
    def __init__(self, proc: subprocess.Popen, port: int, log) -> None:
        self.proc, self.port, self.log = proc, port, log

    def log_text(self) -> str:
        return self.log.read_text()


def start_page(services, log, *extra: str, healthy: bool = True) -> Page:
    (port,) = free_ports(1)
    proc = subprocess.Popen([sys.executable, "-m", "semcom.web.app", "--port", str(port),
                             "--transmitter", services.addr("transmitter"), "--receiver", services.addr("receiver"),
                             *extra], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    end = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                if r.status == 200:
                    return Page(proc, port, log)
        except (urllib.error.URLError, ConnectionError):
            pass
        assert proc.poll() is None, f"semcom web exited: {log.read_text()}"
        assert time.monotonic() < end, "semcom web not healthy after 120 s"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def page(svc, tmp_path_factory):
    p = start_page(svc, tmp_path_factory.mktemp("page") / "web.log", "--allowed-host", "semcom.lab")
    yield p
    p.proc.terminate()
    p.proc.wait(10)


def http_call(port: int, method: str, path: str, body: bytes | dict = b"", headers: dict | None = None):
    """(status, headers, parsed JSON or raw body) of one raw HTTP request."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    hdrs = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json", **(headers or {})}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body if method == "POST" else None, hdrs)
        r = conn.getresponse()
        data = r.read()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def sends(services) -> float:
    """Send calls the transmitter finished, whatever their status."""
    return sum(float(line.split()[-1]) for line in scrape(services, "transmitter").splitlines()
               if line.startswith("semcom_requests_total{") and 'method="Send"' in line)


def _rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        call()
    assert "Traceback" not in (exc.value.details() or "")
    return exc.value


def _fingerprint(services) -> str:
    return rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter"))).ListTasks(
        pb.ListTasksRequest(), timeout=30).kb_fingerprint


def _header(tid: str, fingerprint: str, size=(32, 32), grid=(48, 2, 2), **fields) -> pb.TransmissionHeader:
    return pb.TransmissionHeader(transmission_id=tid, task="segmentation", grid_c=grid[0], grid_h=grid[1],
                                 grid_w=grid[2], image_height=size[0], image_width=size[1],
                                 kb_fingerprint=fingerprint, power_scale=fields.pop("power_scale", 1.0),
                                 channel=pb.ChannelSettings(model="awgn", snr_db=10), **fields)


# ---------------------------------------------------------------- 1. stream slots


def _open_page_stream(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    seen = b""
    while b"retry: 2000" not in seen:
        chunk = s.recv(4096)
        assert chunk, f"the page closed its stream: {seen!r}"
        seen += chunk
    return s


def test_closed_page_streams_leave_the_receivers_subscribe_slots(svc, page):
    """16 pages (4 times the receiver's cap) share one Subscribe, and it ends when the last one goes."""
    pages = [_open_page_stream(page.port) for _ in range(16)]
    wait_for(lambda: metric(svc, "receiver", SUBSCRIBERS) == 1, "the pages' one upstream Subscribe", timeout=60)
    for s in pages:
        s.close()
    wait_for(lambda: metric(svc, "receiver", SUBSCRIBERS) == 0, "the upstream Subscribe to end", timeout=60)
    rx = rpc.ReceiverStub(grpc.insecure_channel(svc.addr("receiver")))
    watchers = [rx.Subscribe(pb.SubscribeRequest(), timeout=120) for _ in range(4)]  # every slot is free again
    wait_for(lambda: metric(svc, "receiver", SUBSCRIBERS) == 4, "four watchers", timeout=60)
    for call in watchers:
        call.cancel()
    wait_for(lambda: metric(svc, "receiver", SUBSCRIBERS) == 0, "the watchers to leave", timeout=60)


def test_a_subscriber_that_stops_reading_is_cut(svc):
    """A watcher that reads nothing while results pile up is cut after the idle timeout (3 s here)."""
    rx = rpc.ReceiverStub(grpc.insecure_channel(svc.addr("receiver")))
    stalled = rx.Subscribe(pb.SubscribeRequest(), timeout=300)
    wait_for(lambda: metric(svc, "receiver", SUBSCRIBERS) == 1, "the watcher", timeout=60)
    tx = rpc.TransmitterStub(grpc.insecure_channel(svc.addr("transmitter")))
    for i in range(200):  # large results, until the transport's buffers fill and the receiver notices
        tx.Send(pb.SendRequest(image=png_bytes(512, 512, seed=i), task="reconstruct the image"), timeout=60)
        if metric(svc, "receiver", SUBSCRIBERS) == 0:
            break
    wait_for(lambda: metric(svc, "receiver", SUBSCRIBERS) == 0, "the stalled watcher to be cut", timeout=60)
    with pytest.raises(grpc.RpcError) as info:
        for _ in stalled:  # what the buffers held, then the end
            pass
    assert info.value.code() == grpc.StatusCode.CANCELLED
    assert "cutting a subscriber that took no result for 3 s" in (svc.log_dir / "receiver.log").read_text()


# ---------------------------------------------------------------- 2. grids, 3. trickles, 4. work


def test_a_grid_its_image_cannot_have_is_refused_before_a_symbol(svc):
    """1024x1024 image (the test model's grid: 48x64x64) announcing 48x256x256: refused on the header alone."""
    header = _header("biggrid", _fingerprint(svc), size=(1024, 1024), grid=(48, 256, 256))
    release, sent = threading.Event(), []

    def stream():
        yield pb.TransmitChunk(header=header)
        release.wait(60)
        sent.append("symbols")
        yield pb.TransmitChunk(symbols=pb.SymbolBlock(offset=0, values=b"\x00" * 8 * 1024))

    chan = rpc.ChannelStub(grpc.insecure_channel(svc.addr("channel")))
    try:
        err = _rpc_error(lambda: chan.Transmit(stream(), timeout=60))
    finally:
        release.set()
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and not sent
    assert "symbol grid of 256x256 positions does not match a 1024x1024 image" in err.details()


def test_a_trickling_stream_is_cut_by_its_size_not_only_its_silence(svc):
    """One symbol a second, each well inside the 3 s idle timeout: cut after 3 s + size / min rate."""
    header = _header("trickle", _fingerprint(svc))
    sent = []

    def trickle():
        yield pb.TransmitChunk(header=header)
        for i in range(192):  # 192 s if nobody cuts it
            sent.append(i)
            yield pb.TransmitChunk(symbols=pb.SymbolBlock(offset=i, values=b"\x00" * 8))
            time.sleep(1.0)

    chan = rpc.ChannelStub(grpc.insecure_channel(svc.addr("channel")))
    err = _rpc_error(lambda: chan.Transmit(trickle(), timeout=300))
    assert err.code() == grpc.StatusCode.CANCELLED and len(sent) < 30
    assert health_status(svc.addr("channel")) == "SERVING"


def test_one_request_cannot_hold_the_decoder_for_everyone(svc):
    """768x512 at 100 diffusion steps is 39 M pixel-steps, over the test model's 16.8 M (1024^2 x 16)."""
    tx = rpc.TransmitterStub(grpc.insecure_channel(svc.addr("transmitter")))
    err = _rpc_error(lambda: tx.Send(pb.SendRequest(image=png_bytes(768, 512), task="reconstruct the image",
                                                    diffusion_steps=100), timeout=60))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "768x512 image at 100 diffusion steps" in err.details() and "use at most 42 steps" in err.details()
    # the same work straight to the receiver, past the transmitter: refused there too
    rx = rpc.ReceiverStub(grpc.insecure_channel(svc.addr("receiver")))
    header = _header("heavy", _fingerprint(svc), size=(512, 768), grid=(48, 32, 48), diffusion_steps=100)
    header.task = "reconstruction"
    err = _rpc_error(lambda: rx.Deliver(iter([pb.DeliverChunk(header=header, noise_var=0.1)]), timeout=60))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "pixel-steps" in err.details()
    # within the bound it runs
    tx.Send(pb.SendRequest(image=png_bytes(96, 64), task="reconstruct the image", diffusion_steps=100), timeout=120)


# ---------------------------------------------------------------- 5-7, 10-12: the page


def _reply(s: socket.socket) -> str:
    """Everything the page answers until it closes the connection."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode()


def test_a_huge_body_is_refused_before_it_is_read(svc, page):
    s = socket.create_connection(("127.0.0.1", page.port), timeout=60)
    s.sendall(f"POST /api/send HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\nContent-Type: application/json\r\n"
              f"Content-Length: 100000000\r\n\r\n".encode() + b'{"image": "')  # and no more of the 100 MB
    reply = _reply(s)  # the page closes the connection after its answer
    assert reply.startswith("HTTP/1.1 413") and "over this page's" in reply
    # without a Content-Length (chunked): refused once the cap is passed, not after the whole body
    s = socket.create_connection(("127.0.0.1", page.port), timeout=60)
    s.sendall(f"POST /api/send HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\nContent-Type: application/json\r\n"
              "Transfer-Encoding: chunked\r\n\r\n".encode())
    chunk = b"A" * (1 << 20)
    sent = 0
    try:
        for _ in range(100):  # up to 100 MB
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            sent += len(chunk)
    except OSError:  # the page closed the connection after its answer
        pass
    reply = _reply(s)
    assert reply.startswith("HTTP/1.1 413") and sent < 50 << 20
    assert http_call(page.port, "GET", "/healthz")[0] == 200


@pytest.mark.parametrize("headers, status, text", [
    ({"Host": "attacker.example"}, 403, "does not answer to the host name 'attacker.example'"),
    ({"Origin": "http://attacker.example"}, 403, "requests from another site"),
    ({"Origin": "null"}, 403, "requests from another site"),
    ({"Content-Type": "text/plain"}, 415, "Content-Type: application/json"),
    ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type: application/json"),
], ids=["host", "origin", "null-origin", "text-plain", "form"])
def test_foreign_hosts_origins_and_non_json_posts_are_refused(svc, page, headers, status, text):
    before = sends(svc)
    code, _, doc = http_call(page.port, "POST", "/api/send", {"example": "shapes", "task": "reconstruct the image"},
                             headers)
    assert code == status and text in doc["error"]
    assert sends(svc) == before  # nothing was transmitted


def test_the_page_answers_its_own_names_and_origin(svc, page):
    assert http_call(page.port, "GET", "/api/settings", headers={"Host": "semcom.lab:8080"})[0] == 200
    assert http_call(page.port, "GET", "/api/settings", headers={"Host": f"localhost:{page.port}"})[0] == 200
    code, _, doc = http_call(page.port, "POST", "/api/send", {"example": "shapes", "task": "segment this image"},
                             {"Origin": f"http://127.0.0.1:{page.port}"})
    assert code == 200 and doc["task"] == "segmentation"


def test_the_rician_k_factor_reaches_the_channel_from_the_page(svc, page):
    code, _, settings = http_call(page.port, "GET", "/api/settings")
    assert code == 200 and settings["channels"]["rician"]["params"][0]["name"] == "k_factor"
    code, _, doc = http_call(page.port, "POST", "/api/send", {"example": "shapes", "task": "reconstruct the image",
                                                              "channel": "rician", "params": {"k_factor": 9}})
    assert code == 200 and doc["channel"] == "rician" and doc["params"] == {"k_factor": 9.0}
    code, _, doc = http_call(page.port, "POST", "/api/send", {"example": "shapes", "task": "reconstruct the image",
                                                              "channel": "rician", "params": {"k_factor": -2}})
    assert code == 400 and "k_factor must be between 0.0" in doc["error"]


@pytest.mark.parametrize("raw, text", [
    (b'{"example": "shapes", "task": "reconstruct the image", "snr_db": Infinity}', "Infinity is not a JSON number"),
    (b'{"example": "shapes", "task": "reconstruct the image", "snr_db": 1e400}', "too large"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"example": "shapes", "task": "reconstruct the image", "csi": "false"}', 'csi must be one of perfect, estimated, none (or true/false), not "false"'),
    (b'{"example": "shapes", "task": "reconstruct the image", "snr_db": true}', "snr_db must be a number, not true"),
    (b'{"example": "shapes", "task": "reconstruct the image", "block_len": 1.9}', "block_len must be a whole number"),
    (b'{"example": "shapes", "task": ["reconstruct"]}', "task must be a string"),
], ids=["infinity", "1e400", "deep", "csi-string", "snr-bool", "block-fraction", "task-list"])
def test_bad_json_and_wrong_types_are_400_without_a_traceback(svc, page, raw, text):
    before = sends(svc)
    code, _, doc = http_call(page.port, "POST", "/api/send", raw)
    assert code == 400 and text in doc["error"]
    assert sends(svc) == before
    assert "Traceback" not in page.log_text()


def test_the_page_asks_for_the_services_token(tmp_path_factory, tmp_path):
    token = tmp_path / "token"
    token.write_text("s3cret-page-token\n")
    args = ["--token-file", str(token)]
    with start_services(tmp_path_factory, "page-token", {n: args for n in ("transmitter", "channel", "receiver")}) \
            as s:
        p = start_page(s, tmp_path / "web.log", *args)
        try:
            for path in ("/", "/api/settings", "/api/stream", "/api/examples/shapes.png"):
                code, _, doc = http_call(p.port, "GET", path)
                assert code == 401 and "needs the services' token" in doc["error"], path
            code, _, doc = http_call(p.port, "POST", "/api/send", {"example": "shapes", "task": "segment this image"})
            assert code == 401
            assert http_call(p.port, "GET", "/healthz")[0] == 200  # health and the page's assets stay open
            assert http_call(p.port, "GET", "/static/app.js")[0] == 200
            assert http_call(p.port, "GET", "/?token=wrong")[0] == 401
            code, headers, _ = http_call(p.port, "GET", "/?token=s3cret-page-token")
            assert code == 303 and headers["location"] == "/" and "HttpOnly" in headers["set-cookie"]
            cookie = headers["set-cookie"].split(";")[0]
            assert "s3cret" not in cookie  # the cookie is not the services' token
            assert http_call(p.port, "GET", "/api/settings", headers={"Cookie": cookie})[0] == 200
            code, _, doc = http_call(p.port, "POST", "/api/send", {"example": "shapes", "task": "segment this image"},
                                     {"Authorization": "Bearer s3cret-page-token"})
            assert code == 200 and doc["task"] == "segmentation"
            assert "s3cret" not in p.log_text()  # the URL it prints names the query, not the secret
        finally:
            p.proc.terminate()
            p.proc.wait(10)


# ---------------------------------------------------------------- 8, 9: results


def test_a_lost_result_is_reported_when_it_is_known(tmp_path_factory):
    from semcom.client import ClientError, fetch_result

    with start_services(tmp_path_factory, "lost") as s:
        tx = rpc.TransmitterStub(grpc.insecure_channel(s.addr("transmitter")))
        s.kill("receiver")  # SIGKILL
        conn = grpc.insecure_channel(s.addr("receiver"))
        with pytest.raises(ClientError, match="is not back after 3 s"):
            fetch_result(conn, "gone1", time.perf_counter() + 300, reconnect_s=3)
        s.start("receiver")
        s.wait_serving(["receiver"])
        # accepted by the receiver before its restart, never decoded: NOT_FOUND at once, not at the deadline
        started = time.perf_counter()
        with pytest.raises(ClientError, match="holds neither transmission 'gone2' nor its result"):
            fetch_result(grpc.insecure_channel(s.addr("receiver")), "gone2", started + 300)
        assert time.perf_counter() - started < 60
        tx.Send(pb.SendRequest(image=png_bytes(32, 32), task="segment this image"), timeout=120)


def test_strangers_waits_do_not_starve_a_senders_fetch(svc, tmp_path, capsys):
    from semcom import txclient

    rx = rpc.ReceiverStub(grpc.insecure_channel(svc.addr("receiver")))
    strangers = [rx.GetResult.future(pb.GetResultRequest(transmission_id=f"stranger{i}")) for i in range(32)]
    try:
        wait_for(lambda: sum(f.done() for f in strangers) == 28, "28 strangers refused", timeout=60)
        refused = [f.exception() for f in strangers if f.done()]
        assert all(e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED for e in refused)
        image = tmp_path / "in.png"
        image.write_bytes(png_bytes(64, 48))
        capsys.readouterr()
        rc = txclient.main(["--transmitter", svc.addr("transmitter"), "--receiver", svc.addr("receiver"),
                            "--timeout", "120", "send", str(image), "--task", "segment this image",
                            "--out", str(tmp_path / "out")])
        out, err = capsys.readouterr()
        assert rc == 0 and "RESOURCE_EXHAUSTED" not in err, err
    finally:
        for f in strangers:
            f.cancel()


# ---------------------------------------------------------------- 13, 14: values and bytes


def _blocks(values: np.ndarray) -> pb.SymbolBlock:
    return pb.SymbolBlock(values=np.asarray(values, dtype="<f4").tobytes())


@pytest.mark.parametrize("case, text", [
    ("power-scale", "power scale 1e+308 is outside"),
    ("noise-var", "noise variance 1e+308 is over"),
    ("huge-y", "is over 1e+06"),
    ("score-nan", "not a cosine similarity"),
])
def test_extreme_but_finite_deliveries_are_refused(svc, case, text):
    fields = {"power_scale": 1e308} if case == "power-scale" else {}
    header = _header(f"extreme{case.replace('-', '')}", _fingerprint(svc), **fields)
    if case == "score-nan":
        header.score = float("nan")
    y = np.full((192, 2), 3e38 if case == "huge-y" else 0.5)
    rx = rpc.ReceiverStub(grpc.insecure_channel(svc.addr("receiver")))
    err = _rpc_error(lambda: rx.Deliver(iter([
        pb.DeliverChunk(header=header, noise_var=1e308 if case == "noise-var" else 0.1, realised_snr_db=10.0),
        pb.DeliverChunk(y=_blocks(y)), pb.DeliverChunk(h=_blocks(np.tile([[1.0, 0.0]], (192, 1))))]), timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and text in err.details(), err.details()
    assert "Traceback" not in (svc.log_dir / "receiver.log").read_text()


def test_an_id_that_is_not_utf8_is_invalid_argument_without_a_traceback(svc):
    conn = grpc.insecure_channel(svc.addr("transmitter"))
    raw = conn.unary_unary("/semcom.v1.Transmitter/Send", request_serializer=lambda b: b,
                           response_deserializer=lambda b: b)
    body = pb.SendRequest(image=png_bytes(16, 16), task="segment this image", transmission_id="AAAA")
    data = body.SerializeToString().replace(b"AAAA", b"\xff\xfe\xfd\xfc")
    err = _rpc_error(lambda: raw(data, timeout=30))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "must be UTF-8" in err.details(), err.details()
    assert "Traceback" not in (svc.log_dir / "transmitter.log").read_text()
    assert health_status(svc.addr("transmitter")) == "SERVING"


# ---------------------------------------------------------------- 15-17: tokens and terminals


def test_a_token_on_the_command_line_is_warned_about(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "semcom.txclient", "--token", "flag-token", "--transmitter",
                           f"127.0.0.1:{free_ports(1)[0]}", "--timeout", "3", "tasks"],
                          capture_output=True, text=True, timeout=120)
    assert "warning: --token puts the token on the command line" in proc.stderr and "--token-file" in proc.stderr
    assert "Traceback" not in proc.stderr
    env = {**__import__("os").environ, "SEMCOM_TOKEN": "env-token"}  # from the environment: no warning
    proc = subprocess.run([sys.executable, "-m", "semcom.txclient", "--transmitter",
                           f"127.0.0.1:{free_ports(1)[0]}", "--timeout", "3", "tasks"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert "warning" not in proc.stderr


ESCAPES = "\x1b]0;owned\x07\x1b[2J\u202e"


class _Prankster(rpc.TransmitterServicer, rpc.ReceiverServicer):
    """A server whose answers carry terminal escape sequences."""

    def Send(self, request, context):
        return pb.SendReply(transmission_id="id" + ESCAPES, task="segmentation" + ESCAPES, score=0.9, width=8,
                            height=8, cbr=1 / 16, channel_uses=12)

    def GetResult(self, request, context):
        return pb.Result(transmission_id=request.transmission_id, error="decoder said" + ESCAPES)


def test_server_text_reaches_the_terminal_escaped(tmp_path):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    prank = _Prankster()
    rpc.add_TransmitterServicer_to_server(prank, server)
    rpc.add_ReceiverServicer_to_server(prank, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes(8, 8))
    try:
        proc = subprocess.run([sys.executable, "-m", "semcom.txclient", "--transmitter", f"127.0.0.1:{port}",
                               "--receiver", f"127.0.0.1:{port}", "--timeout", "30", "send", str(image), "--task",
                               "segment it", "--out", str(tmp_path / "out")], capture_output=True, timeout=120)
    finally:
        server.stop(0)
    shown = proc.stdout + proc.stderr
    assert b"\x1b" not in shown and b"\x07" not in shown and "\u202e".encode() not in shown
    assert b"id\\x1b]0;owned\\x07" in proc.stdout and b"decoder said\\x1b" in proc.stderr


def test_a_token_file_holding_only_a_byte_order_mark_is_refused(tmp_path):
    token = tmp_path / "token"
    token.write_bytes(b"\xef\xbb\xbf\n")
    proc = subprocess.run([sys.executable, "-m", "channel", "--port", str(free_ports(1)[0]), "--token-file",
                           str(token)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0
    assert f"token file {token} is empty" in proc.stderr
    token.write_bytes("\ufefftoken with space".encode())
    proc = subprocess.run([sys.executable, "-m", "channel", "--port", str(free_ports(1)[0]), "--token-file",
                           str(token)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "printable ASCII without spaces" in proc.stderr
