"""TLS, mutual TLS and token authentication with real processes and a throwaway CA."""

import datetime
import ipaddress

import pytest

pytestmark = pytest.mark.e2e  # starts the real services as processes

cryptography = pytest.importorskip("cryptography")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from semcom import txclient  # noqa: E402
from semcom.launcher import ServiceProcesses, health_status  # noqa: E402
import grpc  # noqa: E402

from shared.rpc import semcom_pb2 as pb  # noqa: E402
from shared.rpc import semcom_pb2_grpc as rpc  # noqa: E402
from shared.security import Security  # noqa: E402
from tests.e2e.conftest import free_ports, png_bytes  # noqa: E402

TOKEN = "s3cret-token"


def _cert(name, issuer_key, issuer_name, ca=False, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name or subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                            critical=False)
    cert = b.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _write(tmp, name, key, cert):
    (tmp / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                        serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))
    (tmp / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(tmp / f"{name}.crt"), str(tmp / f"{name}.key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _cert("semcom test CA", None, None, ca=True)
    _write(tmp, "ca", ca_key, ca_cert)
    files = {"ca": str(tmp / "ca.crt")}
    for name in ("server", "client"):
        key, cert = _cert(name, ca_key, ca_cert.subject)
        files[name] = _write(tmp, name, key, cert)
    rogue_key, rogue_ca = _cert("rogue CA", None, None, ca=True)
    key, cert = _cert("intruder", rogue_key, rogue_ca.subject)
    files["intruder"] = _write(tmp, "intruder", key, cert)
    return files


@pytest.fixture(scope="module")
def secure_services(pki, tmp_path_factory):
    cert, key = pki["server"]
    env = {"SEMCOM_TLS_CERT": cert, "SEMCOM_TLS_KEY": key, "SEMCOM_TLS_CA": pki["ca"], "SEMCOM_MTLS": "1",
           "SEMCOM_TOKEN": TOKEN, "SEMCOM_DEADLINE_S": "20"}
    ports = dict(zip(("transmitter", "channel", "receiver"), free_ports(3)))
    sec = Security(open(cert, "rb").read(), open(key, "rb").read(), open(pki["ca"], "rb").read())
    with ServiceProcesses(ports, extra_args=["--preset", "test", "--weights", "none", "--device", "cpu"], env=env,
                          log_dir=tmp_path_factory.mktemp("secure"), security=sec) as s:
        yield s


def _send(services, capsys, tmp_path, *security):
    """txclient send with these flags; a token goes through a file, as README says (a flag shows in `ps`)."""
    security = list(security)
    if "--token" in security:
        i = security.index("--token")
        (tmp_path / "client-token").write_text(security[i + 1] + "\n")
        security[i:i + 2] = ["--token-file", str(tmp_path / "client-token")]
    img = tmp_path / "x.png"
    img.write_bytes(png_bytes(64, 64))
    rc = txclient.main(["--transmitter", services.addr("transmitter"), "--receiver", services.addr("receiver"),
                        "--timeout", "30", *security, "send", str(img), "--task", "segment this image", "--out",
                        str(tmp_path)])
    return rc, capsys.readouterr().err


def test_mtls_and_token_accepted(secure_services, pki, capsys, tmp_path, monkeypatch):
    for k in ("SEMCOM_TLS_CERT", "SEMCOM_TLS_KEY", "SEMCOM_TLS_CA", "SEMCOM_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    cert, key = pki["client"]
    rc, err = _send(secure_services, capsys, tmp_path, "--tls-ca", pki["ca"], "--tls-cert", cert, "--tls-key", key,
                    "--token", TOKEN)
    assert rc == 0, err


def test_client_without_certificate_is_refused(secure_services, pki, capsys, tmp_path):
    rc, err = _send(secure_services, capsys, tmp_path, "--tls-ca", pki["ca"], "--token", TOKEN)
    assert rc == 1 and err.startswith("UNAVAILABLE: ")


def test_certificate_from_another_ca_is_refused(secure_services, pki, capsys, tmp_path):
    cert, key = pki["intruder"]
    rc, err = _send(secure_services, capsys, tmp_path, "--tls-ca", pki["ca"], "--tls-cert", cert, "--tls-key", key,
                    "--token", TOKEN)
    assert rc == 1 and err.startswith("UNAVAILABLE: ")


@pytest.mark.parametrize("token", [None, "wrong"])
def test_missing_or_wrong_token_is_unauthenticated(secure_services, pki, capsys, tmp_path, token):
    cert, key = pki["client"]
    args = ["--tls-ca", pki["ca"], "--tls-cert", cert, "--tls-key", key] + (["--token", token] if token else [])
    rc, err = _send(secure_services, capsys, tmp_path, *args)
    assert rc == 1 and err.startswith("UNAUTHENTICATED: ")


def test_health_needs_no_token(secure_services, pki):
    cert, key = pki["client"]
    sec = Security(open(cert, "rb").read(), open(key, "rb").read(), open(pki["ca"], "rb").read())
    for name in ("transmitter", "channel", "receiver"):
        assert health_status(secure_services.addr(name), security=sec) == "SERVING"
    assert health_status(secure_services.addr("channel")) == "UNAVAILABLE"  # plaintext gets nowhere


def test_a_peer_token_keeps_clients_off_the_internal_rpcs(tmp_path_factory, tmp_path, capsys):
    peer = tmp_path / "peer-token"
    peer.write_text("services-only-secret\n")
    ports = dict(zip(("transmitter", "channel", "receiver"), free_ports(3)))
    env = {"SEMCOM_TOKEN": TOKEN, "SEMCOM_PEER_TOKEN_FILE": str(peer), "SEMCOM_DEADLINE_S": "20"}
    with ServiceProcesses(ports, extra_args=["--preset", "test", "--weights", "none", "--device", "cpu"], env=env,
                          log_dir=tmp_path_factory.mktemp("peer")) as s:
        rc, err = _send(s, capsys, tmp_path, "--token", TOKEN)
        assert rc == 0, err  # the services reach each other with the peer token
        header = pb.TransmitChunk(header=pb.TransmissionHeader(transmission_id="x"))
        for secret, code in ((TOKEN, grpc.StatusCode.UNAUTHENTICATED),
                             ("services-only-secret", grpc.StatusCode.INVALID_ARGUMENT)):
            chan = rpc.ChannelStub(grpc.insecure_channel(s.addr("channel")))
            with pytest.raises(grpc.RpcError) as exc:
                chan.Transmit(iter([header]), metadata=[("authorization", f"Bearer {secret}")], timeout=30)
            assert exc.value.code() == code, exc.value.details()
        rx = rpc.ReceiverStub(grpc.insecure_channel(s.addr("receiver")))
        with pytest.raises(grpc.RpcError) as exc:
            rx.Deliver(iter([pb.DeliverChunk(header=header.header)]), metadata=[("authorization", f"Bearer {TOKEN}")],
                       timeout=30)
        assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # the client's token still reads results: an unknown id waits out its deadline rather than being refused
        with pytest.raises(grpc.RpcError) as exc:
            rx.GetResult(pb.GetResultRequest(transmission_id="nobody"), metadata=[("authorization", f"Bearer {TOKEN}")],
                         timeout=2)
        assert exc.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
