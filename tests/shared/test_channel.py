import math

import pytest
import torch

from shared.channel import (CHANNEL_MODELS, FADING_MODELS, MAX_SYMBOLS, Channel, ChannelSpec, complex_normal,
                            mmse_equalize, rayleigh_gains, receive, rician_gains, snr_db_to_noise_var)
from shared.symbols import unit_power

N = 400_000


def unit_symbols(b: int, n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return unit_power(complex_normal((b, n), g))[0]


def test_noise_var_from_snr():
    assert snr_db_to_noise_var(0.0).item() == pytest.approx(1.0)
    assert snr_db_to_noise_var(10.0).item() == pytest.approx(0.1)
    assert snr_db_to_noise_var(-3.0).item() == pytest.approx(10 ** 0.3)


@pytest.mark.parametrize("snr_db", [0.0, 7.0, 20.0])
def test_awgn_measured_snr_within_0p1_db(snr_db):
    x = unit_symbols(1, N)
    out = Channel("awgn")(x, snr_db, torch.Generator().manual_seed(1))
    noise = out.y - x
    measured = 10 * math.log10(x.abs().pow(2).mean().item() / noise.abs().pow(2).mean().item())
    assert abs(measured - snr_db) < 0.1
    assert abs(out.realised_snr_db.item() - snr_db) < 0.1
    # noise power split evenly between I and Q
    no = 10 ** (-snr_db / 10)
    assert noise.real.var().item() == pytest.approx(no / 2, rel=0.02)
    assert noise.imag.var().item() == pytest.approx(no / 2, rel=0.02)
    assert torch.all(out.h == 1)


def test_unit_power_normalisation():
    x = unit_power(3.7 * unit_symbols(4, 1000))[0]
    assert torch.allclose(x.abs().pow(2).mean(dim=1), torch.ones(4), atol=1e-5)


def test_rayleigh_gains_unit_mean_power_and_blocks():
    g = torch.Generator().manual_seed(2)
    h = rayleigh_gains(1, N, block_len=1, generator=g)
    assert h.abs().pow(2).mean().item() == pytest.approx(1.0, abs=0.01)
    hb = rayleigh_gains(3, 100, block_len=16, generator=g)
    for start in range(0, 100, 16):
        block = hb[:, start:start + 16]
        assert torch.all(block == block[:, :1])
    assert not torch.all(hb[:, 0] == hb[:, 16])
    quasi = rayleigh_gains(2, 50, block_len=0, generator=g)
    assert torch.all(quasi == quasi[:, :1])


def test_rayleigh_average_snr_within_0p1_db():
    x = unit_symbols(1, N, seed=3)
    out = Channel("rayleigh", block_len=1)(x, 10.0, torch.Generator().manual_seed(4))
    noise = out.y - out.h * x
    measured = 10 * math.log10((out.h * x).abs().pow(2).mean().item() / noise.abs().pow(2).mean().item())
    assert abs(measured - 10.0) < 0.1


def rician_k_estimates(h: torch.Tensor) -> tuple[float, float]:
    """K from the mean (line of sight at phase 0: K = |E h|^2 / Var h), and from |h| alone by the moment
    method (Greenstein et al. 1999: g = Var|h|^2 / (E|h|^2)^2, K = sqrt(1 - g) / (1 - sqrt(1 - g)))."""
    by_mean = h.mean().abs().pow(2).item() / (h - h.mean()).abs().pow(2).mean().item()
    p = h.abs().pow(2)
    g = (p.var() / p.mean().pow(2)).item()
    root = math.sqrt(max(1.0 - g, 0.0))
    return by_mean, root / (1.0 - root)


@pytest.mark.parametrize("k", [0.5, 3.0, 10.0])
def test_rician_gains_have_unit_power_and_the_asked_k(k):
    h = rician_gains(1, N, 1, torch.Generator().manual_seed(11), k_factor=k)
    assert h.abs().pow(2).mean().item() == pytest.approx(1.0, abs=0.01)
    by_mean, by_envelope = rician_k_estimates(h)
    assert by_mean == pytest.approx(k, rel=0.03)
    assert by_envelope == pytest.approx(k, rel=0.06)


def test_rician_blocks_and_k0_is_rayleigh():
    hb = rician_gains(3, 100, 16, torch.Generator().manual_seed(2), k_factor=3.0)
    for start in range(0, 100, 16):
        assert torch.all(hb[:, start:start + 16] == hb[:, start:start + 1])
    torch.testing.assert_close(rician_gains(2, 64, 8, torch.Generator().manual_seed(3), k_factor=0.0),
                               rayleigh_gains(2, 64, 8, torch.Generator().manual_seed(3)))


@pytest.mark.parametrize("snr_db", [0.0, 10.0])
def test_rician_average_snr_and_k_measured_through_the_channel(snr_db):
    x = unit_symbols(1, N, seed=5)
    out = Channel.of(ChannelSpec.of("rician", snr_db, 4, k_factor=3.0))(x, snr_db, torch.Generator().manual_seed(6))
    noise = out.y - out.h * x
    measured = 10 * math.log10((out.h * x).abs().pow(2).mean().item() / noise.abs().pow(2).mean().item())
    assert abs(measured - snr_db) < 0.1
    assert abs(out.realised_snr_db.item() - snr_db) < 0.1
    assert rician_k_estimates(out.h[0, ::4])[0] == pytest.approx(3.0, rel=0.05)  # one h per 4-symbol block
    assert out.noise_var.item() == pytest.approx(10 ** (-snr_db / 10))


def test_default_k_and_spec_parameters():
    spec = ChannelSpec.of("rician", 5.0, 8)
    assert spec.params == () and spec.param_values() == {"k_factor": 3.0}
    assert ChannelSpec.of("rician", 5.0, k_factor=7).params == (("k_factor", 7.0),)
    assert ChannelSpec.of("rayleigh", 5.0).param_values() == {}
    assert set(CHANNEL_MODELS) >= {"awgn", "rayleigh", "rician", "noiseless"}
    assert set(FADING_MODELS) == {"rayleigh", "rician", "tdl-a", "tdl-b", "tdl-c", "tdl-d", "tdl-e"}


@pytest.mark.parametrize("spec,match", [
    (ChannelSpec.of("rician", 5.0, k_factor=-1.0), r"k_factor = -1.0 is outside the range \[0, 1e\+06\]"),
    (ChannelSpec.of("rician", 5.0, k_factor=float("nan")), "outside the range"),
    (ChannelSpec.of("awgn", 5.0, k_factor=3.0), "'awgn' takes no parameter 'k_factor'"),
    (ChannelSpec.of("rician", 5.0, m=2.0), "takes no parameter 'm' \\(it takes: k_factor\\)"),
    (ChannelSpec("rician", 5.0, params=(("k_factor", 1.0), ("k_factor", 2.0))), "given twice"),
])
def test_bad_channel_parameters_are_refused(spec, match):
    with pytest.raises(ValueError, match=match):
        spec.validate()


def test_seeded_and_per_sample_snr():
    x = unit_symbols(2, 1000)
    ch = Channel("rayleigh", block_len=10)
    a = ch(x, torch.tensor([0.0, 20.0]), torch.Generator().manual_seed(5))
    b = ch(x, torch.tensor([0.0, 20.0]), torch.Generator().manual_seed(5))
    c = ch(x, torch.tensor([0.0, 20.0]), torch.Generator().manual_seed(6))
    assert torch.equal(a.y, b.y) and not torch.equal(a.y, c.y)
    assert a.noise_var.tolist() == pytest.approx([1.0, 0.01])


def test_differentiable():
    x = unit_symbols(1, 64).requires_grad_(True)
    out = Channel("rayleigh", block_len=8)(x, 5.0, torch.Generator().manual_seed(0))
    out.y.abs().pow(2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_mmse_equalisation_beats_raw_under_fading():
    x = unit_symbols(1, 20_000)
    out = Channel("rayleigh", block_len=4)(x, 15.0, torch.Generator().manual_seed(7))
    eq = mmse_equalize(out.y, out.h, out.noise_var)
    assert (eq - x).abs().pow(2).mean() < 0.2 * (out.y - x).abs().pow(2).mean()
    seen = receive(out.y, out.known, out.noise_var, 15.0)
    assert torch.equal(seen.symbols, eq) and seen.snr.shape == out.y.shape and seen.knows_h
    torch.testing.assert_close(seen.snr, (out.h.abs().pow(2) / out.noise_var[:, None]).clamp(max=1e4))
    seen = receive(out.y, None, out.noise_var, 15.0)
    assert torch.equal(seen.symbols, out.y) and torch.allclose(seen.snr_db, torch.tensor(15.0))


def test_spec_validation():
    ChannelSpec("awgn", 0.0).validate()
    with pytest.raises(ValueError, match="unknown channel model"):
        ChannelSpec("nakagami", 0.0).validate()
    with pytest.raises(ValueError, match="outside the supported range"):
        ChannelSpec("awgn", 99.0).validate()
    with pytest.raises(ValueError, match="outside the supported range"):
        ChannelSpec("awgn", float("nan")).validate()
    with pytest.raises(TypeError):
        Channel("awgn")(torch.ones(1, 4), 0.0)


def test_noiseless_channel_passes_symbols_through():
    x = unit_symbols(1, 100)
    out = Channel("noiseless")(x, 10.0, torch.Generator().manual_seed(0))
    assert torch.equal(out.y, x) and torch.all(out.noise_var == 0)
    seen = receive(out.y, out.known, out.noise_var, 10.0)
    assert torch.allclose(seen.snr_db, torch.tensor(10.0))  # told its nominal SNR, and equalised as at it
    assert torch.allclose(seen.symbols, x * 10 / 11, atol=1e-6)
    unbiased, noise = seen.unbiased()
    assert torch.allclose(unbiased, x, atol=1e-6) and torch.allclose(noise, torch.tensor(0.05))  # x itself


def test_a_reception_without_channel_knowledge_is_y_at_its_nominal_snr():
    y = unit_symbols(1, 8)
    seen = receive(y, None, torch.tensor([0.1]), 10.0)
    assert torch.equal(seen.symbols, y) and torch.allclose(seen.snr_db, torch.tensor(10.0)) and not seen.knows_h


def test_block_length_is_capped_and_never_an_allocation_size():
    ChannelSpec("rayleigh", 10.0, block_len=MAX_SYMBOLS).validate()
    with pytest.raises(ValueError, match="block length must be 0 to"):
        ChannelSpec("rayleigh", 10.0, block_len=MAX_SYMBOLS + 1).validate()
    with pytest.raises(ValueError, match="block length must be 0 to"):
        ChannelSpec("rayleigh", 10.0, block_len=-1).validate()
    # a block longer than the transmission is one block: h for n symbols, whatever block_len says
    h = rayleigh_gains(2, 10, 2**40, torch.Generator().manual_seed(0))
    assert h.shape == (2, 10) and torch.all(h == h[:, :1])
    torch.testing.assert_close(h, rayleigh_gains(2, 10, 0, torch.Generator().manual_seed(0)))
