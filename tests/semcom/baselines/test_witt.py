import pytest
import torch

from semcom.baselines.learned import LEARNED, BaselineSystem
from semcom.baselines.witt import WITT
from shared.channel import ChannelSpec
from tests.semcom.baselines.contract import check_code


def test_shapes_power_cbr_and_gradients():
    torch.manual_seed(0)
    m = WITT("1/16", width=16)
    img = torch.rand(2, 3, 64, 96)
    snr = torch.tensor([0.0, 20.0])
    out = check_code(m, img, snr, (2, 48, 4, 6))  # stride 16: 48 complex channels at CBR 1/16
    assert out.shape == img.shape and 0 <= out.min() and out.max() <= 1
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
