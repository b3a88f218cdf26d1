import random

import pytest
import torch

from semcom.baselines.segmentation import FCN, DeeplabJSCC
from semcom.baselines.learned import BaselineSystem, task_of
from shared.channel import ChannelSpec
from tests.semcom.baselines.contract import check_code


def test_deeplab_jscc_shapes_power_cbr_gradients_and_snr():
    torch.manual_seed(0)
    m = DeeplabJSCC("1/16", width=8, num_classes=11)
    img, snr = torch.rand(2, 3, 64, 96), torch.tensor([0.0, 20.0])
    assert check_code(m, img, snr, (2, 48, 4, 6)).shape == (2, 11, 64, 96)
    m.eval()
    assert not torch.allclose(m.encode(img[:1], torch.tensor([0.0])), m.encode(img[:1], torch.tensor([20.0])))


def test_fcn_logits_and_jpeg_degradation():
    torch.manual_seed(0)
    m = FCN(width=8, num_classes=11)
    img = torch.rand(2, 3, 48, 80)
    assert m.logits(img).shape == (2, 11, 48, 80)
    deg = m.degrade(img, random.Random(0))
    assert deg.shape == img.shape and not torch.equal(deg, img) and 0 <= deg.min() and deg.max() <= 1


def test_systems_segment_any_size_and_round_trip(tmp_path):
    torch.manual_seed(0)
    assert task_of("deeplab-jscc") == task_of("fcn") == "segmentation" and task_of("witt") == "reconstruction"
    img = torch.rand(3, 50, 70)
    d = BaselineSystem("deeplab-jscc", "1/16", width=8).eval()
    labels = d.segment(img, ChannelSpec("awgn", 10.0), seed=0)
    assert labels.shape == (50, 70) and labels.max() < 11
    d.save(tmp_path / "d")
    assert torch.equal(BaselineSystem.load(tmp_path / "d").segment(img, ChannelSpec("awgn", 10.0), 0), labels)
    f = BaselineSystem("fcn", width=8, num_classes=5, ignore_index=5).eval()
    assert f.segment_image(img).shape == (50, 70)
    with pytest.raises(ValueError, match="segment_image"):
        f.segment(img, ChannelSpec("awgn", 10.0), 0)
    f.save(tmp_path / "f")
    g = BaselineSystem.load(tmp_path / "f")
    assert g.num_classes == 5 and g.ignore_index == 5
