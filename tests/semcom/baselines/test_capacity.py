import math

import pytest
import torch

from semcom.baselines.capacity import avif_at_capacity, capacity_bits_per_use
from shared.channel import ChannelSpec
from shared.metrics import psnr


def test_capacity_formulas():
    assert math.isclose(capacity_bits_per_use(ChannelSpec("awgn", 0.0)), 1.0)
    assert math.isclose(capacity_bits_per_use(ChannelSpec("awgn", 10 * math.log10(3))), 2.0)
    # ergodic Rayleigh capacity is below AWGN at the same average SNR (Jensen); at 10 dB about 2.9 bits
    ray = capacity_bits_per_use(ChannelSpec("rayleigh", 10.0))
    assert 2.8 < ray < 3.0 < capacity_bits_per_use(ChannelSpec("awgn", 10.0))
    assert capacity_bits_per_use(ChannelSpec("noiseless", 10.0)) == math.inf


def _image():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(3, 8, 8, generator=g)
    return torch.nn.functional.interpolate(base[None], size=(128, 192), mode="bilinear")[0]  # smooth


def test_avif_fits_the_budget_and_improves_with_snr():
    img = _image()
    low, high = (avif_at_capacity(img, 1 / 16, ChannelSpec("awgn", s)) for s in (5.0, 20.0))
    for r in (low, high):
        assert r.quality is not None and r.payload_bits <= r.budget_bits and r.image.shape == img.shape
    assert high.quality > low.quality
    assert psnr(img[None], high.image[None]) > psnr(img[None], low.image[None])


def test_nothing_fits_shows_the_mean_image():
    img = _image()
    r = avif_at_capacity(img, 1e-4, ChannelSpec("awgn", -10.0), mean_image=torch.full_like(img, 0.3))
    assert r.quality is None and torch.allclose(r.image, torch.full_like(img, 0.3))


def test_capacity_over_tdl_is_rayleigh_like_and_lower_with_an_estimate():
    """Per resource element an NLOS TDL channel is Rayleigh; an estimate's error lowers the bound."""
    ray = capacity_bits_per_use(ChannelSpec("rayleigh", 10.0))
    tdl = capacity_bits_per_use(ChannelSpec.of("tdl-c", 10.0, 0, "perfect", speed_kmh=30.0))
    est = capacity_bits_per_use(ChannelSpec.of("tdl-c", 10.0, 0, "estimated", speed_kmh=30.0))
    assert abs(tdl - ray) < 0.1 and est < tdl
    with pytest.raises(ValueError, match="assumes the receiver knows h"):
        capacity_bits_per_use(ChannelSpec.of("tdl-c", 10.0, 0, "none"))
