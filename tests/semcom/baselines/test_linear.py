"""The training-free linear analog codes (systems `linear`, `softcast`, `softcast-dct`) through the project's channel."""

import json

import pytest
import torch

from semcom.baselines.linear import SHIPPED, LinearAnalog, SoftCastDCT, main
from semcom.eval.cli import main as eval_main
from shared.analog import PatchPCA
from shared.channel import ChannelSpec
from shared.dct_code import OPPONENT, dct_matrix
from shared.metrics import psnr


def _photo(seed: int, size: int = 128) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, size // 16, size // 16, generator=g)
    img = torch.nn.functional.interpolate(small, size=(size, size), mode="bicubic", align_corners=False)
    return (img[0] + 0.03 * torch.rand(3, size, size, generator=g)).clamp(0, 1)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from PIL import Image

    from shared.imageio import to_pil

    folder = tmp_path_factory.mktemp("photos")
    for i in range(6):
        to_pil(_photo(i, 256)).save(folder / f"p{i}.png")
    out = tmp_path_factory.mktemp("linear")
    assert main(["--data", str(folder), "--out", str(out), "--keep", "96"]) == 0
    assert Image.open(folder / "p0.png").size == (256, 256)
    return out


@pytest.mark.parametrize("adaptive", [False, True], ids=["linear", "softcast"])
def test_quality_rises_with_snr_and_the_seed_fixes_the_draw(fitted, adaptive):
    code = LinearAnalog.load(fitted, "1/16", adaptive)
    img = _photo(100, 96)[:, :80]  # unseen, and not a multiple of the patch
    out = {snr: code.reconstruct(img, ChannelSpec("awgn", snr), seed=0) for snr in (0.0, 10.0, 20.0)}
    assert all(o.shape == img.shape and 0 <= float(o.min()) and float(o.max()) <= 1 for o in out.values())
    quality = [float(psnr(img[None], out[s][None])) for s in (0.0, 10.0, 20.0)]
    assert quality[0] + 3 < quality[1] < quality[2]  # about 1 dB per dB in the noise-limited range
    again = code.reconstruct(img, ChannelSpec("awgn", 10.0), seed=0)
    assert torch.equal(again, out[10.0])
    assert not torch.equal(code.reconstruct(img, ChannelSpec("awgn", 10.0), seed=1), out[10.0])
    rayleigh = code.reconstruct(img, ChannelSpec("rayleigh", 10.0, block_len=16), seed=0)
    assert float(psnr(img[None], rayleigh[None])) > quality[0] - 3  # with CSI the LMMSE copes with fading


def test_softcast_metadata_helps_on_images_unlike_the_fit(fitted):
    g = torch.Generator().manual_seed(3)
    blocky = torch.nn.functional.interpolate(torch.rand(3, 3, 16, 16, generator=g), size=(128, 128), mode="nearest")
    imgs = list(blocky)  # sharp edges: a spectrum the smooth fitting images lack
    spec = ChannelSpec("awgn", 5.0)
    mean = {a: sum(float(psnr(i[None], LinearAnalog.load(fitted, "1/16", a).reconstruct(i, spec, 0)[None]))
                   for i in imgs) / 3 for a in (False, True)}
    assert mean[True] > mean[False]


def test_missing_fit_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m semcom.baselines.linear"):
        LinearAnalog.load(tmp_path)


def test_shipped_fit_is_16x16_patches_with_room_for_cbr_1_8():
    pca = PatchPCA.load(SHIPPED)
    assert pca.patch == 16 and pca.keep >= 192 and pca.components.shape[1] == 768


def test_eval_runs_both(fitted, image_folder, tmp_path):
    out = tmp_path / "eval"
    assert eval_main(["--task", "reconstruction", "--systems", "linear,softcast", "--data", str(image_folder / "sub"),
                      "--snr", "0,10", "--preset", "test", "--linear-weights", str(fitted), "--out", str(out)]) == 0
    for name in ("linear", "softcast"):
        doc = json.loads((out / f"reconstruction_sub_awgn_{name}.json").read_text())
        assert doc["results"]["psnr"][1] > doc["results"]["psnr"][0] and doc["weights_sha256"]


def test_eval_on_rician_fading(fitted, image_folder, tmp_path, capsys):
    out = tmp_path / "eval"
    assert eval_main(["--task", "reconstruction", "--systems", "linear", "--data", str(image_folder / "sub"),
                      "--snr", "0,20", "--preset", "test", "--linear-weights", str(fitted), "--out", str(out),
                      "--channel", "rician", "--k-factor", "10", "--block-len", "8"]) == 0
    doc = json.loads((out / "reconstruction_sub_rician-k_factor10_linear.json").read_text())
    assert doc["channel"] == "rician" and doc["channel_params"] == {"k_factor": 10.0} and doc["block_len"] == 8
    assert doc["results"]["psnr"][1] > doc["results"]["psnr"][0]
    with pytest.raises(SystemExit):
        eval_main(["--task", "reconstruction", "--systems", "linear", "--data", str(image_folder), "--out", str(out),
                   "--k-factor", "3"])
    assert "'awgn' takes no parameter 'k_factor'" in capsys.readouterr().err


def test_softcast_dct_noiseless_loses_only_the_chunks_it_drops():
    img = _photo(7, 64)[:, :, :48]  # 64x48: 4x3 chunks of 16x16 per plane
    code = SoftCastDCT("1/16", chunk=16)
    out = code.reconstruct(img, ChannelSpec("noiseless", 40.0), seed=0)  # told 40 dB: gains near 1
    # the same truncation written out: which chunks carry the most energy, the rest zero
    planes = torch.einsum("pc,chw->phw", OPPONENT.double(), img.double())
    means = planes.mean(dim=(1, 2), keepdim=True).half().double()  # sent beside the code
    dh, dw = dct_matrix(64), dct_matrix(48)
    coef = dh @ (planes - means) @ dw.T
    blocks = coef.reshape(3, 4, 16, 3, 16).permute(0, 1, 3, 2, 4).reshape(-1, 256)
    keep = torch.zeros(len(blocks), dtype=torch.bool)
    keep[blocks.pow(2).mean(1).argsort(descending=True)[:code.code.chunks_sent(36, 64 * 48 * 3 // 16)]] = True
    blocks[~keep] = 0
    truncated = dh.T @ blocks.view(3, 4, 3, 16, 16).permute(0, 1, 3, 2, 4).reshape(3, 64, 48) @ dw + means
    expected = torch.einsum("pc,phw->chw", OPPONENT.double(), truncated).float().clamp(0, 1)
    assert 0 < int(keep.sum()) < 36 and torch.allclose(out, expected, atol=2e-3)


def test_softcast_dct_rises_with_snr_copes_with_fading_and_the_seed_fixes_the_draw():
    code = SoftCastDCT("1/16")
    img = _photo(100, 96)[:, :80]  # not a multiple of the chunk
    out = {snr: code.reconstruct(img, ChannelSpec("awgn", snr), seed=0) for snr in (0.0, 10.0, 20.0)}
    assert all(o.shape == img.shape and 0 <= float(o.min()) and float(o.max()) <= 1 for o in out.values())
    quality = [float(psnr(img[None], out[s][None])) for s in (0.0, 10.0, 20.0)]
    assert quality[0] + 3 < quality[1] < quality[2]
    assert torch.equal(code.reconstruct(img, ChannelSpec("awgn", 10.0), seed=0), out[10.0])
    assert not torch.equal(code.reconstruct(img, ChannelSpec("awgn", 10.0), seed=1), out[10.0])
    rayleigh = code.reconstruct(img, ChannelSpec("rayleigh", 10.0, block_len=16), seed=0)
    assert float(psnr(img[None], rayleigh[None])) > quality[0] - 3


def test_eval_runs_softcast_dct_with_and_without_the_hadamard(image_folder, tmp_path):
    out = tmp_path / "eval"
    assert eval_main(["--task", "reconstruction", "--systems", "softcast-dct,softcast-hadamard", "--data",
                      str(image_folder / "sub"), "--snr", "0,10", "--preset", "test", "--out", str(out)]) == 0
    for name, spread in (("softcast-dct", 1), ("softcast-hadamard", 64)):
        doc = json.loads((out / f"reconstruction_sub_awgn_{name}.json").read_text())
        assert doc["results"]["psnr"][1] > doc["results"]["psnr"][0] and (doc["chunk"], doc["spread"]) == (16, spread)
