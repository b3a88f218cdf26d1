"""Hardening with real processes: fuzzed input, clients that vanish mid-stream, tampered weights."""

import io
import shutil
import subprocess
import sys
import threading

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from semcom.launcher import health_status
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.weights import shipped_weights
from tests.e2e.conftest import free_ports, metric, wait_for

# What a service may answer to anything a client sends: never UNKNOWN or INTERNAL (a crash).
CLEAN = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
         grpc.StatusCode.FAILED_PRECONDITION}


def _image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 24), (200, 30, 90)).save(buf, format=fmt)
    return buf.getvalue()


SEEDS = [_image("PNG"), _image("JPEG")]


def _code(call) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as err:
        assert err.details(), "an error without a message"
        assert "Traceback" not in err.details()
        return err.code()
    return grpc.StatusCode.OK


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.one_of(st.binary(max_size=2048),
                      st.tuples(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)),
                                                                 max_size=6))
                      .map(lambda t: bytes(_mutate(*t)))),
       task=st.sampled_from(["segment this image", "reconstruct the image", "", "tell me a joke"]) | st.text(max_size=40))
def test_fuzzed_sends_get_clean_errors(services, data, task):
    tx = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter")))
    code = _code(lambda: tx.Send(pb.SendRequest(image=data, task=task), timeout=60))
    assert code in CLEAN


def _mutate(seed: bytes, flips) -> bytearray:
    data = bytearray(seed)
    for pos, value in flips:
        data[pos % len(data)] = value
    return data


@FUZZ
@given(c=st.integers(0, 300), h=st.integers(0, 70), w=st.integers(0, 70), ih=st.integers(0, 5000),
       iw=st.integers(0, 5000), model=st.sampled_from(["awgn", "rayleigh", "noiseless", "rician", ""]),
       snr=st.floats(allow_nan=True, allow_infinity=True), block=st.integers(-5, 10_000),
       values=st.binary(max_size=64).map(lambda b: b[: len(b) // 8 * 8]), offset=st.integers(0, 2**40))
def test_fuzzed_symbol_streams_get_clean_errors(services, c, h, w, ih, iw, model, snr, block, values, offset):
    header = pb.TransmissionHeader(transmission_id="fuzz", task="segmentation", grid_c=c, grid_h=h, grid_w=w,
                                   image_height=ih, image_width=iw,
                                   channel=pb.ChannelSettings(model=model, snr_db=snr, block_len=block))
    chan = rpc.ChannelStub(grpc.insecure_channel(services.addr("channel")))
    block_msg = pb.SymbolBlock(offset=offset, values=values)
    assert _code(lambda: chan.Transmit(iter([pb.TransmitChunk(header=header), pb.TransmitChunk(symbols=block_msg)]),
                                       timeout=30)) in CLEAN
    recv = rpc.ReceiverStub(grpc.insecure_channel(services.addr("receiver")))
    assert _code(lambda: recv.Deliver(iter([pb.DeliverChunk(header=header, noise_var=abs(snr) if snr == snr else 1),
                                            pb.DeliverChunk(y=block_msg)]), timeout=30)) in CLEAN


def test_services_serving_after_fuzzing(services):
    for name in ("transmitter", "channel", "receiver"):
        assert health_status(services.addr(name)) == "SERVING"


def test_client_vanishing_mid_stream_frees_the_servers(services):
    fingerprint = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter"))).ListTasks(
        pb.ListTasksRequest(), timeout=30).kb_fingerprint
    header = pb.TransmissionHeader(transmission_id="gone", task="segmentation", grid_c=48, grid_h=2, grid_w=2,
                                   image_height=32, image_width=32, kb_fingerprint=fingerprint,
                                   channel=pb.ChannelSettings(model="awgn", snr_db=10))
    block = pb.SymbolBlock(offset=0, values=b"\x00" * 8 * 8)  # 8 of the 192 symbols announced
    for service, method, stub, first, rest in (
            ("channel", "Transmit", rpc.ChannelStub(grpc.insecure_channel(services.addr("channel"))).Transmit,
             pb.TransmitChunk(header=header), pb.TransmitChunk(symbols=block)),
            ("receiver", "Deliver", rpc.ReceiverStub(grpc.insecure_channel(services.addr("receiver"))).Deliver,
             pb.DeliverChunk(header=header, noise_var=0.1), pb.DeliverChunk(y=block))):
        release = threading.Event()

        def stream():
            yield first
            yield rest
            release.wait(60)  # the client hangs mid-stream ...

        gauge = f'semcom_in_flight{{method="{method}",service="{service}"}}'
        future = stub.future(stream(), timeout=120)
        wait_for(lambda: metric(services, service, gauge) == 1, f"{method} to be in progress", timeout=60)
        future.cancel()  # ... and goes away
        release.set()
        wait_for(lambda: metric(services, service, gauge) == 0, f"{service} to free the abandoned {method}", timeout=60)
    # a subscriber that disconnects is forgotten
    sub = rpc.ReceiverStub(grpc.insecure_channel(services.addr("receiver"))).Subscribe(pb.SubscribeRequest())
    gauge = 'semcom_subscribers{service="receiver"}'
    wait_for(lambda: metric(services, "receiver", gauge) >= 1, "the subscriber to register", timeout=60)
    sub.cancel()
    wait_for(lambda: metric(services, "receiver", gauge) == 0, "the receiver to drop the gone subscriber", timeout=60)


@pytest.mark.parametrize("service", ["transmitter", "receiver"])
def test_tampered_weights_are_refused_at_start(tmp_path, service):
    src = shipped_weights("cpu")
    if src is None:
        pytest.skip("no shipped cpu weights")
    bad = tmp_path / "weights"
    shutil.copytree(src, bad)
    f = bad / "model.safetensors"
    data = bytearray(f.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte inside a tensor
    f.write_bytes(bytes(data))
    port = free_ports(1)[0]
    r = subprocess.run([sys.executable, "-m", service, "--port", str(port), "--preset", "cpu", "--weights", str(bad),
                        "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "does not match the sha256" in r.stderr and "Traceback" not in r.stderr
    assert f"{service}: cannot load its models: " in r.stderr
