"""Task negotiation through the real transmitter process, against a receiver whose KB disagrees."""

import subprocess
import sys
from concurrent import futures

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from semcom import txclient
from semcom.launcher import health_status
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from tests.e2e.conftest import free_ports, png_bytes, wait_for

pytestmark = pytest.mark.e2e  # starts the real services as processes


class DisagreeingReceiver(rpc.ReceiverServicer):
    def __init__(self, task: str, fingerprint: str | None) -> None:
        self.task, self.fingerprint = task, fingerprint

    def Negotiate(self, request, context):
        return pb.NegotiateReply(task=self.task, score=0.9, kb_fingerprint=self.fingerprint or "0" * 16)


@pytest.fixture(scope="module")
def transmitter_with_fake_receiver(tmp_path_factory):
    tx_port, rx_port, ch_port = free_ports(3)
    fake = DisagreeingReceiver("segmentation", None)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rpc.add_ReceiverServicer_to_server(fake, server)
    server.add_insecure_port(f"127.0.0.1:{rx_port}")
    server.start()
    log = open(tmp_path_factory.mktemp("neg") / "transmitter.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "transmitter", "--port", str(tx_port), "--preset", "test",
                             "--weights", "none", "--device", "cpu", "--receiver-addr", f"127.0.0.1:{rx_port}",
                             "--channel-addr", f"127.0.0.1:{ch_port}", "--deadline", "10"],
                            stdout=log, stderr=subprocess.STDOUT)
    def serving() -> bool:
        assert proc.poll() is None, "transmitter exited"
        return health_status(f"127.0.0.1:{tx_port}") == "SERVING"

    wait_for(serving, "the transmitter to serve", timeout=300)
    yield f"127.0.0.1:{tx_port}", fake
    proc.terminate()
    proc.wait(30)
    server.stop(0)
    log.close()


def _send(addr, tmp_path, capsys, task):
    img = tmp_path / "x.png"
    img.write_bytes(png_bytes(64, 64))
    rc = txclient.main(["--transmitter", addr, "--timeout", "30", "send", str(img), "--task", task, "--out",
                        str(tmp_path)])
    return rc, capsys.readouterr().err


def test_kb_fingerprint_mismatch_is_failed_precondition(transmitter_with_fake_receiver, tmp_path, capsys):
    addr, fake = transmitter_with_fake_receiver
    fake.task, fake.fingerprint = "segmentation", "0123456789abcdef"
    rc, err = _send(addr, tmp_path, capsys, "segment this image")
    assert rc == 1 and err.startswith("FAILED_PRECONDITION: ") and "task KBs differ" in err
    assert "0123456789abcdef" in err


def test_task_disagreement_names_both_answers(transmitter_with_fake_receiver, tmp_path, capsys):
    addr, fake = transmitter_with_fake_receiver
    tasks = rpc.TransmitterStub(grpc.insecure_channel(addr)).ListTasks(pb.ListTasksRequest(), timeout=10)
    fake.task, fake.fingerprint = "segmentation", tasks.kb_fingerprint
    rc, err = _send(addr, tmp_path, capsys, "please reconstruct this image")
    assert rc == 1 and err.startswith("FAILED_PRECONDITION: ")
    assert "transmitter chose reconstruction" in err and "receiver chose segmentation" in err


def test_reflection_lists_the_services(transmitter_with_fake_receiver):
    addr, _ = transmitter_with_fake_receiver
    stub = reflection_pb2_grpc.ServerReflectionStub(grpc.insecure_channel(addr))
    (resp,) = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    names = {s.name for s in resp.list_services_response.service}
    assert {"semcom.v1.Transmitter", "grpc.health.v1.Health"} <= names
