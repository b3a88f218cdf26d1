import math

import pytest
import torch

from shared.metrics import ConfusionMatrix, miou, ms_ssim, psnr


def test_psnr_eq2():
    a = torch.zeros(1, 3, 8, 8)
    b = torch.full((1, 3, 8, 8), 0.1)
    assert psnr(a, b).item() == pytest.approx(10 * math.log10(1 / 0.01), abs=1e-4)
    assert psnr(a[0], b[0]).shape == (1,)


def test_ms_ssim_identity_and_noise():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 192, 192, generator=g)
    assert ms_ssim(img, img).item() == pytest.approx(1.0, abs=1e-5)
    noisy = (img + 0.2 * torch.randn(img.shape, generator=g)).clamp(0, 1)
    assert ms_ssim(img, noisy).item() < 0.99
    with pytest.raises(ValueError, match="160"):
        ms_ssim(img[..., :100, :100], img[..., :100, :100])


def test_iou_eq3_with_ignore_index():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 9, 9]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 0, 1]])
    cm = ConfusionMatrix(3, ignore_index=9)
    cm.update(pred, target)
    iou = cm.iou()
    # class 0: inter 1, union 3 (pred 0 at 3 non-ignored px: (0,0),(1,1); truth 0 at 2) -> 1/3
    assert iou[0].item() == pytest.approx(1 / 3)
    assert iou[1].item() == pytest.approx(2 / 3)
    assert iou[2].item() == pytest.approx(1 / 2)
    assert cm.miou() == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert miou(target, target, 3, 9) == pytest.approx(1.0)


def test_spectral_distance_is_zero_for_the_original_and_sees_blur():
    from shared.metrics import radial_spectrum_db, spectral_distance_db

    g = torch.Generator().manual_seed(3)
    img = torch.rand(3, 96, 128, generator=g)
    assert radial_spectrum_db(img).shape == (32,)
    assert spectral_distance_db(img, img) == 0.0
    blurred = torch.nn.functional.avg_pool2d(img[None], 5, stride=1, padding=2)[0]
    noisy = (img + 0.05 * torch.randn(img.shape, generator=g)).clamp(0, 1)
    assert spectral_distance_db(img, blurred) > 3 * spectral_distance_db(img, noisy)
    deficit = radial_spectrum_db(img) - radial_spectrum_db(blurred)
    assert deficit[-8:].mean() > deficit[:8].mean() + 5  # blur removes the high frequencies
