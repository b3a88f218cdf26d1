"""The receiver servicer without processes: its queue cap, draining, and a drain that loses nothing."""

import threading

import grpc
import numpy as np
import pytest

from receiver.model import Receiver
from receiver.service import ReceiverService
from shared.config import get_preset
from shared.rpc import semcom_pb2 as pb
from tests.transmitter.test_service import Aborted, FakeContext


@pytest.fixture(scope="module")
def parts(task_kb):
    return Receiver(get_preset("test")).eval(), task_kb


def _stream(kb, tid: str, model: str = "awgn", csi: bool = False, h: np.ndarray | None = None):
    header = pb.TransmissionHeader(transmission_id=tid, task="segmentation", grid_c=48, grid_h=2, grid_w=2,
                                   image_height=32, image_width=32, kb_fingerprint=kb.fingerprint, power_scale=1.0,
                                   channel=pb.ChannelSettings(model=model, snr_db=10, csi=csi))
    y = np.random.default_rng(0).standard_normal(2 * 192).astype("<f4").tobytes()
    parts = [pb.DeliverChunk(header=header, noise_var=0.1), pb.DeliverChunk(y=pb.SymbolBlock(offset=0, values=y))]
    if h is not None:
        parts.append(pb.DeliverChunk(h=pb.SymbolBlock(offset=0, values=h.astype("<f4").tobytes())))
    return iter(parts)


def _service(parts, **kw) -> ReceiverService:
    svc = ReceiverService(**kw)
    svc.model, svc.kb = parts
    svc.device = next(svc.model.parameters()).device
    svc.mark_ready()  # the decoder thread is not started: accepted work stays queued
    return svc


def test_full_queue_is_resource_exhausted_at_once(parts):
    svc = _service(parts, queue_depth=1)
    assert isinstance(svc.Deliver(_stream(parts[1], "a"), FakeContext()), pb.DeliverReply)
    ctx = FakeContext()
    with pytest.raises(Aborted, match="queue is full"):
        svc.Deliver(_stream(parts[1], "b"), ctx)
    assert ctx.code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_draining_refuses_new_work_but_answers_reads(parts):
    svc = _service(parts)
    svc.draining = threading.Event()
    svc.draining.set()
    for call in (lambda c: svc.Deliver(_stream(parts[1], "a"), c),
                 lambda c: svc.Negotiate(pb.NegotiateRequest(task="segment this image"), c)):
        ctx = FakeContext()
        with pytest.raises(Aborted, match="shutting down"):
            call(ctx)
        assert ctx.code == grpc.StatusCode.UNAVAILABLE
    svc.hub.publish("done", lambda seq: pb.Result(transmission_id="done", sequence=seq))
    assert svc.GetResult(pb.GetResultRequest(transmission_id="done"), FakeContext()).transmission_id == "done"


def test_drain_decodes_everything_accepted(parts):
    svc = _service(parts, queue_depth=8)
    for i in range(3):
        svc.Deliver(_stream(parts[1], f"t{i}"), FakeContext())
    svc.worker.start()
    svc.drain(timeout=120)
    assert svc.finished.is_set() and svc.jobs.empty()
    for i in range(3):
        r = svc.hub.get(f"t{i}")
        assert r is not None and not r.error and r.labels_png and r.epoch == svc.hub.epoch
    ctx = FakeContext()
    with pytest.raises(Aborted, match="shutting down"):
        svc.Deliver(_stream(parts[1], "late"), ctx)


def test_awgn_with_csi_needs_no_gains_on_the_wire(parts):
    """h = 1 on AWGN: the channel sends none and the receiver decodes as if told h = 1 (also when it was)."""
    svc = _service(parts)
    svc.Deliver(_stream(parts[1], "bare", csi=True), FakeContext())
    svc.Deliver(_stream(parts[1], "told", csi=True, h=np.tile([1.0, 0.0], (192, 1))), FakeContext())
    bare, told = svc.jobs.get_nowait(), svc.jobs.get_nowait()
    assert bare.h is not None and bool((bare.h == 1).all())
    assert bool((told.h == bare.h).all())


def test_fading_with_csi_without_gains_is_invalid_argument(parts):
    svc = _service(parts)
    ctx = FakeContext()
    with pytest.raises(Aborted, match="received 0 of 192"):
        svc.Deliver(_stream(parts[1], "nogains", model="rayleigh", csi=True), ctx)
    assert ctx.code == grpc.StatusCode.INVALID_ARGUMENT
