"""The channel service in this process: a real gRPC server with `ChannelService`, a recording receiver.

What the channel must do with a Transmit stream: assemble x from blocks in any order, refuse
gaps, overlaps, blocks past the announced length and bad settings with INVALID_ARGUMENT
(before anything reaches the receiver), apply y = h x + n, and forward y with h exactly
when the receiver is told h. No processes are started.
"""

import threading

import grpc
import numpy as np
import pytest
import torch

from channel.service import ChannelService
from shared.channel import MAX_SYMBOLS, Channel, ChannelSpec
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from shared.seeding import derive_seed
from shared.service import build_server
from tests import rawproto

GRID = (4, 2, 3)  # 24 complex symbols
N = GRID[0] * GRID[1] * GRID[2]


class RecordingReceiver(rpc.ReceiverServicer):
    """Stands in for the receiver: keeps every Deliver stream it is given."""

    def __init__(self) -> None:
        self.deliveries: list[list[pb.DeliverChunk]] = []
        self.lock = threading.Lock()
        self.fail_with: tuple[grpc.StatusCode, str] | None = None

    def Deliver(self, request_iterator, context):
        chunks = list(request_iterator)
        with self.lock:
            self.deliveries.append(chunks)
        if self.fail_with:
            context.abort(*self.fail_with)
        return pb.DeliverReply(queue_position=1)


@pytest.fixture(scope="module")
def servers():
    receiver = RecordingReceiver()
    rx = build_server("127.0.0.1", 0, 4, ("Receiver",))
    rpc.add_ReceiverServicer_to_server(receiver, rx.server)
    rx.server.start()
    service = ChannelService(f"127.0.0.1:{rx.port}", deadline_s=30)
    ch = build_server("127.0.0.1", 0, 4, ("Channel",))
    rpc.add_ChannelServicer_to_server(service, ch.server)
    ch.server.start()
    conn = grpc.insecure_channel(f"127.0.0.1:{ch.port}")
    yield rpc.ChannelStub(conn), conn, receiver
    conn.close()
    ch.server.stop(None)
    rx.server.stop(None)


@pytest.fixture
def chain(servers):
    stub, conn, receiver = servers
    receiver.deliveries.clear()
    receiver.fail_with = None
    return stub, conn, receiver


def header(**channel) -> pb.TransmissionHeader:
    settings = dict(model="awgn", snr_db=10.0, seed=5) | channel
    return pb.TransmissionHeader(transmission_id="t1", task="reconstruction", grid_c=GRID[0], grid_h=GRID[1],
                                 grid_w=GRID[2], image_height=32, image_width=48,
                                 channel=pb.ChannelSettings(**settings))


def symbols(n: int = N, seed: int = 0) -> np.ndarray:
    """(n, 2) float32 (re, im) pairs of unit-power complex symbols."""
    return (np.random.default_rng(seed).standard_normal((n, 2)) / np.sqrt(2)).astype("<f4")


def block(x: np.ndarray, start: int, stop: int) -> pb.TransmitChunk:
    return pb.TransmitChunk(symbols=pb.SymbolBlock(offset=start, values=x[start:stop].tobytes()))


def transmit(stub, hdr, blocks):
    return stub.Transmit(iter([pb.TransmitChunk(header=hdr), *blocks]), timeout=30)


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        call()
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.value.details()
    return exc.value


def delivered(chunks: list[pb.DeliverChunk], part: str) -> np.ndarray:
    """The (n, 2) float32 pairs of one part ('y' or 'h') of a Deliver stream, in offset order."""
    blocks = sorted((getattr(c, part) for c in chunks[1:] if c.WhichOneof("part") == part), key=lambda b: b.offset)
    return np.concatenate([np.frombuffer(b.values, "<f4").reshape(-1, 2) for b in blocks]) if blocks else \
        np.zeros((0, 2), "<f4")


# ---------------------------------------------------------------- chunk assembly


def test_blocks_in_any_order_are_assembled(chain):
    stub, _, receiver = chain
    x = symbols()
    reply = transmit(stub, header(model="noiseless"), [block(x, 10, N), block(x, 0, 4), block(x, 4, 10)])
    assert np.isinf(reply.realised_snr_db) or reply.realised_snr_db > 100  # no noise at all
    (chunks,) = receiver.deliveries
    assert chunks[0].WhichOneof("part") == "header" and chunks[0].header.transmission_id == "t1"
    np.testing.assert_array_equal(delivered(chunks, "y"), x)  # y = x exactly


@pytest.mark.parametrize("blocks,match", [
    ([(0, 10), (12, N)], "received 22 of 24"),  # a gap
    ([(0, 12), (8, N)], "overlaps"),  # an overlap
    ([(0, N), (0, 1)], "overlaps"),  # a block sent twice
    ([], "received 0 of 24"),  # no symbols at all
], ids=["gap", "overlap", "duplicate", "empty"])
def test_gaps_and_overlaps_are_refused(chain, blocks, match):
    stub, _, receiver = chain
    x = symbols()
    err = refused(lambda: transmit(stub, header(), [block(x, a, b) for a, b in blocks]))
    assert match in err.details()
    assert receiver.deliveries == []  # nothing half-assembled went on


def test_blocks_past_the_announced_length_are_refused(chain):
    stub, _, receiver = chain
    x = symbols(N + 3)
    err = refused(lambda: transmit(stub, header(), [block(x, 0, N + 3)]))
    assert "runs past the 24 symbols announced" in err.details()
    huge = pb.TransmitChunk(symbols=pb.SymbolBlock(offset=2**64 - 1, values=x[:1].tobytes()))
    assert "runs past" in refused(lambda: transmit(stub, header(), [huge])).details()
    assert receiver.deliveries == []


def test_ragged_blocks_and_misplaced_messages_are_refused(chain):
    stub, _, _ = chain
    x = symbols()
    ragged = pb.TransmitChunk(symbols=pb.SymbolBlock(offset=0, values=x.tobytes()[:-3]))
    assert "not whole float32 pairs" in refused(lambda: transmit(stub, header(), [ragged])).details()
    assert "only symbol blocks" in refused(
        lambda: transmit(stub, header(), [block(x, 0, N), pb.TransmitChunk(header=header())])).details()
    assert "first message" in refused(lambda: stub.Transmit(iter([block(x, 0, N)]), timeout=30)).details()
    assert "first message" in refused(lambda: stub.Transmit(iter([]), timeout=30)).details()


def test_announced_length_over_the_cap_is_refused_before_buffering(chain):
    stub, _, _ = chain
    hdr = header()
    hdr.grid_c, hdr.grid_h, hdr.grid_w = 1 << 10, 1 << 10, 1 << 10  # 2^30 symbols announced
    err = refused(lambda: transmit(stub, hdr, []))
    assert f"over the channel's cap of {MAX_SYMBOLS}" in err.details()


# ---------------------------------------------------------------- settings validation


@pytest.mark.parametrize("settings,match", [
    (dict(model="nakagami"), "unknown channel model 'nakagami'"),
    (dict(model="rician", params={"k_factor": -1.0}), "k_factor = -1.0 is outside the range"),
    (dict(model="awgn", params={"k_factor": 3.0}), "'awgn' takes no parameter 'k_factor'"),
    (dict(snr_db=float("nan")), "outside the supported range"),
    (dict(snr_db=float("inf")), "outside the supported range"),
    (dict(snr_db=41.0), "outside the supported range"),
    (dict(snr_db=-10.5), "outside the supported range"),
    (dict(model="rayleigh", block_len=MAX_SYMBOLS + 1), "block length must be 0 to"),
])
def test_bad_settings_are_refused(chain, settings, match):
    stub, _, receiver = chain
    assert match in refused(lambda: transmit(stub, header(**settings), [block(symbols(), 0, N)])).details()
    assert receiver.deliveries == []


def _raw_transmit(conn, header_bytes: bytes, x: np.ndarray):
    call = rawproto.raw_stub(conn, "/semcom.v1.Channel/Transmit", pb.TransmitReply, streaming=True)
    first = rawproto.bytes_field(pb.TransmitChunk.DESCRIPTOR.fields_by_name["header"].number, header_bytes)
    return call(iter([first, block(x, 0, N).SerializeToString()]), timeout=30)


@pytest.mark.parametrize("value", [-1, -(2**63), 2**32 - 1, 2**40])
def test_out_of_range_block_len_on_the_wire_is_invalid_argument(chain, value):
    """What a peer can encode but the Python library cannot build: a negative or oversized uint32."""
    stub, conn, receiver = chain
    hdr = header(model="rayleigh")
    settings = rawproto.message(hdr.channel, block_len=value)
    wire_value = pb.ChannelSettings.FromString(settings).block_len  # what the service will parse
    call = lambda: _raw_transmit(conn, rawproto.nested(hdr, "channel", settings), symbols())  # noqa: E731
    if wire_value <= MAX_SYMBOLS:  # 2^40 keeps its low 32 bits: 0, a valid setting
        call()
        assert len(receiver.deliveries) == 1
    else:
        assert "block length must be 0 to" in refused(call).details()
        assert receiver.deliveries == []


@pytest.mark.parametrize("field", ["grid_c", "grid_h", "grid_w"])
def test_negative_grid_on_the_wire_is_invalid_argument(chain, field):
    _, conn, receiver = chain
    err = refused(lambda: _raw_transmit(conn, rawproto.message(header(), **{field: -1}), symbols()))
    assert "over the channel's cap" in err.details()
    assert receiver.deliveries == []


# ---------------------------------------------------------------- what reaches the receiver


def test_awgn_forwards_y_with_the_noise_the_seed_fixes_and_no_gains(chain):
    stub, _, receiver = chain
    x = symbols()
    reply = transmit(stub, header(snr_db=5.0, seed=11), [block(x, 0, N)])
    (chunks,) = receiver.deliveries
    first = chunks[0]
    assert first.noise_var == pytest.approx(10 ** -0.5)
    assert first.realised_snr_db == pytest.approx(reply.realised_snr_db)
    assert first.header.timings_s["channel"] >= 0
    # the same maths as shared.channel with the request's seed: the service adds nothing of its own
    xc = torch.view_as_complex(torch.from_numpy(x.astype(np.float32)))[None]
    expected = Channel("awgn")(xc, 5.0, torch.Generator().manual_seed(derive_seed(11, "channel")))
    y = delivered(chunks, "y")
    np.testing.assert_allclose(y, torch.view_as_real(expected.y[0]).numpy(), rtol=0, atol=1e-6)
    # CSI on by default, but h = 1 on AWGN: the receiver knows it, so nothing is sent for it
    assert delivered(chunks, "h").shape == (0, 2)


def test_rayleigh_block_fading_forwards_h_per_block_with_csi(chain):
    stub, _, receiver = chain
    x = symbols()
    transmit(stub, header(model="rayleigh", block_len=8, csi=True), [block(x, 0, N)])
    (chunks,) = receiver.deliveries
    h = delivered(chunks, "h")
    assert h.shape == (N, 2)
    hc = h[:, 0] + 1j * h[:, 1]
    for start in range(0, N, 8):  # constant within a coherence block, different between blocks
        assert np.allclose(hc[start:start + 8], hc[start])
    assert len({complex(v) for v in hc[::8]}) == N // 8
    y = delivered(chunks, "y")
    yc, xc = y[:, 0] + 1j * y[:, 1], x[:, 0] + 1j * x[:, 1]
    noise = yc - hc * xc
    assert np.mean(np.abs(noise) ** 2) < 0.5  # 10 dB: the faded x is there, plus small noise


def test_rician_k_factor_reaches_the_channel_and_the_receiver(chain):
    stub, _, receiver = chain
    x = symbols()
    transmit(stub, header(model="rician", block_len=4, seed=2, params={"k_factor": 8.0}), [block(x, 0, N)])
    (chunks,) = receiver.deliveries
    assert chunks[0].header.channel.model == "rician" and dict(chunks[0].header.channel.params) == {"k_factor": 8.0}
    h = delivered(chunks, "h")
    hc = (h[:, 0] + 1j * h[:, 1])[::4].astype(np.complex128)  # one gain per block
    expected = Channel.of(ChannelSpec.of("rician", 10.0, 4, k_factor=8.0))(
        torch.view_as_complex(torch.from_numpy(x.astype(np.float32)))[None], 10.0,
        torch.Generator().manual_seed(derive_seed(2, "channel")))
    np.testing.assert_allclose(hc, expected.h[0, ::4].numpy(), atol=1e-6)  # the spec's K, the request's seed
    assert abs(hc.mean()) ** 2 > 0.5  # a line of sight: E h = sqrt(K/(K+1)) = 0.94


def test_without_csi_h_is_not_forwarded(chain):
    stub, _, receiver = chain
    transmit(stub, header(model="rayleigh", csi=False), [block(symbols(), 0, N)])
    (chunks,) = receiver.deliveries
    assert delivered(chunks, "y").shape == (N, 2)
    assert delivered(chunks, "h").shape == (0, 2)
    assert not chunks[0].header.channel.csi


def test_same_seed_same_realisation_other_seed_other(chain):
    stub, _, receiver = chain
    x = symbols()
    for seed in (3, 3, 4):
        transmit(stub, header(model="rayleigh", seed=seed), [block(x, 0, N)])
    a, b, c = (delivered(d, "y") for d in receiver.deliveries)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_receiver_errors_come_back_unchanged(chain):
    stub, _, receiver = chain
    receiver.fail_with = (grpc.StatusCode.RESOURCE_EXHAUSTED, "receiver decoding queue is full")
    with pytest.raises(grpc.RpcError) as exc:
        transmit(stub, header(), [block(symbols(), 0, N)])
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "queue is full" in exc.value.details()
