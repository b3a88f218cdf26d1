"""End to end: the three real services as separate processes on loopback, driven as txclient drives them."""

import json
import subprocess
import sys

import grpc
import numpy as np
import pytest
from PIL import Image

from semcom.launcher import health_status
from shared.rpc import semcom_pb2 as pb
from shared.rpc import semcom_pb2_grpc as rpc
from tests.e2e.conftest import png_bytes, png_header_only, run_client, scrape, start_services, wait_for

pytestmark = pytest.mark.e2e  # starts the real services as processes


def _sent(services, capsys, tmp_path, size: tuple[int, int], seed: int, task: str, *args) -> dict:
    """A synthetic PNG of `size` sent with `txclient send --json`; the client's JSON once it has succeeded."""
    img = tmp_path / "img.png"
    img.write_bytes(png_bytes(*size, seed=seed))
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", task, "--json", "--out",
                              str(tmp_path / "out"), *args)
    assert rc == 0, err
    return json.loads(out)


def test_reconstruction_224(services, capsys, tmp_path):
    img = tmp_path / "img.png"
    img.write_bytes(png_bytes(224, 224))
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", "please reconstruct this image",
                              "--snr", "12", "--json", "--out", str(tmp_path / "out"), "--steps", "2", "--ms-ssim")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["task"] == "reconstruction" and doc["score"] > 0.35
    assert doc["cbr"] == pytest.approx(1 / 16) and doc["channel_uses"] == 224 * 224 * 3 // 16
    assert doc["psnr_db"] is not None and doc["ms_ssim"] is not None
    assert doc["diffusion_steps"] == 2 and abs(doc["realised_snr_db"] - 12) < 1
    assert {"encode", "channel", "decode", "negotiate"} <= set(doc["timings_s"])
    (path,) = doc["outputs"]
    assert Image.open(path).size == (224, 224)


def test_segmentation_768x512(services, capsys, tmp_path):
    img = tmp_path / "wide.png"
    img.write_bytes(png_bytes(768, 512, seed=1))
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", "segment this image", "--channel",
                              "rayleigh", "--block-len", "64", "--json", "--out", str(tmp_path / "out"))
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["task"] == "segmentation" and doc["psnr_db"] is None
    assert doc["cbr"] == pytest.approx(1 / 16) and doc["channel_uses"] == 768 * 512 * 3 // 16
    labels = next(p for p in doc["outputs"] if p.endswith("_labels.png"))
    arr = np.array(Image.open(labels))
    assert arr.shape == (512, 768) and arr.max() < len(doc["class_names"]) == 11
    assert any(p.endswith("_overlay.png") for p in doc["outputs"])
    assert any(p.endswith("_colour.png") for p in doc["outputs"])


def test_rician_fading_end_to_end(services, capsys, tmp_path):
    doc = _sent(services, capsys, tmp_path, (64, 48), 3, "reconstruct the image", "--channel", "rician",
                "--k-factor", "3", "--block-len", "16", "--snr", "15", "--seed", "4")
    img = tmp_path / "img.png"
    assert doc["channel"] == "rician" and doc["channel_params"] == {"k_factor": 3.0}
    assert doc["psnr_db"] is not None and abs(doc["realised_snr_db"] - 15) < 3
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", "reconstruct the image", "--channel",
                              "rician", "--k-factor", "3", "--snr", "15", "--out", str(tmp_path / "out"))
    assert rc == 0 and "channel: rician, k_factor 3 at 15 dB" in out


def test_human_output_and_tasks(services, capsys, tmp_path):
    img = tmp_path / "img.jpg"
    Image.new("RGB", (96, 64), (10, 200, 30)).save(img, format="JPEG")
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", "send me the picture", "--out",
                              str(tmp_path))
    assert rc == 0, err
    assert "task: reconstruction" in out and "CBR" in out and "PSNR" in out and "wrote" in out
    assert "s in all: sending" in out and "files and quality" in out
    rc, out, _ = run_client(services, capsys, "tasks")
    assert rc == 0 and "reconstruction:" in out and "segmentation:" in out


def _send_bytes(services, capsys, tmp_path, data: bytes, *args):
    img = tmp_path / "input.bin"
    img.write_bytes(data)
    return run_client(services, capsys, "send", str(img), "--out", str(tmp_path), *args)


@pytest.mark.parametrize("data,code,match", [
    (b"", "INVALID_ARGUMENT", "empty image"),
    (b"definitely not an image", "INVALID_ARGUMENT", "not a supported image"),
    (png_bytes(300, 300)[:400], "INVALID_ARGUMENT", "truncated or corrupt"),
    (b"GIF89a" + b"\x00" * 40, "INVALID_ARGUMENT", "not a supported image"),
    (png_bytes(1100, 8), "RESOURCE_EXHAUSTED", "over the cap"),
    (png_header_only(60000, 60000), "RESOURCE_EXHAUSTED", "decompression bomb"),
    (png_header_only(2000, 2000), "RESOURCE_EXHAUSTED", "over the cap"),
])
def test_bad_images(services, capsys, tmp_path, data, code, match):
    rc, out, err = _send_bytes(services, capsys, tmp_path, data, "--task", "segment this image")
    assert rc == 1 and out == ""
    assert err.startswith(f"{code}: ") and match in err and err.count("\n") == 1
    # an image over the side cap: the transmitter's structured detail (max-side) becomes txclient's hint
    assert ("`txclient send --resize" in err) == (match == "over the cap")


@pytest.mark.parametrize("args,match", [
    (["--task", ""], "empty task request"),
    (["--task", "tell me a joke"], "known tasks: reconstruction, segmentation"),
    (["--task", "segment this image", "--snr", "80"], "outside the supported range"),
    (["--task", "segment this image", "--channel", "rician", "--k-factor", "-1"], "k_factor = -1.0 is outside"),
    (["--task", "segment this image", "--k-factor", "3"], "'awgn' takes no parameter 'k_factor'"),
])
def test_bad_requests(services, capsys, tmp_path, args, match):
    rc, _, err = _send_bytes(services, capsys, tmp_path, png_bytes(64, 64), *args)
    assert rc == 1 and err.startswith("INVALID_ARGUMENT: ") and match in err


def test_services_still_serving_after_bad_input(services, capsys, tmp_path):
    _send_bytes(services, capsys, tmp_path, b"junk", "--task", "segment this image")
    for name in ("transmitter", "channel", "receiver"):
        assert health_status(services.addr(name)) == "SERVING"
    rc, _, err = _send_bytes(services, capsys, tmp_path, png_bytes(64, 64), "--task", "segment this image")
    assert rc == 0, err


def test_bad_streams_to_channel_and_receiver(services):
    chan = rpc.ChannelStub(grpc.insecure_channel(services.addr("channel")))
    with pytest.raises(grpc.RpcError) as exc:
        chan.Transmit(iter([pb.TransmitChunk(symbols=pb.SymbolBlock(offset=0, values=b"\x00" * 8))]), timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "header" in exc.value.details()
    header = pb.TransmissionHeader(transmission_id="x1", task="segmentation", grid_c=48, grid_h=2, grid_w=2,
                                   image_height=32, image_width=32, channel=pb.ChannelSettings(model="awgn"))
    with pytest.raises(grpc.RpcError) as exc:  # announces 192 symbols, sends 1
        chan.Transmit(iter([pb.TransmitChunk(header=header),
                            pb.TransmitChunk(symbols=pb.SymbolBlock(offset=0, values=b"\x00" * 8))]), timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "received 1 of 192" in exc.value.details()
    recv = rpc.ReceiverStub(grpc.insecure_channel(services.addr("receiver")))
    with pytest.raises(grpc.RpcError) as exc:
        recv.Deliver(iter([pb.DeliverChunk(header=header)]), timeout=10)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "task KBs differ" in exc.value.details()


def test_watch_streams_results(services, capsys, tmp_path):
    recv = rpc.ReceiverStub(grpc.insecure_channel(services.addr("receiver")))
    stream = recv.Subscribe(pb.SubscribeRequest(), timeout=60)
    rc, out, err = _send_bytes(services, capsys, tmp_path, png_bytes(64, 64), "--task", "segment this image",
                               "--json")
    assert rc == 0, err
    tid = json.loads(out)["transmission_id"]
    got = next(stream)
    stream.cancel()
    assert got.transmission_id == tid and got.task == "segmentation" and got.labels_png
    # a late reader replays kept results from a sequence number
    rc, out, err = run_client(services, capsys, "watch", "--after", str(got.sequence - 1), "--max", "1")
    assert rc == 0 and json.loads(out.splitlines()[0])["transmission_id"] == tid


def test_downstream_down_is_unavailable_naming_the_service(tmp_path_factory, capsys, tmp_path):
    with start_services(tmp_path_factory, "faults") as s:
        assert s.stop("channel") == 0  # SIGTERM: graceful exit with code 0
        rc, _, err = run_client(s, capsys, "send", _png(tmp_path), "--task", "segment this image", "--out",
                                str(tmp_path))
        assert rc == 1 and err.startswith("UNAVAILABLE: ") and "channel service" in err
        assert s.stop("receiver") == 0
        rc, _, err = run_client(s, capsys, "send", _png(tmp_path), "--task", "segment this image", "--out",
                                str(tmp_path))
        assert rc == 1 and err.startswith("UNAVAILABLE: ") and "receiver service" in err
        assert health_status(s.addr("transmitter")) == "SERVING"


def _png(tmp_path) -> str:
    p = tmp_path / "small.png"
    p.write_bytes(png_bytes(64, 64))
    return str(p)


def test_prometheus_metrics(services, capsys, tmp_path):
    _send_bytes(services, capsys, tmp_path, png_bytes(64, 64), "--task", "segment this image")
    _send_bytes(services, capsys, tmp_path, b"junk", "--task", "segment this image")
    tx = scrape(services, "transmitter")
    assert 'semcom_requests_total{code="OK",method="Send",service="transmitter"}' in tx
    assert 'semcom_requests_total{code="INVALID_ARGUMENT",method="Send",service="transmitter"}' in tx
    assert 'semcom_stage_seconds_count{service="transmitter",stage="encode"}' in tx
    assert 'semcom_stage_seconds_count{service="channel",stage="channel"}' in scrape(services, "channel")
    rx = scrape(services, "receiver")
    assert 'semcom_stage_seconds_count{service="receiver",stage="decode"}' in rx
    assert "semcom_queue_depth" in rx and "semcom_subscribers" in rx


def test_logs_are_structured_with_the_transmission_id(services, capsys, tmp_path):
    rc, out, err = _send_bytes(services, capsys, tmp_path, png_bytes(64, 64), "--task", "segment this image",
                               "--json")
    assert rc == 0, err
    tid = json.loads(out)["transmission_id"]

    def hits():  # the receiver logs right after publishing, so the line may trail the result a little
        lines = (services.log_dir / "receiver.log").read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{") and tid in line]

    wait_for(hits, f"the receiver's log line for {tid}", timeout=60)
    assert hits()[-1]["transmission_id"] == tid and hits()[-1]["service"] == "receiver"


def test_txclient_sends_without_loading_torch(services, tmp_path):
    """The client is a gRPC client: sending and PSNR need no torch (MS-SSIM only with --ms-ssim)."""
    img = tmp_path / "wide.png"
    img.write_bytes(png_bytes(768, 512, seed=2))
    code = ("import json, sys; from semcom import txclient; "
            f"rc = txclient.main(['--transmitter', '{services.addr('transmitter')}', '--receiver', "
            f"'{services.addr('receiver')}', 'send', '{img}', '--task', 'reconstruct the image', '--json', "
            f"'--out', '{tmp_path / 'out'}']); print(json.dumps({{'rc': rc, 'torch': 'torch' in sys.modules}}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = r.stdout.strip().splitlines()
    doc, probe = json.loads(lines[0]), json.loads(lines[-1])
    assert probe == {"rc": 0, "torch": False}, r.stderr
    assert doc["psnr_db"] is not None and doc["ms_ssim"] is None


def test_ofdm_over_tdl_multipath_end_to_end(services, capsys, tmp_path):
    """TR 38.901 TDL-C over OFDM through the three services, with the receiver told H, and a prefix too short for
    the profile refused in one line where the transmission enters."""
    doc = _sent(services, capsys, tmp_path, (96, 64), 5, "reconstruct the image", "--channel", "tdl-c",
                "--delay-spread-ns", "300", "--speed-kmh", "30", "--snr", "10", "--seed", "3")
    img = tmp_path / "img.png"
    assert doc["channel"] == "tdl-c" and doc["channel_params"]["speed_kmh"] == 30.0
    assert doc["channel_params"]["delay_spread_ns"] == 300.0 and doc["psnr_db"] is not None
    assert doc["csi"] == "perfect" and doc["pilot_uses"] == 256 and doc["cbr_with_pilots"] > doc["cbr"]
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", "segment this image", "--channel",
                              "tdl-c", "--cp-len", "5", "--out", str(tmp_path / "out"))
    assert rc == 1 and err.startswith("INVALID_ARGUMENT: a cyclic prefix of 5 samples") and err.count("\n") == 1


@pytest.mark.parametrize("channel", [["tdl-c", "--speed-kmh", "30"], ["rayleigh", "--block-len", "64"]])
def test_estimated_csi_through_the_services(services, capsys, tmp_path, channel):
    """The channel service estimates h from pilots and sends the estimate; the receiver equalises with it and
    its error variance; the pilots count as channel uses."""
    doc = _sent(services, capsys, tmp_path, (96, 64), 6, "reconstruct the image", "--channel", *channel,
                "--csi", "estimated", "--seed", "4")
    img = tmp_path / "img.png"
    pilots = 256 if channel[0] == "tdl-c" else -(-doc["channel_uses"] // 64)
    assert doc["csi"] == "estimated" and doc["pilot_uses"] == pilots and doc["psnr_db"] is not None
    assert doc["cbr_with_pilots"] == pytest.approx((doc["channel_uses"] + pilots) / (3 * 96 * 64), abs=1e-6)
    rc, out, err = run_client(services, capsys, "send", str(img), "--task", "reconstruct the image", "--channel",
                              *channel, "--no-csi", "--json", "--out", str(tmp_path))
    assert rc == 0 and json.loads(out)["csi"] == "none"


def test_the_dct_code_crosses_the_services(tmp_path_factory, capsys, tmp_path):
    """A model that sends reconstruction with the DCT code (``EncoderConfig.dct_tasks``): its side information
    crosses the transmitter, the channel and the receiver in the header, and the untrained decoder returns
    softcast-dct's image; an image too small for the code is refused before anything is sent."""
    import torch

    from semcom.baselines.linear import SoftCastDCT
    from semcom.pipeline import load_models
    from shared.channel import ChannelSpec
    from shared.config import get_preset
    from shared.imageio import open_rgb, to_tensor
    from shared.weights import save_checkpoint

    cfg = get_preset("test").replace(**{"encoder.per_image_gains": (), "encoder.dct_tasks": ("reconstruction",)})
    _, tx, rx = load_models(cfg, None, "cpu")
    weights = save_checkpoint(tmp_path / "dct", cfg, {"transmitter": tx, "receiver": rx})
    model = ["--weights", str(weights)]
    with start_services(tmp_path_factory, "dct", {"transmitter": model, "receiver": model}) as s:
        doc = _sent(s, capsys, tmp_path, (90, 70), 3, "reconstruction", "--channel", "noiseless", "--snr", "9")
        assert doc["task"] == "reconstruction" and doc["channel_uses"] == 48 * 5 * 6
        out = to_tensor(open_rgb(doc["outputs"][0]))
        img = to_tensor(open_rgb(tmp_path / "img.png"))
        expected = SoftCastDCT(spread=cfg.encoder.dct_spread, side_info=cfg.encoder.dct_side_info).reconstruct(
            img, ChannelSpec("noiseless", 9.0), 0)
        assert float((out - expected).abs().max()) <= 1 / 255 + 1e-6  # the PNG's rounding
        small = tmp_path / "small.png"
        small.write_bytes(png_bytes(48, 16))
        rc, _, err = run_client(s, capsys, "send", str(small), "--task", "reconstruction", "--out", str(tmp_path))
        assert rc != 0 and "too small for reconstruction's DCT code" in err and "64x16" in err
        assert _sent(s, capsys, tmp_path, (48, 16), 4, "segmentation")["task"] == "segmentation"
