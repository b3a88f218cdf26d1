"""The transmitter servicer's admission control, without processes: a cap on transmissions in flight."""

import threading

import grpc
import pytest

from shared.rpc import semcom_pb2 as pb
from transmitter.service import TransmitterService


class Aborted(Exception):
    pass


class FakeContext:
    def __init__(self) -> None:
        self.code = None

    def abort(self, code, details):
        self.code, self.details = code, details
        raise Aborted(details)

    def is_active(self):
        return True

    def time_remaining(self):
        return 10.0


def test_over_the_cap_is_resource_exhausted_at_once():
    svc = TransmitterService("127.0.0.1:1", "127.0.0.1:1", 1 << 20, 1.0, max_concurrent=1)
    svc.mark_ready()
    entered, release = threading.Event(), threading.Event()

    def slow_send(request, context):
        entered.set()
        release.wait(5)
        return pb.SendReply()

    svc._send = slow_send
    t = threading.Thread(target=svc.Send, args=(pb.SendRequest(), FakeContext()))
    t.start()
    assert entered.wait(5)
    ctx = FakeContext()
    with pytest.raises(Aborted, match="busy"):
        svc.Send(pb.SendRequest(), ctx)
    assert ctx.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    release.set()
    t.join(5)
    assert isinstance(svc.Send(pb.SendRequest(), FakeContext()), pb.SendReply)  # the slot was given back


def test_not_ready_is_unavailable():
    svc = TransmitterService("127.0.0.1:1", "127.0.0.1:1", 1 << 20, 1.0)
    ctx = FakeContext()
    with pytest.raises(Aborted, match="still loading"):
        svc.Send(pb.SendRequest(), ctx)
    assert ctx.code == grpc.StatusCode.UNAVAILABLE


def test_encoding_runs_on_the_compute_thread(task_kb, monkeypatch):
    """The task KB and the encoder run on the process's one compute thread (shared.devices.compute), not on the
    handler thread that took the call; the symbols reach the channel whole."""
    import io

    import numpy as np
    from PIL import Image

    from shared.config import get_preset
    from shared.devices import compute
    from transmitter.model import Transmitter

    ran = []
    real_run = compute.run
    monkeypatch.setattr(compute, "run", lambda fn, *a, **k: real_run(
        lambda: ran.append(threading.get_ident()) or fn(*a, **k)))
    svc = TransmitterService("127.0.0.1:1", "127.0.0.1:1", 1 << 20, 10.0)
    svc.attach(Transmitter(get_preset("test")).eval(), task_kb)
    sent = []

    class Receiver:
        def Negotiate(self, request, timeout):
            m = task_kb.match(request.task)
            return pb.NegotiateReply(task=m.task, score=m.score, kb_fingerprint=task_kb.fingerprint)

    class Channel:
        def Transmit(self, chunks, timeout):
            sent.extend(chunks)
            return pb.TransmitReply(realised_snr_db=10.0)

    svc.receiver_stub, svc.channel_stub = Receiver(), Channel()
    png = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(png, "PNG")
    reply = svc.Send(pb.SendRequest(image=png.getvalue(), task="segment this image",
                                    channel=pb.ChannelSettings(model="awgn", snr_db=10)), FakeContext())
    assert reply.task == "segmentation" and reply.channel_uses > 0
    assert sum(len(c.symbols.values) for c in sent[1:]) == 8 * reply.channel_uses
    assert len(ran) == 2 and len(set(ran)) == 1 and ran[0] != threading.get_ident()
