import pytest
import torch

pytest.importorskip("sionna")

from semcom.baselines.classical import JPEGLDPCQAM, jpeg_at_budget  # noqa: E402
from shared.channel import ChannelSpec  # noqa: E402
from shared.imageio import to_pil  # noqa: E402
from shared.metrics import psnr  # noqa: E402


def _image() -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 96), indexing="ij")
    return torch.stack([x, y, (x + y) / 2])


def test_jpeg_fits_budget():
    img = to_pil(_image())
    data, q = jpeg_at_budget(img, 8000)
    assert len(data) * 8 <= 8000 and 1 <= q <= 95
    assert jpeg_at_budget(img, 100) is None


@pytest.mark.slow
def test_cliff_effect_through_the_project_channel():
    chain = JPEGLDPCQAM(bits_per_symbol=4, rate="1/2", codeword_bits=1536)
    img = _image()
    good = chain.transmit(img, cbr=1 / 4, spec=ChannelSpec("awgn", 20.0), seed=0)
    assert not good.lost and good.payload_bits <= good.budget_bits
    assert float(psnr(img, good.image)) > 25
    bad = chain.transmit(img, cbr=1 / 4, spec=ChannelSpec("awgn", -5.0), seed=0, mean_image=torch.full_like(img, .4))
    assert bad.lost and torch.all(bad.image == 0.4)
    assert chain.budget_bits(good.channel_uses) == (good.channel_uses * 4 // 1536) * 768
