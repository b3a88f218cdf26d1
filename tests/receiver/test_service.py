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


def _stream(kb, tid: str):
    header = pb.TransmissionHeader(transmission_id=tid, task="segmentation", grid_c=48, grid_h=2, grid_w=2,
                                   image_height=32, image_width=32, kb_fingerprint=kb.fingerprint, power_scale=1.0,
                                   channel=pb.ChannelSettings(model="awgn", snr_db=10, csi=False))
    y = np.random.default_rng(0).standard_normal(2 * 192).astype("<f4").tobytes()
    return iter([pb.DeliverChunk(header=header, noise_var=0.1), pb.DeliverChunk(y=pb.SymbolBlock(offset=0, values=y))])


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
