import pytest
import torch

from semcom.baselines.deepjscc import ADJSCC, DeepJSCC
from semcom.baselines.learned import LEARNED
from tests.semcom.baselines.contract import check_code


@pytest.mark.parametrize("cls", [DeepJSCC, ADJSCC])
def test_shapes_power_and_cbr(cls):
    torch.manual_seed(0)
    m = cls("1/16", width=8)
    img = torch.rand(2, 3, 32, 48)
    snr = torch.tensor([0.0, 20.0])
    out = check_code(m, img, snr, (2, 3, 8, 12))  # CBR 1/16 at stride 4: 3 complex channels
    assert out.shape == img.shape and 0 <= out.min() and out.max() <= 1


def test_adjscc_uses_the_snr():
    torch.manual_seed(0)
    m = ADJSCC("1/16", width=8)
    img = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(m.encode(img, torch.tensor([0.0])), m.encode(img, torch.tensor([20.0])))
    d = DeepJSCC("1/16", width=8)
    assert torch.allclose(d.encode(img, torch.tensor([0.0])), d.encode(img, torch.tensor([20.0])))


def test_registry_and_cbr_check():
    assert LEARNED["deepjscc"] is DeepJSCC and LEARNED["adjscc"] is ADJSCC
    assert DeepJSCC("1/48", width=8).c == 1  # stride 4: 48 real values per position
    with pytest.raises(ValueError, match="complex channels per position"):
        DeepJSCC("1/100")
