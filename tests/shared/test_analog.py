"""The linear analog code's maths: PCA fit, SoftCast gains, LMMSE inverse, the unbiased receiver view."""

import math

import pytest
import torch

from shared.analog import (
    AnalogDecoder,
    AnalogEncoder,
    PatchPCA,
    code_scale,
    fit_pca,
    image_patches,
    keep_for,
    per_image_allocation,
    softcast_gains,
    unbiased_view,
)
from shared.channel import Channel, receive
from shared.symbols import to_complex, to_real, unit_power


def smooth_images(n: int, size: int = 64, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(n, 3, size // 8, size // 8, generator=g)
    return list(torch.nn.functional.interpolate(small, size=(size, size), mode="bilinear", align_corners=False))


@pytest.fixture(scope="module")
def pca() -> PatchPCA:
    return fit_pca(smooth_images(12), patch=4, keep=48)  # 4x4x3 = 48 dimensions: every component


def test_fit_is_an_orthonormal_basis_by_decreasing_variance(pca):
    c = pca.components
    torch.testing.assert_close(c @ c.T, torch.eye(48), atol=1e-4, rtol=0)
    assert torch.all(pca.variances[:-1] >= pca.variances[1:])
    x = torch.cat([image_patches(img, 4) for img in smooth_images(12)])
    torch.testing.assert_close(pca.mean, x.mean(0), atol=1e-5, rtol=0)
    coeffs = (x - pca.mean) @ c.T  # the fitted variances are the coefficients' variances
    torch.testing.assert_close(coeffs.var(0, unbiased=False), pca.variances, rtol=1e-3, atol=1e-6)


def test_save_load_round_trip(pca, tmp_path):
    back = PatchPCA.load(pca.save(tmp_path, {"data": "synthetic"}))
    assert back.patch == 4 and torch.equal(back.components, pca.components) and torch.equal(back.mean, pca.mean)
    with pytest.raises(ValueError, match="cannot keep 49"):
        pca.truncate(49)


def test_softcast_gains_give_unit_power_and_follow_lambda_to_the_minus_quarter(pca):
    g = softcast_gains(pca.variances)
    assert float((g.pow(2) * pca.variances).sum() / (48 / 2)) == pytest.approx(1.0, rel=1e-5)
    ratio = g * pca.variances.pow(0.25)
    torch.testing.assert_close(ratio, ratio[:1].expand_as(ratio), rtol=1e-4, atol=0)


def test_per_image_allocation_is_softcast_on_each_image_of_a_fitted_code(pca):
    img = torch.stack(smooth_images(3, seed=8))
    enc = AnalogEncoder(4, 48, pca)
    g = softcast_gains(pca.variances)
    torch.testing.assert_close(enc.gains(), g, rtol=1e-5, atol=0)  # the fit's components are unit vectors
    with torch.no_grad():
        t = enc(img)  # (3, 48, 16, 16)
    allocation = per_image_allocation(t, g)
    assert allocation.shape == (3, 2, 48)
    for i in range(3):  # each image's gains are SoftCast's for its own coefficient variances
        coeffs = t[i] / g[:, None, None]
        torch.testing.assert_close(allocation[i, 0] * g, softcast_gains(coeffs.pow(2).mean((1, 2))), rtol=1e-5, atol=0)
        torch.testing.assert_close(allocation[i, 1], t[i].pow(2).mean((1, 2)))
        sent = t[i] * allocation[i, 0, :, None, None]
        assert float(sent.pow(2).mean() * 2) == pytest.approx(1.0, rel=1e-4)  # unit power per complex symbol
    flat = per_image_allocation(torch.zeros(1, 48, 2, 2), g)  # nothing to send (the mean patch everywhere)
    assert torch.isfinite(flat).all() and (flat[:, 0] > 0).all()
    alpha = torch.tensor([2.0, 3.0, 4.0])
    assert code_scale(alpha, None).shape == (3, 1)
    torch.testing.assert_close(code_scale(alpha, allocation), alpha[:, None] * allocation[:, 0])
    # the LMMSE with a per-component scale and the image's variances: noiseless, the code comes back exactly
    a = code_scale(alpha, allocation)
    back = AnalogDecoder(4, 48, pca).estimate(t * a[:, :, None, None], torch.zeros(()), alpha, allocation)
    torch.testing.assert_close(back, t, atol=1e-5, rtol=1e-5)


def test_all_components_noiseless_is_exact_and_fewer_are_the_projection(pca):
    img = torch.stack(smooth_images(2, seed=5))  # unseen images
    t = AnalogEncoder(4, 48, pca)(img)
    assert t.shape == (2, 48, 16, 16)
    dec = AnalogDecoder(4, 48, pca)
    torch.testing.assert_close(dec.synthesise(t), img, atol=1e-4, rtol=0)
    few = pca.truncate(12)
    t12 = AnalogEncoder(4, 12, pca)(img)
    x = torch.cat([image_patches(i, 4) for i in img])
    projected = ((x - few.mean) @ few.components.T) @ few.components + few.mean
    torch.testing.assert_close(torch.cat([image_patches(i, 4) for i in AnalogDecoder(4, 12, pca).synthesise(t12)]),
                               projected, atol=1e-4, rtol=0)


def test_unit_power_and_complex_layout():
    t = torch.randn(3, 8, 5, 7) * 3
    x, alpha = unit_power(to_complex(t))
    assert x.shape == (3, 4, 5, 7)
    torch.testing.assert_close(x.abs().pow(2).flatten(1).mean(1), torch.ones(3))
    torch.testing.assert_close(to_real(x / alpha.view(-1, 1, 1, 1)), t)


@pytest.mark.parametrize("csi", [True, False])
def test_unbiased_view_removes_the_mmse_shrinkage(csi):
    g = torch.Generator().manual_seed(0)
    x, _ = unit_power(to_complex(torch.randn(1, 2, 100, 100, generator=g)))
    out = Channel("awgn")(x.reshape(1, -1), 0.0, g)  # 0 dB: the MMSE equaliser halves x
    r, noise = unbiased_view(receive(out.y, out.known if csi else None, out.noise_var, 0.0), x.shape[1:])
    err = r - to_real(x)
    assert float((r * to_real(x)).mean() / to_real(x).pow(2).mean()) == pytest.approx(1.0, abs=0.03)  # unbiased
    assert float(err.pow(2).mean()) == pytest.approx(float(noise.mean()), rel=0.05)
    assert float(noise.mean()) == pytest.approx(0.5)


@torch.no_grad()
def test_lmmse_beats_the_raw_received_values_and_knows_the_scale(pca):
    img = torch.stack(smooth_images(1, seed=9))
    enc, dec = AnalogEncoder(4, 48, pca), AnalogDecoder(4, 48, pca)
    x, alpha = unit_power(to_complex(enc(img)))
    g = torch.Generator().manual_seed(1)
    out = Channel("awgn")(x.reshape(1, -1), -5.0, g)
    r, noise = unbiased_view(receive(out.y, out.known, out.noise_var, -5.0), x.shape[1:])
    lmmse = dec(r, noise, alpha)
    raw = dec.synthesise(r / alpha.view(-1, 1, 1, 1))
    mse = lambda a: float((a - img).pow(2).mean())  # noqa: E731
    assert mse(lmmse) < 0.75 * mse(raw)
    assert 10 * math.log10(1 / mse(lmmse)) > 15


def test_keep_for_cbr():
    assert keep_for(1 / 16, 16) == 96
    assert keep_for(1 / 32, 16) == 48
    with pytest.raises(ValueError, match="whole even number"):
        keep_for(1 / 7, 16)
