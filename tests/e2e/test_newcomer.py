"""What a new user met in the first hour: results that looked right and were not, and a `semcom up` that reported
someone else's services as its own. Each against the real services on loopback."""

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
from PIL import Image

from shared.imageio import rgb8
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from tests.e2e.conftest import png_bytes, run_client

pytestmark = pytest.mark.e2e  # starts the real services as processes

REPO = Path(__file__).resolve().parents[2]


def test_a_reused_id_is_refused_not_answered_with_the_old_result(services, capsys, tmp_path):
    """The second and third sends under one id printed the first one's PSNR and files as their own."""
    img = tmp_path / "img.png"
    img.write_bytes(png_bytes(64, 48))
    out = str(tmp_path / "out")
    rc, first, err = run_client(services, capsys, "send", str(img), "--task", "reconstruct it", "--id", "reuse1",
                                "--snr", "25", "--json", "--out", out)
    assert rc == 0, err
    for task in ("reconstruct it", "segment this image"):
        rc, stdout, err = run_client(services, capsys, "send", str(img), "--task", task, "--id", "reuse1",
                                     "--snr", "-5", "--out", out)
        assert rc == 1 and stdout == ""
        assert err.startswith("ALREADY_EXISTS: transmission id 'reuse1' is in use") and "another id" in err
    assert sorted(p.name for p in Path(out).iterdir()) == ["img_reuse1_reconstruction.png"]


def test_the_receiver_refuses_a_taken_id_on_the_header(services, capsys, tmp_path):
    """Deliver decides (two senders racing past negotiation): a header whose id has a kept result is refused
    before a symbol is read."""
    img = tmp_path / "img.png"
    img.write_bytes(png_bytes(32, 32))
    assert run_client(services, capsys, "send", str(img), "--task", "segment this image", "--id", "taken2",
                      "--out", str(tmp_path))[0] == 0
    rx = rpc.ReceiverStub(grpc.insecure_channel(services.addr("receiver")))
    fingerprint = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter"))).ListTasks(
        pb.ListTasksRequest(), timeout=30).kb_fingerprint
    header = pb.TransmissionHeader(transmission_id="taken2", task="segmentation", grid_c=48, grid_h=2, grid_w=2,
                                   image_height=32, image_width=32, kb_fingerprint=fingerprint, power_scale=1.0,
                                   channel=pb.ChannelSettings(model="awgn", snr_db=10, csi=True))
    with pytest.raises(grpc.RpcError) as exc:
        rx.Deliver(iter([pb.DeliverChunk(header=header, noise_var=0.1)]), timeout=30)
    assert exc.value.code() == grpc.StatusCode.ALREADY_EXISTS and "'taken2' is in use" in exc.value.details()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) / 255 - b.astype(np.float64) / 255) ** 2))
    return 10 * math.log10(1 / max(mse, 1e-12))


def test_a_16_bit_png_is_sent_and_scored_as_it_looks(services, capsys, tmp_path):
    """A 16-bit greyscale PNG was clipped to white on both sides and scored 37.8 dB against that white."""
    grey = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (48, 1))
    img = tmp_path / "deep.png"
    Image.fromarray(grey).save(img)
    assert Image.open(img).mode == "I;16"
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", "reconstruct it", "--json",
                              "--snr", "20", "--out", str(tmp_path / "out"))
    assert rc == 0, err
    doc = json.loads(out)
    sent = np.asarray(rgb8(Image.open(img)))
    assert abs(sent.mean() - 127.5) < 1  # mid grey on average, as it looks; not white
    got = np.asarray(Image.open(doc["outputs"][0]).convert("RGB"))
    assert doc["psnr_db"] == pytest.approx(_psnr(sent, got), abs=1e-3)  # scored against what was sent


def test_a_phone_photo_arrives_upright(services, capsys, tmp_path):
    """EXIF orientation 6: stored 96x64, shown (and now sent) 64x96."""
    exif = Image.Exif()
    exif[0x0112] = 6
    img = tmp_path / "phone.jpg"
    Image.fromarray(np.asarray(Image.open(io.BytesIO(png_bytes(96, 64))))).save(img, format="JPEG", exif=exif)
    for task in ("reconstruct it", "segment this image"):
        rc, out, err = run_client(services, capsys, "send", str(img), "--task", task, "--json",
                                  "--out", str(tmp_path / "out"))
        assert rc == 0, err
        doc = json.loads(out)
        assert (doc["width"], doc["height"]) == (64, 96)
        assert all(Image.open(p).size == (64, 96) for p in doc["outputs"] if not p.endswith(("legend.png", ".json")))


def test_semcom_up_refuses_ports_another_instance_holds(services):
    """It printed "all SERVING" (its health check had reached the other instance), then its own services failed."""
    ports = {n: services.addr(n).rsplit(":", 1)[1] for n in ("transmitter", "channel", "receiver")}
    r = subprocess.run([sys.executable, "-m", "semcom.cli", "up", "--preset", "test", "--weights", "none",
                        *[a for n, p in ports.items() for a in (f"--{n}-port", p)]],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "SERVING" not in r.stdout
    assert r.stderr.startswith(f"semcom up: ports {ports['channel']} (channel), {ports['receiver']} (receiver), "
                               f"{ports['transmitter']} (transmitter) on 127.0.0.1 are in use")
    assert "--channel-port N --receiver-port N --transmitter-port N" in r.stderr


def test_the_demo_fails_when_its_services_do(services, tmp_path):
    """scripts/demo.sh went on to send both images to the other instance and exited 0."""
    env = {**os.environ, "OUT": str(tmp_path / "demo"), "SEMCOM_DATA": str(tmp_path / "none"),
           "TX_PORT": services.addr("transmitter").rsplit(":", 1)[1],
           "CH_PORT": services.addr("channel").rsplit(":", 1)[1],
           "RX_PORT": services.addr("receiver").rsplit(":", 1)[1]}
    r = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], capture_output=True, text=True, timeout=300,
                       env=env, cwd=REPO)
    assert r.returncode == 1, r.stdout
    assert "semcom up failed" in r.stdout and "in use" in r.stdout and "== reconstruction" not in r.stdout


def _txclient(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "semcom.txclient", *args], capture_output=True, text=True,
                          timeout=120)


def test_messages_name_the_service_and_what_to_do(services, tmp_path):
    """Transmitter down, an address of the wrong service, a 1x1 image: one line each that says what is wrong."""
    from tests.e2e.conftest import free_ports

    img = tmp_path / "img.png"
    img.write_bytes(png_bytes(32, 32))
    (port,) = free_ports(1)
    down = _txclient("--transmitter", f"127.0.0.1:{port}", "--timeout", "5", "send", str(img), "--task", "t")
    assert down.returncode == 1 and down.stderr == (
        f"UNAVAILABLE: the transmitter at 127.0.0.1:{port} is not reachable (Connection refused): is `semcom up` "
        "running, and is the address right (--transmitter or SEMCOM_TRANSMITTER_ADDR)?\n")
    wrong = _txclient("--transmitter", services.addr("receiver"), "tasks")
    assert wrong.returncode == 1 and wrong.stderr.startswith(
        f"UNIMPLEMENTED: the server at {services.addr('receiver')} is not a semcom transmitter (")
    assert wrong.stderr.rstrip().endswith("check the address (--transmitter or SEMCOM_TRANSMITTER_ADDR)")
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (9, 9, 9)).save(dot)
    small = _txclient("--transmitter", services.addr("transmitter"), "--receiver", services.addr("receiver"),
                      "send", str(dot), "--task", "reconstruct it")
    assert small.returncode == 1 and small.stderr.startswith("INVALID_ARGUMENT: a 1x1 image is too small for this "
                                                             "model") and "4x4 or larger" in small.stderr


def test_json_mode_prints_errors_as_one_json_object(services, tmp_path):
    img = tmp_path / "img.png"
    img.write_bytes(png_bytes(32, 32))
    r = _txclient("--transmitter", services.addr("transmitter"), "--receiver", services.addr("receiver"),
                  "send", str(img), "--task", "tell me a joke", "--json")
    assert r.returncode == 1 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["error"]["code"] == "INVALID_ARGUMENT" and "matches no known task" in doc["error"]["message"]
    assert doc["exit_code"] == 1
    r = _txclient("send", str(tmp_path / "missing.png"), "--task", "t", "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 2 and doc["error"]["code"] == "error" and "cannot read" in doc["error"]["message"]


def test_a_rician_send_prints_its_k_factor_even_at_the_default(services, capsys, tmp_path):
    img = tmp_path / "img.png"
    img.write_bytes(png_bytes(32, 32))
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", "reconstruct it", "--channel", "rician",
                              "--out", str(tmp_path))
    assert rc == 0 and "channel: rician, k_factor 3 at 10 dB" in out, err
    help_text = _txclient("--help").stdout
    assert "awgn|rayleigh" not in help_text and "--channel MODEL" in help_text


def test_stopping_the_page_with_a_stream_open_is_clean(services, tmp_path):
    """SIGTERM with a page listening ended with uvicorn's 'Cancel 2 running task(s), timeout graceful shutdown
    exceeded' logged as an error after the whole grace period."""
    import signal
    import socket
    import time

    from tests.e2e.conftest import free_ports

    (port,) = free_ports(1)
    log = tmp_path / "web.log"
    proc = subprocess.Popen([sys.executable, "-m", "semcom.web.app", "--port", str(port), "--transmitter",
                             services.addr("transmitter"), "--receiver", services.addr("receiver")],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 120
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < end, log.read_text()
                time.sleep(0.2)
        sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        assert b"200 OK" in sock.recv(4096)  # the stream is open
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        sock.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "ERROR" not in text and "Cancel" not in text and "Traceback" not in text, text
