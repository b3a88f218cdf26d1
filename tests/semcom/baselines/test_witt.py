import pytest
import torch

from semcom.baselines.learned import LEARNED, BaselineSystem
from semcom.baselines.witt import WITT
from shared.channel import ChannelSpec


def test_shapes_power_cbr_and_gradients():
    torch.manual_seed(0)
    m = WITT("1/16", width=16)
    img = torch.rand(2, 3, 64, 96)
    snr = torch.tensor([0.0, 20.0])
    x = m.encode(img, snr)
    assert x.shape == (2, 48, 4, 6) and x.is_complex()  # stride 16: 48 complex channels at CBR 1/16
    assert x.numel() / 2 / (64 * 96 * 3) == pytest.approx(1 / 16)
    assert x.abs().pow(2).flatten(1).mean(1).tolist() == pytest.approx([1.0, 1.0], abs=1e-4)
    out = m.decode(x, snr)
    assert out.shape == img.shape and 0 <= out.min() and out.max() <= 1
    out.mean().backward()
    assert all(p.grad is not None for p in m.parameters())
    # the SNR modulates the features
    assert not torch.allclose(m.encode(img[:1], torch.tensor([0.0])), m.encode(img[:1], torch.tensor([20.0])))


def test_any_image_size_through_the_project_channel():
    torch.manual_seed(0)
    s = BaselineSystem("witt", "1/16", width=16).eval()
    img = torch.rand(3, 50, 70)  # padded to multiples of 16 and cropped back
    out = s.reconstruct(img, ChannelSpec("rayleigh", 10.0), seed=1)
    assert out.shape == img.shape
    assert torch.equal(out, s.reconstruct(img, ChannelSpec("rayleigh", 10.0), seed=1))
    assert "witt" in LEARNED
    with pytest.raises(ValueError, match="complex channels per position"):
        WITT("1/1000")
