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
