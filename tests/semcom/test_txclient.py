"""txclient's command line, without services: what it refuses before sending anything."""

import io

import pytest
from PIL import Image

from semcom import txclient


def test_channel_choices_come_from_the_model_table(capsys):
    with pytest.raises(SystemExit) as exc:
        txclient.main(["send", "img.png", "--task", "segment", "--channel", "nakagami"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "invalid choice: 'nakagami'" in err and "rician" in err


def test_model_parameters_become_flags(capsys):
    with pytest.raises(SystemExit):
        txclient.main(["send", "--help"])
    out = capsys.readouterr().out
    assert "--k-factor" in out and "rician only (default 3)" in out
    args = txclient.parser().parse_args(["send", "x.png", "--task", "t", "--channel", "rician", "--k-factor", "5"])
    assert txclient.params_of(args) == {"k_factor": 5.0}
    assert txclient.params_of(txclient.parser().parse_args(["send", "x.png", "--task", "t"])) == {}


@pytest.mark.parametrize("flag,value,match", [("--steps", "-3", "-3 is outside 0 to 4294967295"),
                                              ("--block-len", "-5", "-5 is outside 0 to"),
                                              ("--seed", "x", "'x' is not a whole number")])
def test_out_of_range_numbers_are_a_usage_line_not_a_traceback(capsys, flag, value, match):
    with pytest.raises(SystemExit) as exc:
        txclient.main(["send", "img.png", "--task", "segment", flag, value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and match in err and "Traceback" not in err


def test_without_a_seed_each_send_draws_its_own(monkeypatch):
    seen = []

    class Stop(Exception):
        pass

    def fake_settings(**kw):
        seen.append(kw["seed"])
        raise Stop

    monkeypatch.setattr(txclient.pb, "ChannelSettings", fake_settings)
    for _ in range(2):
        args = txclient.parser().parse_args(["send", __file__, "--task", "t"])
        with pytest.raises(Stop):
            txclient.cmd_send(args)
    assert len(seen) == 2 and seen[0] != seen[1]
    args = txclient.parser().parse_args(["send", __file__, "--task", "t", "--seed", "7"])
    with pytest.raises(Stop):
        txclient.cmd_send(args)
    assert seen[-1] == 7


@pytest.mark.slow  # waits the client's 5 s for the receiver to answer
def test_an_unreachable_receiver_is_said_at_once_not_after_the_deadline(tmp_path, capsys):
    """--receiver points nowhere while the transmitter works: one line right after the send, not a 300 s wait."""
    from concurrent import futures

    import grpc

    from shared.rpc import semcom_pb2 as pb
    from shared.rpc import semcom_pb2_grpc as rpc
    from tests.e2e.conftest import free_ports

    class Transmitter(rpc.TransmitterServicer):
        def Send(self, request, context):
            return pb.SendReply(transmission_id="t42", task="segmentation", score=0.9, channel_uses=48, cbr=1 / 16,
                                width=8, height=8)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    rpc.add_TransmitterServicer_to_server(Transmitter(), server)
    tx_port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    img = tmp_path / "x.png"
    img.write_bytes(b"bytes the fake transmitter takes as they are")
    port = free_ports(1)[0]
    try:
        rc = txclient.main(["--receiver", f"127.0.0.1:{port}", "--transmitter", f"127.0.0.1:{tx_port}",
                            "--timeout", "300", "send", str(img), "--task", "segment"])
    finally:
        server.stop(0)
    err = capsys.readouterr().err
    assert rc == 2 and f"transmission t42 was sent, but the receiver at 127.0.0.1:{port}" in err
    assert "does not answer" in err and err.strip().count("\n") == 0


def test_resize_fits_a_large_photo_under_the_cap(tmp_path, capsys):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4000, 3000), (20, 120, 200)).save(buf, format="JPEG")
    out = txclient.fit_within(buf.getvalue(), 2048, tmp_path / "big.jpg")
    assert Image.open(io.BytesIO(out)).size == (2048, 1536) and "resized to 2048x1536" in capsys.readouterr().err
    small = buf.getvalue()
    assert txclient.fit_within(small, 4000, tmp_path / "big.jpg") is small
    with pytest.raises(txclient.ClientError, match="cannot read"):
        txclient.fit_within(b"junk", 10, tmp_path / "junk.png")


def test_an_image_over_the_pixel_cap_is_told_about_resize():
    """The hint comes from the structured details the service sends (shared.errors), not from its wording."""
    from semcom.client import with_hint

    msg = "image is 4000x3000 pixels, over the cap (2048 px per side, 4194304 pixels)"
    side = {"max-side": "2048", "max-pixels": "4194304"}
    assert with_hint("RESOURCE_EXHAUSTED", msg, side).endswith(
        "`txclient send --resize 2048 IMAGE ...` scales it down first")
    assert with_hint("RESOURCE_EXHAUSTED", msg) == msg  # the same words without the detail: no guessing
    assert with_hint("RESOURCE_EXHAUSTED", "image is 40000000 bytes, over the 33554432-byte cap",
                     {"max-bytes": "33554432"}) == "image is 40000000 bytes, over the 33554432-byte cap"
    assert with_hint("INVALID_ARGUMENT", msg, side) == msg
    assert with_hint("RESOURCE_EXHAUSTED", "too much work", {"max-steps": "170"}) == \
        "too much work (`txclient send --steps 170 ...`)"
    assert with_hint("RESOURCE_EXHAUSTED", "too much work", {"max-steps": "0"}) == "too much work"


def test_services_send_structured_details_with_their_refusals():
    """shared.errors.abort: the status from the exception's class, its details as trailing metadata."""
    import grpc

    from shared.config import get_preset
    from shared.errors import abort, details_of
    from shared.imageio import decode_image

    class Context:
        def set_trailing_metadata(self, md):
            self.md = md

        def abort(self, code, message):
            self.code, self.message = code, message
            raise RuntimeError("aborted")

    big = io.BytesIO()
    Image.new("RGB", (300, 20)).save(big, "PNG")
    ctx = Context()
    with pytest.raises(RuntimeError):
        try:
            decode_image(big.getvalue(), 10**6, 10**6, 256)
        except ValueError as exc:
            abort(ctx, exc)
    assert ctx.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "over the cap (256 px per side" in ctx.message
    assert dict(ctx.md) == {"semcom-max-side": "256", "semcom-max-pixels": "1000000"}

    class Err(grpc.RpcError):
        def trailing_metadata(self):
            return ctx.md + (("other", "x"),)

    assert details_of(Err()) == {"max-side": "256", "max-pixels": "1000000"}
    with pytest.raises(RuntimeError):
        try:
            get_preset("test").check_work(2048, 2048, 1000)
        except ValueError as exc:
            abort(ctx, exc)
    assert ctx.code == grpc.StatusCode.RESOURCE_EXHAUSTED and dict(ctx.md)["semcom-max-steps"].isdigit()
    with pytest.raises(RuntimeError):
        try:
            decode_image(b"junk", 10**6, 10**6, 256)
        except ValueError as exc:
            abort(ctx, exc)
    assert ctx.code == grpc.StatusCode.INVALID_ARGUMENT
