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
from tests import rawproto
from tests.e2e.conftest import free_ports, metric, wait_for
from tests.fuzzing import examples

pytestmark = pytest.mark.e2e  # starts the real services as processes

# What a service may answer to anything a client sends: never UNKNOWN or INTERNAL (a crash).
CLEAN = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
         grpc.StatusCode.ALREADY_EXISTS,  # one fuzzed stream accepted: its id is then taken
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


FUZZ = settings(max_examples=examples(25), suppress_health_check=[HealthCheck.function_scoped_fixture])


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


# An unsigned field as a peer may encode it: small, or any 64-bit value (negative ones included).
# The generated classes refuse -1 for a uint32, so these go over the wire as raw bytes (tests.rawproto).
UINT = st.integers(0, 300) | st.integers(-(2**63), 2**64 - 1)


def _kb_fingerprint(services) -> str:
    return rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter"))).ListTasks(
        pb.ListTasksRequest(), timeout=30).kb_fingerprint


def _transmit_raw(services, header: bytes, blocks: list[bytes]):
    call = rawproto.raw_stub(grpc.insecure_channel(services.addr("channel")), "/semcom.v1.Channel/Transmit",
                             pb.TransmitReply, streaming=True)
    return call(iter([rawproto.bytes_field(1, header), *blocks]), timeout=30)


def _deliver_raw(services, header: bytes, noise_var: float, blocks: list[bytes]):
    call = rawproto.raw_stub(grpc.insecure_channel(services.addr("receiver")), "/semcom.v1.Receiver/Deliver",
                             pb.DeliverReply, streaming=True)
    first = rawproto.bytes_field(1, header) + pb.DeliverChunk(noise_var=noise_var).SerializeToString()
    return call(iter([first, *blocks]), timeout=30)


@FUZZ
@given(grid=st.tuples(st.just(48) | UINT, UINT, UINT), size=st.tuples(UINT, UINT), steps=UINT,
       model=st.sampled_from(["awgn", "rayleigh", "noiseless", "rician", "nakagami", ""]),
       snr=st.floats(allow_nan=True, allow_infinity=True), block=UINT, seed=UINT,
       task=st.sampled_from(["segmentation", "reconstruction", ""]), with_kb=st.booleans(),
       values=st.binary(max_size=64).map(lambda b: b[: len(b) // 8 * 8]), offset=UINT)
def test_fuzzed_symbol_streams_get_clean_errors(services, grid, size, steps, model, snr, block, seed, task, with_kb,
                                                values, offset):
    header = pb.TransmissionHeader(transmission_id="fuzz", task=task,
                                   kb_fingerprint=_kb_fingerprint(services) if with_kb else "",
                                   channel=pb.ChannelSettings(model=model, snr_db=snr))
    settings = rawproto.message(header.channel, block_len=block, seed=seed)
    raw_header = rawproto.message(pb.TransmissionHeader.FromString(rawproto.nested(header, "channel", settings)),
                                  grid_c=grid[0], grid_h=grid[1], grid_w=grid[2], image_height=size[0],
                                  image_width=size[1], diffusion_steps=steps)
    symbols = [rawproto.bytes_field(2, pb.SymbolBlock(values=values).SerializeToString()
                                    + rawproto.int_field(1, offset))]
    assert _code(lambda: _transmit_raw(services, raw_header, symbols)) in CLEAN
    assert _code(lambda: _deliver_raw(services, raw_header, abs(snr) if snr == snr else 1, symbols)) in CLEAN


@pytest.mark.parametrize("service,field,match", [
    ("transmitter", "diffusion_steps", "diffusion steps requested"),
    ("transmitter", "channel.block_len", "block length must be"),
    ("channel", "grid_c", "over the channel's cap"),
    ("channel", "channel.block_len", "block length must be"),
    ("receiver", "image_height", "outside the cap"),
    ("receiver", "image_width", "outside the cap"),
    ("receiver", "diffusion_steps", "diffusion steps requested"),
    ("receiver", "grid_c", "symbol channels"),
    ("receiver", "channel.block_len", "block length must be"),
])
def test_negative_unsigned_fields_on_the_wire_are_invalid_argument(services, service, field, match):
    """-1 in a uint32, as a peer in another language can send it: the service's own checks answer."""
    settings = pb.ChannelSettings(model="rayleigh", snr_db=10)
    if field == "channel.block_len":
        settings_bytes = rawproto.message(settings, block_len=-1)
    else:
        settings_bytes = settings.SerializeToString()
    if service == "transmitter":
        request = pb.SendRequest(image=SEEDS[0], task="segment this image")
        raw = rawproto.nested(request, "channel", settings_bytes)
        if field == "diffusion_steps":
            raw = rawproto.message(pb.SendRequest.FromString(raw), diffusion_steps=-1)
        call = rawproto.raw_stub(grpc.insecure_channel(services.addr("transmitter")), "/semcom.v1.Transmitter/Send",
                                 pb.SendReply, streaming=False)
        send = lambda: call(raw, timeout=60)  # noqa: E731
    else:
        header = pb.TransmissionHeader(transmission_id="neg", task="segmentation", grid_c=48, grid_h=2, grid_w=2,
                                       image_height=32, image_width=32, kb_fingerprint=_kb_fingerprint(services),
                                       power_scale=1.0)
        raw = rawproto.nested(header, "channel", settings_bytes)
        if not field.startswith("channel."):
            raw = rawproto.message(pb.TransmissionHeader.FromString(raw), **{field: -1})
        blocks = [rawproto.bytes_field(2, pb.SymbolBlock(offset=0, values=b"\x00" * 8 * 192).SerializeToString())]
        send = (lambda: _transmit_raw(services, raw, blocks)) if service == "channel" else \
            (lambda: _deliver_raw(services, raw, 0.1, blocks))
    with pytest.raises(grpc.RpcError) as exc:
        send()
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.value.details()
    assert match in exc.value.details() and "Traceback" not in exc.value.details()


def test_services_serving_after_fuzzing(services):
    for name in ("transmitter", "channel", "receiver"):
        assert health_status(services.addr(name)) == "SERVING"


def test_client_vanishing_mid_stream_frees_the_servers(services):
    fingerprint = rpc.TransmitterStub(grpc.insecure_channel(services.addr("transmitter"))).ListTasks(
        pb.ListTasksRequest(), timeout=30).kb_fingerprint
    header = pb.TransmissionHeader(transmission_id="gone", task="segmentation", grid_c=48, grid_h=2, grid_w=2,
                                   image_height=32, image_width=32, kb_fingerprint=fingerprint, power_scale=1.0,
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
