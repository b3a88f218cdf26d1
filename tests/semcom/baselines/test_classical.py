from fractions import Fraction

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


def test_link_adaptation_takes_the_fastest_configuration_the_snr_allows():
    from semcom.baselines.classical import LINK_MARGIN_DB, MCS_RATES, MCS_TABLE, link_adapted

    assert {(b, r) for b, r, _ in MCS_TABLE} == {(b, r) for b, rates in MCS_RATES.items() for r in rates}
    lowest = min(need for _, _, need in MCS_TABLE)
    assert link_adapted(lowest + LINK_MARGIN_DB - 0.01) is None
    speed = [0.0]
    for snr in [lowest + LINK_MARGIN_DB + 0.5 * i for i in range(60)]:
        bits, rate = link_adapted(snr)
        need = next(n for b, r, n in MCS_TABLE if (b, r) == (bits, rate))
        assert need + LINK_MARGIN_DB <= snr
        # nothing faster fits, and the choice never slows down as the SNR rises
        per_use = bits * Fraction(rate)
        assert all(b * Fraction(r) <= per_use for b, r, n in MCS_TABLE if n + LINK_MARGIN_DB <= snr)
        assert per_use >= speed[-1]
        speed.append(per_use)


@pytest.mark.slow
def test_a_configuration_holds_at_its_threshold_and_fails_below_it():
    """MCS_TABLE is what scripts/ldpc_thresholds.py measured: 16-QAM at rate 1/2 loses none of 20 codewords at its
    threshold plus the margin and most of them 1.5 dB below its threshold (the waterfall)."""
    import numpy as np

    from semcom.baselines.classical import LINK_MARGIN_DB, MCS_TABLE, LDPCQAM

    chain = LDPCQAM(4, "1/2")
    need = next(n for b, r, n in MCS_TABLE if (b, r) == (4, "1/2"))
    bits = np.random.default_rng(0).integers(0, 2, 20 * chain.k).astype(np.float32)
    assert chain.lost_blocks(bits, ChannelSpec("awgn", need + LINK_MARGIN_DB), seed=1) == 0
    assert chain.lost_blocks(bits, ChannelSpec("awgn", need - 1.5), seed=1) >= 10


@pytest.mark.slow
def test_avif_over_an_adapted_link_gains_with_snr_and_shows_the_mean_image_below_every_threshold():
    from semcom.baselines.classical import MCS_TABLE, AVIFLinkAdapted

    img = _image()
    chain = AVIFLinkAdapted()
    low, low_mcs = chain.transmit(img, cbr=1 / 4, spec=ChannelSpec("awgn", 5.0), seed=0)
    high, high_mcs = chain.transmit(img, cbr=1 / 4, spec=ChannelSpec("awgn", 25.0), seed=0)
    for r in (low, high):
        assert not r.lost and r.payload_bits <= r.budget_bits and r.image.shape == img.shape
    assert high.budget_bits > low.budget_bits and high_mcs != low_mcs
    assert float(psnr(img[None], high.image[None])) > float(psnr(img[None], low.image[None]))
    below = min(n for _, _, n in MCS_TABLE) - 1.0
    lost, mcs = chain.transmit(img, cbr=1 / 4, spec=ChannelSpec("awgn", below), seed=0,
                               mean_image=torch.full_like(img, 0.3))
    assert lost.lost and mcs is None and torch.all(lost.image == 0.3)
