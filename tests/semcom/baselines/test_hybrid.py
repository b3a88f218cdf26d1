import math

import pytest
import torch

pytest.importorskip("sionna")

from semcom.baselines.classical import LINK_MARGIN_DB, MCS_TABLE, LDPCQAM  # noqa: E402
from semcom.baselines.hybrid import HybridAVIFDCT, expected_error  # noqa: E402
from semcom.baselines.linear import SoftCastDCT  # noqa: E402
from shared.channel import ChannelSpec  # noqa: E402
from shared.metrics import psnr  # noqa: E402


def _image() -> torch.Tensor:
    """256 x 384, smooth colour regions with a fine texture on top, inside (0.1, 0.9): nothing clips."""
    g = torch.Generator().manual_seed(0)
    base = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 12, generator=g), size=(256, 384), mode="bilinear")[0]
    y, x = torch.meshgrid(torch.arange(256.0), torch.arange(384.0), indexing="ij")
    texture = 0.08 * torch.sin(x * 0.9 + y * 0.4) * torch.rand(1, 256, 384, generator=g)
    return (0.1 + 0.8 * base * 0.85 + texture).clamp(0.1, 0.9)


def test_the_expected_error_is_what_the_analog_code_leaves_on_average():
    """The transmitter's closed form against the DCT code sent for real (MMSE allocation, spread, compact side
    information) over AWGN: the mean squared error of 6 transmissions within 5 % of it."""
    img = _image()
    code = SoftCastDCT("1/16", allocation="mmse", spread=64, side_info="compact")
    uses = img.numel() // 16
    for snr in (3.0, 12.0):
        expected = expected_error(code.code, img, uses, snr) / img.numel()
        got = sum(float((code.reconstruct(img, ChannelSpec("awgn", snr), seed) - img).pow(2).mean())
                  for seed in range(6)) / 6
        assert got == pytest.approx(expected, rel=0.05)


def test_the_plan_sends_no_base_below_every_threshold_and_one_where_it_pays():
    img = _image()
    system = HybridAVIFDCT()
    uses = img.numel() // 16
    lowest = min(n for _, _, n in MCS_TABLE) + LINK_MARGIN_DB
    assert system.plan(img, uses, lowest - 0.5) == (None, None, 0)
    data, quality, digital = system.plan(img, uses, 7.0)
    assert data is not None and quality is not None and 0 < digital < uses
    # the choice is the least expected error, so never worse than the analog code alone
    from shared.imageio import open_rgb, to_tensor
    base = to_tensor(open_rgb(data)).double()
    assert expected_error(system.code, img.double() - base, uses - digital, 7.0) < \
        expected_error(system.code, img, uses, 7.0)


@pytest.mark.slow
def test_hybrid_over_the_channel_beats_the_analog_code_alone_and_a_lost_base_shows(monkeypatch):
    img = _image()
    spec = ChannelSpec("awgn", 7.0)
    system = HybridAVIFDCT(mean_image=lambda like: torch.full_like(like, 0.3))
    analog = SoftCastDCT("1/16", allocation="mmse", spread=64, side_info="compact")
    out = system.reconstruct(img, spec, seed=0)
    assert out.shape == img.shape
    assert float(psnr(img[None], out[None])) > float(psnr(img[None], analog.reconstruct(img, spec, 0)[None])) + 0.5
    monkeypatch.setattr(LDPCQAM, "lost", lambda self, y, noise, u: 1)  # every base lost: the mean image stands in
    lost = system.reconstruct(img, spec, seed=0)
    assert float(psnr(img[None], lost[None])) < float(psnr(img[None], out[None])) - 5
    assert not math.isnan(float(lost.mean()))
